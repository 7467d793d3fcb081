"""Angular Distance Distribution (ADD) loss: conditions on the first two moments of pairwise cosine distances.

Almudévar, Serizel, Ortega, "Angular Distance Distribution Loss for Audio Classification", 2024
(arXiv:2411.00153); official code: github.com/antonioalmudevar/distance_distribution_loss.

Besides intra-class clustering and inter-class separation (what CE, OPL and margin losses pursue), the
paper asks for *equidistance*: no hierarchy of distances within a class, nor between classes. With
L2-normalised embeddings ``z`` and the cosine distance ``d_c(x, y) = 1 - x^T y``, the ADD term
penalises the mean and the spread of two sets of squared distances:

- ``D_p = {d_c(z_i, z_j)^2 : y_i = y_j, i != j}`` (same class: all distances should be 0),
- ``D_n = {(1 - d_c(z_i, z_j))^2 : y_i != y_j}`` (different classes: all distances should be 1, orthogonal).

**Two formulations** (``ADDLoss(form=...)``). ``"paper"`` (the default) is Eq. 1-4 as printed: the mean and
the unbiased standard deviation of those sets of *squared* terms. ``"official"`` is what the official
code computes (``src/models/stats_angle_old.py``, the four-lambda version): it squares *after* averaging
and takes the spread of the raw distances,

- ``(mean d_intra)^2``, ``std(d_intra)``, ``(1 - mean d_inter)^2``, ``std(d_inter)``,

with ``d_intra = {d_c : y_i = y_j, i != j}`` and ``d_inter = {d_c : y_i != y_j}``. Every term differs
(``mean(d^2) = (mean d)^2 + var(d)``, and the spread of ``d^2`` scales with ``d``), so the two give
different values and gradients on the same batch; both are zero at the same ideal geometry (same
class: one direction; different classes: orthogonal).

**Hard or soft labels** (``ADDLoss(labels=...)``). ``(B,)`` class indices are hard. ``(B, C)`` rows are
soft (Eq. 7-8) unless every row is exactly one-hot, which is hard: a user passing one-hot labels (as
the official code does) gets the hard value, never a third formula. ``labels="hard"`` or ``"soft"``
forces one form (``"hard"`` reduces soft rows to their dominant class, as the official code does).

:func:`check_embeddings_and_labels` is shared with the other pairwise embedding losses.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def check_embeddings_and_labels(
    embeddings: torch.Tensor, labels: torch.Tensor, loss_name: str
) -> tuple[torch.Tensor, bool]:
    """Validate ``embeddings (B, D)`` and ``labels (B,)`` ints or ``(B, C)`` soft; upcast half precision.

    Returns:
        The embeddings (float32 when given in half precision, where cosine distances lose too much),
        and whether the labels are soft ``(B, C)``.

    Raises:
        ValueError: any other shape or dtype, a batch-size mismatch, or soft labels that are
            negative or not finite; the message states what is expected.
    """
    expected = f"{loss_name} expects embeddings (batch, dim) and labels (batch,) integers or (batch, classes) floats"
    if not isinstance(embeddings, torch.Tensor) or embeddings.ndim != 2 or not embeddings.is_floating_point():
        shape = tuple(embeddings.shape) if isinstance(embeddings, torch.Tensor) else type(embeddings).__name__
        raise ValueError(f"{expected}; got embeddings {shape}")
    if embeddings.shape[0] == 0 or embeddings.shape[1] == 0:
        raise ValueError(f"{expected}; got an empty embeddings tensor {tuple(embeddings.shape)}")
    if not isinstance(labels, torch.Tensor) or labels.ndim not in (1, 2) or labels.shape[0] != embeddings.shape[0]:
        shape = tuple(labels.shape) if isinstance(labels, torch.Tensor) else type(labels).__name__
        raise ValueError(f"{expected}; got embeddings {tuple(embeddings.shape)} and labels {shape}")
    soft = labels.ndim == 2
    if soft and not labels.is_floating_point():
        raise ValueError(f"{expected}; got (batch, classes) labels of dtype {labels.dtype} (use float class weights)")
    if not soft and (labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool):
        raise ValueError(f"{expected}; got (batch,) labels of dtype {labels.dtype} (use integer class indices)")
    if soft and not (torch.isfinite(labels).all() and (labels >= 0).all()):
        raise ValueError(f"{loss_name}: soft labels must be finite, non-negative class weights")
    if embeddings.dtype in (torch.float16, torch.bfloat16):
        embeddings = embeddings.float()
    return embeddings, soft


def masked_mean_and_std(values: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and unbiased standard deviation of ``values[mask]``, defined for every set size.

    An empty set has mean 0 and std 0; a set of one element has its value as mean and std 0. The
    std is differentiable everywhere with a finite gradient, including at zero spread (where
    ``sqrt`` alone would give ``0 / 0``): there its gradient is taken as 0.

    Shape:
        values, mask: the same shape (mask boolean). Returns two scalars.
    """
    weights = mask.to(values.dtype)
    count = weights.sum()
    mean = (values * weights).sum() / count.clamp_min(1)
    variance = ((values - mean) ** 2 * weights).sum() / (count - 1).clamp_min(1)
    # sqrt'(0) is infinite; the where keeps the unused branch's gradient from turning into NaN.
    positive = variance > 0
    std = torch.where(positive, variance.clamp_min(torch.finfo(values.dtype).tiny).sqrt(), torch.zeros_like(variance))
    return mean, std


