"""The embedding cache's key: a digest of the encoder (class, rate, structure, weights), of the
dataset (fingerprint, clip ids, labels, partition), all from metadata, and of the code that turns clips
into embeddings (:data:`FEATURE_CODE`), so a change of resampler or front-end never reuses old features."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import numpy as np
import torch

from workbench.audio.io import RESAMPLER
from workbench.data.fingerprint import dataset_fingerprint as data_fingerprint_of
from workbench.data.records import AudioDataset
from workbench.models.base import Encoder


FEATURE_CODE = f"extraction-2/{RESAMPLER}"
"""The version of the clip-to-embedding code: raise the number whenever extraction changes what it
computes for the same encoder and clips (cropping, padding, pooling); the resampler's name is part of it.
Version 2: resampling with libsoxr HQ instead of torchaudio's windowed sinc."""


def cache_key(encoder: Encoder, dataset: AudioDataset) -> str:
    """The cache file name (hex digest) of ``encoder``'s embeddings of ``dataset``."""
    digest = hashlib.sha256()
    digest.update(FEATURE_CODE.encode())
    digest.update(encoder_fingerprint(encoder).encode())
    digest.update(dataset_fingerprint(dataset).encode())
    return digest.hexdigest()[:32]


def encoder_fingerprint(encoder: Encoder) -> str:
    """A string that changes whenever the encoder's class, rate, structure or any weight changes."""
    weights = hashlib.sha256()
    for name, tensor in sorted(encoder.state_dict().items()):
        tensor = tensor.detach().cpu().contiguous()
        weights.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
        # Viewing as bytes works for every dtype, bfloat16 included (numpy has no bfloat16).
        weights.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    # The module tree's repr carries hyper-parameters that have no tensor (pooling, dropout, strides);
    # memory addresses some reprs print are stripped so the key is stable across processes.
    structure = re.sub(r"0x[0-9a-fA-F]+", "0x", repr(encoder))
    return json.dumps(
        {
            "class": f"{type(encoder).__module__}.{type(encoder).__qualname__}",
            "sample_rate": int(encoder.sample_rate),
            "structure": structure,
            "weights": weights.hexdigest(),
        },
        sort_keys=True,
    )


def dataset_fingerprint(dataset: AudioDataset) -> str:
    """A string that changes whenever the dataset's data, clips, labels or partition change; computed
    from metadata (no clip is read or rendered where the dataset lists its ids)."""
    count = len(dataset)
    try:
        targets: Any = [_plain(target) for target in dataset.targets()]
    except NotImplementedError:
        targets = None  # the ids and repr still identify the clips; reading audio here would defeat caching
    return json.dumps(
        {
            "class": f"{type(dataset).__module__}.{type(dataset).__qualname__}",
            "repr": repr(dataset),
            "data": data_fingerprint_of(dataset),
            "length": count,
            "sample_rate": int(dataset.sample_rate),
            "classes": list(dataset.classes),
            "ids": _clip_ids(dataset),
            "targets": targets,
            "folds": [dataset.fold_of(index) for index in range(count)],
            "splits": [dataset.split_of(index) for index in range(count)],
            "groups": [dataset.group_of(index) for index in range(count)],
        },
        sort_keys=True,
        default=str,
    )


def _plain(target: Any) -> Any:
    """A JSON-friendly copy of a target (int, multi-hot tensor/array, or tuple of indices)."""
    if isinstance(target, torch.Tensor):
        return target.tolist()
    if isinstance(target, np.ndarray):
        return target.tolist()
    if isinstance(target, tuple):
        return list(target)
    return target


def _clip_ids(dataset: Any) -> list[str]:
    """Every clip's id, from metadata: the dataset's ``clip_ids()``, a subset's (the workbench's or
    ``torch.utils.data.Subset``) indices mapped to its parent's ids, or listed records. Only a dataset
    with none of these is read item by item."""
    if hasattr(dataset, "dataset") and hasattr(dataset, "indices"):  # a Subset of either kind
        parent_ids = _clip_ids(dataset.dataset)
        return [parent_ids[int(index)] for index in dataset.indices]
    method = getattr(dataset, "clip_ids", None)
    if callable(method):
        try:
            return [str(clip_id) for clip_id in method()]
        except NotImplementedError:
            pass
    records = getattr(dataset, "records", None)
    if records is not None and len(records) == len(dataset):
        return [str(record.id) for record in records]
    # No metadata listing: the only way to the ids is through the items themselves.
    return [str(dataset[index][2]["id"]) for index in range(len(dataset))]
