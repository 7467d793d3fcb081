"""BYOL's regression loss and the difference loss of subtraction-consistent learning.

- :class:`BYOLLoss` (Grill et al., "Bootstrap Your Own Latent", NeurIPS 2020; BYOL-A, Niizumi et al.,
  IJCNN 2021): the online prediction regresses the target projection of the other view,
  ``2 - 2 cos(q, z)``, the squared distance of the two L2-normalised vectors.
- :class:`DifferenceLoss` (Takeuchi et al., "Towards Learning a Difference-Aware General-Purpose Audio
  Representation"): the representation of a mixture ``w = mix(s(v), v; gamma)`` minus ``gamma`` times
  the representation of the shifted partner, ``f(w) - gamma * s(f(v))``, goes through the projector
  and a second predictor and regresses the target projection ``z_xi`` with the same normalised squared
  error. Minimising it makes representations subtract like the sounds they stand for.

Difference-aware BYOL-A minimises ``(1 - lambda) * L_byol + lambda * L_diff``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional

from workbench.audio.byola_augment import shift_batch
from workbench.losses.classification import check_reduction, reduce

def normalized_squared_error(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``|| p / |p| - z / |z| ||^2 = 2 - 2 cos(p, z)`` per row, in [0, 4].

    Shape:
        prediction, target: ``(batch, dim)``; returns ``(batch,)``.
    """
    prediction = functional.normalize(prediction, dim=-1)
    target = functional.normalize(target, dim=-1)
    return 2.0 - 2.0 * (prediction * target).sum(dim=-1)  # (B,)


def _check_pair(prediction: torch.Tensor, target: torch.Tensor, name: str) -> None:
    if prediction.ndim != 2 or prediction.shape != target.shape:
        raise ValueError(
            f"{name} expects prediction and target of the same shape (batch, dim), got "
            f"{tuple(prediction.shape)} and {tuple(target.shape)}"
        )


class BYOLLoss(nn.Module):
    """BYOL's loss ``2 - 2 cos(q, sg(z))`` between online predictions and target projections.

    The target is detached (stop-gradient): only the online branch learns from it. BYOL sums the loss
    of both directions (view 1 predicts view 2's target and the reverse); call this once per direction.

    Args:
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` over the batch.

    Shape:
        prediction: ``(batch, dim)``; target: ``(batch, dim)``.

    Returns:
        a scalar, or ``(batch,)`` with ``reduction="none"``.

    Raises:
        ValueError: shapes that differ or are not 2-D, or an unknown reduction.
    """

    def __init__(self, reduction: str = "mean"):
        super().__init__()
        self.reduction = check_reduction(reduction, type(self).__name__)

    def forward(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        _check_pair(prediction, target, type(self).__name__)
        return reduce(normalized_squared_error(prediction, target.detach()), self.reduction)


class DifferenceLoss(nn.Module):
    """Subtraction-consistency: ``2 - 2 cos(h(f(w) - gamma * s(f(v))), sg(z_xi))``.

    ``f(w)`` is the online representation of the mixture of each view with its shifted partner
    (:func:`workbench.audio.byola_augment.subtraction_mix`, same ``shift``), ``f(v)`` that of the views,
    ``h`` the projector followed by the difference predictor, ``z_xi`` the target projection the
    difference should point to (the target network's projection of the view that remains).

    Args:
        shift: the shift operator's offset; it must be the one the mixture was made with.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` over the batch.

    Shape:
        mixture_embedding: ``(batch, dim)``; view_embedding: ``(batch, dim)``; gamma: ``(batch,)`` or a
        number; target: ``(batch, projection_dim)``; ``head`` maps ``(batch, dim)`` to
        ``(batch, projection_dim)`` (the identity when None, then ``projection_dim == dim``).

    Returns:
        a scalar, or ``(batch,)`` with ``reduction="none"``.

    Raises:
        ValueError: embeddings of different or non-2-D shapes, a ``gamma`` of the wrong shape, a
            head output that does not match the target, or an unknown reduction.
    """

    def __init__(self, shift: int = 1, reduction: str = "mean"):
        super().__init__()
        self.shift = int(shift)
        self.reduction = check_reduction(reduction, type(self).__name__)

    def difference(
        self, mixture_embedding: torch.Tensor, view_embedding: torch.Tensor, gamma: torch.Tensor | float
    ) -> torch.Tensor:
        """``f(w) - gamma * s(f(v))`` ``(batch, dim)``: what should remain of the mixture, the view's part."""
        if mixture_embedding.ndim != 2 or mixture_embedding.shape != view_embedding.shape:
            raise ValueError(
                f"{type(self).__name__} expects mixture and view embeddings of the same shape (batch, dim), "
                f"got {tuple(mixture_embedding.shape)} and {tuple(view_embedding.shape)}"
            )
        gamma = torch.as_tensor(gamma, dtype=mixture_embedding.dtype, device=mixture_embedding.device)
        if gamma.ndim == 1 and gamma.shape[0] == mixture_embedding.shape[0]:
            gamma = gamma[:, None]  # (B, 1)
        elif gamma.ndim != 0:
            raise ValueError(
                f"gamma must be a number or ({mixture_embedding.shape[0]},), got shape {tuple(gamma.shape)}"
            )
        return mixture_embedding - gamma * shift_batch(view_embedding, self.shift)  # (B, D)

    def forward(
        self,
        mixture_embedding: torch.Tensor,
        view_embedding: torch.Tensor,
        gamma: torch.Tensor | float,
        target: torch.Tensor,
        head: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> torch.Tensor:
        difference = self.difference(mixture_embedding, view_embedding, gamma)
        prediction = head(difference) if head is not None else difference  # (B, P)
        _check_pair(prediction, target, type(self).__name__)
        return reduce(normalized_squared_error(prediction, target.detach()), self.reduction)
