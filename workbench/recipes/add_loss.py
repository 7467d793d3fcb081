"""Fine-tuning with the Angular Distance Distribution (ADD) loss, its baselines, and the distance analysis.

Almudévar, Serizel, Ortega, "Angular Distance Distribution Loss for Audio Classification", 2024
(arXiv:2411.00153); official code github.com/antonioalmudevar/distance_distribution_loss.

An encoder (AST, BEATs, or any workbench encoder) and a linear head are fine-tuned together with
cross-entropy (soft cross-entropy or BCE on mixup targets) plus an auxiliary loss on the encoder's
embeddings: none (``"ce"``), focal loss instead of CE (``"focal"``), Orthogonal Projection Loss
(``"opl"``) or ADD (``"add"``, its four lambdas weighting the mean and spread of same-class squared
cosine distances and different-class squared cosine similarities). Each test fold gets accuracy and
the test-set embeddings, saved in the run directory, with their geometry
(:func:`workbench.evaluation.geometry.embedding_geometry`: mean and coefficient of variation of cosine
distances per class pair, and the paper's four summaries).

``add_form`` picks the ADD formulation: the paper's Eq. 1-4 (``"paper"``) or the official code's moments
(``"official"``; see :mod:`workbench.losses.add` for where they differ). ``protocol`` picks the train/test
partitions (:func:`plan_partitions`): the dataset's official folds or split, or (``"auto"``, where those
cannot be trained on) grouped or stratified k-fold.

``Params.variants`` names several losses to train side by side on the same folds and seeds
(:func:`compare`), each in its own run directory; the comparison checks the paper's claims that ADD
classifies better (Table 2) and makes clips of a class, and pairs of classes, more equidistant than CE
does (lower intra- and inter-class CV, Fig. 5; a lower spread of the class pairs' mean distances), each
over the paired runs (same test fold, same seed) through :func:`~workbench.evaluation.stats.compare_paired`.

Defaults train a tiny AST from scratch on half-second clips of the synthetic world, in seconds per loss
on a CPU.
The paper's settings (pretrained AST / BEATs on ESC-50, Speech Commands, IEMOCAP) are presets in
``notebooks/params/01_add_loss/``.
"""

from __future__ import annotations

import dataclasses
import math
import shutil
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from workbench import data
from workbench.audio import SpecAugment, mixup_targets, mixup_waveforms
from workbench.audio.frontends import KaldiFbank
from workbench.data import iemocap as _iemocap  # noqa: F401 - registers "iemocap" with the dataset registry
from workbench.data.records import AudioDataset, Subset
from workbench.errors import ParameterError, UnknownNameError
from workbench.evaluation.geometry import Geometry, embedding_geometry
from workbench.evaluation.protocols import PROTOCOLS, official_problems, plan_protocol
from workbench.evaluation.stats import compare_paired
from workbench.losses import ADDLoss, ClassificationLoss, FocalLoss, OrthogonalProjectionLoss
from workbench.models import registry
from workbench.models.base import Encoder
from workbench.models.zoo import build_encoder, encoder_names
from workbench.recipes import base
from workbench.train.distributed import DistributedContext
from workbench.train.loop import Trainer, TrainConfig
from workbench.train.rundir import RunDir
from workbench.train.seed import make_generator, seed_everything, worker_init_fn

NAME = "add_loss"
NOTEBOOK = "01_add_loss.ipynb"

LossName = Literal["ce", "focal", "opl", "add"]
WindowType = Literal["", "hanning", "hamming", "povey", "rectangular", "blackman"]
SUMMARY_NAMES = ("intra-class clustering", "intra-class equidistance", "inter-class separation",
                 "inter-class equidistance", "inter-class hierarchy")  # fmt: skip
"""The keys of :meth:`Geometry.summaries`, in the order the tables print them."""


