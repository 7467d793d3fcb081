"""Metrics of query-based separation: the three SDRs of CaRE-SEP and embedding divergence.

For a separator ``S(input, query)``, two sources ``c1``, ``c2`` of different classes and the query
``e_j`` of source ``j``'s class (Wang et al., CaRE-SEP, following Chen et al.'s ST-SED-SEP):

- **mixture-SDR**: ``SDR(S(c1 + c2, e_j), c_j)``, the separation itself;
- **clean-SDR**: ``SDR(S(c_j, e_j), c_j)``, whether a lone target passes through unharmed;
- **silence-SDR**: ``S(c_not_j, e_j)`` should be silence; scored as ``10 log10(|input|^2 / |output|^2)``,
  how far the separator attenuates a source it was not asked for (higher is better);
- the **input SDR** ``SDR(c1 + c2, c_j)`` (0 dB for energy-normalised pairs) and the improvement
  ``SDRi = mixture-SDR - input SDR``.

SDR is the plain ratio over the whole clip, ``10 log10(|s|^2 / |s - s_hat|^2)``
(:func:`~workbench.losses.separation.signal_to_distortion_ratio`), with a tiny ``eps`` in both energies
so silent references never give NaN.

Note that a separator which ignores the query can still score: half the mixture, ``0.5 (c1 + c2)``,
has an SDR of about +3 dB against either of two equal-energy, uncorrelated sources, and a silence-SDR of
+6 dB. :func:`query_blind_sdr` gives that reference for a test set, so a table can say whether the
query is used at all.

Embedding geometry (the paper's Figure 3): :func:`gaussian_kl` estimates the KL divergence between two
sets of embeddings (two classes, or queries against separation features). The estimator: standardise
both sets together, project them onto the first ``dims`` principal components of their union, fit one
Gaussian per set with Ledoit-Wolf shrinkage of the covariance (stable for fewer points than dimensions),
and evaluate the closed form ``KL(N0 || N1) = (tr(S1^-1 S0) + (m1 - m0)^T S1^-1 (m1 - m0) - d + ln det S1
/ det S0) / 2``. :func:`symmetric_gaussian_kl` averages both directions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from workbench.losses.separation import EPS, signal_to_distortion_ratio

Separator = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""``separator(inputs (batch, samples), queries (batch, dim)) -> estimates (batch, samples)``."""


def sdr(estimate: torch.Tensor | np.ndarray, reference: torch.Tensor | np.ndarray) -> np.ndarray:
    """SDR in dB over the last axis, as NumPy: ``(..., samples)`` -> ``(...)`` (finite for silent references)."""
    estimate = torch.as_tensor(np.asarray(estimate) if not isinstance(estimate, torch.Tensor) else estimate)
    reference = torch.as_tensor(np.asarray(reference) if not isinstance(reference, torch.Tensor) else reference)
    return signal_to_distortion_ratio(estimate.double(), reference.double()).numpy()


def silence_sdr(
    output: torch.Tensor | np.ndarray, input_signal: torch.Tensor | np.ndarray, eps: float = EPS
) -> np.ndarray:
    """How far a source that should vanish is attenuated: ``10 log10((|input|^2 + eps) / (|output|^2 + eps))``.

    Shape:
        output, input_signal: ``(..., samples)``; returns ``(...)`` in dB (0 for a silent input).

    Raises:
        ValueError: shapes that differ.
    """
    output = np.asarray(output.detach().cpu() if isinstance(output, torch.Tensor) else output, dtype=np.float64)
    input_signal = np.asarray(
        input_signal.detach().cpu() if isinstance(input_signal, torch.Tensor) else input_signal, dtype=np.float64
    )
    if output.shape != input_signal.shape or output.ndim < 1:
        raise ValueError(
            f"silence_sdr expects output and input of the same shape (..., samples), got {output.shape} "
            f"and {input_signal.shape}"
        )
    return 10.0 * np.log10((np.square(input_signal).sum(-1) + eps) / (np.square(output).sum(-1) + eps))


