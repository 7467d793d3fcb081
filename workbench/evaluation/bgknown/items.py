"""Building the items: a labelled clip mixed with a crop of a long background at a drawn SNR, and the
references that overlap the crop (:class:`BgKnownBuilder`), and each part of them as a dataset
(:class:`BgKnownView`)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from workbench.audio.io import resample
from workbench.data.records import AudioDataset
from workbench.data.synthetic.views import crop_with_overlap
from workbench.errors import AudioError, UnknownNameError
from workbench.evaluation.bgknown.backgrounds import _mono
from workbench.evaluation.bgknown.protocol import OVERLAPS, SNR_RANGE_DB, TEST_FOLDS, overlap_name

SILENT_CROP = 1e-3
"""A background crop with less than this share of its recording's mean power is drawn again."""
SILENT_CROP_ATTEMPTS = 32
BACKGROUND_CACHE = 64
"""Backgrounds a builder keeps in memory (per-item synthetic pools are rendered again on a miss)."""


@dataclass(frozen=True)
class BgKnownItem:
    """One BgKnown example.

    Attributes:
        mixture: foreground plus the scaled background crop, ``(samples,)``.
        foreground: the labelled clip as mixed, ``(samples,)``.
        background: the scaled background crop inside the mixture, ``(samples,)``.
        references: overlap -> the scaled reference crop ``(samples,)`` (same gain as in the mixture).
        label: the foreground's class.
        snr_db: foreground-to-background power ratio of the mixture.
        background_index: which clip of the background dataset.
        start: first sample of the crop in that background.
        id: ``"bgknown-<foreground id>"``.
        pool: the background pool the item drew from (``"train"``, ``"test"``, or ``"all"``).
        background_id: the background clip's id; ``background_group`` the recording it came from.
    """

    mixture: torch.Tensor
    foreground: torch.Tensor
    background: torch.Tensor
    references: dict[float, torch.Tensor]
    label: int
    snr_db: float
    background_index: int
    start: int
    id: str
    pool: str = "all"
    background_id: str = ""
    background_group: str = ""


def _check_pools(backgrounds: AudioDataset | Mapping[str, AudioDataset]) -> dict[str, AudioDataset]:
    if isinstance(backgrounds, AudioDataset):
        pools = {"all": backgrounds}
    else:
        pools = dict(backgrounds)
        if set(pools) != {"train", "test"}:
            raise ValueError(
                f"background pools must be a dataset or a mapping with the keys 'train' and 'test', got {sorted(pools)}"
            )
    for name, pool in pools.items():
        if len(pool) == 0:
            raise ValueError(f"the background pool {name!r} ({pool!r}) is empty")
    return pools


def _loudest_window(waveform: torch.Tensor, length: int) -> torch.Tensor:
    """The ``length``-sample stretch of ``waveform`` with the most energy (the whole clip if shorter)."""
    if waveform.shape[-1] <= length:
        return waveform
    energy = torch.cumsum(torch.nn.functional.pad(waveform.double().pow(2), (1, 0)), dim=-1)
    start = int(torch.argmax(energy[length:] - energy[:-length]))
    return waveform[start : start + length]


