"""What the recipe reads: the unlabeled pre-training clips (optionally over backgrounds) as log-mel crops,
the BgKnown items, and the general tasks' datasets."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from workbench import data
from workbench.audio.frontends import LogMelSpectrogram
from workbench.audio.io import resample
from workbench.data.fingerprint import dataset_fingerprint
from workbench.data.records import AudioDataset, Subset
from workbench.data.synthetic.backgrounds import LongBackgroundDataset
from workbench.evaluation.bgknown import BgKnownBuilder, BgKnownItem, folder_background_pools, recorded_background_pools
from workbench.recipes import base
from workbench.recipes.diff_byola.params import PRETRAIN_BACKGROUND_SEED, PRETRAIN_FIRST_CLIP, Params

# --------------------------------------------------------------------------------------------------
# Pre-training data


def pretraining_dataset(params: Params) -> AudioDataset | list[AudioDataset]:
    """The unlabeled clips: synthetic clips no evaluation uses, or the first clips of a registered dataset."""
    if params.pretrain_dataset == "synthetic":
        first, last = PRETRAIN_FIRST_CLIP, PRETRAIN_FIRST_CLIP + params.n_pretrain_clips
        clips: list[AudioDataset] = [
            Subset(data.get("synthetic", task=task, n_clips=last, seed=params.world_seed), range(first, last))
            for task in params.pretrain_tasks
        ]
    elif params.pretrain_dataset == "folder":  # your own audio: data_root is the folder
        dataset = data.get("folder", path=base.expand_shared(params.data_root) or None)
        clips = [Subset(dataset, range(min(len(dataset), params.n_pretrain_clips)))]
    else:
        dataset = data.get(params.pretrain_dataset, root=base.expand_shared(params.data_root) or None)
        clips = [Subset(dataset, range(min(len(dataset), params.n_pretrain_clips)))]
    if params.pretrain_backgrounds == "none":
        return clips[0] if len(clips) == 1 and params.pretrain_dataset != "synthetic" else clips
    backgrounds = pretraining_backgrounds(params)
    bank = BackgroundBank(backgrounds)  # the mixtures of every clip set share one rendered copy
    return [*(BackgroundMixtures(dataset, backgrounds, seed=params.world_seed, bank=bank) for dataset in clips),
            *backgrounds]


def pretraining_backgrounds(params: Params) -> list[AudioDataset]:
    """Backgrounds of the pre-training mixtures: synthetic long backgrounds of a seed no BgKnown pool uses,
    and/or the TRAINING pool of the recorded backgrounds (never a test recording). Each set is wrapped in
    :class:`RenderedOnce`, so every background is rendered (or read) once however many mixture sets and
    the clip list use it: at paper scale 2000 ten-second backgrounds, not once per task (issue 26)."""
    sets: list[AudioDataset] = []
    if params.pretrain_backgrounds in ("synthetic", "both"):
        sets.append(LongBackgroundDataset(params.world_seed + PRETRAIN_BACKGROUND_SEED, "train",
                                          params.n_pretrain_backgrounds, params.background_seconds))  # fmt: skip
    if params.pretrain_backgrounds in ("recorded", "both"):
        sets.append(recorded_background_pools(base.expand_shared(params.background_root), seed=params.world_seed)["train"])
    return [RenderedOnce(dataset) for dataset in sets]


class RenderedOnce(AudioDataset):
    """``dataset`` with each item rendered (or read) on its first request and kept: the same tensors
    for every later request. Its fingerprint is ``dataset``'s, so wrapping changes no run id."""

    def __init__(self, dataset: AudioDataset):
        self.dataset = dataset
        self.sample_rate, self.target_kind, self.classes = dataset.sample_rate, dataset.target_kind, dataset.classes
        self.folds, self.duration = dataset.folds, dataset.duration
        self._items: dict[int, tuple[torch.Tensor, Any, dict[str, Any]]] = {}

    def fingerprint(self) -> dict[str, Any]:
        return dataset_fingerprint(self.dataset)

    def fold_of(self, index: int) -> int | None:
        return self.dataset.fold_of(index)

    def split_of(self, index: int) -> str | None:
        return self.dataset.split_of(index)

    def group_of(self, index: int) -> str | None:
        return self.dataset.group_of(index)

    def targets(self) -> list[Any]:
        return self.dataset.targets()

    def clip_ids(self) -> list[str]:
        return self.dataset.clip_ids()

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, Any, dict[str, Any]]:
        index = int(index)
        if index not in self._items:
            self._items[index] = self.dataset[index]
        return self._items[index]

    def __repr__(self) -> str:
        return repr(self.dataset)