@dataclass(frozen=True)
class Params(base.Params):
    recipe: ClassVar[str] = NAME

    # --- data
    dataset: str = "synthetic"  # synthetic | esc50 | esc10 | speech_commands | iemocap | folder | ...
    task: str = ""  # the dataset's task option ("" = its default; synthetic: event | speaker | word | pitch)
    n_clips: int = 200  # clips in the synthetic world (synthetic only)
    world_seed: int = 0  # seed of the synthetic world (synthetic only)
    data_root: str = ""  # data root of real datasets ("" = default); for "folder": the folder of audio
    folder_labels: str = ""  # "folder" only: CSV filename,label[,fold][,split] ("" = one subfolder per class)
    clip_seconds: float = 0.5  # every clip is cut or zero-padded to this length (synthetic: rendered at it)
    folds: str = "first"  # test folds: "first", "all" (cross-validation) or "1,3"; official splits ignore it
    # --- encoder and front-end
    encoder: str = "ast-tiny"  # a name from workbench.models.zoo.encoder_names() (pretrained names load weights)
    pretrained_path: str = ""  # local checkpoint file for a pretrained encoder name ("" = cache / download)
    input_frames: int = 0  # AST-style encoders: spectrogram frames per clip (0 = the model's own length)
    window_type: WindowType = ""  # Kaldi fbank window ("" = the encoder's own: AST hanning, BEATs povey)
    # --- augmentation
    freq_mask: int = 0  # SpecAugment: widest frequency mask, in bins (0 = none)
    time_mask: int = 0  # SpecAugment: widest time mask, in frames (0 = none)
    mixup: float = 0.0  # probability that a training clip is mixed with another clip of its batch (0 = no mixup)
    mixup_alpha: float = 10.0  # mixing weight ~ Beta(alpha, alpha) (the ADD code: 10)
    mixup_criterion: Literal["ce", "bce"] = "ce"  # on mixup targets: soft cross-entropy, or BCE as the ADD code
    # --- optimisation
    epochs: int = 30  # passes over the training clips
    batch_size: int = 32  # clips per optimiser step
    optimizer: Literal["adamw", "adam"] = "adamw"  # Adam with decoupled (adamw) or L2 (adam) weight decay
    learning_rate: float = 1e-3  # peak learning rate
    beta1: float = 0.9  # Adam beta1
    beta2: float = 0.999  # Adam beta2
    weight_decay: float = 0.0  # weight decay
    schedule: Literal["constant", "cosine", "warmup_cosine", "step"] = "cosine"  # learning-rate schedule
    warmup_epochs: float = 0.0  # linear warm-up (warmup_cosine only)
    step_epochs: int = 1  # epochs between decays of the "step" schedule
    step_gamma: float = 1.0  # decay factor of the "step" schedule
    # --- loss
    loss: LossName = "add"  # ce | focal | opl | add (each but focal adds its term to cross-entropy)
    lambda_mu_p: float = 1.0  # ADD: weight of the mean of same-class squared distances
    lambda_sigma_p: float = 1.0  # ADD: weight of their standard deviation
    lambda_mu_n: float = 1.0  # ADD: weight of the mean of different-class squared similarities
    lambda_sigma_n: float = 1.0  # ADD: weight of their standard deviation
    focal_gamma: float = 2.0  # focal loss focusing parameter
    opl_gamma: float = 0.5  # OPL weight of its different-class term
    auxiliary_weight: float = 1.0  # weight of the OPL / ADD term added to cross-entropy
    variants: tuple[str, ...] = ()  # losses to compare, e.g. "ce,focal,opl,add,add-1010" ("" = the one above)
    # --- repetitions and outputs
    repeats: int = 1  # training seeds per fold; accuracy is reported as mean ± std over them
    seed: int = 0  # seed of the first repeat (repeat r uses seed + r)
    geometry_classes: tuple[int, ...] = ()  # classes of the distance analysis (empty = every test class)
    keep_checkpoints: bool = False  # keep each fold's trained model (large for base-size encoders)
    num_workers: int = 0  # data-loader workers reading clips
    preload: bool = True  # read every clip once into memory (turn off for Speech Commands)
    add_form: Literal["paper", "official"] = "paper"  # ADD: Eq. 1-4 (squared distances) or the official code's moments
    opl_absolute_negatives: bool = False  # OPL: |cos| over different-class pairs (the paper and the ADD repository)
    opl_weight: float = 0.0  # weight of the OPL term (0 = auxiliary_weight; the ADD repository: 0.1)
    protocol: str = "auto"  # train/test partitions: auto | official | kfold | grouped-kfold (see evaluation.protocols)
    n_folds: int = 5  # folds of the kfold and grouped-kfold protocols

    checks: ClassVar[dict[str, Any]] = {
        "dataset": base.OneOf("dataset", base.dataset_names),
        "n_clips": base.AT_LEAST_ONE,
        "clip_seconds": base.POSITIVE,
        "encoder": base.OneOf("encoder", base.encoder_names),
        "mixup": base.PROBABILITY,
        "mixup_alpha": base.POSITIVE,
        "epochs": base.AT_LEAST_ONE,
        "batch_size": base.AT_LEAST_ONE,
        "learning_rate": base.POSITIVE,
        "beta1": base.Bound(0, 1, high_open=True),
        "beta2": base.Bound(0, 1, high_open=True),
        "weight_decay": base.NON_NEGATIVE,
        "warmup_epochs": base.NON_NEGATIVE,
        "step_epochs": base.AT_LEAST_ONE,
        "step_gamma": base.POSITIVE,
        **dict.fromkeys(("lambda_mu_p", "lambda_sigma_p", "lambda_mu_n", "lambda_sigma_n"), base.NON_NEGATIVE),
        **dict.fromkeys(("focal_gamma", "opl_gamma", "auxiliary_weight"), base.NON_NEGATIVE),
        "repeats": base.AT_LEAST_ONE,
        "opl_weight": base.NON_NEGATIVE,
        "protocol": base.OneOf("evaluation protocol", PROTOCOLS),
        "n_folds": base.at_least(2),
    }

    def __post_init__(self) -> None:
        super().__post_init__()
        base.check_task(self.dataset, self.task)
        for key in self.variants:
            try:
                parse_variant(key)
            except UnknownNameError as error:
                raise UnknownNameError(error.kind, error.name, error.valid, parameter="variants") from None
        if len(set(self.variants)) != len(self.variants):
            raise ParameterError(f"parameter 'variants' lists a loss twice: {', '.join(self.variants)}")
        if self.folds not in ("first", "all"):
            numbers = [part.strip() for part in self.folds.split(",")]
            if not all(part.isdigit() for part in numbers):
                raise ParameterError(
                    f"parameter 'folds' must be 'first', 'all' or fold numbers like '1,3', got {self.folds!r}"
                )


# --------------------------------------------------------------------------------------------------
# Loss variants


@dataclass(frozen=True)
class Variant:
    """One loss configuration of a comparison: its key in ``Params.variants`` and the params it sets."""

    key: str
    changes: dict[str, Any]

    def label(self, params: Params) -> str:
        """The display name: ``CE``, ``Focal``, ``OPL`` or ``ADD {mu_p,sigma_p,mu_n,sigma_n}``."""
        return loss_label(params.replace(**self.changes))


def loss_label(params: Params) -> str:
    """How tables and figures name the loss ``params`` trains, e.g. ``"ADD {1,0,1,0}"``."""
    if params.loss == "add":
        lambdas = (params.lambda_mu_p, params.lambda_sigma_p, params.lambda_mu_n, params.lambda_sigma_n)
        return "ADD {" + ",".join(f"{value:g}" for value in lambdas) + "}"
    return {"ce": "CE", "focal": "Focal", "opl": "OPL"}[params.loss]


VARIANT_FORMS = ("ce", "focal", "opl", "add", "add-<four 0/1 digits, e.g. 1010>")
DEFAULT_VARIANTS = ("ce", "focal", "opl", "add", "add-1000", "add-0100", "add-0010", "add-0001", "add-1010")
"""The notebook's comparison: the baselines, ADD {1,1,1,1}, each single term, and the two means."""


def parse_variant(key: str) -> Variant:
    """``"ce"``, ``"focal"``, ``"opl"``, ``"add"`` (the Params lambdas) or ``"add-1010"`` (lambdas
    mu_p, sigma_p, mu_n, sigma_n switched on or off).

    Raises:
        UnknownNameError: any other key (the message lists the forms).
    """
    if key in ("ce", "focal", "opl", "add"):
        return Variant(key, {"loss": key})
    digits = key.removeprefix("add-")
    if key.startswith("add-") and len(digits) == 4 and set(digits) <= {"0", "1"}:
        lambdas = dict(zip(("lambda_mu_p", "lambda_sigma_p", "lambda_mu_n", "lambda_sigma_n"), map(float, digits)))
        return Variant(key, {"loss": "add", **lambdas})
    raise UnknownNameError("loss variant", key, VARIANT_FORMS)


def canonical(params: Params) -> Params:
    """``params`` with the fields its loss ignores set to their defaults, so that runs which train the
    same thing (CE with different ADD lambdas, say) share one run directory."""
    defaults = Params()
    unused: list[str] = ["variants"]
    if params.loss != "add":
        unused += ["lambda_mu_p", "lambda_sigma_p", "lambda_mu_n", "lambda_sigma_n", "add_form"]
    if params.loss != "focal":
        unused.append("focal_gamma")
    if params.loss != "opl":
        unused += ["opl_gamma", "opl_absolute_negatives", "opl_weight"]
    if params.loss not in ("opl", "add"):
        unused.append("auxiliary_weight")
    if params.mixup == 0:
        unused += ["mixup_alpha", "mixup_criterion"]
    if not params.dataset.startswith("synthetic"):
        unused += ["n_clips", "world_seed"]
    return params.replace(**{name: getattr(defaults, name) for name in unused})


