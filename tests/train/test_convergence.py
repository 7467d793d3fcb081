import math

import numpy as np
import pytest

from workbench.train.convergence import MIN_EPOCHS, loss_plateau


def test_a_falling_curve_is_still_falling_and_a_flat_one_flat():
    falling = [2.0 * 0.9**epoch for epoch in range(20)]
    plateau = loss_plateau(falling)
    tail = np.asarray(falling[-5:])  # the last quarter of 20 epochs
    slope = np.polyfit(np.arange(5), tail, 1)[0]
    assert plateau.tail == 5 and plateau.change == pytest.approx(slope * 4 / tail.mean())
    assert not plateau.flat and "still falling" in plateau.line() and "last 5 of 20 epochs" in plateau.line()
    flat = [1.0 + 0.5 * math.exp(-epoch) for epoch in range(20)]
    assert loss_plateau(flat).flat and "(flat)" in loss_plateau(flat).line()


def test_the_slope_inside_the_last_quarter_decides_not_the_descent_before_it():
    # Falls steeply for 30 epochs, then is flat (with noise) for 10: converged at the end.
    rng = np.random.default_rng(0)
    curve = list(np.linspace(2.0, 0.5, 30)) + list(0.5 + 0.01 * rng.standard_normal(10))
    assert loss_plateau(curve).flat


def test_a_rising_loss_counts_as_flat_and_the_tolerance_is_the_boundary():
    assert loss_plateau([1.0] * 10 + [1.2] * 10).flat
    curve = [1.0] * 15 + [1.02, 1.01, 1.0, 0.99, 0.98]  # the tail's line falls 4 % of its mean (1.0)
    assert loss_plateau(curve).change == pytest.approx(-0.04)
    assert loss_plateau(curve, tolerance=0.05).flat
    assert not loss_plateau(curve, tolerance=0.03).flat


def test_too_short_curves_are_never_flat_and_bad_curves_are_errors():
    short = loss_plateau([1.0] * (MIN_EPOCHS - 1))
    assert not short.flat and "too few" in short.line()
    with pytest.raises(ValueError, match="empty"):
        loss_plateau([])
    with pytest.raises(ValueError, match="NaN"):
        loss_plateau([1.0, float("nan")])
    with pytest.raises(ValueError, match="tolerance"):
        loss_plateau([1.0] * 10, tolerance=0)
