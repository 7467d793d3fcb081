"""Ranking a gallery by cosine similarity: recall@K (:func:`recall_at_k`) at the cut-offs :data:`KS`."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch.nn import functional

KS: tuple[int, ...] = (1, 5, 10)


def recall_at_k(
    queries: np.ndarray | torch.Tensor,
    gallery: np.ndarray | torch.Tensor,
    positives: Sequence[int] | np.ndarray,
    ks: Sequence[int] = KS,
) -> dict[int, float]:
    """Share of queries whose positive gallery item is among the ``k`` most cosine-similar, for each ``k``.

    The rank of a positive is one plus the number of gallery items strictly more similar to the query,
    so ties count in the query's favour.

    Args:
        queries: ``(Q, D)`` query embeddings.
        gallery: ``(G, D)`` gallery embeddings.
        positives: ``(Q,)`` the gallery row of each query's target.
        ks: the cut-offs.

    Returns:
        ``{k: recall}`` with recalls in [0, 1].

    Raises:
        ValueError: shapes that do not agree, positives outside the gallery, or a non-positive ``k``.
    """
    queries = torch.as_tensor(np.asarray(queries), dtype=torch.float64)
    gallery = torch.as_tensor(np.asarray(gallery), dtype=torch.float64)
    positives = torch.as_tensor(np.asarray(positives), dtype=torch.long)
    if queries.ndim != 2 or gallery.ndim != 2 or queries.shape[1] != gallery.shape[1]:
        raise ValueError(
            f"recall_at_k expects queries (Q, D) and gallery (G, D), got {tuple(queries.shape)} and {tuple(gallery.shape)}"
        )
    if positives.shape != (queries.shape[0],):
        raise ValueError(f"positives must be ({queries.shape[0]},) gallery rows, got shape {tuple(positives.shape)}")
    if len(positives) and (positives.min() < 0 or positives.max() >= gallery.shape[0]):
        raise ValueError(f"positives must be gallery rows in [0, {gallery.shape[0]})")
    if any(int(k) < 1 for k in ks):
        raise ValueError(f"every k must be at least 1, got {list(ks)}")
    similarity = functional.normalize(queries, dim=1) @ functional.normalize(gallery, dim=1).T  # (Q, G)
    positive_similarity = similarity.gather(1, positives[:, None])  # (Q, 1)
    ranks = (similarity > positive_similarity).sum(dim=1) + 1  # (Q,)
    return {int(k): float((ranks <= int(k)).double().mean()) for k in ks}
