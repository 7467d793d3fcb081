"""K-fold partitions (stratified, or grouped by source recording), the classes a grouping leaves
unscorable, and the test clips a plain k-fold lets share a source with training."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import KFold, StratifiedGroupKFold, StratifiedKFold

DEFAULT_FOLDS = 5


@dataclass(frozen=True)
class Fold:
    """One train/test partition: row indices into the embeddings (sorted)."""

    name: str
    train: np.ndarray
    test: np.ndarray


@dataclass(frozen=True)
class ExcludedClass:
    """A class left out of training and test, and why (``"one source recording"``, ``"one clip"``)."""

    index: int
    name: str
    reason: str


class UntrainedFoldError(ValueError):
    """A k-fold partition tests a class that its training side never shows."""


def class_sets(targets: np.ndarray, rows: np.ndarray) -> set[int]:
    """Classes present among ``rows``: class indices, or multi-hot columns with a positive."""
    if targets.ndim == 1:
        return set(np.unique(targets[rows]).tolist())
    return set(np.flatnonzero(targets[rows].sum(axis=0) > 0).tolist())


def class_name(index: int, classes: Sequence[str] | None) -> str:
    return classes[index] if classes is not None and index < len(classes) else str(index)


def class_names(indices: Sequence[int], classes: Sequence[str] | None) -> str:
    names = [class_name(index, classes) for index in sorted(indices)]
    return ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")


def unscorable_classes(
    targets: np.ndarray, groups: np.ndarray | None, classes: Sequence[str] | None
) -> tuple[ExcludedClass, ...]:
    """Single-label classes that no k-fold can both train and test: every clip from one source group
    (or, without groups, a single clip). Multi-label targets have none (a clip holds several classes)."""
    if targets.ndim != 1:
        return ()
    excluded = []
    for label in np.unique(targets).tolist():
        rows = np.flatnonzero(targets == label)
        if len(rows) == 1:
            excluded.append(ExcludedClass(label, class_name(label, classes), "one clip"))
        elif groups is not None and len(np.unique(groups[rows])) == 1:
            excluded.append(ExcludedClass(label, class_name(label, classes), "one source recording"))
    return tuple(excluded)


def leaked_test_clips(folds: Sequence[Fold], groups: np.ndarray) -> int:
    """Test clips, over all partitions, whose source group also sits on their partition's training side."""
    return sum(int(np.isin(groups[fold.test], groups[fold.train]).sum()) for fold in folds)


def kfold_partitions(
    targets: np.ndarray,
    rows: np.ndarray,
    groups: np.ndarray | None,
    classes: Sequence[str] | None,
    n_folds: int,
    seed: int,
) -> tuple[tuple[Fold, ...], list[str]]:
    """``n_folds`` partitions of ``rows`` (fewer where the rarest class or the groups cannot fill them),
    and a note per such lowering.

    Raises:
        ValueError: a single-label class with one clip among ``rows``, fewer than two groups, or a
            partition without test clips.
        UntrainedFoldError: a partition tests a class its training side lacks.
    """
    notes = []
    count = n_folds
    if targets.ndim == 1:
        labels, counts = np.unique(targets[rows], return_counts=True)
        rare = labels[counts < 2]
        if len(rare):
            raise ValueError(
                f"k-fold needs at least two clips of every class; classes {class_names(rare.tolist(), classes)} "
                "have one"
            )
        if counts.min() < count:
            notes.append(f"{count} folds lowered to {counts.min()}: the rarest class has {counts.min()} clips")
            count = int(counts.min())
    if groups is not None:
        n_groups = len(np.unique(groups[rows]))
        if n_groups < 2:
            raise ValueError("grouped k-fold needs clips from at least two source groups, all clips share one")
        if n_groups < count:
            notes.append(f"{count} folds lowered to {n_groups}: there are only {n_groups} source groups")
            count = n_groups
    shuffle_seed = seed % 2**32
    positions = np.arange(len(rows))
    if groups is not None:
        labels = targets[rows] if targets.ndim == 1 else targets[rows].argmax(axis=1)
        splitter = StratifiedGroupKFold(n_splits=count, shuffle=True, random_state=shuffle_seed)
        pairs = list(splitter.split(positions, labels, groups[rows]))
    elif targets.ndim == 1:
        splitter = StratifiedKFold(n_splits=count, shuffle=True, random_state=shuffle_seed)
        pairs = list(splitter.split(positions, targets[rows]))
    else:
        pairs = list(KFold(n_splits=count, shuffle=True, random_state=shuffle_seed).split(positions))
    folds = []
    for position, (train, test) in enumerate(pairs, start=1):
        train, test = rows[train], rows[test]
        if len(test) == 0:
            raise ValueError(f"k-fold left fold {position} without test clips")
        untrained = class_sets(targets, test) - class_sets(targets, train)
        if untrained:
            raise UntrainedFoldError(
                f"k-fold fold {position}: classes {class_names(untrained, classes)} are tested but never "
                "trained on (all their source groups fell into that fold)"
            )
        folds.append(Fold(f"k-fold {position}", np.sort(train), np.sort(test)))
    return tuple(folds), notes
