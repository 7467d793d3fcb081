"""What every recipe shares: validated ``Params``, the ``Result`` with its ``claims``, and presets.

A recipe module defines ``NAME``, ``NOTEBOOK`` (the notebook file that runs it), a ``Params``
dataclass subclassing :class:`Params`, a ``Result`` subclassing :class:`Result`, and
``run(params) -> Result``.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import yaml

from workbench.errors import UnknownNameError
from workbench.paths import notebooks_dir, shared_dir

if TYPE_CHECKING:
    import torch

    from workbench.evaluation.stats import Comparison

P = TypeVar("P", bound="Params")


@dataclass(frozen=True)
class Claim:
    """One claim of a paper that a run checks, as data: what is compared, the paper's figure, and the
    paired statistics of what was measured (see :mod:`workbench.evaluation.stats`).

    Attributes:
        name: what is claimed, e.g. ``"ADD {1,1,1,1} is more accurate than CE"``.
        paper: the paper's figure with its table or section, e.g. ``"+1.2 points (Table 2)"``.
        measured: the two conditions' measured means in words, e.g. ``"CE 0.62 -> ADD 0.65"``.
        verdict: ``"holds"``, ``"contradicted"`` or ``"inconclusive"`` (the interval spans zero, or there
            is a single run).
        effect: measured effect (treatment minus control, or minus the reference), None when not computed.
        ci_low, ci_high: its 95 % interval (None when infinite: one run).
        n: paired runs (or shared test items) behind the interval.
        mde: minimum detectable effect of this test bed (80 % power), None when infinite.
        paper_effect: the paper's own effect size on the same scale, where it prints one.
        method: how the interval was made (``"paired t"``, ``"one-sample t"``, ...).
        detail: anything else a reader needs (per-run values, which variant).
    """

    name: str
    paper: str
    measured: str
    verdict: str = "inconclusive"
    effect: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    n: int = 0
    mde: float | None = None
    paper_effect: float | None = None
    method: str = ""
    detail: str = ""

    def __post_init__(self) -> None:
        from workbench.evaluation.stats import VERDICTS

        if self.verdict not in VERDICTS:
            raise ValueError(f"claim {self.name!r}: verdict must be one of {list(VERDICTS)}, got {self.verdict!r}")

    @classmethod
    def from_comparison(
        cls,
        name: str,
        paper: str,
        comparison: Comparison,
        *,
        measured: str,
        paper_effect: float | None = None,
        detail: str = "",
    ) -> Claim:
        """A claim whose verdict and numbers come from a :class:`~workbench.evaluation.stats.Comparison`."""
        fields = comparison.to_dict()
        return cls(
            name=name,
            paper=paper,
            measured=measured,
            verdict=comparison.verdict,
            effect=fields["effect"],
            ci_low=fields["ci_low"],
            ci_high=fields["ci_high"],
            n=comparison.n,
            mde=fields["mde"],
            paper_effect=paper_effect,
            method=comparison.method,
            detail=detail,
        )

    @property
    def holds(self) -> bool:
        return self.verdict == "holds"

    def interval(self, digits: int = 3) -> str:
        """``effect +0.012 [-0.004, +0.028], n=3 paired t, MDE 0.031``: the statistics in one phrase."""
        if self.effect is None:
            return f"n={self.n}"
        if self.ci_low is None or self.ci_high is None:
            text = f"effect {self.effect:+.{digits}f} [no interval], n={self.n}"
        else:
            text = (f"effect {self.effect:+.{digits}f} [{self.ci_low:+.{digits}f}, {self.ci_high:+.{digits}f}], "
                    f"n={self.n}")  # fmt: skip
        if self.method:
            text += f" {self.method}"
        text += f", MDE {self.mde:.{digits}f}" if self.mde is not None else ", MDE unbounded"
        if self.paper_effect is not None:
            text += f" (paper's effect {self.paper_effect:+.{digits}g})"
        return text

    def line(self) -> str:
        return f"{self.name}: paper {self.paper}; measured {self.measured}; {self.interval()} -> {self.verdict}"

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Claim:
        """Rebuild a claim stored in ``metrics.json`` (earlier runs stored ``holds`` instead of a verdict:
        those are read as inconclusive, since no interval was computed for them)."""
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in values.items() if key in known})


def _coerce(name: str, value: Any, annotation: Any) -> Any:
    """Convert ``value`` to the field's annotated type, or raise ValueError naming the parameter."""
    if isinstance(annotation, str):
        annotation = eval(annotation, {"typing": typing})  # noqa: S307 - our own annotations only
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(annotation)
        if value is None and type(None) in options:
            return None
        for option in options:
            if option is type(None):
                continue
            try:
                return _coerce(name, value, option)
            except ValueError:
                continue
        raise ValueError(f"parameter {name!r}: {value!r} fits none of {annotation}")
    if origin is typing.Literal:
        allowed = typing.get_args(annotation)
        if value not in allowed:
            raise ValueError(f"parameter {name!r} must be one of {list(allowed)}, got {value!r}")
        return value
    if origin in (tuple, list):
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"parameter {name!r} must be a list, got {value!r}")
        (item_type, *rest) = typing.get_args(annotation) or (Any,)
        items = [_coerce(name, v, item_type) for v in value]
        return tuple(items) if origin is tuple else items
    if annotation is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.lower() in ("true", "1", "yes")
        raise ValueError(f"parameter {name!r} must be true or false, got {value!r}")
    if annotation is int:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError(f"parameter {name!r} must be an integer, got {value!r}")
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ValueError(f"parameter {name!r} must be an integer, got {value!r}") from None
    if annotation is float:
        if isinstance(value, bool):
            raise ValueError(f"parameter {name!r} must be a number, got {value!r}")
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ValueError(f"parameter {name!r} must be a number, got {value!r}") from None
    if annotation is str:
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise ValueError(f"parameter {name!r} must be a string, got {value!r}")
        return str(value)
    return value


