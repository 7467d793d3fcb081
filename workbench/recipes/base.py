"""What every recipe shares: validated ``Params``, the ``Result`` with its ``claims``, and presets.

A recipe module defines ``NAME``, ``NOTEBOOK`` (the notebook file that runs it), a ``Params``
dataclass subclassing :class:`Params`, a ``Result`` subclassing :class:`Result`, and
``run(params) -> Result``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import yaml

from workbench.errors import MissingFileError, ParameterError, UnknownNameError
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
    """Convert ``value`` to the field's annotated type, or raise ValueError naming the parameter.

    Strings are parsed against the declared type, never as free YAML: ``"no"`` stays the string "no" for a
    ``str`` field, ``"3"`` becomes 3 for an ``int`` one, and a tuple field takes ``"a,b"`` or ``"[a, b]"``.
    """
    if isinstance(annotation, str):
        annotation = eval(annotation, {"typing": typing})  # noqa: S307 - our own annotations only
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(annotation)
        if type(None) in options and (value is None or (isinstance(value, str) and value in ("null", "~", "None"))):
            return None
        for option in options:
            if option is type(None):
                continue
            try:
                return _coerce(name, value, option)
            except ValueError:
                continue
        raise ParameterError(f"parameter {name!r}: {value!r} fits none of {annotation}")
    if origin is typing.Literal:
        allowed = typing.get_args(annotation)
        if value in allowed and type(value) in {type(option) for option in allowed}:
            return value
        matches = [option for option in allowed if isinstance(value, str) and str(option) == value]
        if matches:
            return matches[0]
        raise ParameterError(f"parameter {name!r} must be one of {list(allowed)}, got {value!r}")
    if origin in (tuple, list):
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):  # a YAML/JSON list, e.g. from ``-p lambdas=[0, 0.5]``
                try:
                    value = yaml.safe_load(text)
                except yaml.YAMLError:
                    raise ParameterError(f"parameter {name!r}: {value!r} is not a valid list like [1, 2]") from None
            else:
                value = [item.strip() for item in text.split(",") if item.strip()]
        if not isinstance(value, (list, tuple)):
            raise ParameterError(f"parameter {name!r} must be a list, got {value!r}")
        (item_type, *rest) = typing.get_args(annotation) or (Any,)
        items = [_coerce(name, item, item_type) for item in value]
        return tuple(items) if origin is tuple else items
    if annotation is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.lower() in ("true", "1", "yes")
        raise ParameterError(f"parameter {name!r} must be true or false, got {value!r}")
    if annotation is int:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ParameterError(f"parameter {name!r} must be an integer, got {value!r}")
        try:
            return int(value)
        except (TypeError, ValueError, OverflowError):
            raise ParameterError(f"parameter {name!r} must be an integer, got {value!r}") from None
    if annotation is float:
        if isinstance(value, bool):
            raise ParameterError(f"parameter {name!r} must be a number, got {value!r}")
        try:
            return float(value)
        except (TypeError, ValueError, OverflowError):
            raise ParameterError(f"parameter {name!r} must be a number, got {value!r}") from None
    if annotation is str:
        if isinstance(value, bool):
            raise ParameterError(
                f"parameter {name!r} must be a string, got {value!r} (YAML reads unquoted yes/no/on/off "
                f"as booleans: quote the value)"
            )
        if not isinstance(value, (str, int, float)):
            raise ParameterError(f"parameter {name!r} must be a string, got {value!r}")
        return str(value)
    return value


# --------------------------------------------------------------------------------------------------
# Range and name checks that a recipe's Params declares in ``checks``


class Check:
    """A condition on one parameter (on each item, for a tuple parameter), checked when Params are built."""

    applies_to_items = True

    def __call__(self, name: str, value: Any) -> None:
        raise NotImplementedError


@dataclass(frozen=True)
class Bound(Check):
    """A number that must lie in a range: ``Bound(1)`` is >= 1, ``Bound(0, low_open=True)`` is > 0."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def __call__(self, name: str, value: Any) -> None:
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return
        too_low = self.low is not None and (value <= self.low if self.low_open else value < self.low)
        too_high = self.high is not None and (value >= self.high if self.high_open else value > self.high)
        if too_low or too_high:
            raise ParameterError(f"parameter {name!r} must be {self.describe()}, got {value!r}")

    def describe(self) -> str:
        if self.low is not None and self.high is not None:
            left, right = "(" if self.low_open else "[", ")" if self.high_open else "]"
            return f"in {left}{self.low:g}, {self.high:g}{right}"
        if self.low is not None:
            if self.low == 0:
                return "> 0" if self.low_open else ">= 0"
            return f"> {self.low:g}" if self.low_open else f"at least {self.low:g}"
        if self.high is not None:
            return f"< {self.high:g}" if self.high_open else f"at most {self.high:g}"
        return "any number"


