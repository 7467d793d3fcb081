"""The test bed: the scene and tagging datasets, clips read at the network's rate and length, the scene
folds of the evaluation protocol, and one fold's training and test clips with their tag vectors."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, TensorDataset
from workbench.progress import tqdm

from workbench import data
from workbench.audio.io import resample
from workbench.data import dcase2019, fsdkaggle2019  # noqa: F401  (register the real datasets)
from workbench.data.records import AudioDataset
from workbench.evaluation.protocols import plan_protocol
from workbench.models.asc_raw import RawASCConfig
from workbench.recipes.asc_tagging.params import Params
from workbench.recipes.base import expand_shared


class FixedLengthClips(Dataset):
    """Clips of a dataset at a given rate, channel count and length, with their targets.

    Each clip is resampled to ``sample_rate``, averaged to mono (``channels=1``) or copied to every
    channel (mono source, ``channels > 1``), and cut or zero-padded to ``samples`` from its start.
    Items: ``(waveform (channels, samples), target)``.
    """

    def __init__(self, dataset: AudioDataset, indices: Sequence[int], sample_rate: int, samples: int, channels: int):
        self.dataset, self.indices = dataset, list(indices)
        self.sample_rate, self.samples, self.channels = sample_rate, samples, channels

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, position: int) -> tuple[torch.Tensor, Any]:
        waveform, target, _ = self.dataset[self.indices[position]]
        waveform = resample(waveform, self.dataset.sample_rate, self.sample_rate)
        if self.channels == 1:
            waveform = waveform.mean(dim=0, keepdim=True)
        elif waveform.shape[0] == 1:
            waveform = waveform.expand(self.channels, -1)
        elif waveform.shape[0] != self.channels:
            raise ValueError(
                f"clip {self.indices[position]} has {waveform.shape[0]} channels; the network reads {self.channels}"
            )
        waveform = waveform[:, : self.samples]
        if waveform.shape[-1] < self.samples:
            waveform = torch.nn.functional.pad(waveform, (0, self.samples - waveform.shape[-1]))
        return waveform.contiguous(), target


def materialize(clips: FixedLengthClips, num_workers: int, what: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Read every clip once into memory: ``(waveforms (N, channels, samples), targets)``."""
    loader = DataLoader(clips, batch_size=32, num_workers=num_workers)
    waveforms, targets = [], []
    for batch_waveforms, batch_targets in tqdm(loader, desc=f"reading {what}", unit="batch", leave=False):
        waveforms.append(batch_waveforms)
        targets.append(batch_targets)
    return torch.cat(waveforms), torch.cat(targets)


class ClipsWithTags(Dataset):
    """``(waveform, tag vector, scene)`` for training and scoring ASC models from streamed clips."""

    def __init__(self, clips: FixedLengthClips, tags: torch.Tensor):
        self.clips, self.tags = clips, tags

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, position: int) -> tuple[torch.Tensor, torch.Tensor, Any]:
        waveform, target = self.clips[position]
        return waveform, self.tags[position], target


def build_dataset(params: Params) -> AudioDataset:
    """The scene dataset: the synthetic scenes (stereo, at ``sample_rate``) or a registered real one."""
    if params.dataset == "synthetic-scenes":
        return data.get("synthetic-scenes", n_clips=params.n_clips, seed=params.world_seed,
                        duration=params.clip_seconds, sample_rate=params.sample_rate, channels=2)  # fmt: skip
    return data.get(params.dataset, root=expand_shared(params.data_root) or None)


def split_indices(dataset: AudioDataset) -> tuple[np.ndarray, np.ndarray]:
    """``(training indices, test indices)``: "test" clips are the test set; train and valid(ation) train.

    Raises:
        ValueError: the dataset has no test clips or no training clips.
    """
    splits = [dataset.split_of(index) for index in range(len(dataset))]
    test = np.array([i for i, split in enumerate(splits) if split == "test"], dtype=np.int64)
    train = np.array([i for i, split in enumerate(splits) if split in ("train", "valid", "validation")], dtype=np.int64)
    if not len(test) or not len(train):
        raise ValueError(
            f"{type(dataset).__name__} needs clips marked 'train' and 'test' (got {len(train)} and {len(test)}); "
            f"asc_tagging uses the dataset's official split"
        )
    return train, test


def input_samples(params: Params, dataset: AudioDataset) -> int:
    if params.input_samples:
        return params.input_samples
    if dataset.duration is None:
        raise ValueError(f"{type(dataset).__name__} clips differ in length: set input_samples")
    return int(round(dataset.duration * params.sample_rate))


def tagging_data(params: Params) -> AudioDataset:
    """The trained tagger's data: synthetic scenes disjoint from the scene clips, or FSDKaggle2019."""
    if params.tagger_dataset == "synthetic-scenes":
        # The clips past n_clips draw from random streams the scene dataset never uses.
        return data.get("synthetic-scenes", n_clips=params.n_clips + params.tagger_clips, seed=params.world_seed,
                        duration=params.clip_seconds, target="tags")  # fmt: skip
    options = {"subset": params.tagger_subset} if params.tagger_dataset == "fsdkaggle2019" else {}
    return data.get(params.tagger_dataset, root=expand_shared(params.data_root) or None, **options)


