"""Evaluation protocols: which clips train and which test, chosen to fit the data actually present.

Every recipe that scores embeddings or models takes one ``protocol`` parameter:

- ``"official"``: the dataset's own folds (leave one fold out) or its train/test splits;
- ``"kfold"``: stratified k-fold over all clips;
- ``"grouped-kfold"``: stratified k-fold that keeps every source group (an ESC-50 ``src_file``, an FSDD
  speaker for digit tasks, an UrbanSound8K ``fsID``, a folder dataset's ``group`` column) inside one fold,
  so clips cut from one recording never sit in training and test at once;
- ``"auto"``: ``"official"`` only when every official fold can be trained on (every test class present
  in training, every test fold holding each of its classes at least once... see :func:`official_problems`),
  otherwise ``"grouped-kfold"`` where groups exist, else ``"kfold"``; the plan says why in ``note``.

A protocol that cannot work on the data raises a ``ValueError`` naming the fold and the classes missing;
never a silent degenerate split. Model selection (a probe's learning rate, a layer choice) uses
validation clips carved from the training side by :func:`carve_validation`, never the test scores.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import KFold, StratifiedGroupKFold, StratifiedKFold, train_test_split

from workbench.errors import UnknownNameError

PROTOCOLS: tuple[str, ...] = ("auto", "official", "kfold", "grouped-kfold")
MIN_FOLD_SHARE = 0.1
"""An official fold smaller than this share of the largest one makes ``auto`` leave the official folds."""
DEFAULT_FOLDS = 5


@dataclass(frozen=True)
class Fold:
    """One train/test partition: row indices into the embeddings (sorted)."""

    name: str
    train: np.ndarray
    test: np.ndarray


@dataclass(frozen=True)
class Problem:
    """Why an official partition is unfit: ``fatal`` when it cannot be trained or scored at all."""

    text: str
    fatal: bool


@dataclass(frozen=True)
class ProtocolPlan:
    """The partitions one evaluation runs, and how they were chosen.

    Attributes:
        requested: the protocol asked for (``"auto"`` included).
        protocol: the protocol used.
        folds: the partitions, each test set scored once.
        note: why this protocol (empty when it is what was asked for without a fallback).
    """

    requested: str
    protocol: str
    folds: tuple[Fold, ...]
    note: str = ""

    @property
    def test_sizes(self) -> tuple[int, ...]:
        return tuple(len(fold.test) for fold in self.folds)


def _class_sets(targets: np.ndarray, rows: np.ndarray) -> set[int]:
    """Classes present among ``rows``: class indices, or multi-hot columns with a positive."""
    if targets.ndim == 1:
        return set(np.unique(targets[rows]).tolist())
    return set(np.flatnonzero(targets[rows].sum(axis=0) > 0).tolist())


def _class_names(indices: Sequence[int], classes: Sequence[str] | None) -> str:
    names = [classes[i] if classes is not None and i < len(classes) else str(i) for i in sorted(indices)]
    shown = ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")
    return shown


def official_partitions(
    folds: np.ndarray | None, splits: np.ndarray | None
) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """The official ``(name, train rows, test rows)`` partitions: leave-one-fold-out where there are
    several folds, else the ``train`` (and ``valid``) / ``test`` splits; empty when the data define neither."""
    if folds is not None and len(np.unique(folds)) > 1:
        rows = np.arange(len(folds))
        return [(f"fold {fold}", rows[folds != fold], rows[folds == fold]) for fold in np.unique(folds)]
    if splits is not None and {"train", "test"} <= set(splits.tolist()):
        rows = np.arange(len(splits))
        return [("test", rows[splits != "test"], rows[splits == "test"])]
    return []


def official_problems(
    targets: np.ndarray,
    partitions: Sequence[tuple[str, np.ndarray, np.ndarray]],
    classes: Sequence[str] | None = None,
) -> list[Problem]:
    """Why the official partitions cannot be trained on, one sentence per problem; empty when they can.

    A partition fails when a class of its test set is absent from its training side, when its test set
    lacks a class that the dataset has (single-label data: every fold should test every class), or when
    its test set is smaller than :data:`MIN_FOLD_SHARE` of the largest test set.
    """
    problems = []
    all_classes = _class_sets(targets, np.arange(len(targets)))
    largest = max((len(test) for _, _, test in partitions), default=0)
    for name, train, test in partitions:
        if len(test) == 0:
            problems.append(Problem(f"{name} has no test clips", fatal=True))
            continue
        if len(train) == 0:
            problems.append(Problem(f"{name} leaves no clips for training", fatal=True))
            continue
        untrained = _class_sets(targets, test) - _class_sets(targets, train)
        if untrained:
            problems.append(Problem(
                f"{name}: classes {_class_names(untrained, classes)} are tested but never trained on", fatal=True
            ))
        if targets.ndim == 1:
            untested = all_classes - _class_sets(targets, test)
            if untested:
                problems.append(Problem(
                    f"{name} ({len(test)} clips) tests no clip of {len(untested)} classes "
                    f"({_class_names(untested, classes)})", fatal=False,
                ))
        if len(test) < MIN_FOLD_SHARE * largest:
            problems.append(Problem(
                f"{name} has {len(test)} test clips, under a tenth of the largest fold ({largest})", fatal=False
            ))
    return problems


def plan_protocol(
    targets: np.ndarray,
    *,
    protocol: str = "auto",
    folds: np.ndarray | None = None,
    splits: np.ndarray | None = None,
    groups: np.ndarray | None = None,
    classes: Sequence[str] | None = None,
    n_folds: int = DEFAULT_FOLDS,
    seed: int = 0,
) -> ProtocolPlan:
    """Choose and build the train/test partitions for ``targets`` (``(N,)`` classes or ``(N, C)`` multi-hot).

    Args:
        targets: each clip's class index, or multi-hot row.
        protocol: one of :data:`PROTOCOLS`.
        folds, splits, groups: each clip's official fold, official split, and source group (or None).
        classes: class names, for messages.
        n_folds: folds of ``"kfold"`` and ``"grouped-kfold"`` (fewer when the rarest class or the
            number of groups cannot fill them; the note says so).
        seed: the shuffling of the k-fold protocols (the same seed gives the same folds, so two systems
            compared on one seed see the same partitions).

    Raises:
        UnknownNameError: an unknown protocol.
        ValueError: a protocol the data cannot support, naming the fold and the classes missing.
    """
    if protocol not in PROTOCOLS:
        raise UnknownNameError("evaluation protocol", protocol, PROTOCOLS)
    targets = np.asarray(targets)
    if len(targets) < 2:
        raise ValueError(f"an evaluation needs at least two clips, got {len(targets)}")
    if n_folds < 2:
        raise ValueError(f"n_folds must be at least 2, got {n_folds}")
    partitions = official_partitions(folds, splits)
    if protocol == "official":
        if not partitions:
            raise ValueError("protocol 'official' needs a dataset with official folds or train/test splits")
        problems = official_problems(targets, partitions, classes)
        fatal = [problem.text for problem in problems if problem.fatal]
        if fatal:
            raise ValueError(
                "protocol 'official' cannot be trained on this data: " + "; ".join(fatal)
                + ". Use protocol 'grouped-kfold' or 'kfold', or complete the dataset."
            )
        return ProtocolPlan(protocol, "official", _folds(partitions), "; ".join(p.text for p in problems))
    if protocol == "auto":
        if partitions:
            problems = official_problems(targets, partitions, classes)
            if not problems:
                return ProtocolPlan(protocol, "official", _folds(partitions))
            fallback = "grouped-kfold" if groups is not None else "kfold"
            note = f"official folds not usable ({'; '.join(p.text for p in problems)}); using {fallback}"
        else:
            fallback = "grouped-kfold" if groups is not None else "kfold"
            note = f"the data define no official folds or splits; using {fallback}"
        plan = _kfold(targets, groups if fallback == "grouped-kfold" else None, classes, n_folds, seed)
        return ProtocolPlan(protocol, fallback, plan.folds, "; ".join(filter(None, (note, plan.note))))
    if protocol == "grouped-kfold" and groups is None:
        raise ValueError(
            "protocol 'grouped-kfold' needs source groups (ESC-50 src_file, FSDD speaker, UrbanSound8K fsID, "
            "a 'group' column in a folder dataset's CSV); this data has none: use 'kfold'"
        )
    plan = _kfold(targets, groups if protocol == "grouped-kfold" else None, classes, n_folds, seed)
    return ProtocolPlan(protocol, protocol, plan.folds, plan.note)


def _folds(partitions: Sequence[tuple[str, np.ndarray, np.ndarray]]) -> tuple[Fold, ...]:
    return tuple(Fold(name, np.sort(train), np.sort(test)) for name, train, test in partitions)


def _kfold(
    targets: np.ndarray,
    groups: np.ndarray | None,
    classes: Sequence[str] | None,
    n_folds: int,
    seed: int,
) -> ProtocolPlan:
    rows = np.arange(len(targets))
    notes = []
    count = n_folds
    if targets.ndim == 1:
        labels, counts = np.unique(targets, return_counts=True)
        rare = labels[counts < 2]
        if len(rare):
            raise ValueError(
                f"k-fold needs at least two clips of every class; classes {_class_names(rare.tolist(), classes)} "
                "have one: add clips or drop those classes"
            )
        if counts.min() < count:
            notes.append(f"{count} folds lowered to {counts.min()}: the rarest class has {counts.min()} clips")
            count = int(counts.min())
    if groups is not None:
        n_groups = len(np.unique(groups))
        if n_groups < 2:
            raise ValueError("grouped k-fold needs clips from at least two source groups, all clips share one")
        if n_groups < count:
            notes.append(f"{count} folds lowered to {n_groups}: there are only {n_groups} source groups")
            count = n_groups
    shuffle_seed = seed % 2**32
    if groups is not None:
        labels = targets if targets.ndim == 1 else targets.argmax(axis=1)
        splitter = StratifiedGroupKFold(n_splits=count, shuffle=True, random_state=shuffle_seed)
        pairs = list(splitter.split(rows, labels, groups))
    elif targets.ndim == 1:
        pairs = list(StratifiedKFold(n_splits=count, shuffle=True, random_state=shuffle_seed).split(rows, targets))
    else:
        pairs = list(KFold(n_splits=count, shuffle=True, random_state=shuffle_seed).split(rows))
    folds = []
    for position, (train, test) in enumerate(pairs, start=1):
        if len(test) == 0:
            raise ValueError(f"k-fold left fold {position} without test clips; lower n_folds")
        untrained = _class_sets(targets, test) - _class_sets(targets, train)
        if untrained:
            raise ValueError(
                f"k-fold fold {position}: classes {_class_names(untrained, classes)} are tested but never trained "
                "on (each sits in one source group); lower n_folds or add recordings"
            )
        folds.append(Fold(f"k-fold {position}", np.sort(train), np.sort(test)))
    return ProtocolPlan("kfold", "kfold", tuple(folds), "; ".join(notes))


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