ANY_NUMBER = Bound()
"""Lifts the default ``>= 0`` of integer parameters (floats only need to be finite)."""
NON_NEGATIVE = Bound(0)
POSITIVE = Bound(0, low_open=True)
AT_LEAST_ONE = Bound(1)
PROBABILITY = Bound(0, 1)


def at_least(minimum: float) -> Bound:
    return Bound(minimum)


@dataclass(frozen=True)
class OneOf(Check):
    """A name from a fixed list, or from a registry read when checked (``names`` a callable)."""

    kind: str
    names: Callable[[], Iterable[str]] | tuple[str, ...]

    def __call__(self, name: str, value: Any) -> None:
        valid = tuple(self.names() if callable(self.names) else self.names)
        if value not in valid:
            raise UnknownNameError(self.kind, str(value), valid, parameter=name)


@dataclass(frozen=True)
class NonEmpty(Check):
    """A tuple parameter that needs at least one value (``distinct``: and no value twice)."""

    distinct: bool = False
    applies_to_items = False

    def __call__(self, name: str, value: Any) -> None:
        if isinstance(value, (tuple, list)):
            if not value:
                raise ParameterError(f"parameter {name!r} needs at least one value")
            repeated = sorted({str(item) for item in value if list(value).count(item) > 1})
            if self.distinct and repeated:
                raise ParameterError(f"parameter {name!r} lists {', '.join(repeated)} more than once")


def dataset_names() -> list[str]:
    """Every registered dataset (imports the dataset registry only when a check needs it)."""
    import workbench.data as data

    return data.names()


def encoder_names() -> list[str]:
    """Every name ``workbench.models.zoo.build_encoder`` accepts (imports torch: recipes already have)."""
    from workbench.models.zoo import encoder_names as names

    return names()


def pretrained_names() -> list[str]:
    """Every registered pretrained checkpoint."""
    from workbench.models import registry

    return registry.names()


def dataset_tasks(dataset: str) -> tuple[str, ...]:
    """The values of ``dataset``'s ``task`` option; empty for datasets with a single task."""
    from workbench.data.nsynth import TASKS as NSYNTH_TASKS
    from workbench.data.synthetic import TASKS as SYNTHETIC_TASKS

    return {"synthetic": SYNTHETIC_TASKS, "fsdd": ("digit", "speaker"), "nsynth": NSYNTH_TASKS}.get(dataset, ())


def check_task(dataset: str, task: str, parameter: str = "task") -> None:
    """Raise unless ``task`` is one of ``dataset``'s tasks, or ``""`` (the dataset's own default task)."""
    if not task:
        return
    tasks = dataset_tasks(dataset)
    if not tasks:
        raise ParameterError(
            f"parameter {parameter!r}: dataset {dataset!r} has a single task; leave the task empty (got {task!r})"
        )
    if task not in tasks:
        raise UnknownNameError(f"task of dataset {dataset!r}", task, tasks, parameter=parameter)


@dataclass(frozen=True)
class Device(Check):
    """Where torch runs: ``auto`` (CUDA when available, else the CPU) or a torch device like ``cuda:1``."""

    def __call__(self, name: str, value: Any) -> None:
        if value == "auto":
            return
        import torch

        try:
            torch.device(value)
        except (RuntimeError, TypeError):
            raise ParameterError(f"parameter {name!r} must be auto, cpu, cuda or cuda:<index>, got {value!r}") from None


_HINTS: dict[type, dict[str, Any]] = {}


def _type_hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def _is_number_type(annotation: Any, number: type) -> bool:
    """``annotation`` is ``number`` or a tuple/list of it."""
    if annotation is number:
        return True
    return typing.get_origin(annotation) in (tuple, list) and typing.get_args(annotation)[:1] == (number,)


