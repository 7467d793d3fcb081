"""CaRE-SEP: query-based sound separation with one Swin-UNET encoder for the query and the separation.

Wang et al., "Consistent and Relevant: Rethink the Query Embedding in General Sound Separation"
(ICASSP 2024). A query-based separator extracts from a mixture the source whose class a query embedding
names. ST-SED-SEP (Chen et al., AAAI 2022) takes that embedding from a separate, frozen HTS-AT classifier
on a mel spectrogram and separates with a CNN U-Net; CaRE-SEP argues that such a query does not match
the separator's own features, and makes the query with the separator's Swin-UNET encoder (**Shared**),
initialised from a classification-pretrained encoder (**Init**), with the separation loss flowing into
the query (**Grad**).

What :func:`run` does:

1. **Data**: pairs of sources of different classes, energy-normalised (equal RMS) and summed: the
   synthetic world's separation pairs by default (``"synthetic-separation"``: train/valid folds train,
   the test fold tests; query clips from the world's class anchors, disjoint for training and testing),
   or any class-labelled dataset of the registry (ESC-50, ESC-10), cropped to ``duration`` seconds.
2. **Init** (:func:`pretrained_classifier`): the two classifiers a row may start from, the CaRE-SEP
   encoder's classifier half and ST-SED's HTS-AT-style query network, pretrained for tagging on a
   different and larger source than the pairs: ``init_clips`` single event clips of the synthetic world's
   ``init_classes``-class vocabulary (its own clip stream; the pairs' classes are its first classes).
   Each is trained once and cached under ``$WORKBENCH_CACHE/care_sep-init`` keyed by its settings, and
   every row with Init (and every seed) starts from the same weights, as the paper starts from one
   AudioSet-pretrained HTS-AT (Sec. 2.1, Table 1: 0.467 mAP).
3. **Training** of each row (:data:`ROWS`: the paper's Table 2 rows A-G, and Table 1's CaRE-CLS+SEP and
   CaRE-CLS) on triplets ``(a, a_j, e_j)``: a mixture, its source ``j`` and the query ``e_j``, the mean
   embedding of ``query_clips`` random clips of source ``j``'s class; loss = waveform MAE - SDR (Sec. 2.1).
   Only CaRE-CLS+SEP adds ``tagging_weight`` x the tagging BCE; CaRE-CLS trains the tagging alone.
   AdamW (0.9, 0.999, eps 1e-8, weight decay 5e-4, Sec. 3.2); the paper's warm-up and step decay
   (``schedule="paper"``) in the paper presets, a constant rate for the few epochs of a CPU run. Each row and seed is a resumable run directory (``runs/care_sep-train``).
4. **Evaluation** on the test pairs (:mod:`workbench.evaluation.separation`): mixture-, clean- and
   silence-SDR per test example, the SDR improvement, the tagging mAP of the query network, and the
   paper's Figure 3: per row, a t-SNE panel of the separation features and one of the query embeddings
   of two classes, with the class-vs-class KL divergence of each panel (and the query-vs-separation KL).

The claims (Sec. 4.1 and 4.3), each paired over the same seeds and the same test mixtures
(:func:`~workbench.evaluation.stats.compare_paired_items` on per-mixture SDR, averaged over seeds):
C vs A (CaRE-SEP vs ST-SED-SEP), G vs A (Swin-UNET vs CNN separator with the same extra classifier), B vs
C (shared encoder), D vs F (Init), E vs D (Grad), C vs CaRE-CLS+SEP, and that CaRE-SEP uses the query
(beats half the mixture). All are measured and reported whichever way they come out.

Measured on the CPU test bed (preset ``ablation``, seeds 0-1, 128 paired test examples), mixture-SDR: A 3.8,
B 4.2, C 3.9, D 3.8, E 3.9, F 2.9, G 3.8, CLS+SEP 4.0 dB (half the mixture: 3.0 dB); C vs A +0.10 dB
[-0.32, +0.54] (inconclusive, MDE 0.62), G vs A +0.05 [-0.31, +0.40], C vs B -0.35 [-0.78, +0.10], D vs F
+0.90 [+0.56, +1.27] (holds), E vs D +0.05 [-0.18, +0.30], C vs CLS+SEP -0.17 [-0.42, +0.09]; C beats the
query-blind half mixture by +0.86 [+0.41, +1.36]. The CaRE classifier's Init reaches 0.92 train accuracy on its
source (ST-SED's 0.68) since the band image is batch-normalised per band as HTS-AT's mel bins are
(:class:`~workbench.models.care_sep.BandNorm`); without that norm it reached 0.12, and C was -0.73 dB
[-1.10, -0.38] below A.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from workbench import data
from workbench.atomic import atomic_torch_save
from workbench.audio.io import resample
from workbench.data.records import AudioDataset
from workbench.data.synthetic.views import MAX_PEAK, SeparationDataset, SyntheticDataset
from workbench.data.synthetic.world import REFERENCE_RMS
from workbench.errors import ParameterError, UnknownNameError
from workbench.evaluation.metrics import mean_average_precision
from workbench.evaluation.projection import project
from workbench.evaluation.separation import (
    SeparationScores,
    evaluate_separation,
    query_blind_scores,
    symmetric_gaussian_kl,
)
from workbench.evaluation.stats import compare_paired, compare_paired_items, mean_confidence_interval
from workbench.losses.separation import SeparationLoss
from workbench.models.care_sep import CaReSep, CaReSepConfig, classifier_config, init_from_classifier
from workbench.models.registry import read_checkpoint
from workbench.models.stsed_sep import ResUNetConfig, ResUNetSeparator, StSedConfig, StSedQueryNet
from workbench.paths import cache_dir
from workbench.recipes import base
from workbench.recipes.base import expand_shared, resolve_device
from workbench.train.loop import Trainer, TrainConfig
from workbench.train.rundir import RunDir
from workbench.train.seed import make_generator, seed_everything

NAME = "care_sep"
NOTEBOOK = "04_care_sep.ipynb"
TRAIN_NAME = f"{NAME}-train"
INIT_CACHE = f"{NAME}-init"
SAMPLE_RATE = 16000
MODEL_SIZES = ("tiny", "paper", "paper-large")
SCHEDULES = ("paper", "constant")
METRICS = ("mixture_sdr", "clean_sdr", "silence_sdr", "sdri")
METRIC_NAMES = {"mixture_sdr": "mixture-SDR", "clean_sdr": "clean-SDR", "silence_sdr": "silence-SDR",
                "sdri": "SDRi", "map": "tagging mAP"}  # fmt: skip
PAPER_WARMUP = (0.05, 0.1, 0.2)
"""Learning-rate factors of the first three epochs; then halved every ten epochs down to 0.05 (Sec. 3.2)."""


@dataclass(frozen=True)
class Row:
    """One row of the paper's tables: which separator, where its query comes from, what it trains for.

    Attributes:
        name: the paper's name of the row.
        grad: the separation loss trains the query path (else the query is computed without gradient; a
            separate query network is then frozen).
        init: the query encoder starts from the Init classifier.
        shared: the query comes from the separator's own encoder (else from ST-SED's separate network).
        separator: ``"swin-unet"`` (CaRE-SEP's) or ``"resunet"`` (ST-SED-SEP's CNN), or ``"none"`` (CLS).
        tagging: the tagging BCE is trained too (CLS+SEP; CLS trains nothing else).
        paper_mixture_sdr: the paper's mixture-SDR of the row (Table 2 / Table 1, dB), None for CLS.
    """

    name: str
    grad: bool
    init: bool
    shared: bool
    separator: str = "swin-unet"
    tagging: bool = False
    paper_mixture_sdr: float | None = None

    def flags(self) -> str:
        mark = {True: "✓", False: "✗"}
        return f"Grad {mark[self.grad]} Init {mark[self.init]} Shared {mark[self.shared]}"


ROWS: dict[str, Row] = {
    "A": Row("2048-d ST-SED-SEP", grad=False, init=True, shared=False, separator="resunet", paper_mixture_sdr=10.55),
    "B": Row("w/ Grad", grad=True, init=True, shared=False, separator="resunet", paper_mixture_sdr=10.77),
    "C": Row("768-d CaRE-SEP", grad=True, init=True, shared=True, paper_mixture_sdr=13.14),
    "D": Row("w/o Grad", grad=False, init=True, shared=True, paper_mixture_sdr=10.09),
    "E": Row("w/o Init", grad=True, init=False, shared=True, paper_mixture_sdr=11.33),
    "F": Row("w/o Grad&Init", grad=False, init=False, shared=True, paper_mixture_sdr=9.14),
    "G": Row("w/o Grad&Shared", grad=False, init=True, shared=False, paper_mixture_sdr=10.34),
    "CLS+SEP": Row("768-d CaRE-CLS+SEP", grad=True, init=True, shared=True, tagging=True, paper_mixture_sdr=11.48),
    "CLS": Row("768-d CaRE-CLS", grad=True, init=True, shared=True, separator="none", tagging=True),
}
"""The paper's Table 2 rows A-G with its letters, names and flags (Grad, Init, Shared encoder), and
Table 1's joint CaRE-CLS+SEP and tagging-only CaRE-CLS. A, B and G take the query from ST-SED's separate
HTS-AT-style classifier (:class:`~workbench.models.stsed_sep.StSedQueryNet`); A and B separate with the
CNN (:class:`~workbench.models.stsed_sep.ResUNetSeparator`), G with CaRE-SEP's Swin-UNET ("the Swin-UNET
with an extra classifier", Sec. 4.3). C is CaRE-SEP, trained for separation only."""
BASELINE, CARE_SEP = "A", "C"
COMPARISONS: tuple[tuple[str, str, str, str], ...] = (
    ("C", "A", "CaRE-SEP beats the ST-SED-SEP baseline", "13.14 vs 10.55 dB mixture-SDR (Table 2, C vs A)"),
    ("G", "A", "the Swin-UNET separator with ST-SED's query is comparable to the CNN's",
     "10.34 vs 10.55 dB (Table 2, G vs A; Sec. 4.3)"),
    ("C", "B", "sharing the encoder beats a separate query network trained with gradient",
     "13.14 vs 10.77 dB (Table 2, C vs B)"),
    ("D", "F", "Init helps the shared encoder (no query gradient)", "10.09 vs 9.14 dB (Table 2, D vs F)"),
    ("E", "D", "the query gradient helps the shared encoder", "11.33 vs 10.09 dB (Table 2, E vs D; Sec. 4.3)"),
    ("C", "CLS+SEP", "separation alone beats joint CLS+SEP training", "13.14 vs 11.48 dB (Table 1)"),
)
"""(treatment, control, claim, the paper's figures): each is checked where both rows were run."""


