"""Feature normalisation with dataset statistics, computed once per front-end and dataset and cached.

Most audio encoders standardise their front-end's output with the training set's mean and standard
deviation (BYOL-A: one scalar pair; AST/BEATs: one pair, std doubled; some models: per bin). This
module computes those statistics exactly in one pass (per-clip moments merged with Chan et al.'s
parallel update, in float64), and caches them as JSON under ``workbench.paths.cache_dir()/stats``.
"""

from __future__ import annotations

import hashlib
import json
import re
import warnings
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from workbench.progress import tqdm

from workbench import paths
from workbench.atomic import atomic_write_json
from workbench.audio.frontends import frontend_fingerprint, frontend_sample_rate
from workbench.errors import AudioError

STATS_CODE = 1
"""The version of the statistics code; it enters every cached statistics file's key. Bump it when a change
of code changes the statistics computed for the same front-end and clips."""

Statistic = float | torch.Tensor


class Normalizer(nn.Module):
    """Standardise features: ``(features - mean) / std``, with scalar or per-bin statistics.

    Args:
        mean: a number, or a ``(n_bins,)`` tensor/sequence of per-bin means.
        std: a positive number, or ``(n_bins,)`` per-bin standard deviations (same form as ``mean``).

    Shape:
        features: ``(..., n_bins, frames)``; output: the same shape, float32.

    Raises:
        ValueError: statistics that are not finite, a std that is not positive, mismatched forms, or
            (in ``forward``) features whose ``n_bins`` differs from the per-bin statistics'.
    """

    def __init__(self, mean: float | torch.Tensor | Iterable[float], std: float | torch.Tensor | Iterable[float]):
        super().__init__()
        mean_tensor = torch.as_tensor(mean, dtype=torch.float32).detach().clone()
        std_tensor = torch.as_tensor(std, dtype=torch.float32).detach().clone()
        if mean_tensor.ndim > 1 or mean_tensor.shape != std_tensor.shape:
            raise ValueError(
                f"mean and std must both be scalars or both (n_bins,) vectors, got shapes "
                f"{tuple(mean_tensor.shape)} and {tuple(std_tensor.shape)}"
            )
        if not (torch.isfinite(mean_tensor).all() and torch.isfinite(std_tensor).all()):
            raise ValueError("mean and std must be finite")
        if not (std_tensor > 0).all():
            raise ValueError(f"std must be positive, got minimum {float(std_tensor.min())}")
        # Persistent buffers: the statistics are state a checkpoint must carry.
        self.register_buffer("mean", mean_tensor)
        self.register_buffer("std", std_tensor)

    @property
    def per_bin(self) -> bool:
        return self.mean.ndim == 1

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        if not self.per_bin:
            return (features - self.mean) / self.std
        if features.ndim < 2 or features.shape[-2] != self.mean.shape[0]:
            raise ValueError(
                f"Normalizer holds statistics for {self.mean.shape[0]} bins; expected features "
                f"(..., {self.mean.shape[0]}, frames), got shape {tuple(features.shape)}"
            )
        return (features - self.mean[:, None]) / self.std[:, None]

    def extra_repr(self) -> str:
        if self.per_bin:
            return f"per_bin={self.mean.shape[0]}"
        return f"mean={float(self.mean):.4f}, std={float(self.std):.4f}"


