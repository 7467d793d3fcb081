"""Linear evaluation of frozen embeddings, the protocol of BYOL-A and EVAR.

A single linear layer (optionally a small MLP) is trained on standardised embeddings of the training
clips with Adam and early stopping on a validation set, then scored on the test clips: accuracy for
single-label tasks, mean average precision (mAP) for multi-label ones. The protocol follows
Niizumi et al., "BYOL for Audio" (IJCNN 2021) and the EVAR suite (``nttcslab/eval-audio-repr``,
``TorchMLPClassifier2``): standardisation fitted on the training clips only, Adam, at most 200 epochs,
early stopping after 20 epochs without improvement of the validation metric, the best epoch's weights
restored. Repeating it over seeds gives a mean and a 95 % confidence interval.

The data decide how clips are partitioned (``protocol="auto"``): k-fold cross-validation where the
dataset defines folds (each fold is the test set once), the official train/valid/test splits where
they exist, otherwise a stratified holdout. Everything runs on the CPU and is deterministic per seed.
"""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from sklearn.model_selection import train_test_split
from torch import nn

from workbench.errors import UnknownNameError
from workbench.evaluation.embeddings import Embeddings
from workbench.evaluation.metrics import mean_average_precision
from workbench.evaluation.stats import mean_confidence_interval

Protocol = Literal["auto", "folds", "splits", "holdout"]
PROTOCOLS: tuple[str, ...] = ("auto", "folds", "splits", "holdout")
VALID_SPLIT_NAMES: tuple[str, ...] = ("valid", "validation", "val", "dev")
HOLDOUT_SPLIT_SEED = 12345
"""The holdout test set is drawn once with this seed, whatever the training seed, so every seed and
every encoder is scored on the same clips (the spread over seeds is then the training's alone)."""


@dataclass(frozen=True)
class LinearEvalConfig:
    """Settings of the linear classifier and its training.

    Defaults follow EVAR's ``TorchMLPClassifier2``: Adam at ``lr=1e-3`` (EVAR's default; its per-model
    configs lower it, e.g. 3e-4 for BYOL-A), at most 200 epochs, early stopping after 20 epochs without
    a better validation score, no weight decay (EVAR's 1e-8 is negligible), 10 % of the training clips
    held out for validation when the data bring no validation split. EVAR's batch size is
    ``min(200, n)``; 128 is used here.

    Args:
        lr: Adam learning rate.
        batch_size: clips per optimisation step.
        max_epochs: upper bound on training epochs.
        patience: stop after this many epochs without a better validation score (ties are broken by
            the validation loss).
        weight_decay: Adam's L2 penalty.
        valid_fraction: share of the training clips carved out for validation (stratified for
            single-label targets) when there is no validation split.
        test_fraction: share of clips held out for testing in the ``"holdout"`` protocol.
        hidden: hidden layer widths; ``()`` is linear evaluation, ``(512,)`` one hidden layer.
        dropout: dropout after each hidden layer (EVAR's MLP uses 0.5); unused when ``hidden == ()``.

    Raises:
        ValueError: a setting outside its range (the message names it).
    """

    lr: float = 1e-3
    batch_size: int = 128
    max_epochs: int = 200
    patience: int = 20
    weight_decay: float = 0.0
    valid_fraction: float = 0.1
    test_fraction: float = 0.2
    hidden: tuple[int, ...] = ()
    dropout: float = 0.5

    def __post_init__(self) -> None:
        checks = {
            "lr": self.lr > 0,
            "batch_size": self.batch_size >= 1,
            "max_epochs": self.max_epochs >= 1,
            "patience": self.patience >= 1,
            "weight_decay": self.weight_decay >= 0,
            "valid_fraction": 0 < self.valid_fraction < 1,
            "test_fraction": 0 < self.test_fraction < 1,
            "hidden": all(width >= 1 for width in self.hidden),
            "dropout": 0 <= self.dropout < 1,
        }
        for name, valid in checks.items():
            if not valid:
                raise ValueError(f"LinearEvalConfig.{name} is out of range: {getattr(self, name)!r}")


