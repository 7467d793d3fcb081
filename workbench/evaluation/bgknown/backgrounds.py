"""Long backgrounds in disjoint training and test pools: clips of several datasets as one pool
(:class:`BackgroundPool`), split by recording, recorded ambiences and babble, or your own folder."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from workbench.audio.io import resample
from workbench.data.records import AudioDataset, Subset

RECORDED_BACKGROUND_CATEGORIES: tuple[str, ...] = (
    "rain", "sea_waves", "crackling_fire", "chainsaw", "helicopter", "clock_tick",
)  # fmt: skip
"""The ESC-10 categories that serve as recorded backgrounds (the others are foreground events)."""


def _mono(waveform: torch.Tensor) -> torch.Tensor:
    waveform = torch.as_tensor(waveform, dtype=torch.float32)
    return waveform.mean(dim=0) if waveform.ndim == 2 else waveform


class BackgroundPool(AudioDataset):
    """Clips of several datasets as one pool of backgrounds, at one sample rate, mono.

    Args:
        parts: ``(name, dataset, indices)``; ``name`` prefixes each clip's recording (its group).
        sample_rate: the pool's rate (each clip is resampled to it).

    Items: ``(waveform (1, samples), 0, meta)``; meta has ``id`` and ``recording``.
    """

    # The module it had before the package split: a dataset's class name enters run ids and cache keys.
    __module__ = "workbench.evaluation.bgknown"

    target_kind = "class"
    classes = ("background",)

    def __init__(self, parts: Sequence[tuple[str, AudioDataset, Sequence[int]]], sample_rate: int):
        self.sample_rate = int(sample_rate)
        self.entries = [(name, dataset, int(index)) for name, dataset, indices in parts for index in indices]

    def __len__(self) -> int:
        return len(self.entries)

    def __repr__(self) -> str:
        names = sorted({name for name, _, _ in self.entries})
        return f"BackgroundPool(clips={len(self)}, parts={names}, sample_rate={self.sample_rate})"

    def group_of(self, index: int) -> str:
        name, dataset, inner = self.entries[index]
        group = dataset.group_of(inner)
        return f"{name}:{group}" if group is not None else f"{name}:clip{inner}"

    def targets(self) -> list[int]:
        return [0] * len(self)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int, dict[str, Any]]:
        name, dataset, inner = self.entries[index]
        waveform, _, meta = dataset[inner]
        audio = resample(_mono(waveform), dataset.sample_rate, self.sample_rate)
        return audio[None], 0, {"id": f"{name}:{meta.get('id', inner)}", "recording": self.group_of(index)}


def split_by_recording(
    dataset: AudioDataset, test_share: float = 0.4, seed: int = 0
) -> dict[str, list[int]]:
    """Indices of ``dataset`` split into ``"train"`` and ``"test"`` by recording (``group_of``, else each
    clip its own), so no recording has clips in both; per class where the targets are classes, so both
    pools hold every kind of background that has two recordings or more.

    Raises:
        ValueError: ``test_share`` outside (0, 1), or fewer than two recordings.
    """
    if not 0.0 < test_share < 1.0:
        raise ValueError(f"test_share must lie in (0, 1), got {test_share!r}")
    groups = [dataset.group_of(index) or f"clip{index}" for index in range(len(dataset))]
    try:
        labels = [int(target) for target in dataset.targets()] if dataset.target_kind == "class" else None
    except (NotImplementedError, TypeError):
        labels = None
    labels = labels or [0] * len(dataset)
    label_of: dict[str, int] = {}
    for group, label in zip(groups, labels):
        label_of.setdefault(group, label)  # a recording's kind: that of its first clip
    by_class: dict[int, list[str]] = {}
    for group, label in label_of.items():
        by_class.setdefault(label, []).append(group)
    if len(set(groups)) < 2:
        raise ValueError(f"{dataset!r} has {len(set(groups))} recording(s); two pools need at least two")
    rng = np.random.default_rng([seed, 0xB6])
    test_groups: set[str] = set()
    for label in sorted(by_class):
        members = sorted(by_class[label])
        if len(members) < 2:
            continue  # a single recording of this kind stays in the training pool
        order = rng.permutation(len(members))
        count = min(len(members) - 1, max(1, round(test_share * len(members))))
        test_groups.update(members[position] for position in order[:count])
    return {
        "train": [index for index, group in enumerate(groups) if group not in test_groups],
        "test": [index for index, group in enumerate(groups) if group in test_groups],
    }


class RecordedBabble(AudioDataset):
    """Babble of two or three distinct voices assembled from recorded utterances (e.g. FSDD digits).

    Each clip draws its talkers from ``speakers`` and lays each talker's utterances (random takes of that
    speaker) one after another with pauses of 0.1-0.8 s, so who speaks changes over time.

    Args:
        utterances: a dataset whose ``meta["speaker"]`` names the talker (FSDD).
        speakers: the talkers this pool may use (pools get disjoint speakers).
        n_clips, duration, sample_rate, seed: size, length and rate of the clips; the random key.

    Items: ``(waveform (1, samples), 0, meta)``; meta has ``id``, ``speakers`` and ``recordings`` (the
    utterance ids used). ``group_of(i)`` names the talkers.
    """

    # The module it had before the package split: a dataset's class name enters run ids and cache keys.
    __module__ = "workbench.evaluation.bgknown"

    target_kind = "class"
    classes = ("babble",)

    def __init__(
        self, utterances: AudioDataset, speakers: Sequence[str], n_clips: int = 6, duration: float = 5.0,
        sample_rate: int = 16000, seed: int = 0,
    ):  # fmt: skip
        self.utterances = utterances
        self.speakers = tuple(sorted(speakers))
        if not self.speakers:
            raise ValueError("RecordedBabble needs at least one speaker")
        self.by_speaker: dict[str, list[int]] = {speaker: [] for speaker in self.speakers}
        records = getattr(utterances, "records", None)
        for index in range(len(utterances)):
            speaker = records[index].extra.get("speaker") if records is not None else utterances[index][2].get("speaker")
            if speaker in self.by_speaker:
                self.by_speaker[speaker].append(index)
        empty = [speaker for speaker, indices in self.by_speaker.items() if not indices]
        if empty:
            raise ValueError(f"RecordedBabble: no utterances of speaker(s) {empty} in {utterances!r}")
        self.n_clips, self.duration, self.sample_rate, self.seed = int(n_clips), float(duration), int(sample_rate), seed

    def __len__(self) -> int:
        return self.n_clips

    def __repr__(self) -> str:
        return f"RecordedBabble(speakers={self.speakers}, n_clips={self.n_clips}, duration={self.duration})"

    def _talkers(self, index: int) -> tuple[np.random.Generator, list[str]]:
        rng = np.random.default_rng([self.seed, 0xBAB, index])
        count = min(len(self.speakers), int(rng.integers(2, 4)))
        return rng, sorted(rng.choice(self.speakers, size=count, replace=False).tolist())

    def group_of(self, index: int) -> str:
        return "babble:" + "+".join(self._talkers(index)[1])

    def targets(self) -> list[int]:
        return [0] * self.n_clips

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int, dict[str, Any]]:
        if not 0 <= index < self.n_clips:
            raise IndexError(f"index {index} out of range for {self.n_clips} babble clips")
        rng, talkers = self._talkers(index)
        n = int(round(self.duration * self.sample_rate))
        out = torch.zeros(n)
        used = []
        for talker in talkers:
            gain = float(10 ** (rng.uniform(-6.0, 0.0) / 20))
            position = int(rng.uniform(-0.3, 0.5) * self.sample_rate)
            while position < n:
                choice = int(rng.choice(self.by_speaker[talker]))
                waveform, _, meta = self.utterances[choice]
                used.append(str(meta.get("id", choice)))
                word = resample(_mono(waveform), self.utterances.sample_rate, self.sample_rate)
                word = word / word.pow(2).mean().sqrt().clamp_min(1e-8)
                start, end = max(0, position), min(n, position + word.shape[-1])
                if end > start:
                    out[start:end] += gain * word[start - position : end - position]
                position += word.shape[-1] + int(rng.uniform(0.1, 0.8) * self.sample_rate)
        out = 0.05 * out / out.pow(2).mean().sqrt().clamp_min(1e-8)
        meta = {"id": f"babble-{'+'.join(talkers)}-{index:03d}", "speakers": talkers, "recordings": used}
        return out[None], 0, meta


def recorded_background_pools(
    root: str | Path, *, test_share: float = 0.4, seed: int = 0, n_babble: int = 6, sample_rate: int = 16000,
    categories: Sequence[str] = RECORDED_BACKGROUND_CATEGORIES,
) -> dict[str, BackgroundPool]:  # fmt: skip
    """Real backgrounds in disjoint training and test pools: ESC-10 clips of ``categories`` (split by
    source recording, ``src_file``) and FSDD babble (the talkers split: the first two thirds of the
    sorted speakers train, the rest test). ``root`` is the data root holding ``esc10/`` and ``fsdd/``
    (e.g. ``../shared/data``); FSDD is skipped where it is absent. Clips are 5 s: a BgKnown crop of
    at most 2.5 s leaves room for the 0 % reference (pass ``clip_seconds`` to the builder).

    Raises:
        DatasetNotFoundError: no ESC-10 under ``root``.
        ValueError: a category ESC-10 lacks.
    """
    from workbench import data
    from workbench.errors import DatasetNotFoundError

    esc10 = data.get("esc10", root=root, sample_rate=sample_rate)
    unknown = sorted(set(categories) - set(esc10.classes))
    if unknown:
        raise ValueError(f"ESC-10 has no categor{'y' if len(unknown) == 1 else 'ies'} {unknown}; it has {list(esc10.classes)}")
    wanted = {esc10.classes.index(category) for category in categories}
    chosen = [index for index, target in enumerate(esc10.targets()) if target in wanted]
    ambience = Subset(esc10, chosen)
    split = split_by_recording(ambience, test_share, seed)
    parts: dict[str, list[tuple[str, AudioDataset, Sequence[int]]]] = {
        pool: [("esc10", ambience, indices)] for pool, indices in split.items()
    }
    try:
        fsdd = data.get("fsdd", root=root)
    except DatasetNotFoundError:
        fsdd = None
    if fsdd is not None and n_babble > 0:
        speakers = sorted(fsdd.speakers)
        cut = max(1, round(len(speakers) * (1 - test_share)))
        for pool, talkers in (("train", speakers[:cut]), ("test", speakers[cut:])):
            if talkers:
                babble = RecordedBabble(fsdd, talkers, n_clips=n_babble, sample_rate=sample_rate, seed=seed)
                parts[pool].append(("fsdd-babble", babble, range(n_babble)))
    return {pool: BackgroundPool(pool_parts, sample_rate) for pool, pool_parts in parts.items()}


def folder_background_pools(
    path: str | Path, *, test_share: float = 0.4, seed: int = 0
) -> dict[str, BackgroundPool]:
    """Your own long recordings (a ``folder`` dataset: audio files under ``path``) as disjoint pools,
    split by file (or by the folder dataset's groups)."""
    from workbench import data

    recordings = data.get("folder", path=str(path))
    split = split_by_recording(recordings, test_share, seed)
    return {pool: BackgroundPool([("folder", recordings, indices)], recordings.sample_rate)
            for pool, indices in split.items()}  # fmt: skip
