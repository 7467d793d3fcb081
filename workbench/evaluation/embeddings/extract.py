"""Embedding every clip of a dataset with a frozen encoder (:func:`extract_embeddings`): reading through
the cache, batching clips of equal length, and naming clips too short for the encoder."""

from __future__ import annotations

import warnings
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from workbench.progress import tqdm

from workbench.atomic import remove_stale_temporaries
from workbench.audio.io import resample
from workbench.data.records import AudioDataset
from workbench.errors import AudioError
from workbench.evaluation.embeddings.cache import _plain, cache_key
from workbench.evaluation.embeddings.table import Embeddings
from workbench.models.base import Encoder
from workbench.paths import cache_dir as default_cache_dir


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