@dataclass(frozen=True)
class Params(base.Params):
    recipe: ClassVar[str] = NAME

    dataset: str = "synthetic"  # synthetic (the world's separation pairs) | a class dataset: esc10, esc50, ...
    data_root: str = ""  # data root of a real dataset ("" = the default; "{shared}/data" = the shared clips)
    world_seed: int = 0  # seed of the synthetic world (classes, clips, anchors) and of the real-data pairing
    n_mixtures: int = 240  # synthetic pairs (train + valid folds train, the test fold tests)
    n_event_classes: int = 16  # synthetic event classes (beyond 10, template siblings that overlap in spectrum)
    duration: float = 0.5  # seconds per clip (real clips: the loudest window of this length)
    test_fraction: float = 0.25  # real data: share of each class's clips held out for testing
    pairs_per_clip: int = 2  # real data: training mixtures per clip (each with a random other-class clip)
    n_anchors: int = 8  # synthetic: query clips per class (as many more, disjoint, for testing)
    query_clips: int = 2  # clips averaged into one training query
    model_size: str = "tiny"  # tiny | paper (D=96, query 768) | paper-large (D=256, query 2048)
    rows: tuple[str, ...] = ("A", "C")  # rows of Table 2 (A-G) and Table 1 (CLS+SEP, CLS); A ST-SED-SEP, C CaRE-SEP
    seeds: tuple[int, ...] = (0, 1)  # one training per row and seed; claims pair rows over seeds and test mixtures
    pretrain_epochs: int = 8  # epochs of the Init classifiers' pretraining (cached once)
    epochs: int = 5  # separation training epochs per row
    batch_size: int = 16  # batch size of all trainings (the paper: 96)
    learning_rate: float = 2e-3  # AdamW base learning rate (the schedule's factors multiply it)
    tagging_weight: float = 1.0  # weight of the tagging BCE of row CLS+SEP (no other row has one)
    mae_weight: float = 1.0  # weight of the waveform MAE next to the negative SDR
    figure_classes: tuple[int, ...] = (0, 1)  # the two classes of the Figure-3 analysis (t-SNE, KL)
    n_figure_points: int = 24  # clips per class and kind in the Figure-3 analysis (the paper: 70)
    device: str = "auto"  # auto (cuda when available) | cpu | cuda
    cpu_threads: int = 1  # torch CPU threads (1: the same numbers on any machine, fastest on a busy one)
    schedule: str = "constant"  # constant (CPU scale) | paper (warm-up 0.05, 0.1, 0.2, halved every 10 epochs to 0.05)
    weight_decay: float = 5e-4  # AdamW weight decay (Sec. 3.2)
    init_classes: int = 24  # Init: event classes of the pretraining source (the pairs' classes come first)
    init_clips: int = 480  # Init: single event clips of the pretraining source (the pairs have 2 x 192 sources)

    checks: ClassVar[dict[str, Any]] = {
        "dataset": base.OneOf("dataset", base.dataset_names),
        "learning_rate": base.POSITIVE,
        "device": base.Device(),
        **dict.fromkeys(("tagging_weight", "mae_weight"), base.NON_NEGATIVE),
        "seeds": base.NonEmpty(distinct=True),
        "model_size": base.OneOf("model_size of recipe 'care_sep'", MODEL_SIZES),
        "rows": (base.NonEmpty(distinct=True), base.OneOf("ablation row of recipe 'care_sep'", tuple(ROWS))),
        "test_fraction": base.Bound(0, 1, low_open=True, high_open=True),
        **dict.fromkeys(
            ("n_mixtures", "n_anchors", "query_clips", "pretrain_epochs", "epochs", "batch_size", "pairs_per_clip",
             "cpu_threads", "n_figure_points"),
            base.AT_LEAST_ONE,
        ),
        "n_event_classes": base.at_least(2),
        "schedule": base.OneOf("schedule of recipe 'care_sep'", SCHEDULES),
        "init_classes": base.at_least(2),
        "init_clips": base.AT_LEAST_ONE,
        "weight_decay": base.NON_NEGATIVE,
    }

    def __post_init__(self) -> None:
        super().__post_init__()
        if all(ROWS[row].separator == "none" for row in self.rows):
            raise ParameterError("parameter 'rows' needs at least one separating row besides CLS, e.g. A,C,CLS")
        minimum = (1024 // 2 + 1) / SAMPLE_RATE
        if not self.duration >= minimum:
            raise ParameterError(
                f"parameter 'duration' must be at least {minimum:.3f} s (one STFT window at {SAMPLE_RATE} Hz), "
                f"got {self.duration}"
            )
        if len(self.figure_classes) != 2 or self.figure_classes[0] == self.figure_classes[1]:
            raise ParameterError(
                f"parameter 'figure_classes' must name two different classes, got {self.figure_classes}"
            )


def _db(value: float) -> str:
    """``value`` with one decimal, never ``-0.0``; ``-`` for NaN (a row without that metric)."""
    return "-" if not math.isfinite(value) else f"{round(value, 1) + 0.0:.1f}"


def row_label(row: str) -> str:
    """How tables name a row: ``"A 2048-d ST-SED-SEP"``, ``"C 768-d CaRE-SEP"``, ``"CLS 768-d CaRE-CLS"``."""
    return f"{row} {ROWS[row].name}"



# --------------------------------------------------------------------------------------------------
# Data


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

    Each item draws ``j`` (which source is asked for) and ``query_clips`` anchors of source ``j``'s
    class (never the source itself) from torch's global generator, which the trainer seeds and
    checkpoints, so an interrupted training resumes with the same draws.

    Items: ``(mixture (samples,), target (samples,), query clips (query_clips, samples), class)``.
    """

    def __init__(self, pairs: PairSet, query_clips: int):
        self.pairs = pairs
        self.query_clips = int(query_clips)

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
        j = int(torch.randint(2, ()))
        label = int(self.pairs.classes[index, j])
        pool = self.pairs.anchors[label]
        excluded = int(self.pairs.exclude[index, j])
        candidates = [row for row in range(pool.shape[0]) if row != excluded] or [excluded]
        order = torch.randperm(len(candidates))
        chosen = [candidates[int(order[k % len(candidates)])] for k in range(self.query_clips)]
        return self.pairs.mixture(index), self.pairs.sources[index, j], pool[chosen], label


class LabelledClips(Dataset):
    """Single sources and their classes, for the CLS pretraining."""

    def __init__(self, clips: torch.Tensor, labels: np.ndarray):
        self.clips, self.labels = clips, torch.as_tensor(labels)

    def __len__(self) -> int:
        return int(self.clips.shape[0])

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.clips[index], self.labels[index]


# --------------------------------------------------------------------------------------------------
# Models


def model_config(params: Params, n_classes: int) -> CaReSepConfig:
    """The CaRE-SEP Swin-UNET's config for ``params.model_size``."""
    if params.model_size == "tiny":
        return CaReSepConfig.tiny(n_classes=n_classes)
    if params.model_size == "paper":
        return CaReSepConfig.paper(n_classes=n_classes)
    return CaReSepConfig.paper_large(n_classes=n_classes)


def query_net_config(params: Params, n_classes: int) -> StSedConfig:
    """ST-SED's HTS-AT-style query network: tiny (query 128) on the CPU, else the 2048-d one of Table 1."""
    return StSedConfig.tiny(n_classes=n_classes) if params.model_size == "tiny" else StSedConfig.paper_large(n_classes)


def resunet_config(params: Params) -> ResUNetConfig:
    """ST-SED-SEP's CNN separator: tiny (n_fft 512, 4 to 32 channels) on the CPU, else the official sizes."""
    query_dim = query_net_config(params, 2).query_dim
    if params.model_size == "tiny":
        return ResUNetConfig(n_fft=512, channels=(4, 8, 16, 32), query_dim=query_dim)
    return ResUNetConfig.paper(query_dim=query_dim)


QueryModel = CaReSep | StSedQueryNet
SeparatorModel = CaReSep | ResUNetSeparator


class SeparationSystem(nn.Module):
    """A separator and where its query comes from, trained as one module (one row).

    Args:
        separator: CaRE-SEP's Swin-UNET or ST-SED-SEP's CNN; None for CaRE-CLS (tagging only).
        query_network: a separate network for the queries (ST-SED's), or None to make them with the
            separator's own encoder (shared).
        grad: whether the loss trains the query path; without it the queries are computed under
            ``no_grad`` (and a separate query network is frozen).
        tagging_weight: weight of the tagging BCE on the query clips (0: separation only, as CaRE-SEP).
        mae_weight: weight of the waveform MAE in :class:`SeparationLoss`.

    ``forward(batch) -> (loss, metrics)`` for :class:`~workbench.train.loop.Trainer`, batch as
    :class:`Triplets` makes it.
    """

    def __init__(
        self, separator: SeparatorModel | None, query_network: QueryModel | None, grad: bool,
        tagging_weight: float = 0.0, mae_weight: float = 1.0,
    ):  # fmt: skip
        super().__init__()
        if separator is None and query_network is None:
            raise ValueError("a system needs a separator or a query network")
        self.separator = separator
        self.query_network = query_network
        self.grad = bool(grad)
        self.tagging_weight = float(tagging_weight)
        self.loss = SeparationLoss(mae_weight)
        if query_network is not None and not grad:
            query_network.requires_grad_(False)

    @property
    def query_model(self) -> QueryModel:
        return self.separator if self.query_network is None else self.query_network

    def queries_and_tags(self, clips: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Queries ``(batch, dim)``, the mean over each row's clips ``(batch, k, samples)``, and the tagging
        logits of every clip ``(batch * k, classes)``."""
        batch, count, samples = clips.shape
        with torch.set_grad_enabled(self.grad and torch.is_grad_enabled()):
            embeddings, logits = self.query_model.query_and_tags(clips.reshape(batch * count, samples))
        return embeddings.reshape(batch, count, -1).mean(dim=1), logits

    @torch.no_grad()
    def class_query(self, clips: torch.Tensor, batch_size: int = 32) -> torch.Tensor:
        """The query of a class: the mean embedding of its clips ``(clips, samples)`` -> ``(dim,)``."""
        model = self.query_model
        device = next(model.parameters()).device
        embeddings = [model.embed_query(part.to(device)) for part in clips.split(batch_size)]
        return torch.cat(embeddings).mean(dim=0)

    def forward(self, batch: Sequence[torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        mixture, target, query_clips, labels = batch
        query, logits = self.queries_and_tags(query_clips)
        metrics: dict[str, float] = {}
        loss = logits.new_zeros(())
        if self.separator is not None:
            estimate = self.separator.separate(mixture, query)
            loss, sdr_values = self.loss(estimate, target)
            metrics["train_sdr"] = float(sdr_values.mean())
        if self.grad and self.tagging_weight > 0:
            count = query_clips.shape[1]
            targets = nn.functional.one_hot(labels.repeat_interleave(count), logits.shape[-1]).to(logits.dtype)
            tagging = nn.functional.binary_cross_entropy_with_logits(logits, targets)
            loss = loss + self.tagging_weight * tagging
            metrics["tagging_bce"] = float(tagging.detach())
        return loss, metrics


class ClassifierSystem(nn.Module):
    """Init pretraining of a classifier (CaRE-SEP's classifier half, or ST-SED's) on single-label clips.

    Cross-entropy over the tagging head's logits: on one-hot targets over a few dozen classes, the BCE that
    AudioSet's multi-label tags need first only pushes every logit down, and the CaRE classifier stayed at
    chance for three epochs (train accuracy 0.04 of 24 classes); cross-entropy learns the classes at once."""

    def __init__(self, classifier: QueryModel):
        super().__init__()
        self.classifier = classifier

    def forward(self, batch: Sequence[torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        clips, labels = batch
        logits = self.classifier.tag_logits(clips)
        loss = nn.functional.cross_entropy(logits, labels)
        accuracy = float((logits.argmax(dim=-1) == labels).float().mean())
        return loss, {"train_accuracy": accuracy}


# --------------------------------------------------------------------------------------------------
# Training: the Init classifiers (cached once) and each row (a resumable run directory)

_DATA_KEYS = ("dataset", "data_root", "world_seed", "n_mixtures", "n_event_classes", "duration", "test_fraction",
              "pairs_per_clip", "n_anchors")  # fmt: skip
_OPTIMISER_KEYS = ("batch_size", "learning_rate", "schedule", "weight_decay")
_INIT_KEYS = ("world_seed", "duration", "init_classes", "init_clips", "pretrain_epochs", "model_size",
              *_OPTIMISER_KEYS)  # fmt: skip
INIT_KINDS = ("care", "stsed")
"""The two Init classifiers: CaRE-SEP's classifier half (shared rows) and ST-SED's query network (A, B, G)."""


def _keys(params: Params, keys: Sequence[str]) -> dict[str, Any]:
    values = params.to_dict()
    return {key: values[key] for key in keys}


def train_config(epochs: int, params: Params, seed: int) -> TrainConfig:
    """AdamW (0.9, 0.999, eps 1e-8) with ``params.weight_decay``; ``schedule="paper"``: warm-up factors 0.05,
    0.1, 0.2 over the first three epochs, then halved every ten epochs down to 0.05 (Sec. 3.2)."""
    schedule: dict[str, Any] = {"schedule": "constant"}
    if params.schedule == "paper":
        schedule = dict(schedule="warmup_step", warmup_factors=PAPER_WARMUP, step_epochs=10, step_gamma=0.5,
                        min_factor=0.05)  # fmt: skip
    return TrainConfig(
        epochs=epochs, optimizer="adamw", lr=params.learning_rate, betas=(0.9, 0.999),
        weight_decay=params.weight_decay, seed=seed, grad_clip=5.0, checkpoint_every=max(1, epochs // 2),
        log_every=0, **schedule,
    )  # fmt: skip


def init_settings(params: Params, kind: str) -> dict[str, Any]:
    """What determines one Init classifier (its cache key): the source, the network and the training."""
    if kind not in INIT_KINDS:
        raise UnknownNameError("Init classifier kind", kind, INIT_KINDS)
    config = classifier_config(model_config(params, params.init_classes)) if kind == "care" else \
        query_net_config(params, params.init_classes)  # fmt: skip
    return {"kind": kind, "config": dataclasses.asdict(config), **_keys(params, _INIT_KEYS), "seed": 0,
            "loss": "cross-entropy"}


def init_cache_path(params: Params, kind: str) -> Any:
    """``$WORKBENCH_CACHE/care_sep-init/<kind>-<hash of the settings>.pt``."""
    settings = json.dumps(init_settings(params, kind), sort_keys=True, default=str)
    digest = hashlib.sha256(settings.encode()).hexdigest()[:16]
    return cache_dir() / INIT_CACHE / f"{kind}-{digest}.pt"


def _new_classifier(params: Params, kind: str, n_classes: int, class_names: Sequence[str], seed: int) -> QueryModel:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if kind == "care":
            return CaReSep(classifier_config(model_config(params, n_classes)), tuple(class_names))
        return StSedQueryNet(query_net_config(params, n_classes), tuple(class_names))


def init_source(params: Params) -> tuple[torch.Tensor, np.ndarray, tuple[str, ...]]:
    """The Init pretraining source: ``init_clips`` single event clips ``(clips, samples)`` of the synthetic
    world's ``init_classes``-class vocabulary (the event view's own clip stream, not the pairs'), labels
    and class names."""
    source = SyntheticDataset(seed=params.world_seed, task="event", n_clips=params.init_clips,
                              duration=params.duration, n_event_classes=params.init_classes)  # fmt: skip
    clips, labels = [], []
    for index in range(len(source)):
        waveform, label, _ = source[index]
        clips.append(waveform[0])
        labels.append(int(label))
    return torch.stack(clips), np.asarray(labels, dtype=np.int64), tuple(source.classes)


def pretrained_classifier(params: Params, kind: str, progress: bool = True) -> dict[str, torch.Tensor]:
    """The Init classifier's weights (``kind`` "care" or "stsed"): read from the cache, or pretrained now
    (cross-entropy on :func:`init_source`, the recipe's optimiser and schedule) and cached."""
    path = init_cache_path(params, kind)
    if path.is_file():
        return read_checkpoint(path)
    clips, labels, names = init_source(params)
    classifier = _new_classifier(params, kind, params.init_classes, names, seed=0)
    loader = DataLoader(LabelledClips(clips, labels), batch_size=params.batch_size, shuffle=True,
                        generator=make_generator(0))  # fmt: skip
    system = ClassifierSystem(classifier)
    history = Trainer(system, lambda model, batch: model(batch), train_config(params.pretrain_epochs, params, 0),
                      progress=progress).fit(loader)  # fmt: skip
    state = {name: tensor.detach().cpu() for name, tensor in system.classifier.state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_torch_save(path, state)
    record = {**init_settings(params, kind), "train_accuracy": history["train_accuracy"], "loss": history["loss"]}
    path.with_suffix(".json").write_text(json.dumps(record, indent=1, default=str))
    return state


_HEAD_KEYS = ("tagging_head.conv.weight", "tagging_head.conv.bias", "tagging_head.weight", "tagging_head.bias")


def fit_head(state: Mapping[str, torch.Tensor], n_classes: int, same_vocabulary: bool) -> dict[str, torch.Tensor]:
    """The Init weights for a network with ``n_classes`` tagging classes: the head's first ``n_classes``
    rows where the pairs' classes are the first classes of the Init vocabulary (the synthetic world), else
    no head (another vocabulary: the head starts fresh)."""
    fitted = dict(state)
    for key in _HEAD_KEYS:
        if key in fitted:
            if same_vocabulary and fitted[key].shape[0] >= n_classes:
                fitted[key] = fitted[key][:n_classes].clone()
            else:
                del fitted[key]
    return fitted


def training_params(params: Params, row: str, seed: int) -> dict[str, Any]:
    """What determines one row's training: data, model, training settings, the row's flags and the seed
    (and the Init it starts from, when its flags use one)."""
    flags = ROWS[row]
    keys = (*_DATA_KEYS, "model_size", "epochs", "query_clips", "mae_weight", *_OPTIMISER_KEYS)
    values = {**_keys(params, keys), **dataclasses.asdict(flags), "seed": int(seed)}
    values.pop("paper_mixture_sdr")
    if flags.tagging:
        values["tagging_weight"] = params.tagging_weight
    if flags.shared or flags.separator == "swin-unet":  # the Swin-UNET's front-end is part of what trains
        values["input_norm"] = model_config(params, 2).input_norm
    if flags.init:
        values["init"] = {kind: init_cache_path(params, kind).name for kind in _init_kinds(row)}
    return values


def _init_kinds(row: str) -> tuple[str, ...]:
    flags = ROWS[row]
    if not flags.init:
        return ()
    return ("care",) if flags.shared else ("stsed",)


@dataclass
class Trained:
    """One row's trained system, its loss history and run directory."""

    system: SeparationSystem
    history: dict[str, list[float]]
    run_dir: RunDir


def _synthetic(params: Params) -> bool:
    return params.dataset in ("synthetic", "synthetic-separation")


def build_system(
    params: Params, row: str, seed: int, dataset: SeparationData, init: Mapping[str, Mapping[str, torch.Tensor]]
) -> SeparationSystem:
    """The untrained system of one row: a fresh separator (Swin-UNET or CNN), the query from its own
    encoder or from ST-SED's network, initialised from the Init classifier ``init[kind]`` where the row's
    Init flag says so."""
    flags = ROWS[row]
    n_classes, names = dataset.n_classes, dataset.class_names
    same_vocabulary = _synthetic(params) and n_classes <= params.init_classes
    missing = [kind for kind in _init_kinds(row) if kind not in init]
    if missing:
        raise ValueError(f"row {row} starts from the Init classifier {missing[0]!r}; pass it in init")
    query_network: QueryModel | None = None
    if flags.shared:
        config = model_config(params, n_classes)
        if flags.separator == "none":
            config = classifier_config(config)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            separator: SeparatorModel | None = CaReSep(config, names)
        if flags.init:
            init_from_classifier(separator, fit_head(init["care"], n_classes, same_vocabulary))
        if flags.separator == "none":
            query_network, separator = separator, None
    else:
        query_network = _new_classifier(params, "stsed", n_classes, names, seed + 1)
        if flags.init:
            query_network.load_state_dict(fit_head(init["stsed"], n_classes, same_vocabulary), strict=False)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            if flags.separator == "resunet":
                separator = ResUNetSeparator(resunet_config(params))
            else:
                separator = CaReSep(model_config(params, n_classes).replace(condition_dim=query_network.embedding_dim),
                                    names)  # fmt: skip
    tagging = params.tagging_weight if flags.tagging else 0.0
    return SeparationSystem(separator, query_network, grad=flags.grad, tagging_weight=tagging,
                            mae_weight=params.mae_weight)  # fmt: skip


def train_row(
    params: Params, row: str, seed: int, dataset: SeparationData, init: Mapping[str, Mapping[str, torch.Tensor]],
    progress: bool = True,
) -> Trained:  # fmt: skip
    """Train one row (or read back its finished run directory; an interrupted one resumes)."""
    run_dir = RunDir.open(TRAIN_NAME, training_params(params, row, seed), data=data_source(params))
    weights = run_dir.artifact("system.pt")
    system = build_system(params, row, seed, dataset, init)
    if run_dir.finished and weights.is_file():
        system.load_state_dict(read_checkpoint(weights))
        return Trained(system.eval(), run_dir.read_metrics()["history"], run_dir)
    loader = DataLoader(Triplets(dataset.train, params.query_clips), batch_size=params.batch_size, shuffle=True,
                        generator=make_generator(seed))  # fmt: skip
    trainer = Trainer(system, lambda model, batch: model(batch), train_config(params.epochs, params, seed),
                      run_dir=run_dir, progress=progress)  # fmt: skip
    fitted = trainer.fit(loader)
    history = {name: [float(value) for value in fitted[name]] for name in fitted.names() if name != "epoch"}
    system = system.cpu().eval()
    atomic_torch_save(weights, system.state_dict())
    run_dir.write_metrics({"history": history, "row": row, "seed": seed})
    return Trained(system, history, run_dir)


# --------------------------------------------------------------------------------------------------
# Evaluation


@dataclass
class RowEvaluation:
    """Everything measured for one trained system on the test pairs."""

    scores: SeparationScores | None
    """None for CaRE-CLS (no separator)."""
    tagging_map: float
    figure: dict[str, np.ndarray]
    """``query-<a>``, ``query-<b>``, ``separation-<a>``, ``separation-<b>``: Figure-3 embeddings."""


def _device_of(module: nn.Module) -> torch.device:
    return next(module.parameters()).device


def test_queries(system: SeparationSystem, pairs: PairSet) -> torch.Tensor:
    """``(pairs, 2, dim)``: each source's class query (the mean embedding of the class's anchors)."""
    by_class = {label: system.class_query(clips).cpu() for label, clips in pairs.anchors.items()}
    return torch.stack([torch.stack([by_class[int(label)] for label in row]) for row in pairs.classes])


@torch.no_grad()
def evaluate(system: SeparationSystem, dataset: SeparationData, params: Params) -> RowEvaluation:
    """Three SDRs per test example, tagging mAP and the Figure-3 embeddings of one system on the test pairs."""
    system.eval()
    device = _device_of(system)
    pairs = dataset.test
    queries = test_queries(system, pairs)
    scores = None
    if system.separator is not None:
        def separate(inputs: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
            return system.separator.separate(inputs.to(device), query.to(device))

        scores = evaluate_separation(separate, pairs.sources, queries, pairs.classes, batch_size=params.batch_size)
    clips, labels = pairs.single_sources()
    logits = torch.cat(
        [system.query_model.tag_logits(part.to(device)).cpu() for part in clips.split(params.batch_size)]
    )
    tagging_map = mean_average_precision(logits.numpy(), labels)
    figure: dict[str, np.ndarray] = {}
    for label in params.figure_classes:
        members = np.argwhere(pairs.classes == label)[: params.n_figure_points]  # (pair, j) rows
        if len(members) == 0:
            continue
        sources = torch.stack([pairs.sources[pair, j] for pair, j in members])
        mixtures = torch.stack([pairs.mixture(pair) for pair, _ in members])
        member_queries = torch.stack([queries[pair, j] for pair, j in members])
        query_embeddings, separation_features = [], []
        for start in range(0, len(members), params.batch_size):
            part = slice(start, start + params.batch_size)
            query_embeddings.append(system.query_model.embed_query(sources[part].to(device)).cpu())
            if system.separator is not None:
                _, features = system.separator.separate(mixtures[part].to(device), member_queries[part].to(device),
                                                        return_features=True)  # fmt: skip
                separation_features.append(features.cpu())
        figure[f"query-{label}"] = torch.cat(query_embeddings).numpy()
        if separation_features:
            figure[f"separation-{label}"] = torch.cat(separation_features).numpy()
    return RowEvaluation(scores, tagging_map, figure)


FIGURE_KINDS = ("separation", "query")
"""The two panels of each row in Figure 3: (a)/(c) separation feature, (b)/(d) query embedding."""


def figure_analysis(figure: Mapping[str, np.ndarray], classes: Sequence[int], class_names: Sequence[str], seed: int = 0
                    ) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], dict[str, float]]:  # fmt: skip
    """Figure 3 for one row: a t-SNE panel per kind (separation feature, query embedding) of the two classes,
    each with its class-vs-class symmetric Gaussian KL, and the query-vs-separation KL per class.

    Returns:
        ``(panels, kl)``: panels ``{kind: (points (M, 2), class index per point (M,))}``; kl
        ``{"separation: a | b", "query: a | b", "query | separation: a", "query | separation: b"}`` in nats
        (:func:`~workbench.evaluation.separation.gaussian_kl`); the last two only where both have one width.
        A kind is left out when a class has fewer than 3 clips.
    """
    first, second = (int(label) for label in classes)
    a, b = class_names[first], class_names[second]
    panels: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    kl: dict[str, float] = {}
    for kind in FIGURE_KINDS:
        one, two = figure.get(f"{kind}-{first}"), figure.get(f"{kind}-{second}")
        if one is None or two is None or min(len(one), len(two)) < 3:
            continue
        points = project(np.concatenate([one, two]), method="tsne", seed=seed)
        panels[kind] = (points, np.concatenate([np.full(len(one), first), np.full(len(two), second)]))
        kl[f"{kind}: {a} | {b}"] = symmetric_gaussian_kl(one, two)
    if set(panels) == set(FIGURE_KINDS):
        for label, name in ((first, a), (second, b)):
            query, separation = figure[f"query-{label}"], figure[f"separation-{label}"]
            if query.shape[1] == separation.shape[1]:
                kl[f"query | separation: {name}"] = symmetric_gaussian_kl(query, separation)
    return panels, kl


# --------------------------------------------------------------------------------------------------
# Result and claims


@dataclass
class CareSepRun(base.Result):
    """Tables per row (pooled over seeds and test examples) and what the notebook draws.

    Attributes:
        table: row -> metric (``mixture_sdr``, ``clean_sdr``, ``silence_sdr``, ``sdri``, ``map``) ->
            (mean, ci95); SDRs pool every test example of every seed (NaN for CaRE-CLS), mAP is the
            seeds' mean ± CI.
        items: row -> ``(seeds, test examples)`` mixture-SDR, the paired data of the claims.
        query_blind: mean SDR of half the mixture against each source (what ignoring the query gets).
        input_sdr: mean SDR of the unprocessed mixture.
        histories: row -> loss curves of its first seed.
        panels: row -> Figure-3 panels of its first seed, ``{kind: (points, classes)}``.
        kl: row -> Figure-3 KL divergences (nats) of its first seed.
        systems: row -> the trained system of its first seed (for listening).
        data: the pairs (test pairs for the widget).
    """

    table: dict[str, dict[str, tuple[float, float]]] = field(default_factory=dict)
    items: dict[str, np.ndarray] = field(default_factory=dict)
    query_blind: float = float("nan")
    input_sdr: float = float("nan")
    histories: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    panels: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = field(default_factory=dict)
    kl: dict[str, dict[str, float]] = field(default_factory=dict)
    systems: dict[str, SeparationSystem] = field(default_factory=dict)
    data: SeparationData | None = None

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.data.class_names if self.data is not None else ()

    @property
    def sample_rate(self) -> int:
        return SAMPLE_RATE

    def labels(self) -> dict[str, str]:
        """row -> its display label."""
        return {row: row_label(row) for row in self.table}

    def separating_rows(self) -> list[str]:
        """The rows that separate (all but CaRE-CLS)."""
        return [row for row in self.table if ROWS[row].separator != "none" and row in self.systems]

    def mapping(self) -> list[dict[str, str]]:
        """One record per row run: the paper's letter and name, its flags, separator and query network."""
        records = []
        for row in self.table:
            flags = ROWS[row]
            query = "own encoder" if flags.shared else "ST-SED (HTS-AT-style, mel)"
            separator = {"swin-unet": "Swin-UNET", "resunet": "ResUNet CNN", "none": "-"}[flags.separator]
            records.append({"row": row, "name": flags.name, "flags": flags.flags(), "separator": separator,
                            "query": query, "loss": "BCE" if flags.separator == "none" else
                            ("MAE - SDR + BCE" if flags.tagging else "MAE - SDR")})  # fmt: skip
        return records

    @torch.no_grad()
    def separate(self, row: str, mixture: torch.Tensor, query_class: int) -> torch.Tensor:
        """Separate ``mixture (samples,)`` with ``row``'s system and the test query of ``query_class``.

        Raises:
            UnknownNameError: a row that was not trained or does not separate, or a class without query clips.
        """
        if row not in self.separating_rows():
            raise UnknownNameError("separating row of this care_sep run", row, self.separating_rows())
        if self.data is None or query_class not in self.data.test.anchors:
            known = [str(label) for label in (self.data.test.anchors if self.data else ())]
            raise UnknownNameError("query class", str(query_class), known)
        system = self.systems[row].eval()
        device = _device_of(system)
        query = system.class_query(self.data.test.anchors[query_class])
        return system.separator.separate(mixture.reshape(1, -1).to(device), query[None].to(device))[0].cpu()

    def summary(self) -> str:
        params = self.params
        lines = [
            f"recipe: {self.recipe}: {params['model_size']} on {params['dataset']}, rows {','.join(params['rows'])}, "
            f"seeds {list(params['seeds'])}",
            "row (Grad Init Shared): mixture-SDR | clean-SDR | silence-SDR | SDRi (dB) | tagging mAP",
        ]
        for row, values in self.table.items():
            lines.append(
                f"  {row_label(row)} ({ROWS[row].flags()}): " + " | ".join(_db(values[metric][0]) for metric in METRICS)
                + f" | {values['map'][0]:.2f}"
            )  # fmt: skip
        lines.append(f"input mixture {_db(self.input_sdr)} dB; query-blind half mixture {_db(self.query_blind)} dB")
        lines += [f"claim {claim.line()}" for claim in self.claims]
        return "\n".join(lines)


def _seed_detail(treatment: np.ndarray, control: np.ndarray) -> str:
    """Per-seed means and the seed-level paired comparison, for the claim's detail."""
    means_t, means_c = treatment.mean(axis=1), control.mean(axis=1)
    text = "per seed " + ", ".join(f"{t:.2f} vs {c:.2f}" for t, c in zip(means_t, means_c))
    if len(means_t) > 1:
        seeds = compare_paired(means_t, means_c)
        text += f"; over seeds: {seeds.interval(2)} -> {seeds.verdict}"
    return text


def separation_claims(items: Mapping[str, np.ndarray], query_blind: np.ndarray) -> list[base.Claim]:
    """The paper's comparisons (:data:`COMPARISONS`) among the rows run, and CaRE-SEP against ignoring the
    query, each paired over the same seeds and test mixtures (``items[row]``: ``(seeds, examples)``
    mixture-SDR; ``query_blind``: ``(examples,)``)."""
    claims = []
    for treatment, control, name, paper in COMPARISONS:
        if treatment not in items or control not in items:
            continue
        comparison = compare_paired_items(items[treatment], items[control])
        paper_effect = ROWS[treatment].paper_mixture_sdr - ROWS[control].paper_mixture_sdr
        claims.append(base.Claim.from_comparison(
            f"{treatment} vs {control}: {name}", paper, comparison,
            measured=f"{control} {items[control].mean():.2f} -> {treatment} {items[treatment].mean():.2f} dB mixture-SDR",
            paper_effect=round(paper_effect, 2), detail=_seed_detail(items[treatment], items[control]),
        ))  # fmt: skip
    if CARE_SEP in items:
        blind = np.broadcast_to(query_blind, items[CARE_SEP].shape)
        comparison = compare_paired_items(items[CARE_SEP], blind)
        claims.append(base.Claim.from_comparison(
            "C uses the query: CaRE-SEP beats half the mixture", "query-based separation (Sec. 2.1, Eq. 1)",
            comparison, measured=f"half mixture {query_blind.mean():.2f} -> C {items[CARE_SEP].mean():.2f} dB",
        ))  # fmt: skip
    return claims


# --------------------------------------------------------------------------------------------------
# The run


def data_source(params: Params) -> AudioDataset | None:
    """What a run directory fingerprints: the real dataset read, or None for the synthetic world (whose
    seed and sizes are in the params already)."""
    if params.dataset in ("synthetic", "synthetic-separation"):
        return None
    return data.get(params.dataset, root=expand_shared(params.data_root) or None)


def run(params: Params, progress: bool = True) -> CareSepRun:
    """Pretrain (or read) the Init classifiers, train every row and seed, evaluate, and check the claims.

    A finished run directory with the same parameters is read back (the trained systems are loaded
    from their own run directories for listening; nothing is trained again). Torch runs on
    ``params.cpu_threads`` threads meanwhile; the caller's setting is restored afterwards.

    Raises:
        UnknownNameError: an unknown dataset, row or model size.
        DatasetNotFoundError: a real dataset whose files are absent (the message says how to get them).
        ValueError: parameters that cannot make pairs (too few mixtures, a single class).
    """
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(params.cpu_threads)
    try:
        return _run(params, progress)
    finally:
        torch.set_num_threads(previous_threads)


def _pool(evaluations: Sequence[RowEvaluation]) -> dict[str, tuple[float, float]]:
    nan = (float("nan"), float("nan"))
    row = {
        metric: nan if evaluations[0].scores is None else mean_confidence_interval(np.concatenate([
            evaluation.scores.improvement if metric == "sdri" else getattr(evaluation.scores, metric)
            for evaluation in evaluations
        ]))
        for metric in METRICS
    }  # fmt: skip
    row["map"] = mean_confidence_interval([evaluation.tagging_map for evaluation in evaluations])
    return row


def init_classifiers(params: Params, progress: bool = True) -> dict[str, dict[str, torch.Tensor]]:
    """The Init classifiers the rows of ``params`` need, from the cache (pretrained once)."""
    kinds = sorted({kind for row in params.rows for kind in _init_kinds(row)})
    return {kind: pretrained_classifier(params, kind, progress) for kind in kinds}


def _run(params: Params, progress: bool) -> CareSepRun:
    seed_everything(params.world_seed)
    run_dir = RunDir.open(NAME, params.to_dict(), data=data_source(params))
    dataset = separation_data(params)
    for label in params.figure_classes:
        if not 0 <= label < dataset.n_classes:
            raise ValueError(f"parameter 'figure_classes': class {label} is not among the {dataset.n_classes} classes")
    device = resolve_device(params.device)
    blind_items = query_blind_scores(dataset.test.sources)
    query_blind = float(blind_items.mean())
    init = init_classifiers(params, progress)
    systems: dict[str, SeparationSystem] = {}
    histories: dict[str, dict[str, list[float]]] = {}
    if run_dir.finished:
        metrics = run_dir.read_metrics()
        # metrics.json sorts its keys: the order of the rows comes from the parameters.
        table = {row: {metric: tuple(value) for metric, value in metrics["table"][row].items()} for row in params.rows}
        histories = {row: metrics["histories"][row] for row in params.rows}
        kl = {row: metrics["kl"][row] for row in params.rows if row in metrics["kl"]}
        arrays = run_dir.load_arrays("figure")
        panels = {
            row: {kind: (arrays[f"points-{row}-{kind}"], arrays[f"classes-{row}-{kind}"])
                  for kind in FIGURE_KINDS if f"points-{row}-{kind}" in arrays}
            for row in params.rows
        }  # fmt: skip
        items = {row: arrays[f"mixture_sdr-{row}"] for row in params.rows if f"mixture_sdr-{row}" in arrays}
        input_sdr = metrics["input_sdr"]
        claims = [base.Claim.from_dict(claim) for claim in metrics["claims"]]
        for row in params.rows:
            systems[row] = train_row(params, row, params.seeds[0], dataset, init, progress).system
    else:
        run_dir.log("start", params=params.to_dict(), train_pairs=len(dataset.train), test_pairs=len(dataset.test))
        evaluations: dict[str, list[RowEvaluation]] = {row: [] for row in params.rows}
        for seed in params.seeds:
            for row in params.rows:
                trained = train_row(params, row, seed, dataset, init, progress)
                trained.system.to(device)
                evaluations[row].append(evaluate(trained.system, dataset, params))
                trained.system.cpu()
                if seed == params.seeds[0]:
                    systems[row], histories[row] = trained.system, trained.history
                scores = evaluations[row][-1].scores
                run_dir.log("evaluated", row=row, seed=seed, **(scores.means() if scores is not None else {}),
                            tagging_map=evaluations[row][-1].tagging_map)  # fmt: skip
        table = {row: _pool(row_evaluations) for row, row_evaluations in evaluations.items()}
        items = {row: np.stack([e.scores.mixture_sdr for e in row_evaluations])
                 for row, row_evaluations in evaluations.items() if row_evaluations[0].scores is not None}  # fmt: skip
        first = next(row for row in params.rows if evaluations[row][0].scores is not None)
        input_sdr = float(np.mean([e.scores.input_sdr.mean() for e in evaluations[first]]))
        panels, kl = {}, {}
        for row in params.rows:
            panels[row], kl[row] = figure_analysis(
                evaluations[row][0].figure, params.figure_classes, dataset.class_names, seed=params.world_seed
            )
        arrays = {f"points-{row}-{kind}": points for row, kinds in panels.items() for kind, (points, _) in kinds.items()}
        arrays.update({f"classes-{row}-{kind}": labels for row, kinds in panels.items()
                       for kind, (_, labels) in kinds.items()})  # fmt: skip
        arrays.update({f"mixture_sdr-{row}": values for row, values in items.items()})
        arrays.update({f"{metric}-{row}": np.stack([getattr(e.scores, metric) for e in evaluations[row]])
                       for row in items for metric in ("clean_sdr", "silence_sdr", "input_sdr")})  # fmt: skip
        arrays["query_blind"] = blind_items
        run_dir.save_arrays("figure", **arrays)
        claims = separation_claims(items, blind_items)
    metrics = {
        "table": table, "query_blind": query_blind, "input_sdr": input_sdr, "histories": histories, "kl": kl,
        "claims": [dataclasses.asdict(claim) for claim in claims],
        "init": {kind: str(init_cache_path(params, kind)) for kind in init},
    }  # fmt: skip
    if not run_dir.finished:
        run_dir.write_metrics(metrics)
        run_dir.log("finished")
    return CareSepRun(
        recipe=NAME, params=params.to_dict(), run_dir=run_dir.path, metrics=metrics, claims=claims, table=table,
        items=items, query_blind=query_blind, input_sdr=input_sdr, histories=histories, panels=panels, kl=kl,
        systems=systems, data=dataset,
    )  # fmt: skip
