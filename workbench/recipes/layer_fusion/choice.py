"""Which layers are fused: the middle layer M and the late layer L chosen from layer-wise validation scores
(Sec. IV-C), or the layers given."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

LATE_FRACTION = 1 / 3
"""Share of a model's tapped layers (the last ones, at least one) that count as *late*; the layers before
them are the early and middle ones M is chosen from."""


@dataclass(frozen=True)
class FusionChoice:
    """Which layers are fused and why.

    Attributes:
        layers: the fused layers, in feature order (M then L when chosen automatically).
        automatic: chosen by :func:`choose_fusion_layers` rather than given.
        winners: task -> its best layer by validation score (:func:`layer_region` names its region).
        middle_tasks: tasks whose best layer is an early or middle one (M was chosen on them).
        late_tasks: tasks whose best layer is a late one (L was chosen on them).
    """

    layers: tuple[str, ...]
    automatic: bool
    winners: dict[str, str] = field(default_factory=dict)
    middle_tasks: tuple[str, ...] = ()
    late_tasks: tuple[str, ...] = ()


EARLY_FRACTION = 1 / 4
"""Share of a model's tapped layers (the first ones, at least one) called *early*: never *middle*. A quarter
keeps the paper's names for its pairs: CNN14 block 3, VGGish #10 and AST layer 5 are middle layers
(Sec. IV-C), while CNN14's block 1 or mn04's block 1 are early ones."""


def layer_region(layer_names: Sequence[str], layer: str) -> str:
    """``"early"``, ``"middle"`` or ``"late"``: the late layers are :func:`late_region`, the early ones the first
    ``ceil(EARLY_FRACTION * count)`` of the others (at least one), the middle ones what lies between.

    Raises:
        ValueError: ``layer`` is not among ``layer_names``.
    """
    names = list(layer_names)
    if layer not in names:
        raise ValueError(f"layer {layer!r} is not among the tapped layers {names}")
    if layer in late_region(names):
        return "late"
    return "early" if names.index(layer) < max(1, math.ceil(EARLY_FRACTION * len(names))) else "middle"


def late_region(layer_names: Sequence[str]) -> list[str]:
    """The late layers: the last ``ceil(LATE_FRACTION * count)`` ones (at least one)."""
    count = max(1, math.ceil(LATE_FRACTION * len(layer_names)))
    return list(layer_names[-count:])


def choose_fusion_layers(layer_names: Sequence[str], accuracy: Mapping[str, Mapping[str, float]]) -> FusionChoice:
    """Choose the middle layer M and the late layer L from layer-wise scores, as the paper does (Sec.
    IV-C: L where the average over the tasks that peak late is highest, M likewise for the others).

    Pass validation scores (:attr:`~workbench.evaluation.linear.LinearEvalResult.valid_score`), never
    the test scores the fusion is then judged by. Each task's best layer makes it a *middle* task (best layer among the early/middle layers) or a
    *late* task (best layer among :func:`late_region`). M is the early/middle layer with the best mean
    score over the middle tasks, L the late layer with the best mean score over the late tasks; a
    region that no task prefers is judged on all tasks. Ties go to the earlier layer.

    Args:
        layer_names: the tapped layers in forward order (at least two).
        accuracy: task -> layer -> mean score.

    Returns:
        :class:`FusionChoice` with ``layers == (M, L)``.

    Raises:
        ValueError: fewer than two layers, no tasks, or a task without a score for some layer.
    """
    names = list(layer_names)
    if len(names) < 2:
        raise ValueError(f"fusing a middle and a late layer needs at least two layers, got {names}")
    if not accuracy:
        raise ValueError("choose_fusion_layers needs the scores of at least one task")
    for task, scores in accuracy.items():
        missing = [name for name in names if name not in scores]
        if missing:
            raise ValueError(f"task {task!r} has no score for layers {missing}")
    late = late_region(names)
    middle = [name for name in names if name not in late]
    winners = {task: max(names, key=lambda name: scores[name]) for task, scores in accuracy.items()}
    middle_tasks = tuple(task for task, winner in winners.items() if winner in middle)
    late_tasks = tuple(task for task, winner in winners.items() if winner in late)

    def best(region: list[str], tasks: tuple[str, ...]) -> str:
        judged = tasks or tuple(accuracy)
        return max(region, key=lambda name: float(np.mean([accuracy[task][name] for task in judged])))

    return FusionChoice(
        layers=(best(middle, middle_tasks), best(late, late_tasks)), automatic=True, winners=winners,
        middle_tasks=middle_tasks, late_tasks=late_tasks,
    )  # fmt: skip
