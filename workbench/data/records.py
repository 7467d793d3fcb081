"""Typed records for clips, datasets and the files they download, and the dataset base class every
dataset derives from.

A dataset yields ``(waveform, target, meta)``:

- ``waveform``: ``torch.float32`` tensor ``(channels, samples)`` at ``dataset.sample_rate``;
- ``target``: an ``int`` class index (``target_kind == "class"``), a float multi-hot tensor
  ``(n_classes,)`` (``"multilabel"``), or a waveform tensor ``(channels, samples)`` (``"waveform"``,
  separation);
- ``meta``: a plain ``dict`` with at least ``"id"`` and, where the dataset has them, ``"fold"``,
  ``"split"``, ``"path"`` and any per-clip factors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal

import torch

from workbench.data.fingerprint import subset_fingerprint
from workbench.typing import SampleRate, Seconds

TargetKind = Literal["class", "multilabel", "waveform"]


@dataclass(frozen=True)
class ClipRecord:
    """One clip as a dataset's metadata lists it, before any audio is read."""

    id: str
    path: Path | None
    target: int | tuple[int, ...] | None
    fold: int | None = None
    split: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class RemoteFile:
    """A file to download: where from, what it must hash to, and the name it is stored under.

    Args:
        url: ``https://``, ``http://`` or ``file://`` address.
        sha256: the published SHA-256 hex digest; None where no checksum is published, in which case
            the caller verifies the contents another way (e.g. a dataset's expected clip count).
        filename: the name the file is stored under in the download folder.
        size_bytes: the published size, checked when ``sha256`` is None and shown in messages.
    """

    url: str
    sha256: str | None
    filename: str
    size_bytes: int | None = None

    def __post_init__(self) -> None:
        if self.sha256 is not None and (
            len(self.sha256) != 64 or any(c not in "0123456789abcdef" for c in self.sha256)
        ):
            raise ValueError(f"{self.filename}: sha256 must be 64 lower-case hex digits, got {self.sha256!r}")
        if not self.filename or PurePosixPath(self.filename).name != self.filename:
            raise ValueError(f"filename must be a bare file name, got {self.filename!r}")


@dataclass(frozen=True)
class DatasetInfo:
    """What a registry entry says about a dataset, for listings and for the 'how to obtain it' message."""

    name: str
    description: str
    sample_rate: SampleRate
    target_kind: TargetKind
    url: str | None = None
    licence: str | None = None
    obtain: str = ""
    """Human instructions for getting the files when they are absent (printed in the error)."""
    remotes: tuple[RemoteFile, ...] = ()
    """Archives that :func:`workbench.data.download.download_dataset` fetches and extracts."""
    folder: str = ""
    """The folder under the data root where the dataset lives (and where a download puts it)."""
    expected_clips: int | None = None
    """Clips a complete copy holds; checked after a download (stands in where no sha256 is published)."""
    expected_folds: tuple[tuple[int, int], ...] = ()
    """``(fold, clips)`` of a complete copy, from the official metadata, where the dataset has folds."""
    expected_splits: tuple[tuple[str, int], ...] = ()
    """``(split, clips)`` of a complete copy, from the official metadata, where the dataset has splits."""