@dataclass(frozen=True)
class Params:
    """Base of every recipe's parameters: plain scalars (and tuples of them) with quick-run defaults.

    ``from_dict`` is the one way in from the outside (notebook parameters cell, CLI ``-p key=value``,
    YAML presets): it rejects unknown names, listing the valid ones, and converts types.
    """

    recipe: ClassVar[str] = ""

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def from_dict(cls: type[P], values: Mapping[str, Any] | None = None, **overrides: Any) -> P:
        merged = {**(values or {}), **overrides}
        known = {f.name: f for f in dataclasses.fields(cls)}
        for key in merged:
            if key not in known:
                raise UnknownNameError(f"parameter of recipe {cls.recipe!r}", key, known)
        hints = typing.get_type_hints(cls)
        converted = {key: _coerce(key, value, hints[key]) for key, value in merged.items()}
        return cls(**converted)

    @classmethod
    def from_preset(cls: type[P], preset: str, **overrides: Any) -> P:
        return cls.from_dict(load_preset(cls.recipe, preset), **overrides)

    def replace(self: P, **changes: Any) -> P:
        return type(self).from_dict(self.to_dict(), **changes)

    def to_dict(self) -> dict[str, Any]:
        return {
            f.name: list(v) if isinstance(v := getattr(self, f.name), tuple) else v
            for f in dataclasses.fields(self)
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)


@dataclass
class Result:
    """What ``run`` returns: metrics, claims, the run directory, and arrays the notebook draws."""

    recipe: str
    params: dict[str, Any]
    run_dir: Path | None
    metrics: dict[str, Any] = field(default_factory=dict)
    claims: list[Claim] = field(default_factory=list)

    def summary(self) -> str:
        """A compact deterministic text: what the notebook's compared cell prints."""
        lines = [f"recipe: {self.recipe}"]
        lines += [f"claim {claim.line()}" for claim in self.claims]
        return "\n".join(lines)


def preset_dir(recipe: str) -> Path:
    from workbench.recipes import notebook_of

    return notebooks_dir() / "params" / Path(notebook_of(recipe)).stem


def preset_names(recipe: str) -> list[str]:
    directory = preset_dir(recipe)
    return sorted(p.stem for p in directory.glob("*.yaml")) if directory.is_dir() else []


def load_preset(recipe: str, preset: str) -> dict[str, Any]:
    path = preset_dir(recipe) / f"{preset}.yaml"
    if not path.is_file():
        raise UnknownNameError(f"preset of recipe {recipe!r}", preset, preset_names(recipe))
    values = yaml.safe_load(path.read_text()) or {}
    if not isinstance(values, dict):
        raise ValueError(f"preset {path} must be a mapping of parameter: value")
    return values


_SCALARS = (bool, int, float, str, type(None))


def params_from_namespace(
    params_class: type[P], namespace: Mapping[str, Any], view: tuple[str, ...] = ()
) -> P:
    """Build ``params_class`` from a notebook's globals after its ``parameters`` cell.

    The parameters cell is a notebook's first code cell, so at this point its public scalar globals are
    exactly the parameters (plus any papermill injected). Every one of them must be a field of
    ``params_class``: a misspelt or unknown name raises :class:`UnknownNameError` listing the valid ones,
    instead of being silently ignored as papermill would. ``view`` names the notebook's own display
    parameters (e.g. which projection to draw), which are not the recipe's.
    """
    values = {
        name: value
        for name, value in namespace.items()
        if not name.startswith("_") and name not in view and isinstance(value, _SCALARS)
    }
    return params_class.from_dict(values)


SHARED_PLACEHOLDER = "{shared}"
"""Replaced in path parameters (``weights_path``, ``data_root``) by :func:`workbench.paths.shared_dir`, so
presets that read the shared real clips and weights work on any checkout."""


def expand_shared(path: str) -> str:
    """``path`` with :data:`SHARED_PLACEHOLDER` replaced by the shared folder (``""`` stays ``""``)."""
    return path.replace(SHARED_PLACEHOLDER, str(shared_dir())) if path else path


def resolve_device(device: str) -> torch.device:
    """``"auto"`` -> CUDA when available, else the CPU; anything else as torch reads it."""
    import torch  # here, so that listing recipes and presets never imports torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)
