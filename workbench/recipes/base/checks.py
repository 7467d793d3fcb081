"""Range and name checks that a recipe's ``Params`` declares in ``checks``, and the registries of names they
read (datasets and their tasks, encoders, pretrained checkpoints, torch devices)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from workbench.errors import ParameterError, UnknownNameError


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
class EncoderName(Check):
    """A name ``workbench.models.zoo.build_encoder`` accepts: a registered encoder, or a HEAR-API module
    ``hear:<module>[@<weights file>]`` (found, not imported)."""

    def __call__(self, name: str, value: Any) -> None:
        from workbench.models.zoo import check_encoder_name

        try:
            check_encoder_name(str(value))
        except UnknownNameError as error:
            raise UnknownNameError("encoder", str(value), error.valid, parameter=name) from None
        except ParameterError as error:
            raise ParameterError(f"parameter {name!r}: {error}") from None


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