class _RunningMoments:
    """Per-bin count, mean and sum of squared deviations, merged clip by clip (Chan et al., 1979)."""

    def __init__(self) -> None:
        self.count = 0  # frames per bin seen so far
        self.clips = 0
        self.mean: torch.Tensor | None = None  # (n_bins,) float64
        self.squared_deviations: torch.Tensor | None = None  # (n_bins,) float64

    def add(self, features: torch.Tensor, source: str) -> None:
        """Merge one clip's ``(n_bins, frames)`` features."""
        features = features.detach().to("cpu", torch.float64)
        if not torch.isfinite(features).all():
            raise AudioError(f"{source}: the front-end produced NaN or Inf features; check the audio")
        frames = features.shape[1]
        if frames == 0:
            return
        clip_mean = features.mean(dim=1)  # (n_bins,)
        clip_squared_deviations = ((features - clip_mean[:, None]) ** 2).sum(dim=1)  # (n_bins,)
        if self.mean is None:
            self.count, self.mean, self.squared_deviations = frames, clip_mean, clip_squared_deviations
        else:
            if clip_mean.shape != self.mean.shape:
                raise ValueError(
                    f"{source}: the front-end gave {clip_mean.shape[0]} bins after {self.mean.shape[0]} before"
                )
            total = self.count + frames
            delta = clip_mean - self.mean
            self.mean = self.mean + delta * (frames / total)
            self.squared_deviations = (
                self.squared_deviations + clip_squared_deviations + delta**2 * (self.count * frames / total)
            )
            self.count = total
        self.clips += 1

    def _check_not_empty(self) -> None:
        if self.mean is None:
            raise ValueError("no features to compute statistics from: the clips were empty or there were none")

    def per_bin(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Population mean and std of every bin, float64."""
        self._check_not_empty()
        return self.mean, torch.sqrt(self.squared_deviations / self.count)

    def scalar(self) -> tuple[float, float]:
        """Population mean and std over all bins and frames."""
        self._check_not_empty()
        # Every bin has the same number of frames, so the overall mean is the mean of bin means and
        # the between-bin spread adds count * (bin mean - overall mean)^2 per bin.
        overall_mean = self.mean.mean()
        squared_deviations = self.squared_deviations.sum() + self.count * ((self.mean - overall_mean) ** 2).sum()
        variance = squared_deviations / (self.count * self.mean.shape[0])
        return float(overall_mean), float(torch.sqrt(variance))


def _mono_clip(waveform: torch.Tensor, source: str) -> torch.Tensor:
    """``(samples,)`` or ``(channels, samples)`` -> ``(1, samples)`` (channels averaged)."""
    if not isinstance(waveform, torch.Tensor):
        raise TypeError(f"{source}: expected a torch.Tensor waveform, got {type(waveform).__name__}")
    if waveform.ndim == 1:
        return waveform.unsqueeze(0)
    if waveform.ndim == 2:
        return waveform.mean(dim=0, keepdim=True)
    raise AudioError(f"{source}: expected a clip (samples,) or (channels, samples), got shape {tuple(waveform.shape)}")


def _accumulate(frontend: nn.Module, clips: Iterable[tuple[str, torch.Tensor]]) -> _RunningMoments:
    moments = _RunningMoments()
    with torch.no_grad():
        for source, waveform in clips:
            try:
                features = frontend(_mono_clip(waveform, source))  # (1, n_bins, frames)
            except AudioError as error:
                if str(error).startswith(source):
                    raise
                raise AudioError(f"{source}: {error}") from error  # say which clip of the dataset
            if features.ndim != 3 or features.shape[0] != 1:
                raise ValueError(
                    f"{source}: the front-end must return (batch, n_bins, frames), got {tuple(features.shape)}"
                )
            moments.add(features[0], source)
    return moments


def compute_statistics(
    frontend: nn.Module,
    waveforms: Iterable[torch.Tensor],
    per_bin: bool = False,
    max_clips: int | None = None,
) -> tuple[Statistic, Statistic]:
    """Mean and standard deviation of a front-end's output over clips, exactly, in one pass.

    Args:
        frontend: a module mapping ``(1, samples)`` to ``(1, n_bins, frames)`` (any front-end here,
            possibly inside an ``nn.Sequential``); used as is (its train/eval mode is not changed).
        waveforms: clips ``(samples,)`` or ``(channels, samples)``; channels are averaged to mono.
        per_bin: one statistic per bin instead of one over all bins.
        max_clips: use only the first ``max_clips`` clips.

    Returns:
        ``(mean, std)``: Python floats, or float32 tensors ``(n_bins,)`` when ``per_bin``. The std is
        the population one (divides by the number of values), as BYOL-A and AST compute it.

    Raises:
        ValueError: no clips, or clips whose number of bins differs.
        AudioError: a clip of the wrong shape, too short for the front-end, or giving NaN/Inf features.
    """
    clips = ((f"clip {index}", waveform) for index, waveform in enumerate(waveforms))
    moments = _accumulate(frontend, islice(clips, max_clips))
    return _to_output_types(moments.per_bin() if per_bin else moments.scalar())


def _to_output_types(statistics: tuple[Any, Any]) -> tuple[Statistic, Statistic]:
    mean, std = statistics
    if isinstance(mean, torch.Tensor):
        return mean.to(torch.float32), std.to(torch.float32)
    return mean, std


def _dataset_clips(
    dataset: Any, max_clips: int | None, progress: bool, label: str
) -> Iterator[tuple[str, torch.Tensor]]:
    """``(source, waveform)`` pairs from a dataset; ``max_clips`` of them spread evenly over it."""
    if hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__"):
        size = len(dataset)
        if max_clips is not None and max_clips < size:
            # Evenly spaced, not the first ones: datasets are often sorted by class or fold.
            indices = np.unique(np.linspace(0, size - 1, max_clips).round().astype(int)).tolist()
        else:
            indices = range(size)
        items: Iterable[Any] = (dataset[index] for index in indices)
        total = len(indices)
    else:
        items, total = islice(iter(dataset), max_clips), max_clips
    for position, item in enumerate(tqdm(items, total=total, desc=label, disable=not progress, leave=False)):
        waveform, _target, meta = item
        clip_id = meta.get("id") if isinstance(meta, dict) else None
        yield (f"clip {clip_id!r}" if clip_id is not None else f"clip {position}"), waveform


def statistics_cache_path(
    frontend: nn.Module, dataset: Any, key: str, cache_dir: str | Path | None = None, max_clips: int | None = None
) -> Path:
    """Where :func:`cached_statistics` keeps the statistics of this front-end, dataset and key.

    ``<cache_dir>/stats/<key>-<digest>.json`` where the digest is 16 hex digits of the SHA-256 of the
    front-end's fingerprint, ``max_clips``, and the dataset's length and sample rate.

    Raises:
        ValueError: ``key`` is not a file-name-safe word.
    """
    return _cache_entry(frontend, dataset, key, cache_dir, max_clips)[0]


def _cache_entry(
    frontend: nn.Module, dataset: Any, key: str, cache_dir: str | Path | None, max_clips: int | None
) -> tuple[Path, dict[str, Any]]:
    """The cache file and the identity stored in it (checked again when the file is read)."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", key):
        raise ValueError(f"statistics key {key!r} must be a file-name-safe word (letters, digits, '.', '_', '-')")
    identity = {
        "code": STATS_CODE,
        "frontend": frontend_fingerprint(frontend),
        "max_clips": max_clips,
        "dataset_clips": len(dataset) if hasattr(dataset, "__len__") else None,
        "dataset_sample_rate": getattr(dataset, "sample_rate", None),
    }
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]
    root = Path(cache_dir) if cache_dir is not None else paths.cache_dir()
    return root / "stats" / f"{key}-{digest}.json", identity