# --------------------------------------------------------------------------------------------------
# Results


@dataclass
class FoldResult:
    """One trained model (a test fold and a repeat): its accuracy and its test-set embeddings.

    Attributes:
        fold: the test fold, or None for an official train/test split.
        repeat: the repeat (its seed is ``Params.seed + repeat``).
        accuracy: test accuracy.
        indices: ``(N,)`` dataset indices of the test clips.
        ids: ``(N,)`` their clip ids.
        targets: ``(N,)`` true classes.
        predictions: ``(N,)`` predicted classes.
        embeddings: ``(N, D)`` encoder embeddings (the head's input).
        geometry: the distance analysis of ``embeddings``.
    """

    fold: int | None
    repeat: int
    accuracy: float
    indices: np.ndarray
    ids: np.ndarray
    targets: np.ndarray
    predictions: np.ndarray
    embeddings: np.ndarray
    geometry: Geometry

    def arrays(self) -> dict[str, np.ndarray]:
        return {
            "indices": self.indices, "ids": self.ids, "targets": self.targets,
            "predictions": self.predictions, "embeddings": self.embeddings,
        }  # fmt: skip


def run_tag(fold: int | None, repeat: int) -> str:
    """``"fold3-repeat0"`` or ``"split-repeat0"``: the name of a model's folder and arrays."""
    return f"{'split' if fold is None else f'fold{fold}'}-repeat{repeat}"


@dataclass
class LossRun:
    """One loss trained on every chosen fold and repeat (one run directory)."""

    label: str
    params: Params
    run_dir: Path
    folds: list[FoldResult]

    def accuracy_per_repeat(self) -> np.ndarray:
        """``(repeats,)``: each repeat's accuracy averaged over the test folds."""
        repeats = sorted({result.repeat for result in self.folds})
        return np.array([np.mean([r.accuracy for r in self.folds if r.repeat == repeat]) for repeat in repeats])

    @property
    def accuracy_mean(self) -> float:
        return float(self.accuracy_per_repeat().mean())

    @property
    def accuracy_std(self) -> float:
        """Sample standard deviation over repeats (0 for a single repeat)."""
        per_repeat = self.accuracy_per_repeat()
        return float(per_repeat.std(ddof=1)) if len(per_repeat) > 1 else 0.0

    def accuracy_per_fold(self) -> dict[str, list[float]]:
        """Fold label (``"fold 1"`` or ``"split"``) -> accuracies of its repeats."""
        table: dict[str, list[float]] = {}
        for result in self.folds:
            table.setdefault("split" if result.fold is None else f"fold {result.fold}", []).append(result.accuracy)
        return table

    def summaries(self) -> dict[str, float]:
        """The four geometry summaries averaged over every fold and repeat (NaN where no model has one)."""
        averages = {}
        for name in SUMMARY_NAMES:
            values = np.array([result.geometry.summaries()[name] for result in self.folds])
            finite = values[np.isfinite(values)]
            averages[name] = float(finite.mean()) if finite.size else float("nan")
        return averages

    def metrics(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "accuracy": {"mean": self.accuracy_mean, "std": self.accuracy_std,
                         "per_repeat": self.accuracy_per_repeat().tolist(), "per_fold": self.accuracy_per_fold()},
            "geometry": self.summaries(),
            "folds": [{"fold": r.fold, "repeat": r.repeat, "accuracy": r.accuracy, "geometry": r.geometry.summaries()}
                      for r in self.folds],
        }  # fmt: skip


@dataclass
class AddLossResult(base.Result):
    """Every loss trained (one, or the ``variants`` of a comparison), the claims, and the dataset."""

    losses: dict[str, LossRun] = field(default_factory=dict)
    classes: tuple[str, ...] = ()
    dataset: AudioDataset | None = None
    protocol_note: str = ""
    """Which evaluation protocol ran and why, where it is not the one asked for (see :func:`plan_partitions`)."""

    def table(self) -> list[dict[str, Any]]:
        """One row per loss: label, accuracy mean and std, and the four geometry summaries."""
        return [
            {"loss": label, "accuracy": run.accuracy_mean, "accuracy std": run.accuracy_std, **run.summaries()}
            for label, run in self.losses.items()
        ]

    def markdown_table(self, digits: int = 3) -> str:
        """:meth:`table` as a markdown table (for ``IPython.display.Markdown``)."""
        rows = self.table()
        header = ["loss", "accuracy", *SUMMARY_NAMES]
        lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
        for row in rows:
            cells = [row["loss"], f"{row['accuracy']:.{digits}f} ± {row['accuracy std']:.{digits}f}"]
            cells += [f"{row[name]:.{digits}f}" for name in SUMMARY_NAMES]
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def summary(self) -> str:
        """Per loss: accuracy (mean ± std over repeats) and the geometry summaries, 2 decimals; the claims."""
        params = self.params
        folds = sorted({r.fold for run in self.losses.values() for r in run.folds}, key=lambda fold: fold or 0)
        fold_names = ",".join("split" if fold is None else str(fold) for fold in folds)
        lines = [
            f"recipe: {self.recipe} on {params['dataset']}{' / ' + params['task'] if params['task'] else ''}, "
            f"encoder {params['encoder']}, test fold(s) {fold_names}, {params['repeats']} repeat(s)"
            + (f"; {self.protocol_note}" if self.protocol_note else ""),
            f"{'loss':16s} {'accuracy':>11s}  {'intra-clust':>11s} {'intra-CV':>8s} {'inter-sep':>9s} {'inter-CV':>8s} "
            f"{'inter-hier':>10s}",
        ]
        for label, run in self.losses.items():
            values = [run.summaries()[name] for name in SUMMARY_NAMES]
            lines.append(
                f"{label:16s} {run.accuracy_mean:5.2f} ± {run.accuracy_std:4.2f}  {values[0]:11.2f} {values[1]:8.2f} "
                f"{values[2]:9.2f} {values[3]:8.2f} {values[4]:10.2f}"
            )
        lines += [f"claim {claim.line()}" for claim in self.claims]
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------------
# Data


def build_dataset(params: Params, sample_rate: int) -> AudioDataset:
    """The dataset ``params`` names, at ``sample_rate`` (the encoder's).

    Raises:
        UnknownNameError: an unknown dataset or option.
        DatasetNotFoundError: a real dataset whose files are absent (the message says how to get them).
        ValueError: a dataset whose targets are not single class indices.
    """
    options: dict[str, Any] = {"sample_rate": sample_rate}
    if params.task:
        options["task"] = params.task
    if params.dataset.startswith("synthetic"):
        options.update(n_clips=params.n_clips, seed=params.world_seed, duration=params.clip_seconds)
    root = params.data_root or None
    if params.dataset == "folder":  # its data_root is the folder of audio itself
        options.update(path=root, labels=params.folder_labels or None)
        root = None
    dataset = data.get(params.dataset, root=root, **options)
    if dataset.target_kind != "class":
        raise ValueError(
            f"add_loss fine-tunes single-label classifiers; dataset {params.dataset!r} has "
            f"{dataset.target_kind!r} targets"
        )
    return dataset


