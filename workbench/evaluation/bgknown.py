"""BgKnown: sound events over a known background, the difference-aware evaluation of Takeuchi et al.

"Towards Learning a Difference-Aware General-Purpose Audio Representation" evaluates whether a
representation ``f`` can remove a background it is given: a labelled clip is mixed with a crop of a
long background recording at a random SNR in [0, 3] dB, and a reference crop of the same background is
known. The difference ``y_diff = f(mixture) - f(reference)`` should carry the foreground's class,
better the more the reference overlaps the crop in the mixture: the same crop (100 %), a crop shifted
by half its length (50 %), or the next, non-overlapping stretch (0 %: only the background's kind is
known). Table 1 of the paper scores a linear classifier on ``y_diff`` for the three references, and
on ``y_mix = f(mixture)``.

:class:`BgKnownBuilder` makes the items from any labelled dataset and any dataset of long backgrounds
(ESC-50 and recorded ambiences, or the synthetic world's events and ``"synthetic-backgrounds"``):
item ``i`` draws its background, crop position and SNR from ``numpy.random.default_rng([seed, i])``,
so it is the same audio in any order. :meth:`BgKnownBuilder.view` exposes the mixtures, references and
foregrounds as datasets (ids, targets and folds of the labelled clips) for any tool that takes one;
:func:`bgknown_embeddings` embeds every item's parts in one pass and returns the ``y_mix`` and
``y_diff`` tables ready for :func:`~workbench.evaluation.linear.linear_evaluation`.

Backgrounds come in two pools, as in the paper (FSD50K dev for training items, eval for test items):
pass ``backgrounds={"train": ..., "test": ...}`` and the items of ``test_folds`` draw from the test
pool only. ``per_item=True`` gives every item a background of its own (the synthetic long
backgrounds of :mod:`workbench.data.synthetic.backgrounds`, rendered from disjoint seeds);
:func:`recorded_background_pools` splits the real recordings (ESC-10 ambiences, FSDD babble) by
recording, :func:`split_by_recording` does the same for any dataset, e.g. a ``folder`` of your own
long recordings.

The paper's protocol (Sec. 5.2) is :class:`BgKnownProtocol`: folds 1-3 train, 4-5 test, one linear
layer on ``y_diff`` for at most 200 epochs with early stopping on the validation LOSS (10 % of the
training items), Adam at 1e-3, three probe seeds. :func:`probe_bgknown` returns every test item's
correctness per probe seed, so two encoders are compared on the same items with
:func:`compare_bgknown` (a paired bootstrap over items, :func:`~workbench.evaluation.stats.compare_paired_items`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from workbench.audio.io import resample
from workbench.data.records import AudioDataset, Subset
from workbench.data.synthetic.views import crop_with_overlap
from workbench.errors import AudioError, UnknownNameError
from workbench.evaluation.embeddings import Embeddings
from workbench.evaluation.linear import LinearEvalConfig, ProbeSpec, train_linear_batched
from workbench.evaluation.protocols import carve_validation
from workbench.evaluation.stats import Comparison, compare_paired_items
from workbench.models.base import Encoder

OVERLAPS: tuple[float, ...] = (1.0, 0.5, 0.0)
"""Shares of the mixture's background crop that the three references repeat (Table 1's columns)."""
SNR_RANGE_DB: tuple[float, float] = (0.0, 3.0)
"""Foreground-to-background ratio of the mixtures, drawn uniformly per item (Sec. 5.2: "a random SNR
between 0 to 3 dB")."""
TRAIN_FOLDS: tuple[int, ...] = (1, 2, 3)
TEST_FOLDS: tuple[int, ...] = (4, 5)
"""Sec. 5.2: "we assigned 1, 2, and 3 to the training set (1200 files) and 4 and 5 to the test set (800 files)"."""
RECORDED_BACKGROUND_CATEGORIES: tuple[str, ...] = (
    "rain", "sea_waves", "crackling_fire", "chainsaw", "helicopter", "clock_tick",
)  # fmt: skip
"""The ESC-10 categories that serve as recorded backgrounds (the others are foreground events)."""
SILENT_CROP = 1e-3
"""A background crop with less than this share of its recording's mean power is drawn again."""
SILENT_CROP_ATTEMPTS = 32
BACKGROUND_CACHE = 64
"""Backgrounds a builder keeps in memory (per-item synthetic pools are rendered again on a miss)."""


def overlap_name(overlap: float) -> str:
    """``"diff-100"`` for overlap 1.0, ``"diff-50"`` for 0.5, ``"diff-0"`` for 0.0: the table's column keys."""
    return f"diff-{round(100 * overlap)}"


def _mono(waveform: torch.Tensor) -> torch.Tensor:
    waveform = torch.as_tensor(waveform, dtype=torch.float32)
    return waveform.mean(dim=0) if waveform.ndim == 2 else waveform


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


# --------------------------------------------------------------------------------------------------
# Recorded backgrounds in disjoint pools


class BackgroundPool(AudioDataset):
    """Clips of several datasets as one pool of backgrounds, at one sample rate, mono.

    Args:
        parts: ``(name, dataset, indices)``; ``name`` prefixes each clip's recording (its group).
        sample_rate: the pool's rate (each clip is resampled to it).

    Items: ``(waveform (1, samples), 0, meta)``; meta has ``id`` and ``recording``.
    """

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


# --------------------------------------------------------------------------------------------------
# The paper's protocol: probe on y_diff, early stopping on the validation loss, paired comparison


@dataclass(frozen=True)
class BgKnownProtocol:
    """BgKnown linear evaluation as Sec. 5.2 of the paper describes it.

    Defaults: training folds 1-3, test folds 4-5; one linear layer, at most 200 epochs, early stopping
    on the validation LOSS with patience 20 (BYOL-A's linear evaluation, which the paper follows) and the
    best-loss weights restored; 10 % of the training items for validation; Adam at 1e-3; three probe
    seeds ("we ran the experiments with different random seeds three times"). The batch size is not
    given in the paper; 128 as the workbench's linear evaluation.

    Raises:
        ValueError: a setting outside its range, or folds on both sides.
    """

    train_folds: tuple[int, ...] = TRAIN_FOLDS
    test_folds: tuple[int, ...] = TEST_FOLDS
    max_epochs: int = 200
    patience: int = 20
    valid_fraction: float = 0.1
    lr: float = 1e-3
    batch_size: int = 128
    probe_seeds: tuple[int, ...] = (0, 1, 2)

    def __post_init__(self) -> None:
        checks = {
            "max_epochs": self.max_epochs >= 1, "patience": self.patience >= 1, "lr": self.lr > 0,
            "batch_size": self.batch_size >= 1, "valid_fraction": 0 < self.valid_fraction < 1,
            "probe_seeds": len(self.probe_seeds) >= 1, "train_folds": len(self.train_folds) >= 1,
            "test_folds": len(self.test_folds) >= 1,
        }  # fmt: skip
        for name, valid in checks.items():
            if not valid:
                raise ValueError(f"BgKnownProtocol.{name} is out of range: {getattr(self, name)!r}")
        shared = sorted(set(self.train_folds) & set(self.test_folds))
        if shared:
            raise ValueError(f"BgKnownProtocol: fold(s) {shared} are both training and test folds")

    def config(self) -> LinearEvalConfig:
        """The workbench's linear-probe settings that train this protocol's probe: stopping on the
        validation loss (``monitor="loss"``), no weight decay, no hidden layer."""
        return LinearEvalConfig(lr=self.lr, batch_size=self.batch_size, max_epochs=self.max_epochs,
                                patience=self.patience, valid_fraction=self.valid_fraction, monitor="loss")  # fmt: skip


@dataclass
class BgKnownScores:
    """Per-item results of one table under :class:`BgKnownProtocol`.

    Attributes:
        ids: ``(items,)`` the test items, in table order.
        correct: ``(probe seeds, items)`` bool, whether each seed's probe classified each item correctly.
        accuracy: ``(probe seeds,)`` test accuracy per seed.
        epochs: epochs each seed's probe trained; ``best_epochs`` the restored (lowest validation loss) ones.
    """

    ids: np.ndarray
    correct: np.ndarray
    accuracy: np.ndarray
    epochs: tuple[int, ...]
    best_epochs: tuple[int, ...]

    @property
    def mean(self) -> float:
        return float(self.accuracy.mean())


def protocol_rows(table: Embeddings, protocol: BgKnownProtocol) -> tuple[np.ndarray, np.ndarray]:
    """Training and test rows of a table by fold.

    Raises:
        ValueError: a table without folds, or without items in the training or the test folds.
    """
    if table.folds is None:
        raise ValueError("the BgKnown protocol splits by fold; these embeddings have no folds")
    rows = np.arange(len(table))
    train = rows[np.isin(table.folds, protocol.train_folds)]
    test = rows[np.isin(table.folds, protocol.test_folds)]
    if len(train) < 2 or len(test) == 0:
        raise ValueError(
            f"the BgKnown protocol needs items in training folds {protocol.train_folds} and test folds "
            f"{protocol.test_folds}; the table has folds {sorted(set(table.folds.tolist()))}"
        )
    return train, test


def probe_bgknown(table: Embeddings, protocol: BgKnownProtocol | None = None) -> BgKnownScores:
    """Train one probe per seed on the training folds (validation carved per seed, grouped by source
    recording where the table has groups) and score each test item."""
    protocol = protocol or BgKnownProtocol()
    train, test = protocol_rows(table, protocol)
    n_classes = max(int(table.targets.max()) + 1, len(table.classes))
    specs = []
    for seed in protocol.probe_seeds:
        fit, valid = carve_validation(train, table.targets, groups=table.groups, fraction=protocol.valid_fraction,
                                      seed=seed)  # fmt: skip
        specs.append(ProbeSpec(train=fit, valid=valid, seed=seed, lr=protocol.lr, test=test))
    # Every seed's probe trained at once: the batched engine equals train_linear with the same config
    # (one probe at a time) within float rounding.
    outcomes = train_linear_batched(table.features, table.targets, specs, protocol.config(), n_classes=n_classes)
    correct = [outcome.test_logits.argmax(axis=1) == table.targets[test] for outcome in outcomes]
    epochs = [outcome.epochs for outcome in outcomes]
    best = [outcome.best_epoch for outcome in outcomes]
    correct_array = np.asarray(correct, dtype=bool)
    return BgKnownScores(np.asarray(table.ids)[test], correct_array, correct_array.mean(axis=1), tuple(epochs), tuple(best))


def compare_bgknown(
    treatment: BgKnownScores | Sequence[BgKnownScores], control: BgKnownScores | Sequence[BgKnownScores],
    *, direction: int = 1, seed: int = 0,
) -> Comparison:  # fmt: skip
    """Paired comparison of two encoders on the SAME BgKnown test items: each item's correctness, averaged
    over the paired runs (probe seeds, and the pre-training seeds when sequences are given, matched in
    order), compared with a paired bootstrap over items.

    Raises:
        ValueError: the two sides scored different items, or different numbers of runs.
    """
    treated = [treatment] if isinstance(treatment, BgKnownScores) else list(treatment)
    controlled = [control] if isinstance(control, BgKnownScores) else list(control)
    if len(treated) != len(controlled) or not treated:
        raise ValueError(f"paired BgKnown comparison needs as many runs on each side, got {len(treated)} and {len(controlled)}")
    for one, other in zip(treated, controlled):
        if not np.array_equal(one.ids, other.ids) or one.correct.shape != other.correct.shape:
            raise ValueError("paired BgKnown comparison: the two encoders were not scored on the same test items")
        if not np.array_equal(one.ids, treated[0].ids):
            raise ValueError("paired BgKnown comparison: runs of one side were scored on different test items")
    return compare_paired_items(
        np.concatenate([scores.correct for scores in treated]).astype(float),
        np.concatenate([scores.correct for scores in controlled]).astype(float),
        direction=direction, seed=seed,
    )  # fmt: skip
