"""BYOL's loss and the difference loss against plain-loop references written from the formulas."""

import math

import pytest
import torch
from loss_helpers import BATCH_SIZES, DTYPES

from workbench.losses.byol import BYOLLoss, DifferenceLoss


def reference_byol(prediction, target):
    """``2 - 2 cos`` row by row, with explicit sums."""
    values = []
    for p, z in zip(prediction.tolist(), target.tolist()):
        dot = sum(a * b for a, b in zip(p, z))
        norms = math.sqrt(sum(a * a for a in p)) * math.sqrt(sum(b * b for b in z))
        values.append(2 - 2 * dot / norms)
    return sum(values) / len(values)


def random(shape, seed, dtype=torch.float64):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64).to(dtype)


@pytest.mark.parametrize("batch", BATCH_SIZES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_byol_loss_matches_the_formula(batch, dtype):
    prediction, target = random((batch, 7), 0, dtype), random((batch, 7), 1, dtype)
    loss = BYOLLoss()(prediction, target)
    assert loss.dtype == dtype
    assert math.isclose(float(loss), reference_byol(prediction.double(), target.double()), rel_tol=1e-5, abs_tol=1e-6)
    assert float(BYOLLoss()(prediction, 3.0 * prediction)) == pytest.approx(0.0, abs=1e-6)  # scale-free
    assert float(BYOLLoss()(prediction, -prediction)) == pytest.approx(4.0, abs=1e-6)


def test_byol_loss_stops_the_gradient_at_the_target():
    prediction, target = random((4, 3), 0).requires_grad_(), random((4, 3), 1).requires_grad_()
    BYOLLoss()(prediction, target).backward()
    assert prediction.grad is not None and target.grad is None
    per_item = BYOLLoss(reduction="none")(prediction.detach(), target.detach())
    assert per_item.shape == (4,)


def test_byol_loss_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"same shape \(batch, dim\), got \(4, 3\) and \(4, 2\)"):
        BYOLLoss()(random((4, 3), 0), random((4, 2), 1))
    with pytest.raises(ValueError, match="reduction must be one of"):
        BYOLLoss(reduction="max")


@pytest.mark.parametrize("batch", (2, 3, 8))
def test_difference_loss_matches_a_hand_computation(batch):
    mixture, view = random((batch, 5), 2), random((batch, 5), 3)
    gamma = 0.4 + 0.2 * torch.rand(batch, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    target = random((batch, 3), 5)
    weight = random((3, 5), 6)
    head = lambda difference: difference @ weight.T  # noqa: E731 - a linear "projector + predictor"
    loss = DifferenceLoss()(mixture, view, gamma, target, head)
    total = 0.0
    for i in range(batch):
        partner = (i - 1) % batch  # the shift operator pairs item i with item i - 1
        difference = [mixture[i, d].item() - gamma[i].item() * view[partner, d].item() for d in range(5)]
        prediction = [sum(weight[o, d].item() * difference[d] for d in range(5)) for o in range(3)]
        total += reference_byol(torch.tensor([prediction], dtype=torch.float64), target[i : i + 1])
    assert math.isclose(float(loss), total / batch, rel_tol=1e-9)


def test_difference_loss_vanishes_when_representations_subtract_like_the_sounds():
    # A linear representation of a linear mixture: f(w) - gamma s(f(v)) is exactly (1 - gamma) f(v).
    views = random((6, 4), 7)
    gamma = torch.full((6,), 0.45, dtype=torch.float64)
    mixture = gamma[:, None] * torch.roll(views, 1, dims=0) + (1 - gamma[:, None]) * views
    loss = DifferenceLoss()(mixture, views, gamma, target=views)
    assert float(loss) == pytest.approx(0.0, abs=1e-9)
    # A scalar gamma broadcasts like the per-item one.
    assert float(DifferenceLoss()(mixture, views, 0.45, target=views)) == pytest.approx(0.0, abs=1e-9)


def test_difference_loss_errors_say_what_is_expected():
    with pytest.raises(ValueError, match=r"gamma must be a number or \(4,\), got shape \(3,\)"):
        DifferenceLoss()(random((4, 3), 0), random((4, 3), 1), torch.ones(3), random((4, 3), 2))
    with pytest.raises(ValueError, match="mixture and view embeddings of the same shape"):
        DifferenceLoss()(random((4, 3), 0), random((4, 2), 1), 0.5, random((4, 3), 2))