class AudioDataset(torch.utils.data.Dataset):
    """Base of every dataset: ``len``, indexing to ``(waveform, target, meta)``, and metadata.

    Subclasses set ``sample_rate``, ``target_kind``, ``classes`` (names in target order; empty for
    waveform targets) and implement ``__len__`` and ``__getitem__``. ``folds`` lists fold numbers where
    the dataset defines official folds; ``fold_of(i)``/``split_of(i)`` must then work without reading audio.
    """

    sample_rate: SampleRate
    target_kind: TargetKind = "class"
    classes: Sequence[str] = ()
    folds: Sequence[int] = ()
    duration: Seconds | None = None
    """Clip length in seconds when every clip has the same length, else None."""

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def fold_of(self, index: int) -> int | None:
        return None

    def split_of(self, index: int) -> str | None:
        return None

    def group_of(self, index: int) -> str | None:
        """The clip's source group (the recording it was cut from, its speaker), for grouped k-fold:
        clips of one group never sit on both sides of a split. None where the dataset knows none."""
        return None

    def targets(self) -> list[Any]:
        """Every clip's target without reading audio, where the dataset can (class/multilabel)."""
        raise NotImplementedError(f"{type(self).__name__} cannot list targets without loading audio")

    def clip_ids(self) -> list[str]:
        """Every clip's id (``meta["id"]``) in index order, without reading or rendering audio.

        Raises:
            NotImplementedError: the dataset cannot list its ids without its items.
        """
        raise NotImplementedError(f"{type(self).__name__} cannot list its clip ids without loading audio")

    def fingerprint(self) -> dict[str, Any]:
        """A plain, JSON-able description of the data this dataset reads, cheap to compute (no audio is
        read): what a run id and an embedding cache key hash, so that changed data is a new run.

        File datasets give their files' sizes and modification times, the synthetic views their seed
        and parameters. This default (class, ``repr`` and length) is all a dataset that overrides
        nothing can say; override it where the data can change under the same ``repr``.
        """
        return {"class": _qualified_name(self), "repr": repr(self), "clips": len(self)}

    def __len__(self) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def __getitem__(self, index: int) -> tuple[torch.Tensor, Any, dict[str, Any]]:  # pragma: no cover
        raise NotImplementedError

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(clips={len(self)}, sample_rate={self.sample_rate}, "
            f"target_kind={self.target_kind!r}, classes={self.n_classes})"
        )


class Subset(AudioDataset):
    """A view on some indices of another dataset that keeps its metadata (sample rate, classes...)."""

    def __init__(self, dataset: AudioDataset, indices: Sequence[int]):
        self.dataset = dataset
        self.indices = list(indices)
        self.sample_rate = dataset.sample_rate
        self.target_kind = dataset.target_kind
        self.classes = dataset.classes
        self.folds = dataset.folds
        self.duration = dataset.duration

    def fold_of(self, index: int) -> int | None:
        return self.dataset.fold_of(self.indices[index])

    def split_of(self, index: int) -> str | None:
        return self.dataset.split_of(self.indices[index])

    def group_of(self, index: int) -> str | None:
        return self.dataset.group_of(self.indices[index])

    def targets(self) -> list[Any]:
        all_targets = self.dataset.targets()
        return [all_targets[i] for i in self.indices]

    def clip_ids(self) -> list[str]:
        parent_ids = self.dataset.clip_ids()
        return [parent_ids[i] for i in self.indices]

    def fingerprint(self) -> dict[str, Any]:
        return subset_fingerprint(self.dataset, self.indices)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int):
        return self.dataset[self.indices[index]]


def _qualified_name(value: Any) -> str:
    return f"{type(value).__module__}.{type(value).__qualname__}"


def collate_clips(batch: Sequence[tuple[torch.Tensor, Any, dict[str, Any]]]):
    """DataLoader collate for ``(waveform, target, meta)`` items of equal length.

    Returns ``(waveforms (B, channels, samples), targets, metas)``: targets stacked into a tensor
    (``(B,)`` ints, ``(B, C)`` multi-hot, or ``(B, sources, samples)`` waveforms) and ``metas`` kept as a
    list of dicts, since their fields (event lists, paths) differ in length from clip to clip.

    Raises:
        ValueError: clips of different shapes (crop or pad them first), naming the two shapes.
    """
    waveforms = [item[0] for item in batch]
    shapes = {tuple(w.shape) for w in waveforms}
    if len(shapes) > 1:
        raise ValueError(f"cannot batch clips of different shapes {sorted(shapes)[:2]}; crop or pad them first")
    targets = [item[1] for item in batch]
    if isinstance(targets[0], torch.Tensor):
        stacked_targets = torch.stack(targets)
    else:
        stacked_targets = torch.as_tensor(targets)
    return torch.stack(waveforms), stacked_targets, [item[2] for item in batch]
