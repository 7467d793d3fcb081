"""What is built per ``lambda``: the AudioNTT2020 encoder over the recipe's front-end, and the
difference-aware BYOL-A learner that trains it."""

from __future__ import annotations

import torch
from torch import nn

from workbench.audio.byola_augment import normalize_batch, sample_mixing_weights, subtraction_mix
from workbench.errors import UnknownNameError
from workbench.losses.byol import BYOLLoss, DifferenceLoss
from workbench.models.audiontt import AudioNTT2020, AudioNTTConfig
from workbench.models.byola import BYOLNetworks
from workbench.recipes.diff_byola.data import recipe_frontend
from workbench.recipes.diff_byola.params import MIXINGS, Params


def make_encoder(params: Params, norm_mean: float, norm_std: float) -> AudioNTT2020:
    """An AudioNTT2020 encoder over :func:`recipe_frontend` (its filterbank holds no state to load)."""
    encoder = AudioNTT2020(encoder_config(params, norm_mean, norm_std))
    encoder.frontend = recipe_frontend(params)
    return encoder


def encoder_config(params: Params, norm_mean: float, norm_std: float) -> AudioNTTConfig:
    return AudioNTTConfig(
        n_mels=params.n_mels, embedding_dim=params.embedding_dim, channels=params.channels, norm_mean=norm_mean, norm_std=norm_std
    )


class DifferenceAwareBYOLA(nn.Module):
    """BYOL-A with the subtraction-consistent branch; ``forward(log_mels) -> (loss, metrics)``.

    Each step: two augmented views of the batch, post-normalised together (BYOL-A's
    ``NormalizeBatch``); the symmetric BYOL loss (view 1 predicts view 2's target projection and the
    reverse). With ``difference_weight > 0`` each view is also mixed with its shifted neighbour and the
    difference ``f(w) - gamma s(f(v))`` predicts, through projector and difference predictor, the target
    projection of the *other* view of the same clip (as the BYOL branch does), both directions.

    Args:
        networks: online and target networks (with a difference predictor when ``difference_weight > 0``).
        augmentation: BYOL-A's augmentation chain on normalised log-mels.
        difference_weight: lambda in ``(1 - lambda) L_byol + lambda L_diff``.
        mixing_range: range of ``gamma``.
        mixing: ``"normalized"``, the paper's formula on the views as the encoder sees them, or
            ``"power"``, the same weights applied to the mel power of the two sounds (undoing the pre-
            and post-normalisation scales, :func:`~workbench.audio.byola_augment.subtraction_mix`'s
            ``scale``), which is how sounds played together mix.
        input_std: the pre-normalisation's standard deviation (log units per input unit), for ``"power"``.

    Shape:
        log_mels: ``(batch, n_mels, frames)`` normalised crops; ``batch >= 2``.
    """

    def __init__(
        self,
        networks: BYOLNetworks,
        augmentation: nn.Module,
        difference_weight: float,
        mixing_range: tuple[float, float] = (0.4, 0.6),
        mixing: str = "normalized",
        input_std: float = 1.0,
    ):
        super().__init__()
        if difference_weight > 0 and networks.difference_predictor is None:
            raise ValueError("difference_weight > 0 needs BYOLNetworks built with a difference predictor")
        if mixing not in MIXINGS:
            raise UnknownNameError("difference-branch mixing", mixing, MIXINGS)
        self.mixing = mixing
        self.input_std = float(input_std)
        self.networks = networks
        self.augmentation = augmentation
        self.difference_weight = float(difference_weight)
        self.mixing_range = mixing_range
        self.byol_loss = BYOLLoss()
        self.difference_loss = DifferenceLoss(shift=1)

    def byol_of_views(self, view_one: torch.Tensor, view_two: torch.Tensor) -> tuple[torch.Tensor, tuple, tuple]:
        """The symmetric BYOL loss of two batches of normalised views (each view's online prediction
        against the other's target projection), with the online outputs and the target projections."""
        online_one, online_two = self.networks.online(view_one), self.networks.online(view_two)
        target_one, target_two = self.networks.target(view_one), self.networks.target(view_two)
        byol = self.byol_loss(online_one.prediction, target_two) + self.byol_loss(online_two.prediction, target_one)
        return byol, (online_one, online_two), (target_one, target_two)

    def forward(self, log_mels: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        batch = log_mels.shape[0]
        augmented = torch.cat([self.augmentation(log_mels), self.augmentation(log_mels)])
        views = normalize_batch(augmented)
        view_one, view_two = views[:batch], views[batch:]
        byol, (online_one, online_two), (target_one, target_two) = self.byol_of_views(view_one, view_two)
        metrics = {"byol_loss": float(byol.detach())}
        if self.difference_weight == 0:
            return byol, metrics
        # Log units per unit of the post-normalised views: the two normalisations' scales.
        scale = self.input_std * float(augmented.detach().std()) if self.mixing == "power" else 1.0
        difference = torch.zeros((), dtype=byol.dtype, device=byol.device)
        for online, view, other_target in ((online_one, view_one, target_two), (online_two, view_two, target_one)):
            gamma = sample_mixing_weights(batch, *self.mixing_range).to(view.device)  # (B,)
            mixture = self.networks.online_encoder.forward_log_mel(subtraction_mix(view, gamma, scale=scale))  # (B, D)
            difference = difference + self.difference_loss(
                mixture, online.embedding, gamma, other_target, self.networks.difference_head
            )
        metrics["difference_loss"] = float(difference.detach())
        return (1.0 - self.difference_weight) * byol + self.difference_weight * difference, metrics
