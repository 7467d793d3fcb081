"""Choosing a protocol for the data present (:func:`plan_protocol`): the official partitions and why
they may be unfit, the k-fold fallbacks, and errors that suggest only what would work."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from workbench.errors import UnknownNameError
from workbench.evaluation.protocols.kfold import (
    DEFAULT_FOLDS,
    ExcludedClass,
    Fold,
    UntrainedFoldError,
    class_names,
    class_sets,
    kfold_partitions,
    leaked_test_clips,
    unscorable_classes,
)

PROTOCOLS: tuple[str, ...] = ("auto", "official", "kfold", "grouped-kfold")
MIN_FOLD_SHARE = 0.1
"""An official fold smaller than this share of the largest one makes ``auto`` leave the official folds."""
SHOWN_EXCLUSIONS = 8


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
        note: why this protocol, which classes are not scored and which test clips share a source with
            training: the full explanation (empty when nothing needs saying).
        excluded: classes left out of training and test because no partition can both train and test
            them (every clip from one source recording, or a single clip).
        n_classes: classes present in the data (scored or not).
        leaked_test_clips: test clips sharing a source group with their training side (``"kfold"`` on
            data with groups); None where the data have no groups or the protocol keeps them apart.
        left_official: ``"auto"`` found official partitions and left them (they cannot all be trained on).
    """

    requested: str
    protocol: str
    folds: tuple[Fold, ...]
    note: str = ""
    excluded: tuple[ExcludedClass, ...] = ()
    n_classes: int = 0
    leaked_test_clips: int | None = None
    left_official: bool = False

    @property
    def test_sizes(self) -> tuple[int, ...]:
        return tuple(len(fold.test) for fold in self.folds)

    @property
    def scored_line(self) -> str:
        """``"49 of 50 classes scored; washing_machine: one source recording"``, or "" when all are."""
        if not self.excluded:
            return ""
        shown = ", ".join(f"{cls.name}: {cls.reason}" for cls in self.excluded[:SHOWN_EXCLUSIONS])
        more = len(self.excluded) - SHOWN_EXCLUSIONS
        return (f"{self.n_classes - len(self.excluded)} of {self.n_classes} classes scored; {shown}"
                + (f" and {more} more" if more > 0 else ""))  # fmt: skip

    @property
    def leak_line(self) -> str:
        if not self.leaked_test_clips:
            return ""
        test_clips = sum(self.test_sizes)
        return f"{self.leaked_test_clips} of {test_clips} test clips share a source recording with training clips"


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
    all_classes = class_sets(targets, np.arange(len(targets)))
    largest = max((len(test) for _, _, test in partitions), default=0)
    for name, train, test in partitions:
        if len(test) == 0:
            problems.append(Problem(f"{name} has no test clips", fatal=True))
            continue
        if len(train) == 0:
            problems.append(Problem(f"{name} leaves no clips for training", fatal=True))
            continue
        untrained = class_sets(targets, test) - class_sets(targets, train)
        if untrained:
            problems.append(Problem(
                f"{name}: classes {class_names(untrained, classes)} are tested but never trained on", fatal=True
            ))
        if targets.ndim == 1:
            untested = all_classes - class_sets(targets, test)
            if untested:
                problems.append(Problem(
                    f"{name} ({len(test)} clips) tests no clip of {len(untested)} classes "
                    f"({class_names(untested, classes)})", fatal=False,
                ))
        if len(test) < MIN_FOLD_SHARE * largest:
            problems.append(Problem(
                f"{name} has {len(test)} test clips, under a tenth of the largest fold ({largest})", fatal=False
            ))
    return problems


