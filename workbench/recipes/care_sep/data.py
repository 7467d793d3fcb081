"""The test bed: pairs of sources of different classes (the synthetic world's separation pairs, or the
clips of a class dataset), the query clips of every class, and the training triplets drawn from them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from workbench import data
from workbench.audio.io import resample
from workbench.data.records import AudioDataset
from workbench.data.synthetic.views import MAX_PEAK, SeparationDataset
from workbench.data.synthetic.world import REFERENCE_RMS
from workbench.recipes.base import expand_shared
from workbench.recipes.care_sep.params import SAMPLE_RATE, Params


@dataclass
class PairSet:
    """Pairs of sources of different classes and the query clips of every class, in memory.

    Attributes:
        sources: ``(pairs, 2, samples)``, equal RMS; the mixture is their sum.
        classes: ``(pairs, 2)`` class of each source.
        anchors: class -> ``(clips, samples)`` clean clips the queries of this set are made from.
        exclude: ``(pairs, 2)`` row of ``anchors[class]`` that is the source itself (-1: none), never
            drawn as its own query.
        ids: one id per pair.
    """

    sources: torch.Tensor
    classes: np.ndarray
    anchors: dict[int, torch.Tensor]
    exclude: np.ndarray
    ids: list[str]

    def __len__(self) -> int:
        return int(self.sources.shape[0])

    def mixture(self, index: int) -> torch.Tensor:
        return self.sources[index].sum(dim=0)

    def single_sources(self) -> tuple[torch.Tensor, np.ndarray]:
        """Every source alone ``(2 pairs, samples)`` and its class ``(2 pairs,)``."""
        return self.sources.reshape(-1, self.sources.shape[-1]), self.classes.reshape(-1)


@dataclass
class SeparationData:
    """Training and test pairs and the class names."""

    train: PairSet
    test: PairSet
    class_names: tuple[str, ...]
    sample_rate: int = SAMPLE_RATE

    @property
    def n_classes(self) -> int:
        return len(self.class_names)


def _limit_pair(sources: np.ndarray) -> np.ndarray:
    """Scale both sources alike so that their sum peaks at most :data:`MAX_PEAK` (equal energy kept)."""
    peak = float(np.abs(sources.sum(axis=0)).max())
    return sources * np.float32(MAX_PEAK / peak) if peak > MAX_PEAK else sources


def synthetic_data(params: Params) -> SeparationData:
    """The synthetic world's separation pairs: train + valid folds train, the test fold tests.

    Queries come from :meth:`SeparationDataset.anchors`: clips ``0 .. n_anchors - 1`` of each class for
    training, ``n_anchors .. 2 n_anchors - 1`` (never trained on) for testing.
    """
    dataset = SeparationDataset(
        seed=params.world_seed, n_clips=params.n_mixtures, duration=params.duration,
        n_event_classes=params.n_event_classes,
    )
    n_classes = len(dataset.event_classes)
    split = {"train": [], "test": []}
    for index in range(len(dataset)):
        split["test" if dataset.split_of(index) == "test" else "train"].append(index)
    if not split["test"] or not split["train"]:
        raise ValueError(f"n_mixtures={params.n_mixtures} is too few to fill the train and test folds; use 20 or more")

    def pairs(indices: list[int], first_anchor: int) -> PairSet:
        items = [dataset[index] for index in indices]
        anchors = {c: torch.cat(dataset.anchors(c, params.n_anchors, start=first_anchor)) for c in range(n_classes)}
        return PairSet(
            sources=torch.stack([sources for _, sources, _ in items]),
            classes=np.array([meta["classes"] for _, _, meta in items], dtype=np.int64),
            anchors=anchors, exclude=np.full((len(items), 2), -1, dtype=np.int64),
            ids=[meta["id"] for _, _, meta in items],
        )  # fmt: skip

    return SeparationData(pairs(split["train"], 0), pairs(split["test"], params.n_anchors), dataset.event_classes)


def loudest_window(waveform: torch.Tensor, samples: int, hop: int) -> torch.Tensor:
    """The ``samples``-long window with the most energy (first on ties), zero-padded if the clip is shorter."""
    if waveform.shape[-1] <= samples:
        return nn.functional.pad(waveform, (0, samples - waveform.shape[-1]))
    energy = nn.functional.avg_pool1d(waveform.pow(2)[None, None], samples, hop)[0, 0]
    start = int(torch.argmax(energy)) * hop
    return waveform[start : start + samples]


def real_data(params: Params) -> SeparationData:
    """Pairs from a class-labelled dataset of the registry (ESC-50-style mixtures).

    Every clip is made mono, resampled to 16 kHz, cropped to its loudest ``duration`` seconds and
    normalised to the synthetic world's RMS; silent clips are dropped. Each class's clips are split
    (seeded) into train and test; every clip is mixed with a random clip of another class of its split
    (``pairs_per_clip`` times for training, once for testing). Training queries come from the other
    training clips of the class, test queries from the training clips of the class.

    Raises:
        UnknownNameError, DatasetNotFoundError: from :func:`workbench.data.get`.
        ValueError: not a class-labelled dataset, or fewer than two usable classes.
    """
    dataset = data.get(params.dataset, root=expand_shared(params.data_root) or None)
    if getattr(dataset, "target_kind", "class") != "class":
        raise ValueError(
            f"dataset {params.dataset!r} has {dataset.target_kind} targets; care_sep mixes clips of a class dataset "
            f"(e.g. esc50, esc10) or uses dataset='synthetic'"
        )
    samples = int(round(params.duration * SAMPLE_RATE))
    clips, labels = [], []
    for index in range(len(dataset)):
        waveform, target, _ = dataset[index]
        waveform = resample(waveform.mean(dim=0), dataset.sample_rate, SAMPLE_RATE)
        waveform = loudest_window(waveform, samples, SAMPLE_RATE // 10)
        level = float(waveform.pow(2).mean().sqrt())
        if level > 1e-6:
            clips.append(waveform * (REFERENCE_RMS / level))
            labels.append(int(target))
    labels_array = np.asarray(labels)
    present = sorted(set(labels))
    if len(present) < 2:
        raise ValueError(f"dataset {params.dataset!r} has fewer than two classes with audible clips")
    rng = np.random.default_rng([params.world_seed, 7])
    train_rows, test_rows = [], []
    for label in present:
        rows = rng.permutation(np.flatnonzero(labels_array == label))
        n_test = max(1, int(round(params.test_fraction * len(rows)))) if len(rows) > 1 else 0
        test_rows += rows[:n_test].tolist()
        train_rows += rows[n_test:].tolist()
    train_anchor_rows = {label: [row for row in train_rows if labels[row] == label] for label in present}
    anchors = {label: torch.stack([clips[row] for row in rows]) for label, rows in train_anchor_rows.items() if rows}

    def pairs(rows: list[int], repeats: int, exclude_self: bool) -> PairSet:
        sources, classes, exclude, ids = [], [], [], []
        for repeat in range(repeats):
            for row in rows:
                partners = [other for other in rows if labels[other] != labels[row] and labels[other] in anchors]
                if not partners or labels[row] not in anchors:
                    continue
                partner = partners[int(rng.integers(len(partners)))]
                pair = _limit_pair(np.stack([clips[row].numpy(), clips[partner].numpy()]))
                sources.append(torch.from_numpy(pair))
                classes.append((labels[row], labels[partner]))
                exclude.append([
                    train_anchor_rows[labels[member]].index(member) if exclude_self else -1 for member in (row, partner)
                ])  # fmt: skip
                ids.append(f"{params.dataset}-{row}+{partner}" + (f"-{repeat}" if repeats > 1 else ""))
        if not sources:
            raise ValueError(f"dataset {params.dataset!r}: no pairs of two classes could be formed in a split")
        return PairSet(torch.stack(sources), np.asarray(classes, dtype=np.int64), anchors,
                       np.asarray(exclude, dtype=np.int64), ids)  # fmt: skip

    return SeparationData(
        pairs(train_rows, params.pairs_per_clip, exclude_self=True), pairs(test_rows, 1, exclude_self=False),
        tuple(dataset.classes),
    )  # fmt: skip


def separation_data(params: Params) -> SeparationData:
    """The pairs of ``params.dataset`` (:func:`synthetic_data` or :func:`real_data`)."""
    if params.dataset in ("synthetic", "synthetic-separation"):
        return synthetic_data(params)
    return real_data(params)


class Triplets(Dataset):
    """Training triplets ``(a, a_j, e_j)``: mixture, target source and the clips its query is made from.

    Each item draws ``j`` (which source is asked for) from torch's global generator, which the trainer
    seeds and checkpoints, so an interrupted training resumes with the same draws. The query clips are
    ``query_clips`` anchors of source ``j``'s class (never the source itself), drawn the same way, or with
    ``self_query`` the source clip ``a_j`` itself (``train_query="self"``, :data:`~.params.TRAIN_QUERIES`).

    Items: ``(mixture (samples,), target (samples,), query clips (query_clips or 1, samples), class)``.
    """

    def __init__(self, pairs: PairSet, query_clips: int, self_query: bool = False):
        self.pairs = pairs
        self.query_clips = int(query_clips)
        self.self_query = bool(self_query)

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
        j = int(torch.randint(2, ()))
        label = int(self.pairs.classes[index, j])
        target = self.pairs.sources[index, j]
        if self.self_query:
            return self.pairs.mixture(index), target, target[None], label
        pool = self.pairs.anchors[label]
        excluded = int(self.pairs.exclude[index, j])
        candidates = [row for row in range(pool.shape[0]) if row != excluded] or [excluded]
        order = torch.randperm(len(candidates))
        chosen = [candidates[int(order[k % len(candidates)])] for k in range(self.query_clips)]
        return self.pairs.mixture(index), target, pool[chosen], label


def validation_data(dataset: SeparationData, fraction: float = 0.25, seed: int = 0) -> SeparationData:
    """Validation carved from the training side: a seeded ``fraction`` of the training pairs becomes the
    "test" set (scored with the training anchors' class queries), the rest trains; the test pairs are
    never read. What the schedule, learning rate and length of the defaults were chosen on.

    Raises:
        ValueError: a fraction outside (0, 1), or too few training pairs to carve both sides.
    """
    if not 0 < fraction < 1:
        raise ValueError(f"validation fraction must lie in (0, 1), got {fraction}")
    train = dataset.train
    order = np.random.default_rng([seed, 11]).permutation(len(train))
    count = int(round(fraction * len(train)))
    if count < 1 or count >= len(train):
        raise ValueError(f"{len(train)} training pairs are too few to carve a validation fraction of {fraction}")

    def subset(rows: np.ndarray) -> PairSet:
        rows = np.sort(rows)
        return PairSet(train.sources[torch.as_tensor(rows)], train.classes[rows], train.anchors, train.exclude[rows],
                       [train.ids[row] for row in rows])  # fmt: skip

    return SeparationData(subset(order[count:]), subset(order[:count]), dataset.class_names, dataset.sample_rate)


def _synthetic(params: Params) -> bool:
    return params.dataset in ("synthetic", "synthetic-separation")


def data_source(params: Params) -> AudioDataset | None:
    """What a run directory fingerprints: the real dataset read, or None for the synthetic world (whose
    seed and sizes are in the params already)."""
    if params.dataset in ("synthetic", "synthetic-separation"):
        return None
    return data.get(params.dataset, root=expand_shared(params.data_root) or None)