@dataclass(frozen=True)
class FoldSplit:
    """Training and test clips of one test fold (``fold`` None: the dataset's official split)."""

    fold: int | None
    train: list[int]
    test: list[int]


def official_splits(dataset: AudioDataset, folds: str) -> list[FoldSplit]:
    """The dataset's official train/test partitions to run.

    Datasets with folds (ESC-50, IEMOCAP sessions, the synthetic world) leave one fold out: ``folds``
    is ``"first"`` (the lowest fold), ``"all"`` (cross-validation) or comma-separated fold numbers.
    Datasets with an official split (Speech Commands) train on ``"train"`` and test on ``"test"``.

    Raises:
        ValueError: a fold the dataset does not have, a malformed ``folds``, an empty partition, or a
            dataset with neither folds nor splits.
    """
    count = len(dataset)
    clip_folds = [dataset.fold_of(index) for index in range(count)]
    if all(fold is not None for fold in clip_folds) and count:
        present = sorted(set(clip_folds))
        if folds == "first":
            chosen = present[:1]
        elif folds == "all":
            chosen = present
        else:
            try:
                chosen = [int(part) for part in folds.split(",") if part.strip()]
            except ValueError:
                raise ValueError(f"folds must be 'first', 'all' or fold numbers like '1,3', got {folds!r}") from None
            if absent := sorted(set(chosen) - set(present)):
                raise ValueError(f"folds {absent} are not in the dataset, which has folds {present}")
        splits = [
            FoldSplit(fold, [i for i, other in enumerate(clip_folds) if other != fold],
                      [i for i, other in enumerate(clip_folds) if other == fold])
            for fold in chosen
        ]  # fmt: skip
    else:
        clip_splits = [dataset.split_of(index) for index in range(count)]
        if not any(split is not None for split in clip_splits):
            raise ValueError(f"{type(dataset).__name__} has neither folds nor a train/test split to evaluate on")
        splits = [FoldSplit(None, [i for i, s in enumerate(clip_splits) if s == "train"],
                            [i for i, s in enumerate(clip_splits) if s == "test"])]  # fmt: skip
    for split in splits:
        if not split.train or not split.test:
            where = "the official split" if split.fold is None else f"test fold {split.fold}"
            raise ValueError(f"{where} leaves {len(split.train)} training and {len(split.test)} test clips")
    return splits


def choose_folds(splits: list[FoldSplit], folds: str) -> list[FoldSplit]:
    """The k-fold partitions ``folds`` names: ``"first"``, ``"all"`` or fold numbers ``"1,3"`` (1-based).

    Raises:
        ValueError: a malformed ``folds`` or a fold number past the last fold.
    """
    if folds == "first":
        return splits[:1]
    if folds == "all":
        return splits
    try:
        chosen = [int(part) for part in folds.split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"folds must be 'first', 'all' or fold numbers like '1,3', got {folds!r}") from None
    present = [split.fold for split in splits]
    if absent := sorted(set(chosen) - set(present)):
        raise ValueError(f"folds {absent} are not in the plan, which has folds {present}")
    return [split for split in splits if split.fold in chosen]


def _dataset_targets(dataset: AudioDataset) -> np.ndarray:
    try:
        return np.asarray(dataset.targets(), dtype=np.int64)
    except NotImplementedError:  # a dataset that must read each clip for its label
        return np.asarray([int(dataset[index][1]) for index in range(len(dataset))], dtype=np.int64)


def plan_partitions(
    dataset: AudioDataset, folds: str, protocol: str = "auto", n_folds: int = 5, seed: int = 0
) -> tuple[list[FoldSplit], str]:
    """The train/test partitions of ``protocol`` (:func:`workbench.evaluation.protocols.plan_protocol`),
    and a note saying which protocol ran and why (empty when it is the one asked for).

    ``"official"`` is the dataset's folds (leave one out) or its train/test split; ``"auto"`` uses them
    only where every fold can be trained on, else grouped k-fold (by source recording) where the
    dataset knows groups, else stratified k-fold; ``"kfold"`` and ``"grouped-kfold"`` ask for those.
    K-fold partitions are numbered from 1, and ``folds`` picks among them as among official folds. The
    same ``seed`` gives the same partitions, so every loss (and every repeat) sees the same folds.

    Raises:
        UnknownNameError: an unknown protocol.
        ValueError: a protocol the data cannot support (naming the fold and the classes missing), or
            a fold the plan does not have.
    """
    count = len(dataset)
    if protocol == "official":
        splits = official_splits(dataset, folds)
        try:
            targets = np.asarray(dataset.targets(), dtype=np.int64)
        except NotImplementedError:  # no cheap labels: the folds are checked for emptiness only
            return splits, ""
        rows = np.arange(count)
        partitions = [(f"fold {split.fold}" if split.fold is not None else "the official split",
                       rows[split.train], rows[split.test]) for split in splits]  # fmt: skip
        problems = official_problems(targets, partitions, dataset.classes)
        if fatal := [problem.text for problem in problems if problem.fatal]:
            raise ValueError(
                "protocol 'official' cannot be trained on this data: " + "; ".join(fatal)
                + ". Use protocol 'auto', 'grouped-kfold' or 'kfold', or complete the dataset."
            )
        return splits, "; ".join(problem.text for problem in problems)
    targets = _dataset_targets(dataset)
    clip_folds = [dataset.fold_of(index) for index in range(count)]
    clip_splits = [dataset.split_of(index) for index in range(count)]
    clip_groups = [dataset.group_of(index) for index in range(count)]
    plan = plan_protocol(
        targets, protocol=protocol,
        folds=np.asarray(clip_folds) if count and all(f is not None for f in clip_folds) else None,
        splits=np.asarray(clip_splits, dtype=object) if any(s is not None for s in clip_splits) else None,
        groups=np.asarray(clip_groups, dtype=object) if count and all(g is not None for g in clip_groups) else None,
        classes=dataset.classes, n_folds=n_folds, seed=seed,
    )  # fmt: skip
    note = f"protocol {plan.protocol}" + (f" ({plan.note})" if plan.note else "")
    if plan.protocol == "official":
        return official_splits(dataset, folds), note if plan.note else ""
    splits = [FoldSplit(position, fold.train.tolist(), fold.test.tolist())
              for position, fold in enumerate(plan.folds, start=1)]  # fmt: skip
    return choose_folds(splits, folds), note


def plan_splits(
    dataset: AudioDataset, folds: str, protocol: str = "official", n_folds: int = 5, seed: int = 0
) -> list[FoldSplit]:
    """:func:`plan_partitions` without its note."""
    return plan_partitions(dataset, folds, protocol, n_folds, seed)[0]