class LinearClassifier(nn.Module):
    """Standardisation with frozen training statistics followed by a linear layer (or a small MLP).

    Args:
        mean: per-dimension mean of the training features, ``(dim,)``.
        scale: per-dimension standard deviation of the training features, ``(dim,)``; zeros
            (constant dimensions) are replaced by 1 as scikit-learn's ``StandardScaler`` does.
        n_outputs: classes (logits).
        hidden: hidden layer widths, ``()`` for a linear classifier.
        dropout: dropout after each hidden layer.

    Shape:
        ``features: (batch, dim)`` -> logits ``(batch, n_outputs)``.
    """

    def __init__(
        self,
        mean: torch.Tensor,
        scale: torch.Tensor,
        n_outputs: int,
        hidden: Sequence[int] = (),
        dropout: float = 0.5,
    ):
        super().__init__()
        self.register_buffer("mean", mean.clone().float())
        self.register_buffer("scale", torch.where(scale > 0, scale, torch.ones_like(scale)).float())
        widths = [mean.shape[0], *hidden]
        layers: list[nn.Module] = []
        for width_in, width_out in zip(widths[:-1], widths[1:]):
            layers += [nn.Linear(width_in, width_out), nn.ReLU(), nn.Dropout(dropout)]
        layers.append(nn.Linear(widths[-1], n_outputs))
        self.head = nn.Sequential(*layers)
        self.history: list[dict[str, float]] = []
        """One entry per trained epoch: ``epoch``, ``train_loss``, ``valid_loss``, ``valid_score``."""
        self.best_epoch: int = -1

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.head((features - self.mean) / self.scale)

    @torch.no_grad()
    def predict_scores(self, features: np.ndarray | torch.Tensor) -> np.ndarray:
        """Eval-mode logits ``(N, n_outputs)`` as a numpy array."""
        was_training = self.training
        self.eval()
        try:
            return self(torch.as_tensor(features, dtype=torch.float32)).numpy()
        finally:
            self.train(was_training)


def score_predictions(targets: np.ndarray, scores: np.ndarray) -> float:
    """Accuracy of ``argmax(scores)`` for ``(N,)`` class targets; macro mAP for ``(N, C)`` multi-hot.

    mAP averages the average precision over the classes that have at least one positive clip (AP is
    undefined without positives).

    Raises:
        ValueError: multi-hot targets without a single positive.
    """
    targets = np.asarray(targets)
    if targets.ndim == 1:
        return float((scores.argmax(axis=1) == targets).mean())
    return mean_average_precision(scores, targets)


