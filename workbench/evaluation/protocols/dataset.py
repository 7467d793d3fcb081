"""Planning a dataset's protocol from its metadata, before any clip is embedded or any model trained.

A protocol needs only each clip's label, official fold or split, and source group; a dataset that lists
its targets without audio (every listed dataset, the synthetic world) gives all four from its records.
:func:`plan_dataset_protocol` makes the plan, every seed's, from them, so a protocol that cannot work fails
(or ``auto`` decides) in a second instead of after minutes of extraction. The arrays are read exactly as
:func:`~workbench.evaluation.embeddings.extract_embeddings` reads them into an :class:`Embeddings` table,
so the plan made here is the plan the evaluation makes again on the embeddings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from workbench.data.records import AudioDataset
from workbench.evaluation.embeddings.cache import _plain
from workbench.evaluation.embeddings.extract import _groups, _partition
from workbench.evaluation.protocols.kfold import DEFAULT_FOLDS
from workbench.evaluation.protocols.notices import announce
from workbench.evaluation.protocols.plan import ProtocolPlan, plan_protocol


@dataclass(frozen=True)
class ProtocolInputs:
    """What a protocol is planned from, one row per clip in dataset order.

    Attributes:
        targets: ``(N,)`` int64 class indices or ``(N, C)`` float32 multi-hot rows.
        folds: ``(N,)`` official folds, or None.
        splits: ``(N,)`` official split names, or None.
        groups: ``(N,)`` source groups (a clip without one is its own), or None when no clip has one.
        classes: class names in target order.
    """

    targets: np.ndarray
    folds: np.ndarray | None
    splits: np.ndarray | None
    groups: np.ndarray | None
    classes: tuple[str, ...]

    def plan(self, protocol: str = "auto", *, n_folds: int = DEFAULT_FOLDS, seed: int = 0) -> ProtocolPlan:
        """:func:`~workbench.evaluation.protocols.plan_protocol` on these arrays."""
        return plan_protocol(
            self.targets, protocol=protocol, folds=self.folds, splits=self.splits, groups=self.groups,
            classes=self.classes or None, n_folds=n_folds, seed=seed,
        )  # fmt: skip


def protocol_inputs(dataset: AudioDataset) -> ProtocolInputs | None:
    """Every clip's target, fold, split and group from ``dataset``'s metadata (no audio is read), or None
    where the dataset cannot list its targets without loading its clips.

    Raises:
        ValueError: a dataset that gives a fold (or split) to some clips only.
    """
    try:
        targets = np.asarray([_plain(target) for target in dataset.targets()])
    except NotImplementedError:
        return None
    try:
        ids: Sequence[str] = [str(clip) for clip in dataset.clip_ids()]
    except NotImplementedError:  # only the name of a clip's own group depends on it
        ids = [str(index) for index in range(len(dataset))]
    folds = _partition(dataset, dataset.fold_of, "fold")
    splits = _partition(dataset, dataset.split_of, "split")
    groups = _groups(dataset, ids)
    return ProtocolInputs(
        targets=targets.astype(np.int64) if targets.ndim == 1 else targets.astype(np.float32),
        folds=None if folds is None else folds.astype(np.int64),
        splits=None if splits is None else splits.astype(str),
        groups=None if groups is None else groups.astype(str),
        classes=tuple(str(name) for name in dataset.classes),
    )


def plan_dataset_protocol(
    dataset: AudioDataset | ProtocolInputs,
    protocol: str = "auto",
    *,
    n_folds: int = DEFAULT_FOLDS,
    seeds: Sequence[int] = (0,),
) -> ProtocolPlan | None:
    """Plan and check ``protocol`` on ``dataset`` for every seed before any embedding, and warn (once per
    run and cause, :func:`~workbench.evaluation.protocols.announce`) about what the plan does that was
    not asked for.

    Returns:
        The first seed's plan (its ``note`` is the full explanation), or None where the dataset cannot
        list its targets without audio: the evaluation then plans on the embeddings.

    Raises:
        UnknownNameError: an unknown protocol.
        ValueError: a protocol this data cannot support; the message names what would work.
    """
    inputs = dataset if isinstance(dataset, ProtocolInputs) else protocol_inputs(dataset)
    if inputs is None:
        return None
    plans = [inputs.plan(protocol, n_folds=n_folds, seed=int(seed)) for seed in seeds or (0,)]
    announce(plans[0])
    return plans[0]