class BgKnownBuilder:
    """Mixtures of labelled clips with crops of long backgrounds, and their overlapping references.

    Args:
        foregrounds: a dataset with class targets (its folds/splits become the evaluation's).
        backgrounds: backgrounds at least twice as long as any foreground clip (the 0 % reference
            starts where the mixture's crop ends); resampled to the foregrounds' rate and mixed down
            to mono. One dataset (every item draws from it), or ``{"train": ..., "test": ...}``: items
            whose fold is in ``test_folds`` draw from the test pool, the others from the training pool.
        snr_db: ``(low, high)`` range of the SNR in dB.
        overlaps: the references to make, shares in [0, 1].
        seed: seeds every item's draws.
        test_folds: the folds whose items draw test backgrounds.
        per_item: give each item its own background: the ``k``-th item of a pool takes the pool's
            clip ``k`` (the pool needs a clip per item); otherwise each item draws one at random.
        clip_seconds: cut every foreground to its loudest stretch of this length (e.g. half of a
            5-s recorded background, so that the 0 % reference fits); None keeps the clips whole.

    Raises:
        ValueError: foregrounds without class targets, an empty background pool, pools without both
            keys, a pool smaller than its items with ``per_item``, a bad SNR range or overlap.
        AudioError: a background shorter than twice a foreground clip (at :meth:`item`), or a silent
            foreground or background (no SNR can be set).
    """

    def __init__(
        self,
        foregrounds: AudioDataset,
        backgrounds: AudioDataset,
        snr_db: tuple[float, float] = SNR_RANGE_DB,
        overlaps: Sequence[float] = OVERLAPS,
        seed: int = 0,
        *,
        test_folds: Sequence[int] = TEST_FOLDS,
        per_item: bool = False,
        clip_seconds: float | None = None,
    ):
        if foregrounds.target_kind != "class":
            raise ValueError(
                f"BgKnown needs single-label foregrounds (target_kind 'class'), got {foregrounds.target_kind!r} "
                f"from {type(foregrounds).__name__}"
            )
        pools = _check_pools(backgrounds)
        low, high = (float(value) for value in snr_db)
        if not low <= high:
            raise ValueError(f"snr_db must be (low, high) with low <= high, got {snr_db!r}")
        for overlap in overlaps:
            if not 0.0 <= overlap <= 1.0:
                raise ValueError(f"overlaps must be shares in [0, 1], got {overlap!r}")
        self.foregrounds = foregrounds
        self.sample_rate = foregrounds.sample_rate
        self.snr_db = (low, high)
        self.overlaps = tuple(float(overlap) for overlap in overlaps)
        self.seed = int(seed)
        self.pools = pools
        self.test_folds = tuple(int(fold) for fold in test_folds)
        self.per_item = bool(per_item)
        if clip_seconds is not None and not clip_seconds > 0:
            raise ValueError(f"clip_seconds must be positive seconds or None, got {clip_seconds!r}")
        self.clip_samples = None if clip_seconds is None else int(round(clip_seconds * self.sample_rate))
        self.backgrounds_name = repr(backgrounds) if isinstance(backgrounds, AudioDataset) else repr(pools)
        self._cache: OrderedDict[tuple[str, int], tuple[torch.Tensor, str, str]] = OrderedDict()
        self._pool_of = [self._pool_name(index) for index in range(len(foregrounds))]
        self._rank: list[int] = []
        counts: dict[str, int] = {}
        for pool in self._pool_of:
            self._rank.append(counts.get(pool, 0))
            counts[pool] = counts.get(pool, 0) + 1
        if self.per_item:
            for pool, count in counts.items():
                if len(pools[pool]) < count:
                    raise ValueError(
                        f"per_item backgrounds: the {pool!r} pool has {len(pools[pool])} backgrounds for {count} "
                        f"items; make the pool at least that large (n_clips) or pass per_item=False"
                    )

    def _pool_name(self, index: int) -> str:
        if "all" in self.pools:
            return "all"
        return "test" if self.foregrounds.fold_of(index) in self.test_folds else "train"

    def pool_of(self, index: int) -> str:
        """The background pool item ``index`` draws from."""
        return self._pool_of[index]

    def background(self, pool: str, index: int) -> tuple[torch.Tensor, str, str]:
        """Background ``index`` of ``pool``: ``(mono waveform at the builder's rate, clip id, recording)``."""
        key = (pool, int(index))
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        dataset = self.pools[pool]
        waveform, _, meta = dataset[int(index)]
        clip_id = str(meta.get("id", f"{pool}-{index}"))
        group = dataset.group_of(int(index))
        entry = (resample(_mono(waveform), dataset.sample_rate, self.sample_rate), clip_id, group or clip_id)
        self._cache[key] = entry
        if len(self._cache) > BACKGROUND_CACHE:
            self._cache.popitem(last=False)
        return entry

    def background_sources(self) -> dict[str, set[str]]:
        """Pool -> the recordings (source groups, or clip ids) its items can draw, without reading audio
        where the pool knows its groups."""
        sources: dict[str, set[str]] = {}
        for pool, dataset in self.pools.items():
            names = set()
            for index in range(len(dataset)):
                group = dataset.group_of(index)
                names.add(group if group is not None else self.background(pool, index)[1])
            sources[pool] = names
        return sources

    @property
    def classes(self) -> Sequence[str]:
        return self.foregrounds.classes

    def __len__(self) -> int:
        return len(self.foregrounds)

    def __repr__(self) -> str:
        return (
            f"BgKnownBuilder(foregrounds={self.foregrounds!r}, backgrounds={self.backgrounds_name}, "
            f"snr_db={self.snr_db}, overlaps={self.overlaps}, seed={self.seed})"
        )

    def item(self, index: int) -> BgKnownItem:
        """The ``index``-th example (deterministic in ``seed`` and ``index``)."""
        waveform, label, meta = self.foregrounds[index]
        foreground = _mono(waveform)
        if self.clip_samples is not None:
            foreground = _loudest_window(foreground, self.clip_samples)
        length = foreground.shape[-1]
        rng = np.random.default_rng([self.seed, int(index)])
        pool = self._pool_of[index]
        drawn = int(rng.integers(len(self.pools[pool])))  # drawn in both modes: the stream stays the same
        background_index = self._rank[index] if self.per_item else drawn
        background, background_id, background_group = self.background(pool, background_index)
        room = background.shape[-1] - 2 * length  # the 0 % reference ends one crop length later
        if room < 0:
            raise AudioError(
                f"background {background_id!r} has {background.shape[-1]} samples; BgKnown needs at least "
                f"{2 * length} (twice the {length}-sample clip {meta.get('id', index)!r}) for the 0 % reference"
            )
        start = int(rng.integers(room + 1))
        snr_db = float(rng.uniform(*self.snr_db))
        crop = background[start : start + length]
        foreground_power, crop_power = float(foreground.pow(2).mean()), float(crop.pow(2).mean())
        # Recordings may hold digital silence (ESC-50 pads short sounds with zeros): a crop far quieter
        # than its recording is drawn again, from a stream of its own, so the other items stay the same.
        floor = SILENT_CROP * float(background.pow(2).mean())
        for attempt in range(SILENT_CROP_ATTEMPTS):
            if crop_power > floor:
                break
            start = int(np.random.default_rng([self.seed, int(index), attempt + 1]).integers(room + 1))
            crop = background[start : start + length]
            crop_power = float(crop.pow(2).mean())
        if foreground_power <= 0 or crop_power <= 0:
            silent = f"clip {meta.get('id', index)!r}" if foreground_power <= 0 else f"background {background_id!r}"
            raise AudioError(f"BgKnown cannot set an SNR: {silent} is silent over the crop")
        gain = float(np.sqrt(foreground_power / (crop_power * 10 ** (snr_db / 10))))
        references = {
            overlap: gain * crop_with_overlap(background, start, length, overlap)[1] for overlap in self.overlaps
        }
        return BgKnownItem(
            mixture=foreground + gain * crop,
            foreground=foreground,
            background=gain * crop,
            references=references,
            label=int(label),
            snr_db=snr_db,
            background_index=background_index,
            start=start,
            id=f"bgknown-{meta.get('id', index)}",
            pool=pool,
            background_id=background_id,
            background_group=background_group,
        )

    def view(self, part: str) -> BgKnownView:
        """The dataset of one part of every item: ``"mixture"``, ``"foreground"``, ``"background"`` or
        ``overlap_name(overlap)`` (``"diff-100"`` ...) for a reference.

        Raises:
            UnknownNameError: another part.
        """
        return BgKnownView(self, part)

    def parts(self) -> list[str]:
        return ["mixture", "foreground", "background", *(overlap_name(overlap) for overlap in self.overlaps)]


