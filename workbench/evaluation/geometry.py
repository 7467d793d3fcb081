"""Embedding geometry: how cosine distances are distributed within and between classes.

The analysis of Almudévar et al., "Angular Distance Distribution Loss for Audio Classification": with
L2-normalised embeddings and the cosine distance ``d_c(x, y) = 1 - xᵀy``, for every pair of classes
``(a, b)`` take the distances over ordered pairs of distinct clips ``i`` in ``a``, ``j`` in ``b``:

- ``mean[a, b]``: their mean (the paper's Figure 5, left);
- ``cv[a, b]``: their coefficient of variation, standard deviation / mean (Figure 5, right).

Four summaries condense the two matrices:

| summary | definition | better when |
| --- | --- | --- |
| intra-class clustering | mean of ``mean[a, a]`` | lower: classes are tight |
| intra-class equidistance | mean of ``cv[a, a]`` | lower: clips of a class are equally far apart |
| inter-class separation | mean of ``mean[a, b]``, ``a != b`` | higher: classes are far apart |
| inter-class equidistance | mean of ``cv[a, b]``, ``a != b`` | lower: pairs of classes are evenly spread |
| inter-class hierarchy | CV of ``mean[a, b]`` over class pairs ``a < b`` | lower: no pair of classes sits closer than another |

The per-pair CV says how evenly the clips of two classes are spread against each other; the
**inter-class hierarchy** says whether some pairs of classes are nearer than others, across pairs (the
spread of the per-pair means, Fig. 5e of the ADD paper: with only the means optimised, "there are
classes for which embeddings are closer to each other than for other classes"). ADD's ``sigma_n``,
the spread of all different-class distances of a batch, targets both at once.

The standard deviation is the population one (over all pairs of the set). A class with a single clip
has no within-class pair: its diagonal entries are NaN and the summaries skip them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Geometry:
    """Distance statistics per class pair and their four summaries (see the module docstring)."""

    classes: tuple[str, ...]
    mean: np.ndarray  # (C, C)
    cv: np.ndarray  # (C, C)
    intra_clustering: float
    intra_equidistance: float
    inter_separation: float
    inter_equidistance: float
    inter_hierarchy: float = float("nan")

    def summaries(self) -> dict[str, float]:
        return {
            "intra-class clustering": self.intra_clustering,
            "intra-class equidistance": self.intra_equidistance,
            "inter-class separation": self.inter_separation,
            "inter-class equidistance": self.inter_equidistance,
            "inter-class hierarchy": self.inter_hierarchy,
        }


def inter_class_hierarchy(mean: np.ndarray) -> float:
    """Coefficient of variation (population std / mean) of the per-pair mean distances ``mean[a, b]``
    over the unordered class pairs ``a < b``; NaN for fewer than two classes or a zero mean."""
    upper = mean[np.triu_indices(len(mean), k=1)]
    upper = upper[np.isfinite(upper)]
    if upper.size == 0 or upper.mean() <= 0:
        return float("nan")
    return float(upper.std() / upper.mean())


def cosine_distances(embeddings: np.ndarray) -> np.ndarray:
    """``(N, D)`` -> ``(N, N)`` matrix of ``1 - cos`` between L2-normalised rows."""
    embeddings = np.asarray(embeddings, dtype=np.float64)
    if embeddings.ndim != 2 or len(embeddings) == 0:
        raise ValueError(f"embeddings must be (N, D) with N > 0, got shape {embeddings.shape}")
    norms = np.linalg.norm(embeddings, axis=1, keepdims=True)
    if not np.all(norms > 0):
        raise ValueError("embeddings contain an all-zero row; its direction (and cosine distance) is undefined")
    unit = embeddings / norms
    return 1.0 - unit @ unit.T


def embedding_geometry(
    embeddings: np.ndarray,
    labels: Sequence[int] | np.ndarray,
    class_names: Sequence[str] | None = None,
    classes: Sequence[int] | None = None,
) -> Geometry:
    """Mean and CV of cosine distances for every pair of the chosen classes, and the four summaries.

    Args:
        embeddings: ``(N, D)`` embeddings (normalised inside).
        labels: ``(N,)`` integer class of each row.
        class_names: names of all classes (indexed by label); default the label numbers.
        classes: which classes to analyse (default: every class present), in the order of the matrices.

    Returns:
        a :class:`Geometry` whose matrices are ``(len(classes), len(classes))``.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or len(labels) != len(embeddings):
        raise ValueError(f"labels must be (N,) with N = {len(embeddings)} rows, got shape {labels.shape}")
    chosen = sorted(set(labels.tolist())) if classes is None else list(classes)
    missing = [c for c in chosen if not np.any(labels == c)]
    if missing:
        raise ValueError(f"classes {missing} have no embeddings")
    distances = cosine_distances(embeddings)
    size = len(chosen)
    mean = np.full((size, size), np.nan)
    cv = np.full((size, size), np.nan)
    members = [np.flatnonzero(labels == c) for c in chosen]
    for a in range(size):
        for b in range(size):
            block = distances[np.ix_(members[a], members[b])]
            if a == b:
                block = block[~np.eye(len(members[a]), dtype=bool)]  # ordered pairs i != j
            block = block.ravel()
            if block.size == 0:
                continue
            mean[a, b] = block.mean()
            cv[a, b] = block.std() / block.mean() if block.mean() > 0 else np.nan
    diagonal = np.eye(size, dtype=bool)
    names = list(class_names) if class_names is not None else [str(c) for c in range(int(labels.max()) + 1)]
    return Geometry(
        classes=tuple(names[c] for c in chosen),
        mean=mean,
        cv=cv,
        intra_clustering=float(np.nanmean(mean[diagonal])),
        intra_equidistance=float(np.nanmean(cv[diagonal])),
        inter_separation=float(np.nanmean(mean[~diagonal])) if size > 1 else float("nan"),
        inter_equidistance=float(np.nanmean(cv[~diagonal])) if size > 1 else float("nan"),
        inter_hierarchy=inter_class_hierarchy(mean),
    )