def _read_cache(path: Path, identity: dict[str, Any]) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
        if record["identity"] != identity:
            raise ValueError("it was computed for another front-end or dataset")
        missing = {"mean", "std", "mean_per_bin", "std_per_bin"} - record.keys()
        if missing:
            raise KeyError(f"it lacks {sorted(missing)}")
        return record
    except (OSError, ValueError, KeyError, TypeError) as error:
        warnings.warn(f"ignoring the statistics cache {path} ({error}); recomputing it", stacklevel=3)
        return None


def cached_statistics(
    frontend: nn.Module,
    dataset: Any,
    key: str,
    cache_dir: str | Path | None = None,
    max_clips: int | None = None,
    *,
    per_bin: bool = False,
    progress: bool = True,
) -> tuple[Statistic, Statistic]:
    """Statistics of ``frontend`` over ``dataset``, computed on the first call and read back later.

    Both the scalar and the per-bin statistics are computed in the one pass and written atomically
    to :func:`statistics_cache_path`, so either form is then read without touching the audio.

    Args:
        frontend: as in :func:`compute_statistics`.
        dataset: yields ``(waveform (channels, samples), target, meta)`` (a workbench dataset);
            channels are averaged to mono. Its ``sample_rate``, if any, must match the front-end's.
        key: names the dataset and split (e.g. ``"esc10-fold1-train"``) in the cache file name; the
            front-end, ``max_clips`` and the dataset's length and rate are hashed in beside it.
        cache_dir: replaces :func:`workbench.paths.cache_dir` as the cache root.
        max_clips: use this many clips spread evenly over the dataset (all when None).
        per_bin: return per-bin statistics (tensors ``(n_bins,)``) instead of scalars.
        progress: show a progress bar while computing.

    Returns:
        ``(mean, std)`` as :func:`compute_statistics` returns them.

    Raises:
        AudioError: the dataset's sample rate differs from the front-end's, or a clip is unusable
            (the message names the clip's id).
        ValueError: a key that is not file-name safe, or an empty dataset.
    """
    dataset_rate, frontend_rate = getattr(dataset, "sample_rate", None), frontend_sample_rate(frontend)
    if dataset_rate is not None and frontend_rate is not None and int(dataset_rate) != frontend_rate:
        raise AudioError(
            f"dataset {key!r} is at {dataset_rate} Hz but the front-end expects {frontend_rate} Hz; "
            f"resample the dataset or build the front-end with sample_rate={dataset_rate}"
        )
    path, identity = _cache_entry(frontend, dataset, key, cache_dir, max_clips)
    record = _read_cache(path, identity)
    if record is None:
        moments = _accumulate(frontend, _dataset_clips(dataset, max_clips, progress, f"statistics {key}"))
        mean, std = moments.scalar()
        mean_per_bin, std_per_bin = moments.per_bin()
        record = {
            "identity": identity,
            "key": key,
            "clips": moments.clips,
            "frames_per_bin": moments.count,
            "mean": mean,
            "std": std,
            "mean_per_bin": mean_per_bin.tolist(),
            "std_per_bin": std_per_bin.tolist(),
        }
        atomic_write_json(path, record)
    if per_bin:
        # Through float64, as compute_statistics converts them, so both give identical tensors.
        mean_per_bin = torch.tensor(record["mean_per_bin"], dtype=torch.float64)
        std_per_bin = torch.tensor(record["std_per_bin"], dtype=torch.float64)
        return _to_output_types((mean_per_bin, std_per_bin))
    return float(record["mean"]), float(record["std"])