@dataclass
class SeparationScores:
    """Per-example SDRs of one separator on a test set; each mixture counts twice (j = 1 and j = 2).

    Attributes:
        mixture_sdr, clean_sdr, silence_sdr, input_sdr: ``(2 N,)`` dB, example ``2 i + j``.
        target_classes: ``(2 N,)`` the class asked for in each example.
    """

    mixture_sdr: np.ndarray
    clean_sdr: np.ndarray
    silence_sdr: np.ndarray
    input_sdr: np.ndarray
    target_classes: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @property
    def improvement(self) -> np.ndarray:
        """SDRi per example: mixture-SDR minus the SDR of the unprocessed mixture."""
        return self.mixture_sdr - self.input_sdr

    def means(self) -> dict[str, float]:
        """``{"mixture_sdr", "clean_sdr", "silence_sdr", "input_sdr", "sdri"}`` averaged over the examples."""
        return {
            "mixture_sdr": float(self.mixture_sdr.mean()),
            "clean_sdr": float(self.clean_sdr.mean()),
            "silence_sdr": float(self.silence_sdr.mean()),
            "input_sdr": float(self.input_sdr.mean()),
            "sdri": float(self.improvement.mean()),
        }

    def arrays(self) -> dict[str, np.ndarray]:
        return {
            "mixture_sdr": self.mixture_sdr, "clean_sdr": self.clean_sdr, "silence_sdr": self.silence_sdr,
            "input_sdr": self.input_sdr, "target_classes": self.target_classes,
        }  # fmt: skip


def _check_sources(sources: torch.Tensor) -> None:
    if sources.ndim != 3 or sources.shape[1] != 2:
        raise ValueError(f"sources must be (mixtures, 2, samples), got shape {tuple(sources.shape)}")


def _check_pairs(sources: torch.Tensor, queries: torch.Tensor) -> None:
    _check_sources(sources)
    if queries.ndim != 3 or queries.shape[:2] != sources.shape[:2]:
        raise ValueError(
            f"queries must be (mixtures={sources.shape[0]}, 2, dim): one per source, got {tuple(queries.shape)}"
        )


@torch.no_grad()
def evaluate_separation(
    separator: Separator, sources: torch.Tensor, queries: torch.Tensor, classes: np.ndarray | None = None,
    batch_size: int = 16,
) -> SeparationScores:  # fmt: skip
    """Mixture-, clean- and silence-SDR of ``separator`` on pairs of sources.

    Args:
        separator: ``separator(inputs, queries) -> estimates`` (e.g. ``model.separate``).
        sources: ``(mixtures, 2, samples)``; the mixture is their sum.
        queries: ``(mixtures, 2, dim)``, the query of each source's class.
        classes: ``(mixtures, 2)`` class of each source (kept in the scores), optional.
        batch_size: examples per call of the separator.

    Returns:
        :class:`SeparationScores` with ``2 * mixtures`` examples (``2 i + j``).

    Raises:
        ValueError: shapes that do not fit.
    """
    _check_pairs(sources, queries)
    count = sources.shape[0]
    targets = sources.reshape(2 * count, -1)  # (2N, S): c_j
    others = sources.flip(1).reshape(2 * count, -1)  # (2N, S): c_not_j
    mixtures = targets + others
    flat_queries = queries.reshape(2 * count, -1)
    mixture_estimates, clean_estimates, silence_estimates = [], [], []
    for start in range(0, 2 * count, batch_size):
        part = slice(start, start + batch_size)
        mixture_estimates.append(separator(mixtures[part], flat_queries[part]).detach().cpu())
        clean_estimates.append(separator(targets[part], flat_queries[part]).detach().cpu())
        silence_estimates.append(separator(others[part], flat_queries[part]).detach().cpu())
    targets, others, mixtures = targets.cpu(), others.cpu(), mixtures.cpu()
    return SeparationScores(
        mixture_sdr=sdr(torch.cat(mixture_estimates), targets),
        clean_sdr=sdr(torch.cat(clean_estimates), targets),
        silence_sdr=silence_sdr(torch.cat(silence_estimates), others),
        input_sdr=sdr(mixtures, targets),
        target_classes=np.asarray(classes).reshape(-1) if classes is not None else np.zeros(0, dtype=np.int64),
    )