class FixedLengthCollate:
    """Collate ``(waveform, target, meta)`` items into ``(waveforms (B, samples), targets (B,))``.

    Channels are averaged; each clip is cut to its first ``samples`` or zero-padded at the end.
    """

    def __init__(self, samples: int):
        self.samples = samples

    def __call__(self, items: Sequence[tuple[torch.Tensor, Any, dict[str, Any]]]) -> tuple[torch.Tensor, torch.Tensor]:
        waveforms = torch.zeros(len(items), self.samples)
        for row, (waveform, _, _) in enumerate(items):
            mono = torch.as_tensor(waveform, dtype=torch.float32).reshape(-1, waveform.shape[-1]).mean(dim=0)
            kept = mono[: self.samples]
            waveforms[row, : len(kept)] = kept
        return waveforms, torch.as_tensor([int(item[1]) for item in items], dtype=torch.long)


def read_clips(
    dataset: AudioDataset, indices: Sequence[int], samples: int, num_workers: int = 0, desc: str = "reading clips"
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(waveforms (N, samples), targets (N,))`` of the clips at ``indices``, in that order."""
    loader = torch.utils.data.DataLoader(
        Subset(dataset, indices), batch_size=64, num_workers=num_workers, collate_fn=FixedLengthCollate(samples)
    )
    batches = list(tqdm(loader, desc=desc, leave=False))
    return torch.cat([waveforms for waveforms, _ in batches]), torch.cat([targets for _, targets in batches])


def has_spectrogram_path(encoder: Encoder) -> bool:
    """Whether the encoder implements :meth:`Encoder.spectrogram` / :meth:`Encoder.forward_spectrogram`."""
    return type(encoder).spectrogram is not Encoder.spectrogram


@torch.no_grad()
def compute_spectrograms(
    encoder: Encoder, waveforms: torch.Tensor, device: torch.device, batch_size: int = 64
) -> torch.Tensor:
    """The encoder's (fixed, untrained) spectrogram of every waveform, computed once on ``device``."""
    parts = [encoder.spectrogram(waveforms[start : start + batch_size].to(device)).cpu()
             for start in range(0, len(waveforms), batch_size)]  # fmt: skip
    return torch.cat(parts)


# --------------------------------------------------------------------------------------------------
# Model and training step


class FineTuner(nn.Module):
    """An encoder and a linear head, with SpecAugment on the encoder's spectrogram while training.

    ``forward`` takes waveforms ``(batch, samples)`` or, for encoders with a spectrogram path,
    precomputed spectrograms (3-D, in the encoder's layout); SpecAugment (identity in eval mode) is
    applied in ``(batch, bins, frames)`` layout, transposing for time-first encoders (BEATs). Masked
    cells are set to 0, the mean of the normalised features.

    Args:
        encoder: any :class:`Encoder`; SpecAugment needs its spectrogram path.
        n_classes: outputs of the head.
        spec_augment: the masking module, or None.

    Returns:
        ``forward``: ``(embeddings (batch, dim), logits (batch, n_classes))``.

    Raises:
        ValueError: SpecAugment with an encoder that does not expose its spectrogram.
    """

    def __init__(self, encoder: Encoder, n_classes: int, spec_augment: SpecAugment | None = None):
        super().__init__()
        if spec_augment is not None and not has_spectrogram_path(encoder):
            raise ValueError(
                f"SpecAugment needs the encoder's spectrogram, and {type(encoder).__name__} does not expose one; "
                f"set freq_mask=0 and time_mask=0, or use a spectrogram encoder (AST, BEATs, AudioNTT2020)"
            )
        self.encoder = encoder
        self.head = nn.Linear(encoder.embedding_dim, n_classes)
        self.spec_augment = spec_augment

    def augment(self, spectrogram: torch.Tensor) -> torch.Tensor:
        if self.spec_augment is None:
            return spectrogram
        if self.encoder.spectrogram_time_first:
            return self.spec_augment(spectrogram.transpose(1, 2)).transpose(1, 2)
        return self.spec_augment(spectrogram)

    def forward(self, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if inputs.ndim == 3:
            embeddings = self.encoder.forward_spectrogram(self.augment(inputs))
        elif self.spec_augment is not None:
            embeddings = self.encoder.forward_spectrogram(self.augment(self.encoder.spectrogram(inputs)))
        else:
            embeddings = self.encoder(inputs)
        return embeddings, self.head(embeddings)


def mix_batch(
    waveforms: torch.Tensor, targets: torch.Tensor, probability: float, alpha: float, n_classes: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mixup inside a batch, as the ADD code does per clip: with ``probability`` a clip is mixed with
    a random clip of the batch, ``lam x + (1 - lam) y`` with ``lam ~ Beta(alpha, alpha)``.

    Returns:
        the waveforms and soft targets ``(batch, n_classes)`` (one-hot for clips left unmixed).
    """
    batch = len(waveforms)
    partner = torch.randperm(batch, device=waveforms.device)
    lam = torch.distributions.Beta(float(alpha), float(alpha)).sample((batch,)).to(waveforms.device)
    mixed = torch.rand(batch, device=waveforms.device) < probability
    lam = torch.where(mixed, lam, torch.ones_like(lam))
    return (
        mixup_waveforms(waveforms, waveforms[partner], lam),
        mixup_targets(targets, targets[partner], lam, n_classes=n_classes),
    )


def build_criterion(params: Params) -> ClassificationLoss:
    """Cross-entropy (soft CE or BCE under mixup) or focal loss, plus the OPL / ADD term.

    Raises:
        ValueError: ADD under mixup with ``lambda_mu_p != lambda_mu_n`` (the soft-label ADD has one
            lambda for its mean term).
    """
    classification: str | nn.Module = params.mixup_criterion if params.mixup > 0 else "ce"
    if params.loss == "focal":
        return ClassificationLoss(FocalLoss(gamma=params.focal_gamma))
    if params.loss == "opl":
        opl = OrthogonalProjectionLoss(gamma=params.opl_gamma, absolute_negatives=params.opl_absolute_negatives)
        return ClassificationLoss(classification, opl, params.opl_weight or params.auxiliary_weight)
    if params.loss == "add":
        if params.mixup > 0 and params.lambda_mu_p != params.lambda_mu_n:
            raise ValueError(
                f"ADD with mixup (soft labels) weights its mean term with one lambda, but lambda_mu_p="
                f"{params.lambda_mu_p} and lambda_mu_n={params.lambda_mu_n} differ; make them equal or set mixup=0"
            )
        # Under mixup every batch is read as soft labels (Sec. 3.4), also one whose clips all stayed unmixed.
        add = ADDLoss(params.lambda_mu_p, params.lambda_sigma_p, params.lambda_mu_n, params.lambda_sigma_n,
                      form=params.add_form, labels="soft" if params.mixup > 0 else "auto")  # fmt: skip
        return ClassificationLoss(classification, add, params.auxiliary_weight)
    return ClassificationLoss(classification)


def make_step(criterion: ClassificationLoss, params: Params, n_classes: int):
    """The trainer's ``step_fn``: mixup (when on), forward, and the loss with its terms as metrics."""

    def step(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        inputs, targets = batch
        if params.mixup > 0:
            inputs, targets = mix_batch(inputs, targets, params.mixup, params.mixup_alpha, n_classes)
        embeddings, logits = model(inputs)
        terms = criterion.terms(logits, targets, embeddings)
        hard = targets if targets.ndim == 1 else targets.argmax(dim=1)
        metrics = {"classification": terms["classification"].item(),
                   "train_accuracy": (logits.argmax(dim=1) == hard).float().mean().item()}  # fmt: skip
        if "auxiliary" in terms:
            metrics["auxiliary"] = terms["auxiliary"].item()
        return terms["total"], metrics

    return step


# --------------------------------------------------------------------------------------------------
# Encoder


def build_fine_tuned_encoder(params: Params, seed: int) -> Encoder:
    """The encoder to fine-tune, in training mode with every parameter trainable.

    A pretrained name loads its weights (``pretrained_path`` or the cache); an architecture name is
    initialised from ``seed``. ``input_frames`` and ``window_type`` then adapt its front-end.

    Raises:
        UnknownNameError: an unknown encoder name.
        ValueError: ``pretrained_path`` with an architecture name, ``input_frames`` for an encoder
            without ``set_input_frames``, or ``window_type`` for one without a Kaldi fbank.
    """
    if params.encoder in registry.names():
        encoder = registry.load_pretrained(params.encoder, path=params.pretrained_path or None)
    elif params.pretrained_path:
        raise ValueError(
            f"pretrained_path is for pretrained encoder names ({', '.join(registry.names())}); "
            f"{params.encoder!r} is built from scratch"
        )
    elif params.encoder in encoder_names():
        encoder = build_encoder(params.encoder, seed=seed)
    else:
        raise UnknownNameError("encoder", params.encoder, encoder_names())
    if params.input_frames:
        if not hasattr(encoder, "set_input_frames"):
            raise ValueError(f"input_frames applies to AST-style encoders; {type(encoder).__name__} takes any length")
        encoder.set_input_frames(params.input_frames)
    if params.window_type:
        fbanks = [module for module in encoder.modules() if isinstance(module, KaldiFbank)]
        if not fbanks:
            raise ValueError(f"window_type applies to Kaldi fbank front-ends; {type(encoder).__name__} has none")
        for fbank in fbanks:
            fbank.window_type = params.window_type
    for parameter in encoder.parameters():
        parameter.requires_grad_(True)
    return encoder.train()


# --------------------------------------------------------------------------------------------------
# Running


def train_config(params: Params, seed: int) -> TrainConfig:
    """The shared Trainer's configuration for one model of ``params`` trained from ``seed``."""
    return TrainConfig(
        epochs=params.epochs,
        optimizer=params.optimizer,
        lr=params.learning_rate,
        betas=(params.beta1, params.beta2),
        weight_decay=params.weight_decay,
        schedule=params.schedule,
        warmup_epochs=params.warmup_epochs,
        step_epochs=params.step_epochs,
        step_gamma=params.step_gamma,
        # A handful of checkpoints per training: enough to resume, cheap for tiny models.
        checkpoint_every=max(1, math.ceil(params.epochs / 5)),
        seed=seed,
    )


@dataclass
class FoldInputs:
    """The training and test inputs of one split, as the data loaders read them.

    In memory (``preload``): ``TensorDataset`` s of ``(spectrogram or waveform, target)``, with
    ``collate`` None; streamed: subsets of the dataset, with ``collate`` a :class:`FixedLengthCollate`.
    """

    train: torch.utils.data.Dataset
    test: torch.utils.data.Dataset
    collate: FixedLengthCollate | None


def _prepare(
    params: Params, dataset: AudioDataset, split: FoldSplit, encoder: Encoder, device: torch.device
) -> FoldInputs:
    """Read one split's clips (and, without mixup, compute their spectrograms once) or set up streaming."""
    samples = round(params.clip_seconds * dataset.sample_rate)
    collate = FixedLengthCollate(samples)
    if not params.preload:
        return FoldInputs(Subset(dataset, split.train), Subset(dataset, split.test), collate)
    tensors = {}
    for part, indices in (("train", split.train), ("test", split.test)):
        waveforms, targets = read_clips(dataset, indices, samples, params.num_workers, desc=f"reading {part} clips")
        # Without mixup the spectrogram of a clip never changes: compute it once, not every epoch.
        if params.mixup == 0 and has_spectrogram_path(encoder):
            waveforms = compute_spectrograms(encoder, waveforms, device)
        tensors[part] = torch.utils.data.TensorDataset(waveforms, targets)
    return FoldInputs(tensors["train"], tensors["test"], None)


class EpochProgress:
    """A trainer hook that advances a progress bar once per epoch and shows the epoch's mean loss."""

    def __init__(self, bar: tqdm):
        self.bar = bar

    def after_epoch(self, model: nn.Module, epoch: int, metrics: dict[str, float]) -> None:
        self.bar.n = epoch + 1  # absolute, so a resumed training shows where it is
        self.bar.set_postfix(loss=f"{metrics['loss']:.3g}")  # refreshes the bar


@torch.no_grad()
def _predict(
    model: FineTuner,
    inputs: torch.utils.data.Dataset,
    collate: FixedLengthCollate | None,
    params: Params,
    device: torch.device,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(embeddings (N, D), logits (N, C), targets (N,))`` of the test inputs, in eval mode."""
    model.eval()
    loader = torch.utils.data.DataLoader(inputs, batch_size=params.batch_size, collate_fn=collate,
                                         num_workers=params.num_workers if collate else 0)  # fmt: skip
    embeddings, logits, targets = [], [], []
    for batch_inputs, batch_targets in loader:
        batch_embeddings, batch_logits = model(batch_inputs.to(device))
        embeddings.append(batch_embeddings.float().cpu())
        logits.append(batch_logits.float().cpu())
        targets.append(batch_targets)
    return torch.cat(embeddings).numpy(), torch.cat(logits).numpy(), torch.cat(targets).numpy()


def _train_fold(
    params: Params,
    dataset: AudioDataset,
    split: FoldSplit,
    repeat: int,
    run_dir: RunDir,
    fold_data: FoldInputs | None,
) -> tuple[FoldResult, FoldInputs]:
    """Train one model (a test fold and a repeat), save its test arrays, and return its result with the
    split's prepared inputs (reused by the next repeat)."""
    seed = params.seed + repeat
    tag = run_tag(split.fold, repeat)
    encoder = build_fine_tuned_encoder(params, seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        spec_augment = SpecAugment(params.freq_mask, params.time_mask) if params.freq_mask or params.time_mask else None
        model = FineTuner(encoder, dataset.n_classes, spec_augment)
    model_dir = RunDir(run_dir.path / "models" / tag)
    if fold_data is None:
        fold_data = _prepare(params, dataset, split, encoder, DistributedContext().device)
    # A last batch of one or two clips gives ADD and OPL (nearly) no pairs: drop it when there are full ones.
    loader = torch.utils.data.DataLoader(
        fold_data.train, batch_size=params.batch_size, shuffle=True,
        drop_last=len(fold_data.train) > params.batch_size, collate_fn=fold_data.collate,
        generator=make_generator(seed), num_workers=params.num_workers if fold_data.collate else 0,
        worker_init_fn=worker_init_fn,
    )  # fmt: skip
    with tqdm(total=params.epochs, desc=f"{loss_label(params)}, {tag}", unit="epoch", leave=False) as bar:
        trainer = Trainer(
            model, make_step(build_criterion(params), params, dataset.n_classes), train_config(params, seed),
            run_dir=model_dir, hooks=[EpochProgress(bar)], ddp_options={"find_unused_parameters": True},
            # One bar per model, advanced per epoch; a bar per epoch as well only where epochs are long.
            progress=len(loader) >= 100,
        )  # fmt: skip
        trainer.fit(loader)
    embeddings, logits, targets = _predict(trainer.model, fold_data.test, fold_data.collate, params, trainer.device)
    predictions = logits.argmax(axis=1)
    indices = np.asarray(split.test, dtype=np.int64)
    result = FoldResult(
        fold=split.fold, repeat=repeat, accuracy=float((predictions == targets).mean()), indices=indices,
        ids=np.asarray(clip_ids(dataset, split.test)), targets=targets.astype(np.int64),
        predictions=predictions.astype(np.int64), embeddings=embeddings,
        geometry=_geometry(embeddings, targets, dataset, params),
    )  # fmt: skip
    run_dir.save_arrays(f"test-{tag}", **result.arrays())
    run_dir.log("fold_finished", fold=split.fold, repeat=repeat, accuracy=result.accuracy)
    if not params.keep_checkpoints:
        shutil.rmtree(model_dir.checkpoint_dir, ignore_errors=True)
    return result, fold_data


def clip_ids(dataset: AudioDataset, indices: Iterable[int]) -> list[str]:
    """Ids of the clips at ``indices``: from the records where the dataset lists them (no audio is
    read), else from each clip's meta."""
    records = getattr(dataset, "records", None)
    if records is not None:
        return [str(records[index].id) for index in indices]
    return [str(dataset[index][2]["id"]) for index in indices]


def _geometry(embeddings: np.ndarray, targets: np.ndarray, dataset: AudioDataset, params: Params) -> Geometry:
    """The distance analysis of one model's test embeddings over ``params.geometry_classes`` (those present)."""
    chosen = list(params.geometry_classes) or None
    if chosen is not None:
        chosen = [c for c in chosen if np.any(targets == c)]  # a test fold may lack some classes
    with warnings.catch_warnings():
        # A small test fold may hold one clip per class: no within-class pair, NaN summaries (documented).
        warnings.simplefilter("ignore", RuntimeWarning)
        return embedding_geometry(embeddings, targets, class_names=dataset.classes, classes=chosen)


def _load_fold(
    run_dir: RunDir, fold: int | None, repeat: int, dataset: AudioDataset, params: Params
) -> FoldResult:
    """The saved test arrays of a trained model, as a :class:`FoldResult`.

    Raises:
        MissingFileError: that model has not finished training.
    """
    arrays = run_dir.load_arrays(f"test-{run_tag(fold, repeat)}")
    predictions, targets = arrays["predictions"], arrays["targets"]
    return FoldResult(
        fold=fold, repeat=repeat, accuracy=float((predictions == targets).mean()), indices=arrays["indices"],
        ids=arrays["ids"], targets=targets, predictions=predictions, embeddings=arrays["embeddings"],
        geometry=_geometry(arrays["embeddings"], targets, dataset, params),
    )  # fmt: skip


def train_loss(
    params: Params, dataset: AudioDataset | None = None, prepared: dict[int | None, FoldInputs] | None = None
) -> LossRun:
    """Train the single loss ``params.loss`` on every chosen fold and repeat, in its run directory.

    A finished run is read back; an interrupted one keeps its finished folds and resumes the
    interrupted training from its last checkpoint.

    Args:
        params: the settings (fields the loss ignores do not matter, see :func:`canonical`).
        dataset: the dataset ``params`` names, when the caller has built it already.
        prepared: test fold -> the clips (or spectrograms) read for it, shared by several losses
            trained on the same data with the same front-end; filled as folds are read.
    """
    prepared = {} if prepared is None else prepared
    params = canonical(params)
    run_dir = RunDir.open(NAME, params.to_dict(), data=dataset if dataset is not None else build_dataset(params, _encoder_rate(params)))
    if dataset is None:
        dataset = build_dataset(params, _encoder_rate(params))
    splits, note = plan_partitions(dataset, params.folds, params.protocol, params.n_folds, params.seed)
    results: list[FoldResult] = []
    if not run_dir.finished:
        run_dir.log("start", params=params.to_dict(), protocol_note=note)
    for split in tqdm(splits, desc=f"{loss_label(params)}: folds", leave=False, disable=len(splits) == 1):
        for repeat in range(params.repeats):
            try:
                results.append(_load_fold(run_dir, split.fold, repeat, dataset, params))
            except FileNotFoundError:
                result, prepared[split.fold] = _train_fold(
                    params, dataset, split, repeat, run_dir, prepared.get(split.fold)
                )
                results.append(result)
    loss_run = LossRun(loss_label(params), params, run_dir.path, results)
    if not run_dir.finished:
        run_dir.write_metrics({**loss_run.metrics(), "claims": []})
        run_dir.log("finished")
    return loss_run


def _encoder_rate(params: Params) -> int:
    """The encoder's sample rate, from an untrained instance (no weights are read).

    Raises:
        UnknownNameError: an unknown encoder name.
    """
    if params.encoder in registry.names():
        return registry.spec(params.encoder).build().sample_rate
    return build_encoder(params.encoder).sample_rate  # raises for unknown names, listing the valid ones


def run(params: Params) -> AddLossResult:
    """Fine-tune with ``params.loss``, or with each of ``params.variants``, and analyse the embeddings.

    Each loss trains in its own run directory (shared by any comparison that trains it again); with
    ``variants`` the comparison's run directory holds the table and the claims.

    Raises:
        UnknownNameError: an unknown dataset, encoder or variant.
        DatasetNotFoundError: a real dataset whose files are absent.
        ValueError: impossible settings (see :func:`build_criterion`, :func:`plan_splits`,
            :func:`build_fine_tuned_encoder`).
    """
    variants = [parse_variant(key) for key in params.variants]
    build_criterion(params)  # fail on impossible loss settings before any data is read
    for variant in variants:
        build_criterion(params.replace(**variant.changes))
    seed_everything(params.seed)
    dataset = build_dataset(params, _encoder_rate(params))
    _, protocol_note = plan_partitions(dataset, params.folds, params.protocol, params.n_folds, params.seed)
    if protocol_note:
        warnings.warn(f"add_loss: {protocol_note}", stacklevel=2)
    if not variants:
        loss_run = train_loss(params, dataset)
        return AddLossResult(
            recipe=NAME, params=params.to_dict(), run_dir=loss_run.run_dir,
            metrics=RunDir(loss_run.run_dir).read_metrics(), claims=[], losses={loss_run.label: loss_run},
            classes=tuple(dataset.classes), dataset=dataset, protocol_note=protocol_note,
        )  # fmt: skip
    runs: dict[str, LossRun] = {}
    prepared: dict[int | None, FoldInputs] = {}  # the variants differ in their loss only: read the data once
    for variant in tqdm(variants, desc="losses", leave=False):
        loss_run = train_loss(params.replace(**variant.changes), dataset, prepared)
        runs[loss_run.label] = loss_run
    claims = comparison_claims(runs, {variant.key: variant.label(params) for variant in variants}, params)
    run_dir = RunDir.open(NAME, params.to_dict(), data=dataset)
    metrics = {"losses": {label: {**run.metrics(), "run_dir": str(run.run_dir)} for label, run in runs.items()},
               "claims": [dataclasses.asdict(claim) for claim in claims], "protocol_note": protocol_note}  # fmt: skip
    if not run_dir.finished:
        run_dir.write_metrics(metrics)
    return AddLossResult(
        recipe=NAME, params=params.to_dict(), run_dir=run_dir.path, metrics=metrics, claims=claims,
        losses=runs, classes=tuple(dataset.classes), dataset=dataset, protocol_note=protocol_note,
    )  # fmt: skip


def compare(params: Params, variants: Sequence[str] = DEFAULT_VARIANTS) -> AddLossResult:
    """:func:`run` with ``params.variants`` set to ``variants``: several losses, trained side by side."""
    return run(params.replace(variants=tuple(variants)))


TABLE2_ACCURACY = {
    ("esc50", "ast"): (93.97, 94.68), ("esc50", "beats"): (91.05, 92.22),
    ("speech_commands", "ast"): (92.05, 97.54), ("speech_commands", "beats"): (88.94, 90.49),
    ("iemocap", "ast"): (59.91, 61.30), ("iemocap", "beats"): (61.66, 62.73),
}  # fmt: skip
"""Table 2 of the paper: (CE, ADD {1,1,1,1}) accuracy in %, mean of three runs, per (dataset, encoder)."""


def paper_accuracy(dataset: str, encoder: str) -> tuple[float, float] | None:
    """Table 2's (CE, ADD) accuracy in % for this dataset and encoder family, or None where it has none."""
    family = "ast" if encoder.startswith("ast") else "beats" if encoder.startswith("beats") else ""
    return TABLE2_ACCURACY.get((dataset, family))


def paired_values(
    ce: LossRun, add: LossRun, value: Callable[[FoldResult], float]
) -> tuple[list[float], list[float], list[str]]:
    """``value`` of each (fold, repeat) both losses trained, ADD's and CE's in the same order, and
    the pairs' tags; pairs where either value is NaN (a fold too small for a geometry) are left out."""
    by_key = {(result.fold, result.repeat): result for result in ce.folds}
    treated, control, tags = [], [], []
    for result in add.folds:
        partner = by_key.get((result.fold, result.repeat))
        if partner is None:
            continue
        a, c = value(result), value(partner)
        if math.isfinite(a) and math.isfinite(c):
            treated.append(a)
            control.append(c)
            tags.append(run_tag(result.fold, result.repeat))
    return treated, control, tags


CLAIMS = (
    # (summary or "accuracy", what the paper shows, its figure, direction ADD vs CE)
    ("accuracy", "is more accurate than CE", "Table 2", +1),
    ("intra-class equidistance", "lowers the intra-class CV against CE", "Fig. 5b, 5f", -1),
    ("inter-class equidistance", "lowers the inter-class CV against CE", "Fig. 5d, 5f", -1),
    ("inter-class hierarchy", "spreads the class pairs' mean distances less than CE (inter-class hierarchy)",
     "Fig. 5d vs 5e", -1),
)  # fmt: skip


def comparison_claims(
    runs: dict[str, LossRun], labels: dict[str, str], params: Params | None = None
) -> list[base.Claim]:
    """The paper's claims, ADD {1,1,1,1} (variant ``"add"`` or ``"add-1111"``) against CE, each compared
    over the paired runs both trained (same test folds, same repeat seeds) with
    :func:`~workbench.evaluation.stats.compare_paired`; none when either loss was not trained.

    Accuracy carries the paper's Table 2 effect where the dataset and encoder are the paper's; the
    geometry claims are the directions of Fig. 5 (the paper prints no number for them).
    """
    add_key = next((key for key in ("add", "add-1111") if key in labels), None)
    if "ce" not in labels or add_key is None:
        return []
    ce, add = runs[labels["ce"]], runs[labels[add_key]]
    paper_table = paper_accuracy(params.dataset, params.encoder) if params is not None else None
    claims = []
    for metric, claimed, figure, direction in CLAIMS:
        if metric == "accuracy":
            def value(result: FoldResult) -> float:
                return result.accuracy
        else:
            def value(result: FoldResult, metric: str = metric) -> float:
                return result.geometry.summaries()[metric]
        treated, control, tags = paired_values(ce, add, value)
        name = f"{add.label} {claimed}"
        paper_effect = None
        paper = f"{'higher' if direction > 0 else 'lower'} with ADD than with CE ({figure})"
        if metric == "accuracy" and paper_table is not None:
            paper_effect = (paper_table[1] - paper_table[0]) / 100
            paper = f"CE {paper_table[0]:.2f} % -> ADD {paper_table[1]:.2f} % (Table 2)"
        if not treated:
            claims.append(base.Claim(name=name, paper=paper, measured="no paired run with a defined value",
                                     paper_effect=paper_effect))  # fmt: skip
            continue
        comparison = compare_paired(treated, control, direction=direction)
        per_run = ", ".join(f"{tag} ({c:.3f}, {a:.3f})" for tag, c, a in zip(tags, control, treated, strict=True))
        claims.append(base.Claim.from_comparison(
            name, paper, comparison,
            measured=f"CE {np.mean(control):.3f} -> ADD {np.mean(treated):.3f} ({metric}, {len(treated)} paired runs)",
            paper_effect=paper_effect, detail=f"per paired run (CE, ADD): {per_run}",
        ))  # fmt: skip
    return claims