class BackgroundBank:
    """The mono waveforms of background datasets at a sample rate, rendered (or read) once on first use and
    shared by every :class:`BackgroundMixtures` given the bank: paper-scale's three clip sets (events, words,
    pitches) over 2,000 10-s backgrounds rendered them three times, 6,000 renders and three 1.3-GB copies."""

    def __init__(self, backgrounds: Sequence[AudioDataset]):
        self.backgrounds = list(backgrounds)
        self._loaded: dict[int, list[torch.Tensor]] = {}

    def waveforms(self, sample_rate: int) -> list[torch.Tensor]:
        """Every background clip, mono, at ``sample_rate``."""
        if sample_rate not in self._loaded:
            self._loaded[sample_rate] = [
                resample(_mono(dataset[index][0]), dataset.sample_rate, sample_rate)  # a view of a mono clip
                for dataset in self.backgrounds for index in range(len(dataset))
            ]  # fmt: skip
        return self._loaded[sample_rate]


class BackgroundMixtures(AudioDataset):
    """Each clip of ``clips`` over a random crop of a random background at an SNR of U(0, 6) dB: background-
    rich pre-training audio, as AudioSet clips are (the paper pre-trains on AudioSet, Sec. 5.1).

    The backgrounds are read once, on first use, into ``bank`` (shared with the other mixtures of the same
    backgrounds; a bank of its own without); the draws of clip ``i`` come from ``[seed, 0xB9, i]``.
    """

    target_kind = "class"

    # The class's name as it was when the recipe was one module: dataset fingerprints (and so the run
    # ids of pre-trainings over backgrounds) hash it. The package re-exports the class under this name.
    __module__ = "workbench.recipes.diff_byola"

    def __init__(self, clips: AudioDataset, backgrounds: Sequence[AudioDataset], snr_db: tuple[float, float] = (0.0, 6.0),
                 seed: int = 0, bank: BackgroundBank | None = None):  # fmt: skip
        if not backgrounds or not any(len(dataset) for dataset in backgrounds):
            raise ValueError("BackgroundMixtures needs at least one non-empty background dataset")
        self.clips, self.background_sets, self.snr_db, self.seed = clips, list(backgrounds), snr_db, seed
        self.sample_rate = clips.sample_rate
        self.classes = clips.classes
        self._bank = bank if bank is not None else BackgroundBank(backgrounds)

    def __len__(self) -> int:
        return len(self.clips)

    def _loaded(self) -> list[torch.Tensor]:
        return self._bank.waveforms(self.sample_rate)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, Any, dict[str, Any]]:
        waveform, target, meta = self.clips[index]
        clip = waveform.mean(dim=0)
        rng = np.random.default_rng([self.seed, 0xB9, int(index)])
        backgrounds = self._loaded()
        background = backgrounds[int(rng.integers(len(backgrounds)))]
        if background.shape[-1] < clip.shape[-1]:
            background = background.repeat(math.ceil(clip.shape[-1] / background.shape[-1]))
        start = int(rng.integers(background.shape[-1] - clip.shape[-1] + 1))
        crop = background[start : start + clip.shape[-1]]
        snr = float(rng.uniform(*self.snr_db))
        clip_power, crop_power = float(clip.pow(2).mean()), float(crop.pow(2).mean())
        gain = math.sqrt(clip_power / (crop_power * 10 ** (snr / 10))) if clip_power > 0 and crop_power > 0 else 0.0
        return (clip + gain * crop)[None], target, {**meta, "snr_db": snr}


def _mono(waveform: torch.Tensor) -> torch.Tensor:
    """``(channels, samples)`` -> ``(samples,)``: the one channel itself (a view), else the channels' mean."""
    return waveform[0] if waveform.shape[0] == 1 else waveform.mean(dim=0)


def recipe_frontend(params: Params) -> LogMelSpectrogram:
    """The log-mel front-end of pre-training and embedding: 16 kHz, hop 10 ms, ``n_mels`` mels, ``window_ms``
    window (FFT size the next power of two), ``f_min``-``f_max`` Hz."""
    window = int(round(params.window_ms * 16))
    n_fft = 1 << max(0, (window - 1).bit_length())
    return LogMelSpectrogram(n_fft=n_fft, win_length=window, hop_length=160, n_mels=params.n_mels, f_min=params.f_min,
                             f_max=params.f_max)  # fmt: skip


