"""CaRE-SEP: query-based sound separation with one Swin-UNET encoder for the query and the separation.

Wang et al., "Consistent and Relevant: Rethink the Query Embedding in General Sound Separation"
(ICASSP 2024). A query-based separator extracts from a mixture the source whose class a query embedding
names. ST-SED-SEP (Chen et al., AAAI 2022) takes that embedding from a separate, frozen classifier;
CaRE-SEP argues that such a query does not match the separator's own features, and makes the query with
the separator's encoder (**Shared**), initialised from a classification-pretrained encoder (**Init**),
with the separation loss flowing into the query (**Grad**).

What :func:`run` does:

1. **Data**: pairs of sources of different classes, energy-normalised (equal RMS) and summed: the
   synthetic world's separation pairs by default (``"synthetic-separation"``: train/valid folds train,
   the test fold tests; query clips from the world's class anchors, disjoint for training and testing),
   or any class-labelled dataset of the registry (ESC-50, ESC-10; each clip mixed with a clip of another
   class of its split; the shared ESC-10 clips in a preset), cropped to ``duration`` seconds.
2. **CLS pretraining** of the classifier half (encoder, connector, token-semantic head; BCE tagging of
   single sources): one run directory per seed (``runs/care_sep-pretrain``), re-used by every row.
3. **Training** of each ablation row (:data:`ROWS`, the paper's Table 2 flags) on triplets
   ``(a, a_j, e_j)``: a mixture, its source ``j`` and the query ``e_j``, the mean embedding of
   ``query_clips`` random clips of source ``j``'s class; loss = waveform MAE - SDR
   (:class:`~workbench.losses.separation.SeparationLoss`), plus ``tagging_weight`` x BCE of the tagging
   head on the query clips where the query is trained (joint CLS+SEP). Each row and seed is a run
   directory (``runs/care_sep-train``): a finished one is loaded, an interrupted one resumes.
4. **Evaluation** on the test pairs (:mod:`workbench.evaluation.separation`): mixture-, clean- and
   silence-SDR, the SDR improvement over the unprocessed mixture, the tagging mAP of the query network,
   and the embedding analysis of the paper's Figure 3 (t-SNE of query embeddings and separation features
   of two classes, and Gaussian KL divergences between them).

The claims: CaRE-SEP (row G) reaches a higher mixture-SDR than the ST-SED-SEP-style baseline (row B),
and improves over the input mixture (SDRi > 0 dB); and, stricter, it beats the query-blind reference
(half the mixture, about +3 dB for equal-energy pairs), i.e. it uses the query. All are measured and
reported whichever way they come out.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from workbench import data
from workbench.atomic import atomic_torch_save
from workbench.audio.io import resample
from workbench.data.synthetic.views import MAX_PEAK, SeparationDataset
from workbench.data.synthetic.world import REFERENCE_RMS
from workbench.errors import ParameterError, UnknownNameError
from workbench.evaluation.metrics import mean_average_precision
from workbench.evaluation.projection import project
from workbench.evaluation.separation import (
    SeparationScores,
    evaluate_separation,
    query_blind_sdr,
    symmetric_gaussian_kl,
)
from workbench.evaluation.stats import mean_confidence_interval
from workbench.losses.separation import SeparationLoss
from workbench.models.care_sep import CaReSep, CaReSepConfig, classifier_config, init_from_classifier
from workbench.models.registry import read_checkpoint
from workbench.recipes import base
from workbench.recipes.base import expand_shared, resolve_device
from workbench.train.loop import Trainer, TrainConfig
from workbench.train.rundir import RunDir
from workbench.train.seed import make_generator, seed_everything

NAME = "care_sep"
NOTEBOOK = "04_care_sep.ipynb"
PRETRAIN_NAME = f"{NAME}-pretrain"
TRAIN_NAME = f"{NAME}-train"
SAMPLE_RATE = 16000
MODEL_SIZES = ("tiny", "paper", "paper-large")
METRICS = ("mixture_sdr", "clean_sdr", "silence_sdr", "sdri")
METRIC_NAMES = {"mixture_sdr": "mixture-SDR", "clean_sdr": "clean-SDR", "silence_sdr": "silence-SDR",
                "sdri": "SDRi", "map": "tagging mAP"}  # fmt: skip


@dataclass(frozen=True)
class Row:
    """One row of the ablation (the paper's Table 2): how the query is made.

    Attributes:
        shared: the query comes from the separator's own encoder (else from a separate network).
        init: the query encoder starts from the CLS-pretrained classifier.
        grad: the separation loss trains the query path (else it is computed without gradient; a
            separate query network is then frozen).
        name: what the row is.
    """

    shared: bool
    init: bool
    grad: bool
    name: str

    def flags(self) -> str:
        mark = {True: "✓", False: "✗"}
        return f"shared {mark[self.shared]} init {mark[self.init]} grad {mark[self.grad]}"


ROWS: dict[str, Row] = {
    "A": Row(shared=False, init=False, grad=True, name="separate query network, trained from scratch"),
    "B": Row(shared=False, init=True, grad=False, name="ST-SED-SEP: frozen pretrained classifier"),
    "C": Row(shared=False, init=True, grad=True, name="separate pretrained query network, fine-tuned"),
    "D": Row(shared=True, init=False, grad=False, name="shared encoder, no init, no query gradient"),
    "E": Row(shared=True, init=False, grad=True, name="shared encoder, no init"),
    "F": Row(shared=True, init=True, grad=False, name="shared encoder, init, no query gradient"),
    "G": Row(shared=True, init=True, grad=True, name="CaRE-SEP"),
}
"""The seven combinations of the flags that make a trainable query. The paper's Table 2 ablates the same
three flags; its letters may be assigned differently. The eighth combination, a separate query network
that is random and frozen, gives no information about the class and is left out. B is the ST-SED-SEP
baseline and G is CaRE-SEP."""
BASELINE, CARE_SEP = "B", "G"


@dataclass(frozen=True)
class Params(base.Params):
    recipe: ClassVar[str] = NAME

    dataset: str = "synthetic"  # synthetic (the world's separation pairs) | a class dataset: esc10, esc50, ...
    data_root: str = ""  # data root of a real dataset ("" = the default; "{shared}/data" = the shared clips)
    world_seed: int = 0  # seed of the synthetic world (classes, clips, anchors) and of the real-data pairing
    n_mixtures: int = 500  # synthetic pairs (train + valid folds train, the test fold tests)
    n_event_classes: int = 10  # synthetic event classes
    duration: float = 1.0  # seconds per clip (real clips: the loudest window of this length)
    test_fraction: float = 0.25  # real data: share of each class's clips held out for testing
    pairs_per_clip: int = 2  # real data: training mixtures per clip (each with a random other-class clip)
    n_anchors: int = 8  # synthetic: query clips per class (as many more, disjoint, for testing)
    query_clips: int = 2  # clips averaged into one training query
    model_size: str = "tiny"  # tiny | paper (D=96, query 768) | paper-large (D=256, query 2048)
    rows: tuple[str, ...] = ("B", "G")  # ablation rows A-G (B = ST-SED-SEP baseline, G = CaRE-SEP)
    seeds: tuple[int, ...] = (0,)  # one pretraining and one training per seed; tables pool them
    pretrain_epochs: int = 4  # CLS pretraining epochs of the classifier
    epochs: int = 6  # separation training epochs per row
    batch_size: int = 16  # batch size of both trainings
    learning_rate: float = 2e-3  # AdamW learning rate of both trainings
    tagging_weight: float = 1.0  # weight of the tagging BCE in joint CLS+SEP training (0 = SEP only)
    mae_weight: float = 1.0  # weight of the waveform MAE next to the negative SDR
    figure_classes: tuple[int, ...] = (0, 1)  # the two classes of the Figure-3 analysis (t-SNE, KL)
    n_figure_points: int = 24  # clips per class and kind in the Figure-3 analysis
    device: str = "auto"  # auto (cuda when available) | cpu | cuda
    cpu_threads: int = 1  # torch CPU threads (1: the same numbers on any machine, fastest on a busy one)

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
    }

    def __post_init__(self) -> None:
        super().__post_init__()
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
    """``value`` with one decimal, never ``-0.0``."""
    return f"{round(value, 1) + 0.0:.1f}"


def row_label(row: str) -> str:
    """How tables name a row: ``"B ST-SED-SEP"``, ``"G CaRE-SEP"``, ``"D shared ✓ init ✗ grad ✗"``."""
    if row == BASELINE:
        return "B ST-SED-SEP"
    if row == CARE_SEP:
        return "G CaRE-SEP"
    return f"{row} {ROWS[row].flags()}"


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
    """The separator's config for ``params.model_size``."""
    if params.model_size == "tiny":
        return CaReSepConfig.tiny(n_classes=n_classes)
    if params.model_size == "paper":
        return CaReSepConfig.paper(n_classes=n_classes)
    return CaReSepConfig.paper_large(n_classes=n_classes)


class SeparationSystem(nn.Module):
    """A separator and where its query comes from, trained as one module (one ablation row).

    Args:
        separator: the CaRE-SEP network (with decoder).
        query_network: a separate network for the queries (ST-SED-SEP style), or None to make them with
            the separator's own encoder (shared).
        grad: whether the loss trains the query path; without it the queries are computed under
            ``no_grad`` (and a separate query network is frozen).
        tagging_weight: weight of the tagging BCE on the query clips (used only when ``grad``).
        mae_weight: weight of the waveform MAE in :class:`SeparationLoss`.

    ``forward(batch) -> (loss, metrics)`` for :class:`~workbench.train.loop.Trainer`, batch as
    :class:`Triplets` makes it.
    """

    def __init__(
        self, separator: CaReSep, query_network: CaReSep | None, grad: bool, tagging_weight: float = 0.0,
        mae_weight: float = 1.0,
    ):  # fmt: skip
        super().__init__()
        self.separator = separator
        self.query_network = query_network
        self.grad = bool(grad)
        self.tagging_weight = float(tagging_weight)
        self.loss = SeparationLoss(mae_weight)
        if query_network is not None and not grad:
            query_network.requires_grad_(False)

    @property
    def query_model(self) -> CaReSep:
        return self.separator if self.query_network is None else self.query_network

    def queries_and_tags(self, clips: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Queries ``(batch, 8D)``, the mean over each row's clips ``(batch, k, samples)``, and the tagging
        logits of every clip ``(batch * k, classes)``."""
        batch, count, samples = clips.shape
        with torch.set_grad_enabled(self.grad and torch.is_grad_enabled()):
            embeddings, logits = self.query_model.query_and_tags(clips.reshape(batch * count, samples))
        return embeddings.reshape(batch, count, -1).mean(dim=1), logits

    @torch.no_grad()
    def class_query(self, clips: torch.Tensor, batch_size: int = 32) -> torch.Tensor:
        """The query of a class: the mean embedding of its clips ``(clips, samples)`` -> ``(8D,)``."""
        model = self.query_model
        device = next(model.parameters()).device
        embeddings = [model.embed_query(part.to(device)) for part in clips.split(batch_size)]
        return torch.cat(embeddings).mean(dim=0)

    def forward(self, batch: Sequence[torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        mixture, target, query_clips, labels = batch
        query, logits = self.queries_and_tags(query_clips)
        estimate = self.separator.separate(mixture, query)
        loss, sdr = self.loss(estimate, target)
        metrics = {"train_sdr": float(sdr.mean())}
        if self.grad and self.tagging_weight > 0:
            count = query_clips.shape[1]
            targets = nn.functional.one_hot(labels.repeat_interleave(count), logits.shape[-1]).to(logits.dtype)
            tagging = nn.functional.binary_cross_entropy_with_logits(logits, targets)
            loss = loss + self.tagging_weight * tagging
            metrics["tagging_bce"] = float(tagging.detach())
        return loss, metrics


class ClassifierSystem(nn.Module):
    """CLS pretraining: tagging BCE of the classifier half on single sources."""

    def __init__(self, classifier: CaReSep):
        super().__init__()
        self.classifier = classifier

    def forward(self, batch: Sequence[torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        clips, labels = batch
        logits = self.classifier.tag_logits(clips)
        targets = nn.functional.one_hot(labels, logits.shape[-1]).to(logits.dtype)
        loss = nn.functional.binary_cross_entropy_with_logits(logits, targets)
        accuracy = float((logits.argmax(dim=-1) == labels).float().mean())
        return loss, {"train_accuracy": accuracy}


# --------------------------------------------------------------------------------------------------
# Training (each a resumable run directory)

_DATA_KEYS = ("dataset", "data_root", "world_seed", "n_mixtures", "n_event_classes", "duration", "test_fraction",
              "pairs_per_clip", "n_anchors")  # fmt: skip


def _keys(params: Params, keys: Sequence[str]) -> dict[str, Any]:
    values = params.to_dict()
    return {key: values[key] for key in keys}


def pretraining_params(params: Params, seed: int) -> dict[str, Any]:
    """What determines one CLS pretraining (its run directory's identity)."""
    return {**_keys(params, (*_DATA_KEYS, "model_size", "pretrain_epochs", "batch_size", "learning_rate")),
            "seed": int(seed)}  # fmt: skip


def training_params(params: Params, row: str, seed: int) -> dict[str, Any]:
    """What determines one row's training: data, model, training settings, the row's flags and the seed
    (and the pretraining it starts from, when its flags use one)."""
    flags = ROWS[row]
    keys = (*_DATA_KEYS, "model_size", "epochs", "batch_size", "learning_rate", "query_clips", "mae_weight")
    values = {**_keys(params, keys), "shared": flags.shared, "init": flags.init, "grad": flags.grad, "seed": int(seed)}
    if flags.grad:
        values["tagging_weight"] = params.tagging_weight
    if flags.init:
        values["pretrain_epochs"] = params.pretrain_epochs
    return values


def _train_config(epochs: int, params: Params, seed: int) -> TrainConfig:
    return TrainConfig(
        epochs=epochs, optimizer="adamw", lr=params.learning_rate, weight_decay=0.01, seed=seed, grad_clip=5.0,
        checkpoint_every=max(1, epochs // 2), log_every=0,
    )  # fmt: skip


def _build(config: CaReSepConfig, seed: int, class_names: Sequence[str]) -> CaReSep:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return CaReSep(config, tuple(class_names))


def pretrain(params: Params, seed: int, dataset: SeparationData, progress: bool = True) -> CaReSep:
    """The CLS-pretrained classifier of ``seed`` (trained now, or read back from its run directory)."""
    run_dir = RunDir.open(PRETRAIN_NAME, pretraining_params(params, seed), data=None if params.dataset in ("synthetic", "synthetic-separation") else data.get(params.dataset, root=expand_shared(params.data_root) or None))
    weights = run_dir.artifact("classifier.pt")
    classifier = _build(classifier_config(model_config(params, dataset.n_classes)), seed, dataset.class_names)
    if run_dir.finished and weights.is_file():
        classifier.load_state_dict(read_checkpoint(weights))
        return classifier.eval()
    clips, labels = dataset.train.single_sources()
    loader = DataLoader(LabelledClips(clips, labels), batch_size=params.batch_size, shuffle=True,
                        generator=make_generator(seed))  # fmt: skip
    system = ClassifierSystem(classifier)
    trainer = Trainer(system, lambda model, batch: model(batch), _train_config(params.pretrain_epochs, params, seed),
                      run_dir=run_dir, progress=progress)  # fmt: skip
    history = trainer.fit(loader)
    classifier = system.classifier.cpu().eval()
    atomic_torch_save(weights, classifier.state_dict())
    run_dir.write_metrics({"loss": history["loss"], "train_accuracy": history["train_accuracy"]})
    return classifier


@dataclass
class Trained:
    """One row's trained system, its loss history and run directory."""

    system: SeparationSystem
    history: dict[str, list[float]]
    run_dir: RunDir


def build_system(
    params: Params, row: str, seed: int, dataset: SeparationData, classifier: CaReSep | None
) -> SeparationSystem:
    """The untrained system of one row: fresh separator, query from the shared encoder or a separate network,
    initialised from ``classifier`` where the row's Init flag says so."""
    flags = ROWS[row]
    config = model_config(params, dataset.n_classes)
    separator = _build(config, seed, dataset.class_names)
    query_network = None
    if flags.init and classifier is None:
        raise ValueError(f"row {row} starts from the CLS-pretrained classifier; pass it")
    if flags.shared:
        if flags.init:
            init_from_classifier(separator, classifier.state_dict())
    else:
        query_network = _build(classifier_config(config), seed + 1, dataset.class_names)
        if flags.init:
            query_network.load_state_dict(classifier.state_dict())
    return SeparationSystem(separator, query_network, grad=flags.grad, tagging_weight=params.tagging_weight,
                            mae_weight=params.mae_weight)  # fmt: skip


def train_row(
    params: Params, row: str, seed: int, dataset: SeparationData, classifier: CaReSep | None, progress: bool = True
) -> Trained:
    """Train one ablation row (or read back its finished run directory; an interrupted one resumes)."""
    run_dir = RunDir.open(TRAIN_NAME, training_params(params, row, seed), data=None if params.dataset in ("synthetic", "synthetic-separation") else data.get(params.dataset, root=expand_shared(params.data_root) or None))
    weights = run_dir.artifact("system.pt")
    system = build_system(params, row, seed, dataset, classifier)
    if run_dir.finished and weights.is_file():
        system.load_state_dict(read_checkpoint(weights))
        return Trained(system.eval(), run_dir.read_metrics()["history"], run_dir)
    loader = DataLoader(Triplets(dataset.train, params.query_clips), batch_size=params.batch_size, shuffle=True,
                        generator=make_generator(seed))  # fmt: skip
    trainer = Trainer(system, lambda model, batch: model(batch), _train_config(params.epochs, params, seed),
                      run_dir=run_dir, progress=progress)  # fmt: skip
    fitted = trainer.fit(loader)
    history = {name: [float(value) for value in fitted[name]] for name in fitted.names() if name not in ("epoch", "lr")}
    system = system.cpu().eval()
    atomic_torch_save(weights, system.state_dict())
    run_dir.write_metrics({"history": history, "row": row, "seed": seed})
    return Trained(system, history, run_dir)


# --------------------------------------------------------------------------------------------------
# Evaluation


@dataclass
class RowEvaluation:
    """Everything measured for one trained system on the test pairs."""

    scores: SeparationScores
    tagging_map: float
    figure: dict[str, np.ndarray]
    """``query-<a>``, ``query-<b>``, ``separation-<a>``, ``separation-<b>``: Figure-3 embeddings."""


def _device_of(module: nn.Module) -> torch.device:
    return next(module.parameters()).device


def test_queries(system: SeparationSystem, pairs: PairSet) -> torch.Tensor:
    """``(pairs, 2, 8D)``: each source's class query (the mean embedding of the class's anchors)."""
    by_class = {label: system.class_query(clips).cpu() for label, clips in pairs.anchors.items()}
    return torch.stack([torch.stack([by_class[int(label)] for label in row]) for row in pairs.classes])


@torch.no_grad()
def evaluate(system: SeparationSystem, dataset: SeparationData, params: Params) -> RowEvaluation:
    """Three SDRs, tagging mAP and the Figure-3 embeddings of one system on the test pairs."""
    system.eval()
    device = _device_of(system)
    pairs = dataset.test
    queries = test_queries(system, pairs)

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
            _, features = system.separator.separate(mixtures[part].to(device), member_queries[part].to(device),
                                                    return_features=True)  # fmt: skip
            separation_features.append(features.cpu())
        figure[f"query-{label}"] = torch.cat(query_embeddings).numpy()
        figure[f"separation-{label}"] = torch.cat(separation_features).numpy()
    return RowEvaluation(scores, tagging_map, figure)


def figure_analysis(figure: Mapping[str, np.ndarray], classes: Sequence[int], class_names: Sequence[str], seed: int = 0
                    ) -> tuple[np.ndarray, np.ndarray, list[str], dict[str, float]]:  # fmt: skip
    """t-SNE of the four groups (query / separation x two classes) and their symmetric Gaussian KLs.

    Returns:
        ``(points (M, 2), groups (M,), group names, kl)`` with kl ``{"query: a | b", "separation: a | b",
        "query | separation: a", "query | separation: b"}`` in nats (see
        :func:`~workbench.evaluation.separation.gaussian_kl` for the estimator). Empty when a class has
        fewer than 3 clips in the test set.
    """
    first, second = (int(label) for label in classes)
    keys = [f"query-{first}", f"query-{second}", f"separation-{first}", f"separation-{second}"]
    if any(key not in figure or len(figure[key]) < 3 for key in keys):
        return np.zeros((0, 2)), np.zeros(0, dtype=np.int64), [], {}
    names = [f"query: {class_names[first]}", f"query: {class_names[second]}",
             f"separation: {class_names[first]}", f"separation: {class_names[second]}"]  # fmt: skip
    stacked = np.concatenate([figure[key] for key in keys])
    groups = np.concatenate([np.full(len(figure[key]), position) for position, key in enumerate(keys)])
    points = project(stacked, method="tsne", seed=seed)
    a, b = class_names[first], class_names[second]
    kl = {
        f"query: {a} | {b}": symmetric_gaussian_kl(figure[keys[0]], figure[keys[1]]),
        f"separation: {a} | {b}": symmetric_gaussian_kl(figure[keys[2]], figure[keys[3]]),
        f"query | separation: {a}": symmetric_gaussian_kl(figure[keys[0]], figure[keys[2]]),
        f"query | separation: {b}": symmetric_gaussian_kl(figure[keys[1]], figure[keys[3]]),
    }
    return points, groups, names, kl


# --------------------------------------------------------------------------------------------------
# Result and claims


@dataclass
class CareSepRun(base.Result):
    """Tables per ablation row (pooled over seeds and test examples) and what the notebook draws.

    Attributes:
        table: row -> metric (``mixture_sdr``, ``clean_sdr``, ``silence_sdr``, ``sdri``, ``map``) ->
            (mean, ci95); SDRs pool every test example of every seed, mAP is the seeds' mean ± CI.
        query_blind: mean SDR of half the mixture against each source (what ignoring the query gets).
        input_sdr: mean SDR of the unprocessed mixture.
        histories: row -> loss curves of its first seed.
        tsne: row -> ``(points (M, 2), groups (M,))`` of its first seed; ``tsne_groups`` the group names.
        kl: row -> Figure-3 KL divergences (nats) of its first seed.
        systems: row -> the trained system of its first seed (for listening).
        data: the pairs (test pairs for the widget).
    """

    table: dict[str, dict[str, tuple[float, float]]] = field(default_factory=dict)
    query_blind: float = float("nan")
    input_sdr: float = float("nan")
    histories: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    tsne: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    tsne_groups: list[str] = field(default_factory=list)
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

    @torch.no_grad()
    def separate(self, row: str, mixture: torch.Tensor, query_class: int) -> torch.Tensor:
        """Separate ``mixture (samples,)`` with ``row``'s system and the test query of ``query_class``.

        Raises:
            UnknownNameError: a row that was not trained, or a class without query clips.
        """
        if row not in self.systems:
            raise UnknownNameError("trained row of this care_sep run", row, self.systems)
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
            "row: mixture-SDR | clean-SDR | silence-SDR | SDRi (dB) | tagging mAP",
        ]
        for row, values in self.table.items():
            lines.append(
                f"  {row_label(row)}: " + " | ".join(_db(values[metric][0]) for metric in METRICS)
                + f" | {values['map'][0]:.2f}"
            )  # fmt: skip
        lines.append(f"input mixture {_db(self.input_sdr)} dB; query-blind half mixture {_db(self.query_blind)} dB")
        lines += [f"claim {claim.line()}" for claim in self.claims]
        return "\n".join(lines)


def separation_claims(
    table: Mapping[str, Mapping[str, tuple[float, float]]], query_blind: float, n_seeds: int
) -> list[base.Claim]:
    """CaRE-SEP against the ST-SED-SEP baseline, against the input mixture, and against ignoring the query.

    Each needs its rows among those run; measured figures are means over the test examples (and seeds).
    """
    seeds = f"{n_seeds} seed{'s' if n_seeds != 1 else ''}"
    claims = []
    if CARE_SEP in table and BASELINE in table:
        ours, theirs = table[CARE_SEP]["mixture_sdr"][0], table[BASELINE]["mixture_sdr"][0]
        claims.append(base.Claim(
            name="mixture-SDR, CaRE-SEP vs ST-SED-SEP baseline",
            paper="higher with the shared, pretrained, gradient-trained encoder (Table 1)",
            measured=f"{ours:.2f} vs {theirs:.2f} dB ({seeds})",
            holds=ours > theirs,
            detail=f"clean-SDR {table[CARE_SEP]['clean_sdr'][0]:.2f} vs {table[BASELINE]['clean_sdr'][0]:.2f}, "
                   f"silence-SDR {table[CARE_SEP]['silence_sdr'][0]:.2f} vs {table[BASELINE]['silence_sdr'][0]:.2f}",
        ))  # fmt: skip
    if CARE_SEP in table:
        improvement = table[CARE_SEP]["sdri"][0]
        claims.append(base.Claim(
            name="CaRE-SEP improves over the input mixture",
            paper="SDRi > 0 dB",
            measured=f"SDRi {improvement:.2f} dB ({seeds})",
            holds=improvement > 0,
        ))  # fmt: skip
        mixture_sdr = table[CARE_SEP]["mixture_sdr"][0]
        claims.append(base.Claim(
            name="CaRE-SEP uses the query (beats half the mixture)",
            paper="query-based separation (implied)",
            measured=f"{mixture_sdr:.2f} vs {query_blind:.2f} dB",
            holds=mixture_sdr > query_blind,
        ))  # fmt: skip
    return claims


# --------------------------------------------------------------------------------------------------
# The run


def run(params: Params, progress: bool = True) -> CareSepRun:
    """Pretrain, train every row and seed, evaluate, and check the paper's claims.

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
    row = {
        metric: mean_confidence_interval(np.concatenate([
            evaluation.scores.improvement if metric == "sdri" else getattr(evaluation.scores, metric)
            for evaluation in evaluations
        ]))
        for metric in METRICS
    }  # fmt: skip
    row["map"] = mean_confidence_interval([evaluation.tagging_map for evaluation in evaluations])
    return row


def _run(params: Params, progress: bool) -> CareSepRun:
    seed_everything(params.world_seed)
    run_dir = RunDir.open(NAME, params.to_dict(), data=None if params.dataset in ("synthetic", "synthetic-separation") else data.get(params.dataset, root=expand_shared(params.data_root) or None))
    dataset = separation_data(params)
    for label in params.figure_classes:
        if not 0 <= label < dataset.n_classes:
            raise ValueError(f"parameter 'figure_classes': class {label} is not among the {dataset.n_classes} classes")
    device = resolve_device(params.device)
    query_blind = query_blind_sdr(dataset.test.sources)
    systems: dict[str, SeparationSystem] = {}
    histories: dict[str, dict[str, list[float]]] = {}
    needs_classifier = any(ROWS[row].init for row in params.rows)
    if run_dir.finished:
        metrics = run_dir.read_metrics()
        # metrics.json sorts its keys: the order of the rows comes from the parameters.
        table = {row: {metric: tuple(value) for metric, value in metrics["table"][row].items()} for row in params.rows}
        histories = {row: metrics["histories"][row] for row in params.rows}
        kl = {row: metrics["kl"][row] for row in params.rows if row in metrics["kl"]}
        arrays = run_dir.load_arrays("figure")
        tsne = {
            row: (arrays[f"points-{row}"], arrays[f"groups-{row}"]) for row in params.rows if f"points-{row}" in arrays
        }
        group_names = list(metrics["tsne_groups"])
        input_sdr = metrics["input_sdr"]
        first_seed = params.seeds[0]
        classifier = pretrain(params, first_seed, dataset, progress) if needs_classifier else None
        for row in params.rows:
            systems[row] = train_row(params, row, first_seed, dataset, classifier, progress).system
    else:
        run_dir.log("start", params=params.to_dict(), train_pairs=len(dataset.train), test_pairs=len(dataset.test))
        evaluations: dict[str, list[RowEvaluation]] = {row: [] for row in params.rows}
        for seed in params.seeds:
            classifier = pretrain(params, seed, dataset, progress) if needs_classifier else None
            for row in params.rows:
                trained = train_row(params, row, seed, dataset, classifier, progress)
                trained.system.to(device)
                evaluations[row].append(evaluate(trained.system, dataset, params))
                trained.system.cpu()
                if seed == params.seeds[0]:
                    systems[row], histories[row] = trained.system, trained.history
                run_dir.log("evaluated", row=row, seed=seed, **evaluations[row][-1].scores.means())
        table = {row: _pool(row_evaluations) for row, row_evaluations in evaluations.items()}
        input_sdr = float(np.mean([e.scores.input_sdr.mean() for e in evaluations[params.rows[0]]]))
        tsne, kl, group_names = {}, {}, []
        for row in params.rows:
            points, groups, group_names_row, kl_row = figure_analysis(
                evaluations[row][0].figure, params.figure_classes, dataset.class_names, seed=params.world_seed
            )
            if len(points):
                tsne[row], kl[row], group_names = (points, groups), kl_row, group_names_row
        arrays = {f"points-{row}": points for row, (points, _) in tsne.items()}
        arrays.update({f"groups-{row}": groups for row, (_, groups) in tsne.items()})
        arrays.update({f"{metric}-{row}": np.concatenate([getattr(e.scores, metric) for e in evaluations[row]])
                       for row in params.rows for metric in ("mixture_sdr", "clean_sdr", "silence_sdr", "input_sdr")})
        run_dir.save_arrays("figure", **arrays)
    claims = separation_claims(table, query_blind, len(params.seeds))
    metrics = {
        "table": table, "query_blind": query_blind, "input_sdr": input_sdr, "histories": histories, "kl": kl,
        "tsne_groups": group_names, "claims": [dataclasses.asdict(claim) for claim in claims],
    }  # fmt: skip
    if not run_dir.finished:
        run_dir.write_metrics(metrics)
        run_dir.log("finished")
    return CareSepRun(
        recipe=NAME, params=params.to_dict(), run_dir=run_dir.path, metrics=metrics, claims=claims, table=table,
        query_blind=query_blind, input_sdr=input_sdr, histories=histories, tsne=tsne, tsne_groups=group_names,
        kl=kl, systems=systems, data=dataset,
    )  # fmt: skip