FORMS = ("paper", "official")
"""The two formulations of the hard-label loss (see the module docstring)."""
LABEL_MODES = ("auto", "hard", "soft")
"""How ``(B, C)`` labels are read: exact one-hot rows as hard (``"auto"``), always hard, always soft."""


def is_one_hot(labels: torch.Tensor) -> bool:
    """Whether every row of ``(B, C)`` labels is exactly one-hot (one 1, the rest 0)."""
    if labels.ndim != 2:
        return False
    binary = (labels == 0) | (labels == 1)
    return bool(binary.all() and (labels.sum(dim=1) == 1).all())


def _check_weight(name: str, value: float) -> float:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
        raise ValueError(f"ADDLoss: {name} must be a finite number >= 0, got {value!r}")
    return float(value)


class ADDLoss(nn.Module):
    """The Angular Distance Distribution term (without the cross-entropy it is added to).

    **Hard labels** ``(B,)`` (or exactly one-hot ``(B, C)`` rows): with ``D_p`` and ``D_n`` as in the
    module docstring, taken over ordered pairs ``(i, j)``, ``i != j`` (each unordered pair counted
    twice, as the official implementation does), ``mu`` the mean and ``sigma`` the unbiased standard
    deviation of each set, ``form="paper"`` (Eq. 1-5)::

        L_ADD = mu_p * mean(D_p) + sigma_p * std(D_p) + mu_n * mean(D_n) + sigma_n * std(D_n)

    and ``form="official"`` (the official ``stats_angle_old.py``), on the unsquared distances::

        L_ADD = mu_p * mean(d_intra)^2 + sigma_p * std(d_intra) + mu_n * (1 - mean(d_inter))^2 + sigma_n * std(d_inter)

    **Soft labels** ``(B, C)`` (mixup, label smoothing), with the label vectors L2-normalised::

        L_mu   = mean over ordered pairs i != j of (d_c(y_i, y_j) - d_c(z_i, z_j))^2
        L_soft = mu * L_mu + sigma_p * std({(d_c(y_i, y_j) - d_c(z_i, z_j))^2 : d_c(y_i, y_j) < tol, i != j})

    For one-hot labels the pairs with ``d_c(y_i, y_j) = 0`` are exactly the same-class pairs and those
    with ``d_c = 1`` the others, so ``L_mu = (|D_p| mean(D_p) + |D_n| mean(D_n)) / (|D_p| + |D_n|)``
    and the ``sigma_p`` term is the hard one. (The official soft code averages over all ``B^2``
    entries including the zero diagonal, i.e. ``(B - 1) / B`` times ours; we follow the paper's
    ordered pairs ``i != j``.) ``sigma_n`` has no soft counterpart: mixed labels have no single
    "different class" distance. ``form="official"`` with soft labels is the official soft code
    (``stats_angle.py``): ``mu`` times the mean of the squared errors over all ``B^2`` entries, the
    zero diagonal included, and no spread term (the official code computes it, then leaves it out).

    **Small sets** are defined, never NaN: a set with no element (e.g. every sample of a different
    class, so ``D_p`` is empty; a batch of one) contributes 0 to both its terms; a set with one
    element contributes its value to ``mu`` and 0 to ``sigma``. Gradients stay finite for any batch,
    including duplicate embeddings (zero spread).

    Args:
        mu_p, sigma_p, mu_n, sigma_n: the paper's lambdas, weights (>= 0) of the four moments.
        mu: weight of ``L_mu`` in the soft-label variant; None uses ``mu_p`` when it equals ``mu_n``
            (the paper's single lambda_mu) and raises for soft labels otherwise.
        same_label_tolerance: label vectors closer than this cosine distance count as the same
            label in the soft variant (the official code's 1e-3).
        form: ``"paper"`` (Eq. 1-4, squared distances) or ``"official"`` (the official code's moments).
        labels: ``"auto"`` (``(B, C)`` labels whose rows are all exactly one-hot take the hard form,
            any other ``(B, C)`` labels the soft one), ``"hard"`` (``(B, C)`` rows reduced to their
            dominant class) or ``"soft"`` (``(B, C)`` labels always soft; ``(B,)`` indices raise).

    Shape:
        embeddings: ``(batch, dim)``, any scale (normalised inside).
        labels: ``(batch,)`` integer class indices, or ``(batch, classes)`` non-negative soft labels.

    Returns:
        A scalar tensor (float32 for half-precision embeddings, else the embeddings' dtype).

    Raises:
        ValueError: wrong shapes or dtypes (the message says what is expected), negative or
            non-finite weights or soft labels, soft labels with ``mu=None`` and ``mu_p != mu_n``, an
            unknown ``form`` or ``labels``, or ``labels="soft"`` with ``(B,)`` class indices.
    """

    def __init__(
        self,
        mu_p: float = 1.0,
        sigma_p: float = 1.0,
        mu_n: float = 1.0,
        sigma_n: float = 1.0,
        *,
        mu: float | None = None,
        same_label_tolerance: float = 1e-3,
        form: str = "paper",
        labels: str = "auto",
    ):
        super().__init__()
        self.mu_p = _check_weight("mu_p", mu_p)
        self.sigma_p = _check_weight("sigma_p", sigma_p)
        self.mu_n = _check_weight("mu_n", mu_n)
        self.sigma_n = _check_weight("sigma_n", sigma_n)
        self.mu = None if mu is None else _check_weight("mu", mu)
        if not 0 < same_label_tolerance < 1:
            raise ValueError(f"ADDLoss: same_label_tolerance must be in (0, 1), got {same_label_tolerance!r}")
        self.same_label_tolerance = same_label_tolerance
        if form not in FORMS:
            raise ValueError(f"ADDLoss: form must be one of {list(FORMS)}, got {form!r}")
        if labels not in LABEL_MODES:
            raise ValueError(f"ADDLoss: labels must be one of {list(LABEL_MODES)}, got {labels!r}")
        self.form = form
        self.labels = labels

    def extra_repr(self) -> str:
        soft = "" if self.mu is None else f", mu={self.mu}"
        return (f"mu_p={self.mu_p}, sigma_p={self.sigma_p}, mu_n={self.mu_n}, sigma_n={self.sigma_n}{soft}, "
                f"form={self.form!r}, labels={self.labels!r}")  # fmt: skip

    def reads_as_soft(self, labels: torch.Tensor) -> bool:
        """Whether these (validated) labels take the soft-label form (see ``labels`` in the class docstring).

        Raises:
            ValueError: ``labels="soft"`` with ``(B,)`` class indices.
        """
        if labels.ndim == 1:
            if self.labels == "soft":
                raise ValueError(
                    "ADDLoss(labels='soft') needs (batch, classes) label vectors, got (batch,) class indices: "
                    "pass one-hot or mixed label vectors, or use labels='auto'"
                )
            return False
        if self.labels == "hard":
            return False
        return self.labels == "soft" or not is_one_hot(labels)

    def soft_mu_weight(self) -> float:
        """The weight of ``L_mu`` for soft labels (see ``mu`` in the class docstring)."""
        if self.mu is not None:
            return self.mu
        if self.mu_p != self.mu_n:
            raise ValueError(
                f"ADDLoss with soft labels weights L_mu with one lambda, but mu_p ({self.mu_p}) and mu_n "
                f"({self.mu_n}) differ: pass ADDLoss(..., mu=<weight of L_mu>)"
            )
        return self.mu_p

    def moments(self, embeddings: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        """The unweighted statistics the loss combines.

        Returns:
            Hard labels: ``{"mu_p", "sigma_p", "mu_n", "sigma_n"}``, each already in ``form``'s
            definition (``"official"``: ``mean(d_intra)^2``, ``std(d_intra)``, ``(1 - mean(d_inter))^2``,
            ``std(d_inter)``); soft labels: ``{"l_mu", "sigma_p"}`` (``"official"``: ``l_mu`` over all
            ``B^2`` entries); each a scalar tensor.
        """
        embeddings, _ = check_embeddings_and_labels(embeddings, labels, type(self).__name__)
        soft = self.reads_as_soft(labels)
        unit = F.normalize(embeddings, dim=1)
        distance = 1 - unit @ unit.T  # (B, B) cosine distances
        off_diagonal = ~torch.eye(len(unit), dtype=torch.bool, device=unit.device)  # (B, B)
        if soft:
            unit_labels = F.normalize(labels.to(distance.dtype), dim=1)
            label_distance = 1 - unit_labels @ unit_labels.T  # (B, B)
            squared_error = (label_distance - distance) ** 2  # (B, B)
            same = (label_distance < self.same_label_tolerance) & off_diagonal
            if self.form == "official":  # mean over all B^2 entries, the diagonal counted as zero
                return {"l_mu": (squared_error * off_diagonal).sum() / len(unit) ** 2,
                        "sigma_p": torch.zeros((), dtype=distance.dtype, device=distance.device)}  # fmt: skip
            l_mu, _ = masked_mean_and_std(squared_error, off_diagonal)
            _, sigma_p = masked_mean_and_std(squared_error, same)
            return {"l_mu": l_mu, "sigma_p": sigma_p}
        if labels.ndim == 2:
            labels = labels.argmax(dim=1)  # exact one-hot rows (auto), or the dominant class (labels="hard")
        same_class = labels[:, None] == labels[None, :]  # (B, B), true on the diagonal
        positive, negative = same_class & off_diagonal, ~same_class
        if self.form == "official":
            mean_p, sigma_p = masked_mean_and_std(distance, positive)
            mean_n, sigma_n = masked_mean_and_std(distance, negative)
            # An empty set contributes nothing (the official code would give NaN).
            mu_p = mean_p**2 * positive.any()
            mu_n = (1 - mean_n) ** 2 * negative.any()
            return {"mu_p": mu_p, "sigma_p": sigma_p, "mu_n": mu_n, "sigma_n": sigma_n}
        mu_p, sigma_p = masked_mean_and_std(distance**2, positive)
        mu_n, sigma_n = masked_mean_and_std((1 - distance) ** 2, negative)
        return {"mu_p": mu_p, "sigma_p": sigma_p, "mu_n": mu_n, "sigma_n": sigma_n}

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        moments = self.moments(embeddings, labels)
        if "l_mu" in moments:
            if self.form == "official":  # the official soft code returns the mean term alone
                return self.soft_mu_weight() * moments["l_mu"]
            return self.soft_mu_weight() * moments["l_mu"] + self.sigma_p * moments["sigma_p"]
        return (
            self.mu_p * moments["mu_p"]
            + self.sigma_p * moments["sigma_p"]
            + self.mu_n * moments["mu_n"]
            + self.sigma_n * moments["sigma_n"]
        )