def train_linear(
    train_x: np.ndarray,
    train_y: np.ndarray,
    valid_x: np.ndarray,
    valid_y: np.ndarray,
    config: LinearEvalConfig | None = None,
    seed: int = 0,
    *,
    n_classes: int | None = None,
) -> tuple[LinearClassifier, float]:
    """Train a linear classifier on ``train_*`` with early stopping on ``valid_*``.

    Features are standardised with the mean and standard deviation of ``train_x`` only. Single-label
    targets are trained with cross-entropy and scored by accuracy; multi-hot targets with binary
    cross-entropy and scored by mAP. After every epoch the validation score and loss are computed; an
    epoch is better when its score is higher, or equal with a lower loss. Training stops once
    ``config.patience`` epochs pass without a better one, and the weights of the best epoch are
    restored. Runs on the CPU, on one thread (see :func:`_single_thread`); the same seed gives the
    same model.

    Args:
        train_x: ``(N, D)`` training features.
        train_y: ``(N,)`` class indices or ``(N, C)`` multi-hot targets.
        valid_x: ``(M, D)`` validation features.
        valid_y: ``(M,)`` or ``(M, C)`` validation targets.
        config: training settings; default :class:`LinearEvalConfig`.
        seed: seeds the initial weights and the batch order.
        n_classes: number of classes for single-label targets; default ``max(label) + 1``.

    Returns:
        ``(model, best_valid_score)``; ``model.history`` lists every epoch (train loss, validation loss
        and score) and ``model.best_epoch`` the restored one.

    Raises:
        ValueError: empty sets, mismatched shapes, or NaN/Inf features.
    """
    config = config or LinearEvalConfig()
    train_x, train_y = _as_training_arrays(train_x, train_y, "train")
    valid_x, valid_y = _as_training_arrays(valid_x, valid_y, "valid")
    if train_x.shape[1] != valid_x.shape[1]:
        raise ValueError(f"train features have dim {train_x.shape[1]}, valid features {valid_x.shape[1]}")
    multilabel = train_y.ndim == 2
    if multilabel:
        if valid_y.ndim != 2 or valid_y.shape[1] != train_y.shape[1]:
            raise ValueError(f"valid targets {valid_y.shape} do not match train targets {train_y.shape}")
        n_outputs = train_y.shape[1]
        loss_function: nn.Module = nn.BCEWithLogitsLoss()
    else:
        if valid_y.ndim != 1:
            raise ValueError(
                f"valid targets must be class indices like the train targets, got shape {valid_y.shape}"
            )
        n_outputs = n_classes if n_classes is not None else int(max(train_y.max(), valid_y.max())) + 1
        if min(train_y.min(), valid_y.min()) < 0 or max(train_y.max(), valid_y.max()) >= n_outputs:
            raise ValueError(f"class indices must lie in [0, {n_outputs}), got labels outside it")
        loss_function = nn.CrossEntropyLoss()

    features = torch.from_numpy(train_x)
    labels = torch.from_numpy(train_y)
    with torch.random.fork_rng(devices=[]):  # leave the caller's global RNG as it was
        torch.manual_seed(seed)
        model = LinearClassifier(
            features.mean(dim=0),
            features.std(dim=0, unbiased=False),
            n_outputs,
            hidden=config.hidden,
            dropout=config.dropout,
        )
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    generator = torch.Generator().manual_seed(seed)

    valid_features, valid_labels = torch.from_numpy(valid_x), torch.from_numpy(valid_y)
    best_score, best_loss, best_state, epochs_without_improvement = -math.inf, math.inf, None, 0
    with _single_thread():
        for epoch in range(config.max_epochs):
            model.train()
            order = torch.randperm(len(features), generator=generator)
            total_loss = 0.0
            for start in range(0, len(order), config.batch_size):
                batch = order[start : start + config.batch_size]
                optimizer.zero_grad()
                loss = loss_function(model(features[batch]), labels[batch])
                loss.backward()
                optimizer.step()
                total_loss += loss.item() * len(batch)
            model.eval()
            with torch.no_grad():
                valid_logits = model(valid_features)
                valid_loss = float(loss_function(valid_logits, valid_labels))
            valid_score = score_predictions(valid_y, valid_logits.numpy())
            model.history.append(
                {
                    "epoch": epoch,
                    "train_loss": total_loss / len(features),
                    "valid_loss": valid_loss,
                    "valid_score": valid_score,
                }
            )
            # Better = higher validation score, ties broken by lower validation loss. Without the
            # tie-break a plateau at the start (accuracy stuck while the loss still falls) would stop
            # training before it learned anything; EVAR counts every tie as better, so plateaus never stop it.
            if valid_score > best_score or (valid_score == best_score and valid_loss < best_loss):
                best_score, best_loss = valid_score, valid_loss
                best_state, epochs_without_improvement = copy.deepcopy(model.state_dict()), 0
                model.best_epoch = epoch
            else:
                epochs_without_improvement += 1
                if epochs_without_improvement >= config.patience:
                    break
    model.load_state_dict(best_state)
    model.eval()
    return model, float(best_score)