class BgKnownView(AudioDataset):
    """One part of every :class:`BgKnownBuilder` item as a dataset: ``(waveform (1, samples), label, meta)``.

    Ids are ``"<item id>-<part>"``; targets, folds and splits are the foregrounds'.
    """

    # The module it had before the package split: a dataset's class name enters run ids and cache keys.
    __module__ = "workbench.evaluation.bgknown"

    def __init__(self, builder: BgKnownBuilder, part: str):
        if part not in builder.parts():
            raise UnknownNameError("BgKnown part", part, builder.parts())
        self.builder = builder
        self.part = part
        self.sample_rate = builder.sample_rate
        self.target_kind = "class"
        self.classes = builder.foregrounds.classes
        self.folds = builder.foregrounds.folds
        self._overlap = {overlap_name(overlap): overlap for overlap in builder.overlaps}.get(part)

    def __len__(self) -> int:
        return len(self.builder)

    def __repr__(self) -> str:
        return f"BgKnownView(part={self.part!r}, builder={self.builder!r})"

    def fold_of(self, index: int) -> int | None:
        return self.builder.foregrounds.fold_of(index)

    def split_of(self, index: int) -> str | None:
        return self.builder.foregrounds.split_of(index)

    def group_of(self, index: int) -> str | None:
        return self.builder.foregrounds.group_of(index)

    def targets(self) -> list[Any]:
        return self.builder.foregrounds.targets()

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int, dict[str, Any]]:
        item = self.builder.item(index)
        if self._overlap is not None:
            waveform = item.references[self._overlap]
        else:
            waveform = {"mixture": item.mixture, "foreground": item.foreground, "background": item.background}[self.part]
        meta = {"id": f"{item.id}-{self.part}", "fold": self.fold_of(index), "split": self.split_of(index),
                "snr_db": item.snr_db, "pool": item.pool, "background": item.background_id,
                "recording": item.background_group}  # fmt: skip
        return waveform[None], item.label, meta