@dataclass(frozen=True)
class _Data:
    """What a plan is made from; one value so that a failed plan can try the alternatives it suggests."""

    targets: np.ndarray
    folds: np.ndarray | None
    splits: np.ndarray | None
    groups: np.ndarray | None
    classes: Sequence[str] | None
    seed: int


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

    ``"auto"`` and ``"grouped-kfold"`` leave out (of training and test) the single-label classes no
    partition can both train and test, every clip of theirs from one source group (one clip, where there
    are no groups), and name them in the note and :attr:`ProtocolPlan.excluded`. ``"auto"`` lowers the
    number of folds where a partition would test a class it never trains on. ``"kfold"`` on data with
    groups counts the test clips sharing a source with training (:attr:`ProtocolPlan.leaked_test_clips`).

    Args:
        targets: each clip's class index, or multi-hot row.
        protocol: one of :data:`PROTOCOLS`.
        folds, splits, groups: each clip's official fold, official split, and source group (or None).
        classes: class names, for messages.
        n_folds: folds of the k-fold protocols (fewer when the rarest class or the number of groups
            cannot fill them; the note says so).
        seed: the shuffling of the k-fold protocols (the same seed gives the same folds, so two systems
            compared on one seed see the same partitions).

    Raises:
        UnknownNameError: an unknown protocol.
        ValueError: a protocol the data cannot support, naming the fold and the classes missing, and
            the protocols or ``n_folds`` that would work on this data (each tried before it is named).
    """
    if protocol not in PROTOCOLS:
        raise UnknownNameError("evaluation protocol", protocol, PROTOCOLS)
    targets = np.asarray(targets)
    if len(targets) < 2:
        raise ValueError(f"an evaluation needs at least two clips, got {len(targets)}")
    if n_folds < 2:
        raise ValueError(f"n_folds must be at least 2, got {n_folds}")
    data = _Data(targets, folds, splits, groups, classes, seed)
    try:
        return _plan(data, protocol, n_folds)
    except ValueError as error:
        raise ValueError(f"{error}. {_what_works(data, protocol, n_folds)}") from None


def _plan(data: _Data, protocol: str, n_folds: int) -> ProtocolPlan:
    partitions = official_partitions(data.folds, data.splits)
    if protocol == "official":
        if not partitions:
            raise ValueError("protocol 'official' needs a dataset with official folds or train/test splits")
        problems = official_problems(data.targets, partitions, data.classes)
        if fatal := [problem.text for problem in problems if problem.fatal]:
            raise ValueError("protocol 'official' cannot be trained on this data: " + "; ".join(fatal))
        folds = tuple(Fold(name, np.sort(train), np.sort(test)) for name, train, test in partitions)
        return ProtocolPlan(protocol, "official", folds, "; ".join(p.text for p in problems), n_classes=_count(data))
    if protocol == "auto":
        fallback = "grouped-kfold" if data.groups is not None else "kfold"
        if partitions:
            problems = official_problems(data.targets, partitions, data.classes)
            if not problems:
                return _plan(data, "official", n_folds)
            reason = f"official folds not usable ({'; '.join(p.text for p in problems)}); using {fallback}"
        else:
            reason = f"the data define no official folds or splits; using {fallback}"
        plan = _kfold_plan(data, data.groups, n_folds, exclude=True, fewer_folds=True)
        return replace(plan, requested=protocol, protocol=fallback, left_official=bool(partitions),
                       note="; ".join(filter(None, (reason, plan.note))))  # fmt: skip
    if protocol == "grouped-kfold":
        if data.groups is None:
            raise ValueError(
                "protocol 'grouped-kfold' needs source groups (ESC-50 src_file, FSDD speaker, UrbanSound8K fsID, "
                "a 'group' column in a folder dataset's CSV); this data has none"
            )
        return replace(_kfold_plan(data, data.groups, n_folds, exclude=True, fewer_folds=False),
                       requested=protocol, protocol=protocol)  # fmt: skip
    plan = _kfold_plan(data, None, n_folds, exclude=False, fewer_folds=False)
    leaked = leaked_test_clips(plan.folds, data.groups) if data.groups is not None else None
    plan = replace(plan, requested=protocol, protocol=protocol, leaked_test_clips=leaked)
    leak = f"protocol 'kfold' ignores source groups: {plan.leak_line}" if plan.leak_line else ""
    return replace(plan, note="; ".join(filter(None, (plan.note, leak))))


def _count(data: _Data) -> int:
    return len(class_sets(data.targets, np.arange(len(data.targets))))


def _kfold_plan(
    data: _Data, groups: np.ndarray | None, n_folds: int, *, exclude: bool, fewer_folds: bool
) -> ProtocolPlan:
    """K-fold partitions (grouped where ``groups`` is given); ``exclude`` leaves out the classes no
    partition can train and test, ``fewer_folds`` tries fewer folds where one would test an untrained class."""
    targets, rows = data.targets, np.arange(len(data.targets))
    excluded = unscorable_classes(targets, groups, data.classes) if exclude else ()
    if excluded:
        rows = rows[~np.isin(targets, [cls.index for cls in excluded])]
    scored = class_sets(targets, rows)
    if targets.ndim == 1 and len(scored) < 2:
        raise ValueError(
            f"k-fold can score {len(scored)} of {_count(data)} classes: the others have one "
            f"{'source recording' if groups is not None else 'clip'} each"
        )
    note: list[str] = []
    for count in range(n_folds, 1, -1) if fewer_folds else (n_folds,):
        try:
            folds, note = kfold_partitions(targets, rows, groups, data.classes, count, data.seed)
        except UntrainedFoldError as error:
            if not fewer_folds or count == 2:
                raise
            untrained = error
            continue
        if count < n_folds:
            note.insert(0, f"{n_folds} folds lowered to {count}: with {count + 1}, {untrained}")
        break
    plan = ProtocolPlan("", "", folds, excluded=excluded, n_classes=_count(data))
    return replace(plan, note="; ".join(filter(None, (plan.scored_line, *note))))


def _what_works(data: _Data, failed: str, n_folds: int) -> str:
    """The alternatives to a failed protocol that succeed on this data: fewer folds, other protocols."""
    options = []
    if failed != "official":
        for count in range(n_folds - 1, 1, -1):
            if _attempt(data, failed, count) is not None:
                options.append(f"n_folds={count}")
                break
    for protocol in PROTOCOLS:
        if protocol != failed and (plan := _attempt(data, protocol, n_folds)) is not None:
            details = [plan.protocol] if protocol == "auto" else []
            details += [line for line in (plan.scored_line, plan.leak_line) if line]
            options.append(f"protocol '{protocol}'" + (f" ({'; '.join(details)})" if details else ""))
    if not options:
        return "No protocol works on this data as it is: add recordings or complete the dataset"
    return "What would work here: " + ", or ".join(options)


def _attempt(data: _Data, protocol: str, n_folds: int) -> ProtocolPlan | None:
    try:
        return _plan(data, protocol, n_folds)
    except ValueError:
        return None
