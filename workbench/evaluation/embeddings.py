"""Clip embeddings of a whole dataset, computed once by a frozen encoder and cached on disk.

Linear evaluation (BYOL-A, EVAR), the SVM back-end, retrieval and the embedding explorer all start from
the same table: one embedding per clip with its target, fold/split and id. :func:`extract_embeddings`
builds that table with :meth:`workbench.models.base.Encoder.embed` and caches it under
``<cache root>/embeddings/<key>.npz``; the key hashes the encoder's weights and the dataset's
fingerprint (:mod:`workbench.data.fingerprint`: its files' sizes and modification times, or the
synthetic world's seed and parameters) with its clip ids, labels and partition, so retraining or
changing the dataset never reads a stale cache. The key comes from metadata only: a cache hit renders
and reads no clip.
"""

from __future__ import annotations

import hashlib
import json
import re
import warnings
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from workbench.atomic import atomic_path, remove_stale_temporaries
from workbench.audio.io import resample
from workbench.data.fingerprint import dataset_fingerprint as data_fingerprint_of
from workbench.data.records import AudioDataset
from workbench.errors import AudioError
from workbench.models.base import Encoder
from workbench.paths import cache_dir as default_cache_dir


@dataclass
class Embeddings:
    """One embedding per clip with everything an evaluation needs about that clip.

    Attributes:
        features: ``(N, D)`` float32 embeddings.
        targets: ``(N,)`` int64 class indices, or ``(N, C)`` float32 multi-hot vectors.
        ids: ``(N,)`` clip ids (``meta["id"]``).
        classes: class names in target order.
        folds: ``(N,)`` int64 official fold of each clip, or None when the dataset has no folds.
        splits: ``(N,)`` official split name of each clip (``"train"``, ``"valid"``, ``"test"``), or None.
        groups: ``(N,)`` source group of each clip (recording, speaker) for grouped k-fold, or None when
            the dataset knows none; a clip without a group is a group of its own.

    Raises:
        ValueError: (on construction) arrays of different lengths or of the wrong rank.
    """

    features: np.ndarray
    targets: np.ndarray
    ids: np.ndarray
    classes: tuple[str, ...]
    folds: np.ndarray | None = None
    splits: np.ndarray | None = None
    groups: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.features = np.asarray(self.features, dtype=np.float32)
        targets = np.asarray(self.targets)
        self.targets = targets.astype(np.int64) if targets.ndim == 1 else targets.astype(np.float32)
        self.ids = np.asarray(self.ids, dtype=str)
        self.classes = tuple(str(name) for name in self.classes)
        if self.folds is not None:
            self.folds = np.asarray(self.folds, dtype=np.int64)
        if self.splits is not None:
            self.splits = np.asarray(self.splits, dtype=str)
        if self.groups is not None:
            self.groups = np.asarray(self.groups, dtype=str)
        if self.features.ndim != 2:
            raise ValueError(f"features must be (clips, dim), got shape {self.features.shape}")
        if self.targets.ndim not in (1, 2):
            raise ValueError(
                f"targets must be (clips,) class indices or (clips, classes) multi-hot, "
                f"got shape {self.targets.shape}"
            )
        count = len(self.features)
        for name in ("targets", "ids", "folds", "splits", "groups"):
            array = getattr(self, name)
            if array is not None and len(array) != count:
                raise ValueError(f"{name} has {len(array)} rows but features has {count}")

    def __len__(self) -> int:
        return len(self.features)

    @property
    def target_kind(self) -> str:
        """``"class"`` for single-label targets, ``"multilabel"`` for multi-hot ones."""
        return "class" if self.targets.ndim == 1 else "multilabel"

    @property
    def dim(self) -> int:
        return self.features.shape[1]

    def subset(self, indices: Sequence[int] | np.ndarray) -> Embeddings:
        """The rows at ``indices`` (in that order), keeping the class names."""
        indices = np.asarray(indices, dtype=np.int64)
        return Embeddings(
            features=self.features[indices],
            targets=self.targets[indices],
            ids=self.ids[indices],
            classes=self.classes,
            folds=None if self.folds is None else self.folds[indices],
            splits=None if self.splits is None else self.splits[indices],
            groups=None if self.groups is None else self.groups[indices],
        )

    def save(self, path: str | Path) -> Path:
        """Write to an ``.npz`` file atomically (no pickled objects, so loading runs no code)."""
        arrays: dict[str, np.ndarray] = {
            "features": self.features,
            "targets": self.targets,
            "ids": self.ids,
            "classes": np.asarray(self.classes, dtype=str),
        }
        if self.folds is not None:
            arrays["folds"] = self.folds
        if self.splits is not None:
            arrays["splits"] = self.splits
        if self.groups is not None:
            arrays["groups"] = self.groups
        with atomic_path(path) as temporary:
            # A file object, not a name: np.savez would append ".npz" to the temporary name.
            with open(temporary, "wb") as stream:
                np.savez(stream, **arrays)
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> Embeddings:
        """Read a file written by :meth:`save`."""
        with np.load(path, allow_pickle=False) as arrays:
            return cls(
                features=arrays["features"],
                targets=arrays["targets"],
                ids=arrays["ids"],
                classes=tuple(arrays["classes"].tolist()),
                folds=arrays["folds"] if "folds" in arrays else None,
                splits=arrays["splits"] if "splits" in arrays else None,
                groups=arrays["groups"] if "groups" in arrays else None,
            )


