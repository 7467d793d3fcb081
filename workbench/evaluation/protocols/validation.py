"""Validation clips for model selection, carved from a partition's training side only
(:func:`carve_validation`)."""

from __future__ import annotations

import math
import warnings

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold, train_test_split


def carve_validation(
    train: np.ndarray,
    targets: np.ndarray,
    *,
    groups: np.ndarray | None = None,
    fraction: float = 0.1,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Split training rows into (fit, validation) for model selection: stratified by class where every
    class has two clips, and by source group where groups exist (no recording on both sides).

    Raises:
        ValueError: fewer than two training rows, or ``fraction`` outside (0, 1).
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"validation fraction must lie in (0, 1), got {fraction}")
    train = np.asarray(train)
    if len(train) < 2:
        raise ValueError(f"cannot carve a validation set out of {len(train)} training clip(s); more data needed")
    random_state = seed % 2**32
    if groups is not None and len(np.unique(groups[train])) >= 2:
        n_splits = max(2, round(1.0 / fraction))
        labels = targets[train] if targets.ndim == 1 else targets[train].argmax(axis=1)
        n_groups = len(np.unique(groups[train]))
        # scikit-learn refuses more splits than the largest class has clips.
        largest_class = int(np.unique(labels, return_counts=True)[1].max())
        if largest_class < 2:  # one clip per class: no stratification possible, draw whole groups
            names = np.random.default_rng(random_state).permutation(np.unique(groups[train]))
            held = set(names[: min(len(names) - 1, max(1, math.ceil(fraction * len(names))))].tolist())
            carved = np.isin(groups[train], list(held))
            return np.sort(train[~carved]), np.sort(train[carved])
        n_splits = max(2, min(n_splits, n_groups, largest_class))
        splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=random_state)
        with warnings.catch_warnings():
            # A class rarer than n_splits is only approximately stratified: acceptable for a validation set.
            warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
            fit, valid = next(splitter.split(train, labels, groups[train]))
        return np.sort(train[fit]), np.sort(train[valid])
    stratify = None
    if targets.ndim == 1:
        labels = targets[train]
        _, counts = np.unique(labels, return_counts=True)
        carved = math.ceil(fraction * len(train))
        if counts.min() >= 2 and len(counts) <= carved and len(counts) <= len(train) - carved:
            stratify = labels
    fit, valid = train_test_split(train, test_size=fraction, random_state=random_state, stratify=stratify)
    return np.sort(fit), np.sort(valid)