@contextlib.contextmanager
def _single_thread() -> Iterator[None]:
    """Run torch on one intra-op thread, then restore the caller's setting.

    Each step multiplies at most ``batch_size x dim`` by ``dim x classes``: too little work to share
    between threads, while the threads' synchronisation is costly whenever other processes keep the
    cores busy (measured on 2 cores under load: 30 epochs on 8000 x 512 took 1.4 s on one thread,
    19 s on two).
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _as_training_arrays(
    features: np.ndarray, targets: np.ndarray, name: str
) -> tuple[np.ndarray, np.ndarray]:
    features = np.ascontiguousarray(features, dtype=np.float32)
    targets = np.asarray(targets)
    targets = targets.astype(np.int64) if targets.ndim == 1 else targets.astype(np.float32)
    if features.ndim != 2 or len(features) == 0:
        raise ValueError(
            f"{name} features must be a non-empty (clips, dim) array, got shape {features.shape}"
        )
    if len(targets) != len(features):
        raise ValueError(f"{name} has {len(features)} feature rows but {len(targets)} targets")
    if not np.isfinite(features).all():
        raise ValueError(f"{name} features contain NaN or Inf")
    return features, targets


# ----------------------------------------------------------------------------------------------------
# Partitions and the repeated evaluation


@dataclass(frozen=True)
class EvaluationSplit:
    """One train/valid/test partition of the rows of an :class:`Embeddings` table."""

    name: str
    """``"fold <k>"`` for a cross-validation fold, ``"test"`` for official splits, ``"holdout"``."""
    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray


@dataclass
class LinearEvalResult:
    """Scores of a repeated linear evaluation.

    Attributes:
        metric: ``"accuracy"`` (single-label) or ``"mAP"`` (multi-label).
        protocol: the protocol used (``"folds"``, ``"splits"`` or ``"holdout"``).
        mean: mean of ``per_seed``.
        ci95: half width of the 95 % Student's t interval of ``per_seed`` (0 for one seed).
        per_seed: one score per seed (for folds: the mean over folds, as EVAR reports).
        per_fold: partition name -> one score per seed.
        seeds: the seeds, in ``per_seed`` order.
        n_train, n_valid: clips used to fit and to stop the first partition's classifier.
        n_test: clips scored in total (for folds: every clip that has a fold, each once).
        test_indices: ``(n_test,)`` rows of the embeddings table that were scored, partition by partition.
        test_targets: their targets, ``(n_test,)`` or ``(n_test, C)``.
        predictions: the first seed's predicted class ``(n_test,)``, or its sigmoid scores
            ``(n_test, C)`` for multi-label tasks; aligned with ``test_indices``.
        classes: class names.
    """

    metric: str
    protocol: str
    mean: float
    ci95: float
    per_seed: tuple[float, ...]
    per_fold: dict[str, tuple[float, ...]]
    seeds: tuple[int, ...]
    n_train: int
    n_valid: int
    n_test: int
    test_indices: np.ndarray
    test_targets: np.ndarray
    predictions: np.ndarray
    classes: tuple[str, ...] = field(default_factory=tuple)

    ARRAY_FIELDS: ClassVar[tuple[str, ...]] = ("test_indices", "test_targets", "predictions")

    def scalars(self) -> dict[str, Any]:
        """The JSON-serialisable part (for ``metrics.json``); :meth:`arrays` holds the rest."""
        return {
            "metric": self.metric, "protocol": self.protocol, "mean": self.mean, "ci95": self.ci95,
            "per_seed": list(self.per_seed), "per_fold": {k: list(v) for k, v in self.per_fold.items()},
            "seeds": list(self.seeds), "n_train": self.n_train, "n_valid": self.n_valid,
            "n_test": self.n_test, "classes": list(self.classes),
        }  # fmt: skip

    def arrays(self) -> dict[str, np.ndarray]:
        return {name: getattr(self, name) for name in self.ARRAY_FIELDS}

    @classmethod
    def from_parts(cls, scalars: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> LinearEvalResult:
        """Inverse of :meth:`scalars` + :meth:`arrays` (e.g. a finished run read back from its directory)."""
        return cls(
            **{**scalars, "per_seed": tuple(scalars["per_seed"]), "seeds": tuple(scalars["seeds"]),
               "per_fold": {k: tuple(v) for k, v in scalars["per_fold"].items()},
               "classes": tuple(scalars["classes"])},
            **{name: np.asarray(arrays[name]) for name in cls.ARRAY_FIELDS},
        )  # fmt: skip

    def summary(self) -> str:
        """One line, e.g. ``accuracy 0.912 ± 0.010 (3 seeds, folds, 400 test clips)``."""
        return (
            f"{self.metric} {self.mean:.3f} ± {self.ci95:.3f} "
            f"({len(self.seeds)} seed{'s' if len(self.seeds) != 1 else ''}, {self.protocol}, "
            f"{self.n_test} test clips)"
        )


def resolve_protocol(embeddings: Embeddings, protocol: str = "auto") -> str:
    """The protocol ``"auto"`` stands for: folds if there are several, else splits, else holdout.

    Raises:
        UnknownNameError: ``protocol`` is not one of :data:`PROTOCOLS`.
        ValueError: the protocol asked for needs folds or splits the embeddings lack.
    """
    if protocol not in PROTOCOLS:
        raise UnknownNameError("linear evaluation protocol", protocol, PROTOCOLS)
    has_folds = embeddings.folds is not None and len(np.unique(embeddings.folds)) > 1
    has_splits = embeddings.splits is not None and {"train", "test"} <= set(embeddings.splits.tolist())
    if protocol == "auto":
        return "folds" if has_folds else "splits" if has_splits else "holdout"
    if protocol == "folds" and not has_folds:
        raise ValueError("protocol 'folds' needs embeddings with at least two distinct folds")
    if protocol == "splits" and not has_splits:
        raise ValueError("protocol 'splits' needs embeddings whose splits include 'train' and 'test'")
    return protocol


def evaluation_splits(
    embeddings: Embeddings, protocol: str, seed: int, config: LinearEvalConfig | None = None
) -> list[EvaluationSplit]:
    """The train/valid/test partitions of one repetition (deterministic given ``seed``).

    - ``"folds"``: one partition per fold, that fold the test set; the validation set is carved from
      the other folds (stratified, ``config.valid_fraction``), differently for each seed.
    - ``"splits"``: the official ``train``/``valid``/``test`` splits; without a valid split the
      validation set is carved from ``train`` per seed.
    - ``"holdout"``: a stratified ``config.test_fraction`` test set drawn once for all seeds
      (:data:`HOLDOUT_SPLIT_SEED`), validation carved from the rest per seed.
    """
    config = config or LinearEvalConfig()
    protocol = resolve_protocol(embeddings, protocol)
    rows = np.arange(len(embeddings))
    if protocol == "folds":
        partitions = []
        for fold in np.unique(embeddings.folds):
            pool = rows[embeddings.folds != fold]
            # One random stream per (seed, fold) pair: each fold's carving is reproducible on its own.
            carve_seed = seed * 1_000_003 + int(fold)
            train, valid = _carve(pool, embeddings.targets, config.valid_fraction, carve_seed)
            partitions.append(EvaluationSplit(f"fold {fold}", train, valid, rows[embeddings.folds == fold]))
        return partitions
    if protocol == "splits":
        splits = embeddings.splits
        train, test = rows[splits == "train"], rows[splits == "test"]
        valid = rows[np.isin(splits, VALID_SPLIT_NAMES)]
        if len(valid) == 0:
            train, valid = _carve(train, embeddings.targets, config.valid_fraction, seed)
        return [EvaluationSplit("test", train, valid, test)]
    pool, test = _carve(rows, embeddings.targets, config.test_fraction, HOLDOUT_SPLIT_SEED)
    train, valid = _carve(pool, embeddings.targets, config.valid_fraction, seed)
    return [EvaluationSplit("holdout", train, np.sort(valid), np.sort(test))]


def _carve(
    pool: np.ndarray, targets: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Split ``pool`` into (kept, carved) with ``fraction`` carved, stratified by class where possible."""
    if len(pool) < 2:
        raise ValueError(f"cannot carve a validation/test set out of {len(pool)} clip(s); more data needed")
    stratify = None
    if targets.ndim == 1:
        labels = targets[pool]
        _, counts = np.unique(labels, return_counts=True)
        carved_count = math.ceil(fraction * len(pool))
        # Stratification needs two clips per class and room for every class on both sides.
        if counts.min() >= 2 and len(counts) <= carved_count and len(counts) <= len(pool) - carved_count:
            stratify = labels
    kept, carved = train_test_split(pool, test_size=fraction, random_state=seed % 2**32, stratify=stratify)
    return np.sort(kept), np.sort(carved)


