"""Separation losses on waveforms: the signal-to-distortion ratio and CaRE-SEP's MAE + negative SDR.

- :func:`signal_to_distortion_ratio`: ``10 log10(|s|^2 / |s - s_hat|^2)`` over the whole clip, the plain
  (not scale-invariant) SDR that ST-SED-SEP and CaRE-SEP report, with a small ``eps`` in numerator and
  denominator so a silent reference gives a finite value (0 dB for a silent estimate), never NaN.
- :class:`SeparationLoss`: ``mae_weight * mean |s - s_hat| - mean SDR(s_hat, s)``, the loss CaRE-SEP
  (Wang et al.) trains with.
"""

from __future__ import annotations

import torch
from torch import nn

EPS = 1e-8
"""Added to both energies of the SDR: a silent reference with a silent estimate scores 0 dB, not NaN."""


def _check_waveforms(estimate: torch.Tensor, reference: torch.Tensor, name: str) -> None:
    if estimate.shape != reference.shape or estimate.ndim < 1 or estimate.shape[-1] == 0:
        raise ValueError(
            f"{name} expects estimate and reference of the same shape (..., samples), got "
            f"{tuple(estimate.shape)} and {tuple(reference.shape)}"
        )


def signal_to_distortion_ratio(estimate: torch.Tensor, reference: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """SDR in dB over the last axis: ``10 log10((|s|^2 + eps) / (|s - s_hat|^2 + eps))``.

    Shape:
        estimate, reference: ``(..., samples)``; returns ``(...)``.

    Raises:
        ValueError: shapes that differ, or no samples.
    """
    _check_waveforms(estimate, reference, "signal_to_distortion_ratio")
    signal = reference.pow(2).sum(dim=-1)
    distortion = (reference - estimate).pow(2).sum(dim=-1)
    return 10.0 * torch.log10((signal + eps) / (distortion + eps))


class SeparationLoss(nn.Module):
    """Waveform MAE plus negative SDR: ``mae_weight * mean|s - s_hat| - mean_batch SDR(s_hat, s)``.

    From CaRE-SEP (Wang et al., ICASSP 2024). The SDR term is in dB and dominates the MAE on signals of
    usual level; the MAE keeps a gradient towards the exact waveform where the SDR saturates.

    Args:
        mae_weight: weight of the mean absolute error.

    Shape:
        estimate, reference: ``(batch, samples)``.

    Returns:
        ``(loss, sdr)``: the scalar loss and the per-example SDR ``(batch,)`` (detached), for logging.
    """

    def __init__(self, mae_weight: float = 1.0):
        super().__init__()
        if mae_weight < 0:
            raise ValueError(f"mae_weight must be >= 0, got {mae_weight}")
        self.mae_weight = float(mae_weight)

    def forward(self, estimate: torch.Tensor, reference: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        _check_waveforms(estimate, reference, "SeparationLoss")
        sdr = signal_to_distortion_ratio(estimate, reference)  # (B,)
        mae = (estimate - reference).abs().mean()
        return self.mae_weight * mae - sdr.mean(), sdr.detach()