def true_tags(dataset: AudioDataset) -> np.ndarray | None:
    """The synthetic scenes' multi-hot event tags ``(clips, events)`` (no audio rendered), or None
    for datasets without known tags."""
    if not hasattr(dataset, "plan"):
        return None
    n_events = len(dataset.world.events)
    return np.stack([dataset.plan(index).tags(n_events) for index in range(len(dataset))]).astype(np.float32)


def plan_scene_folds(params: Params, dataset: AudioDataset) -> tuple[list[tuple[str, np.ndarray, np.ndarray]], str]:
    """The ``(name, training indices, test indices)`` partitions of ``params.protocol`` and a note saying
    which protocol ran and why (empty when it is the one asked for).

    ``"official"`` is the dataset's train/test split (DCASE 2019 task 1a: fold 1's, Sec. 4.1; validation
    clips train); ``"auto"`` keeps it where it can be trained on
    (:func:`~workbench.evaluation.protocols.plan_protocol`), else grouped k-fold (by recording location,
    where the dataset knows it) or stratified k-fold; ``"kfold"`` and ``"grouped-kfold"`` ask for those.

    Raises:
        UnknownNameError: an unknown protocol.
        ValueError: a protocol the data cannot support.
    """
    if params.protocol == "official":
        train, test = split_indices(dataset)
        return [("official split", train, test)], ""
    count = len(dataset)
    targets = np.asarray(dataset.targets(), dtype=np.int64)
    clip_splits = [dataset.split_of(index) for index in range(count)]
    clip_groups = [dataset.group_of(index) for index in range(count)]
    splits = None
    if any(split is not None for split in clip_splits):
        # The train/test split is the official partition here (not the synthetic world's folds).
        splits = np.asarray(["test" if split == "test" else "train" if split is not None else "unused"
                             for split in clip_splits], dtype=object)  # fmt: skip
    plan = plan_protocol(
        targets, protocol=params.protocol, splits=splits,
        groups=np.asarray(clip_groups, dtype=object) if count and all(g is not None for g in clip_groups) else None,
        classes=dataset.classes, seed=params.world_seed,
    )  # fmt: skip
    if plan.protocol == "official":
        train, test = split_indices(dataset)
        return [("official split", train, test)], plan.note
    return [(fold.name, fold.train, fold.test) for fold in plan.folds], f"protocol {plan.protocol} ({plan.note})"


@dataclass
class SceneClips:
    """The scene clips as the ASC models see them: training then test clips, with their tag vectors."""

    train: Dataset
    """``(waveform, tag vector, scene)`` items of the training clips."""
    test: Dataset
    train_indices: np.ndarray
    test_indices: np.ndarray
    scenes: np.ndarray
    """``(N,)`` scene of every clip, training clips first."""
    tags: torch.Tensor
    """``(N, n_tags)`` tag vectors, training clips first."""
    tag_names: list[str]
    held_out_map: float | None

    @property
    def n_train(self) -> int:
        return len(self.train_indices)


@dataclass
class TaggedClips:
    """Every scene clip a run uses, read (or set up for streaming) once and tagged once, whatever the folds."""

    order: np.ndarray
    """``(N,)`` dataset indices, in the order of the rows below."""
    waveforms: torch.Tensor | None
    """``(N, channels, samples)`` when cached in memory, else None (streamed)."""
    tags: torch.Tensor
    scenes: np.ndarray
    tag_names: list[str]
    held_out_map: float | None


def fold_clips(
    tagged: TaggedClips, train_indices: np.ndarray, test_indices: np.ndarray, params: Params, dataset: AudioDataset,
    asc_config: RawASCConfig,
) -> SceneClips:
    """One fold's training and test clips out of the tagged clips (training clips first)."""
    row_of = {int(index): row for row, index in enumerate(tagged.order)}
    rows = np.array([row_of[int(index)] for index in np.concatenate([train_indices, test_indices])], dtype=np.int64)
    n_train = len(train_indices)
    tags, scenes = tagged.tags[rows], tagged.scenes[rows]
    if tagged.waveforms is not None:
        waveforms, targets = tagged.waveforms[rows], torch.as_tensor(scenes)
        train: Dataset = TensorDataset(waveforms[:n_train], tags[:n_train], targets[:n_train])
        test: Dataset = TensorDataset(waveforms[n_train:], tags[n_train:], targets[n_train:])
    else:
        rate, samples, channels = params.sample_rate, asc_config.input_samples, asc_config.channels
        train = ClipsWithTags(FixedLengthClips(dataset, train_indices, rate, samples, channels), tags[:n_train])
        test = ClipsWithTags(FixedLengthClips(dataset, test_indices, rate, samples, channels), tags[n_train:])
    return SceneClips(train, test, np.asarray(train_indices), np.asarray(test_indices), scenes, tags,
                      tagged.tag_names, tagged.held_out_map)  # fmt: skip