def query_blind_scores(sources: torch.Tensor, scale: float = 0.5) -> np.ndarray:
    """Per-example SDR ``(2 N,)`` (example ``2 i + j``, as :class:`SeparationScores`) of ``scale * (c1 + c2)``
    against source ``j``: what a separator that ignores the query gets on each test example."""
    _check_sources(sources)
    mixtures = sources.sum(dim=1, keepdim=True).expand_as(sources)
    return sdr(scale * mixtures, sources).reshape(-1)


def query_blind_sdr(sources: torch.Tensor, scale: float = 0.5) -> float:
    """Mean SDR of ``scale * (c1 + c2)`` against each source: what a separator that ignores the query
    gets (about 3 dB for equal-energy, uncorrelated pairs at ``scale = 0.5``)."""
    return float(query_blind_scores(sources, scale).mean())


# --------------------------------------------------------------------------------------------------
# Embedding distributions


def _shrunk_gaussian(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.covariance import LedoitWolf

    mean = points.mean(axis=0)
    covariance = LedoitWolf().fit(points).covariance_
    covariance = covariance + 1e-6 * np.trace(covariance) / len(covariance) * np.eye(len(covariance))
    return mean, covariance


def _kl(mean0: np.ndarray, cov0: np.ndarray, mean1: np.ndarray, cov1: np.ndarray) -> float:
    dims = len(mean0)
    inverse1 = np.linalg.inv(cov1)
    difference = mean1 - mean0
    _, logdet0 = np.linalg.slogdet(cov0)
    _, logdet1 = np.linalg.slogdet(cov1)
    return 0.5 * float(np.trace(inverse1 @ cov0) + difference @ inverse1 @ difference - dims + logdet1 - logdet0)


def _projected(first: np.ndarray, second: np.ndarray, dims: int) -> tuple[np.ndarray, np.ndarray, int]:
    first, second = np.asarray(first, dtype=np.float64), np.asarray(second, dtype=np.float64)
    if first.ndim != 2 or second.ndim != 2 or first.shape[1] != second.shape[1]:
        raise ValueError(f"expected two (points, dim) arrays of the same dim, got {first.shape} and {second.shape}")
    if min(len(first), len(second)) < 3:
        raise ValueError(f"a Gaussian fit needs at least 3 points per set, got {len(first)} and {len(second)}")
    if not (np.isfinite(first).all() and np.isfinite(second).all()):
        raise ValueError("gaussian_kl got NaN or Inf embeddings")
    union = np.concatenate([first, second])
    scale = union.std(axis=0)
    union = (union - union.mean(axis=0)) / np.where(scale > 0, scale, 1.0)
    dims = max(1, min(dims, union.shape[1], len(union) - 1))
    _, _, components = np.linalg.svd(union - union.mean(axis=0), full_matrices=False)
    projected = union @ components[:dims].T
    return projected[: len(first)], projected[len(first) :], dims


def gaussian_kl(first: np.ndarray, second: np.ndarray, dims: int = 8) -> float:
    """KL(first || second) in nats between Gaussian fits of two embedding sets (estimator in the module doc).

    Args:
        first, second: ``(points, dim)`` embeddings (at least 3 points each).
        dims: principal components kept (capped by the dimension and the number of points).

    Raises:
        ValueError: arrays of the wrong shape, fewer than 3 points, or NaN/Inf.
    """
    first, second, _ = _projected(first, second, dims)
    return _kl(*_shrunk_gaussian(first), *_shrunk_gaussian(second))


def symmetric_gaussian_kl(first: np.ndarray, second: np.ndarray, dims: int = 8) -> float:
    """``(KL(first || second) + KL(second || first)) / 2`` with the estimator of :func:`gaussian_kl`."""
    first, second, _ = _projected(first, second, dims)
    one, two = _shrunk_gaussian(first), _shrunk_gaussian(second)
    return 0.5 * (_kl(*one, *two) + _kl(*two, *one))


def class_kl_table(groups: dict[str, np.ndarray], pairs: Sequence[tuple[str, str]], dims: int = 8) -> dict[str, float]:
    """Symmetric KL for named pairs of embedding groups: ``{"a | b": kl}``."""
    return {f"{a} | {b}": symmetric_gaussian_kl(groups[a], groups[b], dims) for a, b in pairs}
