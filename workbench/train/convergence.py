"""Has a training loss stopped falling? A plain, stated rule a summary can report next to its numbers.

An encoder whose loss is still falling when training ends is not the encoder a paper evaluates, and a
comparison of two such encoders says more about how far each got than about their objectives. Recipes
that pre-train report :func:`loss_plateau` for every pre-training and warn when one is still falling.

The rule: fit a straight line (least squares) to the loss over the last quarter of the epochs (at least
:data:`MIN_TAIL` of them); the loss has flattened when that line falls by less than ``tolerance`` of the
quarter's mean loss from the quarter's first epoch to its last. A line that rises counts as flat (more
training no longer lowers the loss). Measuring the slope inside the last quarter, not the last quarter
against an earlier one, asks whether the loss is still falling at the end, which is what a reader of the
final encoder needs; per-epoch noise moves a slope fitted over a dozen or more epochs by a few percent.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

MIN_EPOCHS = 8
"""Fewer epochs than this are too few to tell a plateau from noise: such a curve is never called flat."""
MIN_TAIL = 4
"""The line is fitted to at least this many final epochs."""


@dataclass(frozen=True)
class Plateau:
    """What :func:`loss_plateau` measured on one loss curve.

    Attributes:
        epochs: length of the curve.
        tail: the final epochs the line was fitted to (a quarter of ``epochs``, at least :data:`MIN_TAIL`).
        mean: mean loss over those epochs.
        change: the fitted line's rise from the tail's first epoch to its last, over ``|mean|``; negative
            while the loss falls.
        tolerance: the relative fall below which the curve counts as flat.
        flat: whether the loss has stopped falling by the rule above.
    """

    epochs: int
    tail: int
    mean: float
    change: float
    tolerance: float
    flat: bool

    def line(self) -> str:
        """``"-2.1 % over the last 10 of 40 epochs (flat)"`` or ``"... (still falling)"``."""
        if self.epochs < MIN_EPOCHS:
            return f"{self.epochs} epochs: too few to tell (need {MIN_EPOCHS})"
        state = "flat" if self.flat else "still falling"
        return f"{100 * self.change:+.1f} % over the last {self.tail} of {self.epochs} epochs ({state})"

    def to_dict(self) -> dict[str, float | int | bool]:
        return {"epochs": self.epochs, "tail": self.tail, "mean": self.mean, "change": self.change,
                "tolerance": self.tolerance, "flat": self.flat}  # fmt: skip


def loss_plateau(losses: Sequence[float], tolerance: float = 0.05) -> Plateau:
    """How much a per-epoch loss curve still falls over its last quarter (see the module's rule).

    Args:
        losses: one loss per epoch, in order.
        tolerance: relative fall (0.05 = 5 % of the tail's mean) under which the loss counts as flat.

    Raises:
        ValueError: an empty curve, a non-finite loss, or a tolerance outside (0, 1).
    """
    if not 0 < tolerance < 1:
        raise ValueError(f"loss_plateau: tolerance must lie in (0, 1), got {tolerance}")
    values = [float(value) for value in losses]
    if not values:
        raise ValueError("loss_plateau: the loss curve is empty")
    if not all(math.isfinite(value) for value in values):
        raise ValueError("loss_plateau: the loss curve has NaN or Inf values")
    tail = values[-max(MIN_TAIL, len(values) // 4) :]
    count = len(tail)
    mean = sum(tail) / count
    if count < 2:
        change = 0.0
    else:
        centre = (count - 1) / 2
        slope = sum((index - centre) * (value - mean) for index, value in enumerate(tail)) / sum(
            (index - centre) ** 2 for index in range(count)
        )
        change = slope * (count - 1) / abs(mean) if mean else 0.0
    flat = len(values) >= MIN_EPOCHS and change > -tolerance
    return Plateau(len(values), count, mean, change, tolerance, flat)
