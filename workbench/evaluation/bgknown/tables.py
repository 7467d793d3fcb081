"""Embedding the items: the ``y_mix`` and ``y_diff`` tables Table 1 evaluates (:func:`bgknown_embeddings`)."""

from __future__ import annotations

import numpy as np
import torch
from workbench.progress import tqdm

from workbench.audio.io import resample
from workbench.evaluation.bgknown.items import BgKnownBuilder
from workbench.evaluation.bgknown.protocol import overlap_name
from workbench.evaluation.embeddings import Embeddings
from workbench.models.base import Encoder


def difference(minuend: Embeddings, subtrahend: Embeddings) -> Embeddings:
    """``minuend - subtrahend`` row by row, keeping the minuend's targets, ids, classes, folds and splits.

    Raises:
        ValueError: tables of different lengths or dimensions, or with different targets.
    """
    if minuend.features.shape != subtrahend.features.shape:
        raise ValueError(
            f"cannot subtract embeddings of shape {subtrahend.features.shape} from {minuend.features.shape}"
        )
    if not np.array_equal(minuend.targets, subtrahend.targets):
        raise ValueError("the two embedding tables are not of the same clips: their targets differ")
    return Embeddings(
        features=minuend.features - subtrahend.features,
        targets=minuend.targets,
        ids=minuend.ids,
        classes=minuend.classes,
        folds=minuend.folds,
        splits=minuend.splits,
        groups=minuend.groups,
    )


def bgknown_embeddings(
    encoder: Encoder, builder: BgKnownBuilder, *, batch_size: int = 32, progress: bool = False
) -> dict[str, Embeddings]:
    """The tables Table 1 evaluates: ``"mix"`` (``y_mix``) and ``"diff-100"``, ``"diff-50"``, ``"diff-0"`` (``y_diff``).

    One pass over the items: each is made once, its mixture and references embedded in batches of
    ``batch_size`` (clips of equal length; a new batch starts where the length changes), in eval mode.
    Rows follow the foregrounds' order, with their ids, targets, folds and splits.

    Raises:
        ValueError: the encoder returns embeddings of the wrong shape.
    """
    parts = ["mix", *(overlap_name(overlap) for overlap in builder.overlaps)]
    features: dict[str, list[np.ndarray]] = {part: [] for part in parts}
    pending: dict[str, list[torch.Tensor]] = {part: [] for part in parts}
    ids, labels = [], []

    def flush() -> None:
        if not pending["mix"]:
            return
        for part in parts:
            batch = resample(torch.stack(pending[part]), builder.sample_rate, encoder.sample_rate)
            embedded = encoder.embed(batch)
            if embedded.ndim != 2 or embedded.shape[0] != len(batch):
                raise ValueError(f"{type(encoder).__name__}.embed must return (batch, dim), got {tuple(embedded.shape)}")
            features[part].append(embedded.float().cpu().numpy())
            pending[part].clear()

    was_training = encoder.training
    encoder.eval()
    try:
        with torch.no_grad():
            for index in tqdm(range(len(builder)), desc="BgKnown items", disable=not progress, leave=False):
                item = builder.item(index)
                if pending["mix"] and (
                    len(pending["mix"]) == batch_size or pending["mix"][0].shape != item.mixture.shape
                ):
                    flush()
                pending["mix"].append(item.mixture)
                for overlap in builder.overlaps:
                    pending[overlap_name(overlap)].append(item.references[overlap])
                ids.append(item.id)
                labels.append(item.label)
            flush()
    finally:
        encoder.train(was_training)

    foregrounds = builder.foregrounds
    folds = [foregrounds.fold_of(index) for index in range(len(builder))]
    splits = [foregrounds.split_of(index) for index in range(len(builder))]
    groups = [foregrounds.group_of(index) for index in range(len(builder))]
    mixture = Embeddings(
        features=np.concatenate(features["mix"]), targets=np.asarray(labels), ids=np.asarray(ids),
        classes=tuple(foregrounds.classes), folds=None if None in folds else np.asarray(folds),
        splits=None if None in splits else np.asarray(splits), groups=None if None in groups else np.asarray(groups),
    )  # fmt: skip
    tables = {"mix": mixture}
    for part in parts[1:]:
        reference = Embeddings(**{**vars(mixture), "features": np.concatenate(features[part])})
        tables[part] = difference(mixture, reference)
    return tables
