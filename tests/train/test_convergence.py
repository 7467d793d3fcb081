import math

import pytest

from workbench.train.convergence import MIN_EPOCHS, loss_plateau


def test_a_falling_curve_is_still_falling_and_a_flat_one_flat():
    falling = [2.0 * 0.9**epoch for epoch in range(20)]
    plateau = loss_plateau(falling)
    # quarters of 5 epochs: mean of epochs 15-19 against 10-14, a fall of 1 - 0.9**5
    assert plateau.change == pytest.approx(0.9**5 - 1)
    assert not plateau.flat and "still falling" in plateau.line()
    flat = [1.0 + 0.5 * math.exp(-epoch) for epoch in range(20)]
    assert loss_plateau(flat).flat and "(flat)" in loss_plateau(flat).line()


def test_a_rising_loss_counts_as_flat_and_the_tolerance_is_the_boundary():
    assert loss_plateau([1.0] * 10 + [1.2] * 10).flat
    curve = [1.0] * 15 + [0.96] * 5  # the last quarter is 4 % below the one before
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
