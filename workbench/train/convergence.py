"""Has a training loss stopped falling? A plain, stated rule a summary can report next to its numbers.

An encoder whose loss is still falling when training ends is not the encoder a paper evaluates, and a
comparison of two such encoders says more about how far each got than about their objectives. Recipes
that pre-train report :func:`loss_plateau` for every pre-training and warn when one is still falling.

The rule: split the last half of the epochs into two quarters of the run; the loss has flattened when the
mean of the last quarter is less than ``tolerance`` (relative) below the mean of the quarter before it.
A loss that rises counts as flat (it is no longer being lowered by more training).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

MIN_EPOCHS = 8
"""Fewer epochs than this are too few to tell a plateau from noise: such a curve is never called flat."""


@dataclass(frozen=True)
class Plateau:
    """What :func:`loss_plateau` measured on one loss curve.

    Attributes:
        epochs: length of the curve.
        previous: mean loss over the second-to-last quarter of the epochs.
        last: mean loss over the last quarter.
        change: ``(last - previous) / |previous|``; negative while the loss falls.
        tolerance: the relative fall below which the curve counts as flat.
        flat: whether the loss has stopped falling by the rule above.
    """

    epochs: int
    previous: float
    last: float
    change: float
    tolerance: float
    flat: bool

    def line(self) -> str:
        """``"-2.1 % over the last quarter (flat)"`` or ``"... (still falling)"``."""
        if self.epochs < MIN_EPOCHS:
            return f"{self.epochs} epochs: too few to tell (need {MIN_EPOCHS})"
        state = "flat" if self.flat else "still falling"
        return f"{100 * self.change:+.1f} % over the last quarter of {self.epochs} epochs ({state})"

    def to_dict(self) -> dict[str, float | int | bool]:
        return {"epochs": self.epochs, "previous": self.previous, "last": self.last, "change": self.change,
                "tolerance": self.tolerance, "flat": self.flat}  # fmt: skip


def loss_plateau(losses: Sequence[float], tolerance: float = 0.05) -> Plateau:
    """Compare the mean of the last quarter of a per-epoch loss curve with the quarter before it.

    Args:
        losses: one loss per epoch, in order.
        tolerance: relative fall (0.05 = 5 %) under which the loss counts as flat.

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
    quarter = max(1, len(values) // 4)
    last = values[-quarter:]
    previous = values[-2 * quarter : -quarter] or values[:1]
    last_mean, previous_mean = sum(last) / len(last), sum(previous) / len(previous)
    change = (last_mean - previous_mean) / abs(previous_mean) if previous_mean else 0.0
    flat = len(values) >= MIN_EPOCHS and change > -tolerance
    return Plateau(len(values), previous_mean, last_mean, change, tolerance, flat)