def log_mel_clips(
    datasets: AudioDataset | Sequence[AudioDataset], frontend: LogMelSpectrogram, min_frames: int, batch_size: int = 64
) -> list[torch.Tensor]:
    """Every clip's log-mel ``(n_mels, frames)``, mono, resampled to the front-end's rate, zero-padded to
    at least ``min_frames`` frames (as BYOL-A pads short clips to its unit length).

    Consecutive clips of equal length go through the front-end together, ``batch_size`` at a time.
    """
    datasets = [datasets] if isinstance(datasets, AudioDataset) else list(datasets)
    min_samples = (min_frames - 1) * frontend.hop_length
    clips: list[torch.Tensor] = []
    pending: list[torch.Tensor] = []

    def flush() -> None:
        if pending:
            clips.extend(frontend(torch.stack(pending)))  # (B, n_mels, frames) -> B clips
            pending.clear()

    with torch.no_grad():
        for dataset in datasets:
            for index in range(len(dataset)):
                waveform = resample(dataset[index][0].mean(dim=0), dataset.sample_rate, frontend.sample_rate)
                waveform = nn.functional.pad(waveform, (0, max(0, min_samples - waveform.shape[-1])))
                if pending and (len(pending) == batch_size or pending[0].shape != waveform.shape):
                    flush()
                pending.append(waveform)
        flush()
    return clips


class LogMelCrops(Dataset):
    """Random ``frames``-long crops of precomputed, normalised log-mels (one per clip per epoch).

    The crop position is drawn from torch's global generator, which the trainer seeds and checkpoints.
    """

    def __init__(self, clips: Sequence[torch.Tensor], frames: int):
        self.clips = list(clips)
        self.frames = int(frames)

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, index: int) -> torch.Tensor:
        clip = self.clips[index]
        start = int(torch.randint(clip.shape[-1] - self.frames + 1, ()))
        return clip[:, start : start + self.frames]  # (n_mels, frames)


# --------------------------------------------------------------------------------------------------
# Evaluation data


class ItemsOnce(BgKnownBuilder):
    """A :class:`BgKnownBuilder` that renders each item on its first request and keeps it: every
    pre-trained encoder of a run embeds the same items, rendered once (items are deterministic in the
    builder's seed and index, so this changes no score)."""

    def item(self, index: int) -> BgKnownItem:
        items = self.__dict__.setdefault("_rendered", {})
        if int(index) not in items:
            items[int(index)] = super().item(index)
        return items[int(index)]


def bgknown_builder(params: Params) -> BgKnownBuilder:
    """BgKnown items: labelled clips (the synthetic world's events, or a registered dataset such as
    ESC-50) over backgrounds whose training and test pools are disjoint (items of folds 4-5 draw test
    backgrounds, as the paper's test items draw FSD50K eval clips):

    - ``"synthetic"``: one long, time-varying background per item (:mod:`workbench.data.synthetic.backgrounds`),
      the two pools from disjoint seeds;
    - ``"recorded"``: ESC-10 ambiences and FSDD babble under ``background_root``, split by recording,
      the clips cut to half a 5-s background so the 0 % reference fits;
    - ``"folder"``: your own long recordings in ``background_root``, split by file;
    - ``"textures"``: the earlier test bed, ``n_backgrounds`` stationary textures shared by every item.

    Each item is rendered once per builder (:class:`ItemsOnce`), however many encoders embed it.
    """
    if params.bgknown_dataset == "synthetic":
        foregrounds = data.get("synthetic", task="event", n_clips=params.n_bgknown_clips, seed=params.world_seed)
    else:
        foregrounds = data.get(params.bgknown_dataset, root=base.expand_shared(params.bgknown_root) or None)
    clip = foregrounds.duration or 5.0
    rate = foregrounds.sample_rate
    if params.bgknown_backgrounds == "synthetic":
        duration = max(params.background_seconds, 2.0 * clip)
        pools = {pool: LongBackgroundDataset(params.world_seed, pool, len(foregrounds), duration, rate)
                 for pool in ("train", "test")}  # fmt: skip
        return ItemsOnce(foregrounds, pools, seed=params.world_seed, per_item=True)
    if params.bgknown_backgrounds in ("recorded", "folder"):
        root = base.expand_shared(params.background_root)
        if params.bgknown_backgrounds == "recorded":
            pools = recorded_background_pools(root, seed=params.world_seed, sample_rate=rate)
        else:
            pools = folder_background_pools(root, seed=params.world_seed)
        shortest = min(pool[index][0].shape[-1] / pool.sample_rate for pool in pools.values() for index in range(len(pool)))
        return ItemsOnce(foregrounds, pools, seed=params.world_seed, clip_seconds=min(clip, shortest / 2))
    backgrounds = data.get(
        "synthetic-backgrounds", n_clips=params.n_backgrounds, seed=params.world_seed,
        duration=max(10.0, 2.0 * clip), sample_rate=rate,
    )  # fmt: skip
    return ItemsOnce(foregrounds, backgrounds, seed=params.world_seed)


def general_datasets(params: Params) -> dict[str, AudioDataset]:
    """The general tasks' clips, each rendered once however many encoders embed it (:class:`RenderedOnce`)."""
    return {
        task: RenderedOnce(data.get("synthetic", task=task, n_clips=params.n_general_clips, seed=params.world_seed))
        for task in params.general_tasks
    }