def extract_embeddings(
    encoder: Encoder,
    dataset: AudioDataset,
    *,
    batch_size: int = 32,
    cache: bool = True,
    cache_dir: str | Path | None = None,
    progress: bool = True,
    num_workers: int = 0,
) -> Embeddings:
    """Embed every clip of ``dataset`` with ``encoder`` (frozen, eval mode), cached on disk.

    Each waveform ``(channels, samples)`` is mixed down to mono, resampled to ``encoder.sample_rate``
    when the dataset's rate differs, and passed to ``encoder.embed``. Consecutive clips of equal length
    are embedded together, up to ``batch_size`` at a time; clips of other lengths go alone, so no clip
    is padded or cropped (padding would change a mean-pooled embedding).

    The result is cached in ``<cache_dir>/embeddings/<key>.npz``. The key hashes the encoder
    (class, sample rate, module structure, every tensor of its ``state_dict``) and the dataset (its
    fingerprint: files' sizes and modification times, or the synthetic seed and parameters; clip
    ids, targets, folds, splits), all from metadata: a cache hit reads and renders no clip.

    Clips shorter than the encoder takes (its ``min_samples`` where it declares one, else the shortest
    length its ``embed`` accepts, found when a call fails) raise an error naming the clips' files.

    Args:
        encoder: any :class:`~workbench.models.base.Encoder`; it is put in eval mode during the call and
            its previous mode is restored afterwards.
        dataset: a dataset with ``"class"`` or ``"multilabel"`` targets.
        batch_size: most clips per ``embed`` call.
        cache: read and write the cache; False always recomputes and writes nothing.
        cache_dir: cache root holding the ``embeddings/`` folder; default
            :func:`workbench.paths.cache_dir` (``$WORKBENCH_CACHE``).
        progress: show a progress bar.
        num_workers: DataLoader workers reading the clips (0 reads in this process).

    Returns:
        :class:`Embeddings` in dataset order.

    Raises:
        ValueError: the dataset has waveform targets, is empty, has folds/splits on only some clips,
            ``batch_size < 1``, or the encoder returns embeddings of the wrong shape.
        AudioError: clips too short for the encoder (the message names them and the minimum length).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if dataset.target_kind == "waveform":
        raise ValueError(
            f"{type(dataset).__name__} has waveform targets (separation); embeddings for evaluation "
            "need class or multi-label targets"
        )
    if len(dataset) == 0:
        raise ValueError(f"{dataset!r} is empty: there is nothing to embed")

    cache_file = None
    if cache:
        root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        cache_file = root / "embeddings" / f"{cache_key(encoder, dataset)}.npz"
        if cache_file.is_file():
            try:
                return Embeddings.load(cache_file)
            except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
                warnings.warn(f"ignoring unreadable embedding cache {cache_file} ({error}); recomputing")

    embeddings = _compute_embeddings(encoder, dataset, batch_size, progress, num_workers)
    if cache_file is not None:
        try:
            remove_stale_temporaries(cache_file.parent)  # of killed writers; live writers' files stay
            embeddings.save(cache_file)
        except OSError as error:  # a read-only or full cache must not throw away the computed embeddings
            warnings.warn(
                f"could not write the embedding cache {cache_file} ({error.strerror or error}); the embeddings "
                f"are returned but not cached: make {cache_file.parent} writable or set WORKBENCH_CACHE",
                stacklevel=2,
            )
    return embeddings


def cache_key(encoder: Encoder, dataset: AudioDataset) -> str:
    """The cache file name (hex digest) of ``encoder``'s embeddings of ``dataset``."""
    digest = hashlib.sha256()
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


def _minimum_samples(encoder: Encoder, failing_length: int, device: torch.device) -> int | None:
    """The shortest input ``encoder.embed`` accepts, where a clip of ``failing_length`` samples failed:
    ``encoder.min_samples`` when it declares one, else found by doubling then bisecting on silent
    clips. None when a silent clip of ``failing_length`` passes (the failure was not about length)."""
    declared = getattr(encoder, "min_samples", None)
    if isinstance(declared, int) and not isinstance(declared, bool) and declared > 0:
        return declared

    def accepts(length: int) -> bool:
        try:
            encoder.embed(torch.zeros(1, length, device=device))
            return True
        except Exception:  # noqa: BLE001 - any failure counts as "too short" for this search
            return False

    if accepts(failing_length):
        return None
    low, high = failing_length, max(2 * failing_length, 16)  # low fails
    ceiling = 10 * int(encoder.sample_rate)  # ten seconds: past this, length is not the problem
    while not accepts(high):
        low, high = high, 2 * high
        if high > ceiling:
            return None
    while high - low > 1:
        middle = (low + high) // 2
        if accepts(middle):
            high = middle
        else:
            low = middle
    return high


