"""Separation metrics: SDR against hand-computed values, silence handling, the three SDRs, mAP, KL."""

import math

import numpy as np
import pytest
import torch

from workbench.evaluation.separation import (
    evaluate_separation,
    gaussian_kl,
    query_blind_sdr,
    sdr,
    silence_sdr,
    symmetric_gaussian_kl,
)
from workbench.losses.separation import SeparationLoss, signal_to_distortion_ratio


def test_sdr_of_known_signals():
    reference = np.array([1.0, -1.0, 1.0, -1.0])
    assert sdr(reference * 0.9, reference) == pytest.approx(20.0, abs=1e-5)  # error 0.1 s: 10 log10(1 / 0.01)
    assert sdr(np.zeros(4), reference) == pytest.approx(0.0, abs=1e-6)  # silence: error = the signal
    noise = np.array([1.0, 1.0, -1.0, -1.0])  # orthogonal to the reference, same energy
    assert sdr(reference + noise, reference) == pytest.approx(0.0, abs=1e-6)
    assert sdr(reference + 0.5 * noise, reference) == pytest.approx(10 * math.log10(4), abs=1e-6)
    # Brute force over a batch: 10 log10(sum s^2 / sum (s - s_hat)^2), row by row.
    rng = np.random.default_rng(0)
    estimate, target = rng.normal(size=(3, 2, 50)), rng.normal(size=(3, 2, 50))
    expected = [[10 * math.log10(sum(t * t for t in target[i, j]) / sum((t - e) ** 2 for t, e in zip(target[i, j], estimate[i, j])))
                 for j in range(2)] for i in range(3)]  # fmt: skip
    assert np.allclose(sdr(estimate, target), expected, atol=1e-6)


def test_zero_targets_give_finite_values():
    zeros = torch.zeros(2, 100)
    assert np.array_equal(sdr(zeros, zeros), [0.0, 0.0])
    assert np.isfinite(sdr(torch.ones(2, 100), zeros)).all()
    assert np.array_equal(silence_sdr(zeros, zeros), [0.0, 0.0])
    loss, values = SeparationLoss()(torch.zeros(2, 100, requires_grad=True), zeros)
    assert torch.isfinite(loss) and torch.isfinite(values).all()


def test_silence_sdr_is_the_attenuation_in_db():
    source = np.ones((1, 64))
    assert silence_sdr(0.1 * source, source) == pytest.approx(20.0)
    assert silence_sdr(source, source) == pytest.approx(0.0)
    with pytest.raises(ValueError, match="same shape"):
        silence_sdr(np.ones(3), np.ones(4))


def test_loss_is_mae_minus_sdr_and_has_gradients():
    torch.manual_seed(0)
    target = torch.randn(4, 200)
    estimate = (target + 0.3 * torch.randn(4, 200)).requires_grad_()
    loss, values = SeparationLoss(mae_weight=2.0)(estimate, target)
    expected = 2.0 * (estimate - target).abs().mean() - signal_to_distortion_ratio(estimate, target).mean()
    assert torch.allclose(loss, expected) and values.shape == (4,)
    loss.backward()
    assert torch.isfinite(estimate.grad).all() and estimate.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="same shape"):
        SeparationLoss()(torch.zeros(2, 5), torch.zeros(2, 6))


def _sources(count: int = 3, samples: int = 400) -> torch.Tensor:
    time = torch.arange(samples) / 100.0
    first = torch.stack([torch.sin(2 * math.pi * (3 + i) * time) for i in range(count)])
    second = torch.stack([torch.sign(torch.sin(2 * math.pi * (7.5 + i) * time)) * 0.5 for i in range(count)])
    return torch.stack([first, second], dim=1)  # (N, 2, S)


def test_an_oracle_separator_scores_high_and_an_identity_scores_the_input():
    sources = _sources()
    queries = torch.tensor([[[1.0], [0.0]]]).expand(3, 2, 1).clone()  # query = which component (1: sine)

    def oracle(inputs: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
        # Project onto the class's known signals: a perfect separator for these pairs.
        out = []
        for signal, which in zip(inputs, query[:, 0]):
            basis = sources[:, 0] if which > 0.5 else sources[:, 1]
            weights = torch.linalg.lstsq(basis.T, signal[:, None]).solution
            out.append((basis.T @ weights)[:, 0])
        return torch.stack(out)

    scores = evaluate_separation(oracle, sources, queries, classes=np.array([[0, 1]] * 3), batch_size=2)
    assert scores.mixture_sdr.shape == (6,) and list(scores.target_classes) == [0, 1] * 3
    assert scores.mixture_sdr.min() > 40 and scores.clean_sdr.min() > 40 and scores.silence_sdr.min() > 40
    identity = evaluate_separation(lambda inputs, query: inputs, sources, queries)
    assert identity.clean_sdr.min() > 70  # the lone target passes unchanged (finite thanks to eps)
    assert np.allclose(identity.mixture_sdr, identity.input_sdr) and np.allclose(identity.improvement, 0)
    assert np.allclose(identity.silence_sdr, 0.0)
    assert identity.means()["sdri"] == pytest.approx(0.0)
    with pytest.raises(ValueError, match="one per source"):
        evaluate_separation(oracle, sources, queries[:2])


def test_query_blind_reference_is_three_db_for_orthogonal_equal_energy_sources():
    samples = 512
    time = torch.arange(samples) / samples
    pair = torch.stack([torch.sin(2 * math.pi * 5 * time), torch.cos(2 * math.pi * 9 * time)])[None]
    assert query_blind_sdr(pair) == pytest.approx(10 * math.log10(2), abs=1e-3)


def test_gaussian_kl_matches_the_closed_form_and_grows_with_distance():
    rng = np.random.default_rng(0)
    first = rng.normal(size=(4000, 2))
    shifted = rng.normal(size=(4000, 2)) + np.array([1.0, 0.0])
    # Unit covariances, means 1 apart: KL = 1^2 / 2, whatever the standardisation (KL is affine-invariant).
    assert gaussian_kl(first, shifted, dims=2) == pytest.approx(0.5, rel=0.1)
    assert gaussian_kl(first, rng.normal(size=(4000, 2)), dims=2) < 0.01
    far = rng.normal(size=(4000, 2)) + np.array([3.0, 0.0])
    assert symmetric_gaussian_kl(first, far) > symmetric_gaussian_kl(first, shifted)
    with pytest.raises(ValueError, match="at least 3 points"):
        gaussian_kl(first[:2], shifted)