@dataclass(frozen=True)
class Params:
    """Base of every recipe's parameters: plain scalars (and tuples of them) with quick-run defaults.

    ``from_dict`` is the one way in from the outside (notebook parameters cell, CLI ``-p key=value``,
    YAML presets): it rejects unknown names, listing the valid ones, and converts types. Building a
    Params (``from_dict`` or the constructor) checks every value: its declared type, finite numbers,
    integers >= 0 unless ``checks`` says otherwise, and the recipe's ``checks`` (ranges, names of
    datasets, encoders, losses). A recipe whose ``__post_init__`` adds cross-field checks calls
    ``super().__post_init__()`` first.
    """

    recipe: ClassVar[str] = ""
    checks: ClassVar[Mapping[str, Check | tuple[Check, ...]]] = {}
    """Field name -> the checks its value must pass; numeric checks apply to each item of a tuple."""

    def __post_init__(self) -> None:
        hints = _type_hints(type(self))
        for item in dataclasses.fields(self):
            name, value = item.name, getattr(self, item.name)
            converted = _coerce(name, value, hints[name])
            if converted is not value:
                object.__setattr__(self, name, converted)
            values = converted if isinstance(converted, (tuple, list)) else (converted,)
            for number in values:
                if isinstance(number, float) and not math.isfinite(number):
                    raise ParameterError(f"parameter {name!r} must be a finite number, got {number!r}")
            declared = self.checks.get(name, ())
            declared = (declared,) if isinstance(declared, Check) else tuple(declared)
            if _is_number_type(hints[name], int) and not any(isinstance(check, Bound) for check in declared):
                declared = (NON_NEGATIVE, *declared)
            for check in declared:
                if check.applies_to_items and isinstance(converted, (tuple, list)):
                    for one in converted:
                        check(name, one)
                else:
                    check(name, converted)

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
        hints = _type_hints(cls)
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

    def to_yaml(self) -> str:
        """Every parameter as ``name: value`` YAML lines, in declaration order (``workbench params``)."""
        return yaml.safe_dump(self.to_dict(), sort_keys=False, default_flow_style=None, allow_unicode=True)


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
    return parse_yaml_mapping(path.read_text(), f"preset {path}")


_SCALARS = (bool, int, float, str, type(None))
_CONTAINERS = (list, tuple, dict, set, frozenset)
_NOTEBOOK_BUILTINS = frozenset({"In", "Out", "exit", "quit", "get_ipython", "open"})
"""Globals that IPython puts in every notebook's namespace: never parameters."""


def _bound_by_import(name: str, value: Any, namespace: Mapping[str, Any]) -> bool:
    """Whether ``value`` is the very object another loaded module holds as ``name`` (``from m import NAME``).

    The notebook's own module (IPython's ``__main__``, whose ``__dict__`` is ``namespace``) does not count.
    """
    for module in list(sys.modules.values()):
        variables = getattr(module, "__dict__", None)
        if isinstance(variables, dict) and variables is not namespace and variables.get(name) is value:
            return True
    return False


def _is_parameter(name: str, value: Any, namespace: Mapping[str, Any]) -> bool:
    if name.startswith("_") or name in _NOTEBOOK_BUILTINS:
        return False
    if isinstance(value, _SCALARS):
        return True
    if isinstance(value, _CONTAINERS):
        # Papermill injects lists; a constant imported by the validation cell (e.g. ``KS``) is not one.
        return not value or not _bound_by_import(name, value, namespace)
    return False  # modules, functions, classes and other objects the notebook imported


def params_from_namespace(
    params_class: type[P], namespace: Mapping[str, Any], view: tuple[str, ...] = ()
) -> P:
    """Build ``params_class`` from a notebook's globals after its ``parameters`` cell.

    The parameters cell is a notebook's first code cell, so at this point its public data globals
    (scalars, and lists or tuples such as papermill injects for a preset's ``difference_weights``) are
    exactly the parameters. Every one of them must be a field of ``params_class``: a misspelt or unknown
    name raises :class:`UnknownNameError` listing the valid ones, whatever its value's type, instead of
    being silently ignored as papermill would. ``view`` names the notebook's own display parameters (e.g.
    which projection to draw), which are not the recipe's. Modules, functions, classes and constants
    imported by the validation cell are not parameters.
    """
    values = {
        name: value
        for name, value in namespace.items()
        if name not in view and _is_parameter(name, value, namespace)
    }
    return params_class.from_dict(values)


def parse_yaml_mapping(text: str, source: str) -> dict[str, Any]:
    """``text`` (a YAML mapping of parameter: value) as a dict; ``source`` names it in errors.

    Raises:
        ParameterError: not YAML, or not a mapping (one line naming ``source`` and the YAML line).
    """
    try:
        values = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ParameterError(f"{source} is not valid YAML{where}: {problem}") from None
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise ParameterError(f"{source} must be a mapping of parameter: value, got {type(values).__name__}")
    for key in values:
        if not isinstance(key, str):
            raise ParameterError(f"{source}: parameter names must be strings, got {key!r}")
    return values


def load_parameter_file(path: str | Path) -> dict[str, Any]:
    """A YAML file of ``parameter: value`` (``workbench run -f``), validated as a mapping.

    Raises:
        MissingFileError: no such file.
        ParameterError: not YAML or not a mapping.
    """
    file = Path(path).expanduser()
    if not file.is_file():
        raise MissingFileError(f"parameter file not found: {file} (pass a YAML file of parameter: value)")
    return parse_yaml_mapping(file.read_text(), f"parameter file {file}")


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
