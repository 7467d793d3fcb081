"""A recipe's plan: the independent runs of a paper table as stages of leaves.

A :class:`Leaf` is pure data: the import path of the function that runs it, its keyword arguments (plain
values only, so it pickles to any machine and prints readably), its id (the content-addressed run id or
cache key it opens) and the run directory or cache file it leaves behind. A leaf is finished when its
run directory's metrics.json says so, or its cache file exists; running a finished leaf again reads it
back, so a launcher may always skip it. A :class:`Stage` holds leaves that may run at the same time; a
later stage may read what an earlier one made (care_sep's rows start from the Init classifiers).

Each recipe declares ``plan(params) -> Plan`` in its ``plan.py``; :mod:`workbench.launch.launcher` runs a
plan on an executor and then the recipe's ordinary ``run(params)`` gathers the finished leaves.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from workbench.paths import runs_root
from workbench.train.rundir import RunDir, plain
from workbench.train.threads import torch_threads  # noqa: F401  (the recipes' plans run leaves in it)

LeafKind = Literal["run", "file"]


@dataclass(frozen=True)
class Leaf:
    """One independent piece of work of a plan.

    Args:
        function: ``"package.module:function"``, called as ``function(**arguments)``.
        arguments: its keyword arguments, plain values (a recipe's ``Params.to_dict()``, names, seeds).
        id: the run id or cache key the leaf opens (what a user finds on disk).
        path: the run directory (``kind="run"``) or cache file (``kind="file"``) it leaves behind.
        kind: ``"run"``: finished when ``path``'s metrics.json says so; ``"file"``: when ``path`` exists.
        label: a short name for progress lines (e.g. ``"row C seed 1"``).
    """

    function: str
    arguments: Mapping[str, Any]
    id: str
    path: str
    kind: LeafKind = "run"
    label: str = ""

    def __post_init__(self) -> None:
        if ":" not in self.function:
            raise ValueError(f"leaf {self.id}: function {self.function!r} must be 'package.module:function'")
        if self.kind not in ("run", "file"):
            raise ValueError(f"leaf {self.id}: kind must be 'run' or 'file', got {self.kind!r}")
        object.__setattr__(self, "arguments", plain(dict(self.arguments), f"leaf {self.id} arguments"))
        object.__setattr__(self, "path", str(self.path))

    @property
    def name(self) -> str:
        return self.label or self.id

    def finished(self) -> bool:
        """Whether the run directory says finished (``kind="run"``) or the cache file exists."""
        path = Path(self.path)
        if self.kind == "file":
            return path.is_file()
        return (path / RunDir.METRICS_FILE).is_file() and RunDir(path).finished

    def resolve(self) -> Callable[..., Any]:
        """The leaf's function, imported."""
        module_name, _, qualified = self.function.partition(":")
        target: Any = importlib.import_module(module_name)
        for part in qualified.split("."):
            target = getattr(target, part)
        return target

    def __call__(self) -> Any:
        return self.resolve()(**self.arguments)


@dataclass(frozen=True)
class Stage:
    """Leaves that may run at the same time (one job array)."""

    name: str
    leaves: Sequence[Leaf] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        object.__setattr__(self, "leaves", tuple(self.leaves))


@dataclass(frozen=True)
class Plan:
    """A recipe's stages, in order, for one set of parameters."""

    recipe: str
    stages: Sequence[Stage]

    def __post_init__(self) -> None:
        object.__setattr__(self, "stages", tuple(stage for stage in self.stages if stage.leaves))
        seen: dict[str, str] = {}
        for stage in self.stages:
            for leaf in stage.leaves:
                if leaf.id in seen:
                    raise ValueError(f"{self.recipe} plan: leaf {leaf.id} appears twice ({seen[leaf.id]}, {stage.name})")
                seen[leaf.id] = stage.name

    @property
    def leaves(self) -> list[Leaf]:
        return [leaf for stage in self.stages for leaf in stage.leaves]

    def describe(self) -> str:
        """One line per stage: its leaves and how many are finished."""
        lines = [f"plan of {self.recipe}: {len(self.stages)} stage(s), {len(self.leaves)} leaves"]
        for stage in self.stages:
            done = sum(leaf.finished() for leaf in stage.leaves)
            lines.append(f"  {stage.name}: {len(stage.leaves)} leaves ({done} finished)")
        return "\n".join(lines)



def run_leaf(function: str, arguments: Mapping[str, Any], name: str, run_id: str, label: str = "") -> Leaf:
    """A leaf that opens the run directory ``<runs root>/<name>/<run_id>`` (:func:`workbench.paths.runs_root`,
    read when the plan is made: launcher and jobs must share it)."""
    return Leaf(function, arguments, run_id, str(runs_root() / name / run_id), "run", label)