def linear_evaluation(
    embeddings: Embeddings | tuple[np.ndarray, np.ndarray, np.ndarray | None],
    *,
    seeds: Sequence[int] = (0, 1, 2),
    config: LinearEvalConfig | None = None,
    protocol: Protocol = "auto",
) -> LinearEvalResult:
    """Linear evaluation repeated over ``seeds``: mean score and 95 % confidence interval.

    Args:
        embeddings: an :class:`Embeddings` table, or ``(features, targets, partition)`` where
            ``partition`` is an ``(N,)`` int array of folds, an ``(N,)`` str array of split names, or None.
        seeds: one repetition per seed (initial weights, batch order, validation carving).
        config: classifier settings; default :class:`LinearEvalConfig`.
        protocol: ``"auto"`` (folds, else official splits, else holdout), or one of them explicitly.

    Returns:
        :class:`LinearEvalResult`.

    Raises:
        UnknownNameError: unknown ``protocol``.
        ValueError: no seeds, or data that cannot support the protocol.
    """
    if not isinstance(embeddings, Embeddings):
        embeddings = _embeddings_from_arrays(*embeddings)
    seeds = tuple(int(seed) for seed in seeds)
    if not seeds:
        raise ValueError("linear_evaluation needs at least one seed")
    config = config or LinearEvalConfig()
    protocol = resolve_protocol(embeddings, protocol)
    multilabel = embeddings.target_kind == "multilabel"
    n_classes = embeddings.targets.shape[1] if multilabel else _class_count(embeddings)

    per_fold: dict[str, list[float]] = {}
    per_seed: list[float] = []
    first_predictions: list[np.ndarray] = []
    test_indices: list[np.ndarray] = []
    sizes = (0, 0)
    for seed_position, seed in enumerate(seeds):
        scores = []
        for partition_position, split in enumerate(evaluation_splits(embeddings, protocol, seed, config)):
            features, targets = embeddings.features, embeddings.targets
            model, _ = train_linear(
                features[split.train], targets[split.train], features[split.valid], targets[split.valid],
                config, seed, n_classes=None if multilabel else n_classes,
            )
            test_scores = model.predict_scores(features[split.test])
            score = score_predictions(targets[split.test], test_scores)
            scores.append(score)
            per_fold.setdefault(split.name, []).append(score)
            if seed_position == 0:
                first_predictions.append(_sigmoid(test_scores) if multilabel else test_scores.argmax(axis=1))
                test_indices.append(split.test)
                if partition_position == 0:
                    sizes = (len(split.train), len(split.valid))
        per_seed.append(float(np.mean(scores)))

    mean, half_width = mean_confidence_interval(per_seed)
    rows = np.concatenate(test_indices)
    return LinearEvalResult(
        metric="mAP" if multilabel else "accuracy",
        protocol=protocol,
        mean=mean,
        ci95=half_width,
        per_seed=tuple(per_seed),
        per_fold={name: tuple(values) for name, values in per_fold.items()},
        seeds=seeds,
        n_train=sizes[0],
        n_valid=sizes[1],
        n_test=len(rows),
        test_indices=rows,
        test_targets=embeddings.targets[rows],
        predictions=np.concatenate(first_predictions),
        classes=embeddings.classes,
    )


def _sigmoid(logits: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-logits))


def _class_count(embeddings: Embeddings) -> int:
    observed = int(embeddings.targets.max()) + 1
    if embeddings.classes and len(embeddings.classes) < observed:
        raise ValueError(
            f"targets go up to class {observed - 1} but only {len(embeddings.classes)} classes are named"
        )
    return max(observed, len(embeddings.classes))


def _embeddings_from_arrays(
    features: np.ndarray, targets: np.ndarray, partition: np.ndarray | None = None
) -> Embeddings:
    """Wrap plain arrays; a partition of strings is read as splits, one of integers as folds."""
    features = np.asarray(features)
    folds = splits = None
    if partition is not None:
        partition = np.asarray(partition)
        if partition.dtype.kind in "USO":
            splits = partition.astype(str)
        elif partition.dtype.kind in "iu":
            folds = partition
        else:
            raise ValueError(f"partition must hold fold numbers or split names, got dtype {partition.dtype}")
    return Embeddings(
        features=features,
        targets=targets,
        ids=np.arange(len(features)).astype(str),
        classes=(),
        folds=folds,
        splits=splits,
    )