def _too_short_error(encoder: Encoder, dataset: AudioDataset, clips: list[tuple[str, int]], minimum: int) -> AudioError:
    rate = int(encoder.sample_rate)
    shown = ", ".join(f"{name} ({length} samples)" for name, length in clips[:5])
    more = f" and {len(clips) - 5} more" if len(clips) > 5 else ""
    return AudioError(
        f"{len(clips)} clip(s) of {type(dataset).__name__} are too short for {type(encoder).__name__}, which "
        f"needs at least {minimum} samples ({minimum / rate:.3f} s at {rate} Hz): {shown}{more}; "
        f"remove them, or zero-pad them to that length"
    )


def _mono(waveform: torch.Tensor, source: str) -> torch.Tensor:
    """``(channels, samples)`` or ``(samples,)`` -> ``(samples,)`` float32, averaging the channels."""
    waveform = torch.as_tensor(waveform, dtype=torch.float32)
    if waveform.ndim == 2:
        return waveform.mean(dim=0)
    if waveform.ndim == 1:
        return waveform
    raise ValueError(f"{source}: expected a waveform (channels, samples), got shape {tuple(waveform.shape)}")


def _compute_embeddings(
    encoder: Encoder, dataset: AudioDataset, batch_size: int, progress: bool, num_workers: int
) -> Embeddings:
    parameter = next(encoder.parameters(), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    # batch_size=None turns off automatic batching: items arrive one by one, in order, so clips of
    # different lengths never meet a collate function that would have to stack them.
    loader = torch.utils.data.DataLoader(dataset, batch_size=None, shuffle=False, num_workers=num_workers)

    features: list[np.ndarray] = []
    targets: list[Any] = []
    ids: list[str] = []
    pending: list[torch.Tensor] = []
    sources: list[str] = []  # the pending clips' files (or ids), for errors
    declared = getattr(encoder, "min_samples", None)
    declared = declared if isinstance(declared, int) and not isinstance(declared, bool) else None

    def flush() -> None:
        if not pending:
            return
        batch = torch.stack(pending)  # (batch, samples) at the dataset's rate
        batch = resample(batch, dataset.sample_rate, encoder.sample_rate)
        length = batch.shape[-1]
        if declared is not None and length < declared:
            raise _too_short_error(encoder, dataset, [(source, length) for source in sources], declared)
        try:
            embedded = encoder.embed(batch.to(device))
        except Exception as error:
            minimum = _minimum_samples(encoder, length, device)
            if minimum is not None and length < minimum:
                raise _too_short_error(encoder, dataset, [(source, length) for source in sources], minimum) from error
            raise
        if embedded.ndim != 2 or embedded.shape[0] != len(pending):
            raise ValueError(
                f"{type(encoder).__name__}.embed must return (batch, dim) = ({len(pending)}, dim), "
                f"got shape {tuple(embedded.shape)}"
            )
        features.append(embedded.detach().float().cpu().numpy())
        pending.clear()
        sources.clear()

    was_training = encoder.training
    encoder.eval()
    try:
        with torch.no_grad():
            for index, (waveform, target, meta) in enumerate(
                tqdm(loader, total=len(dataset), desc="embedding clips", disable=not progress)
            ):
                clip = _mono(waveform, f"clip {index} of {type(dataset).__name__}")
                if pending and (len(pending) == batch_size or clip.shape[-1] != pending[0].shape[-1]):
                    flush()
                pending.append(clip)
                sources.append(str(meta.get("path", meta["id"])))
                targets.append(_plain(target))
                ids.append(str(meta["id"]))
            flush()
    finally:
        encoder.train(was_training)

    return Embeddings(
        features=np.concatenate(features),
        targets=np.asarray(targets),
        ids=np.asarray(ids),
        classes=tuple(dataset.classes),
        folds=_partition(dataset, dataset.fold_of, "fold"),
        splits=_partition(dataset, dataset.split_of, "split"),
        groups=_groups(dataset, ids),
    )


def _groups(dataset: AudioDataset, ids: Sequence[str]) -> np.ndarray | None:
    """Each clip's source group; None when no clip has one (a clip without one is its own group)."""
    values = [dataset.group_of(index) for index in range(len(dataset))]
    if all(value is None for value in values):
        return None
    return np.asarray([f"clip:{clip}" if value is None else str(value) for value, clip in zip(values, ids, strict=True)])


def _partition(dataset: AudioDataset, lookup, kind: str) -> np.ndarray | None:
    """Each clip's fold or split, None when the dataset defines none; all-or-nothing."""
    values = [lookup(index) for index in range(len(dataset))]
    missing = [index for index, value in enumerate(values) if value is None]
    if len(missing) == len(values):
        return None
    if missing:
        raise ValueError(
            f"{type(dataset).__name__} gives a {kind} to some clips but not to clip {missing[0]} "
            f"({len(missing)} clips without one); a {kind} must be defined for every clip or none"
        )
    return np.asarray(values)
