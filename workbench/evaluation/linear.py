"""Linear evaluation of frozen embeddings, the protocol of BYOL-A and EVAR.

A single linear layer (optionally a small MLP) is trained on standardised embeddings of the training
clips with Adam and early stopping on a validation set, then scored on the test clips: accuracy for
single-label tasks, mean average precision (mAP) for multi-label ones. The protocol follows
Niizumi et al., "BYOL for Audio" (IJCNN 2021) and the EVAR suite (``nttcslab/eval-audio-repr``,
``TorchMLPClassifier2``): standardisation fitted on the training clips only, Adam, at most 200 epochs,
early stopping after 20 epochs without improvement of the validation metric, the best epoch's weights
restored. Repeating it over seeds gives a mean and a 95 % confidence interval.

Which clips train and which test is one ``protocol`` (:mod:`workbench.evaluation.protocols`):
``"official"`` folds or splits, stratified ``"kfold"``, ``"grouped-kfold"`` by source recording, or
``"auto"``, which leaves official folds that cannot be trained on and says so (a warning, and the
result's ``protocol_note``). Fold scores are averaged weighted by their test sizes. Validation clips
(early stopping, and the choice of the learning rate from ``LinearEvalConfig.learning_rates``) are
carved from the training side only, never from the test clips.

Every (seed, fold, learning rate) probe of one evaluation trains together as one batched linear model
(:func:`train_linear_batched`: a leading probe axis, ``torch.baddbmm``, features standardised once per
split, early stopping per probe, one host synchronisation per epoch); :func:`train_linear` is the
one-probe reference it is tested against (``engine="reference"``). Everything runs on the CPU and is
deterministic per seed.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import logging
import math
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from torch import nn

from workbench.errors import UnknownNameError
from workbench.evaluation.embeddings import Embeddings
from workbench.evaluation.metrics import mean_average_precision
from workbench.evaluation.protocols import (
    PROTOCOLS,
    ProtocolPlan,
    carve_validation,
    official_partitions,
    plan_protocol,
)
from workbench.evaluation.stats import mean_confidence_interval, weighted_fold_mean

logger = logging.getLogger(__name__)

Protocol = Literal["auto", "official", "kfold", "grouped-kfold"]
LEGACY_PROTOCOLS: dict[str, str] = {"folds": "official", "splits": "official", "holdout": "kfold"}
"""Names of the earlier protocols, read as the new ones (a ``DeprecationWarning`` says so)."""
VALID_SPLIT_NAMES: tuple[str, ...] = ("valid", "validation", "val", "dev")
LEARNING_RATE_GRID: tuple[float, ...] = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2)
"""A small grid inside the range Niizumi et al. (EUSIPCO 2022, Sec. IV) tuned over (1e-5 to 1e-2)."""
ENGINES: tuple[str, ...] = ("batched", "reference")
MONITORS: tuple[str, ...] = ("score", "loss")
"""What early stopping watches on the validation split (:attr:`LinearEvalConfig.monitor`)."""


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
        patience: stop after this many epochs without a better validation epoch.
        monitor: what makes an epoch better: ``"score"`` (a higher validation accuracy or mAP, ties
            broken by a lower validation loss; EVAR's rule) or ``"loss"`` (a lower validation loss;
            BYOL-A's linear evaluation, which the difference-aware BgKnown protocol follows).
        weight_decay: Adam's L2 penalty.
        valid_fraction: share of the training clips carved out for validation (stratified for
            single-label targets) when there is no validation split.
        test_fraction: unused (the earlier ``"holdout"`` protocol); kept so saved settings still load.
        hidden: hidden layer widths; ``()`` is linear evaluation, ``(512,)`` one hidden layer.
        dropout: dropout after each hidden layer (EVAR's MLP uses 0.5); unused when ``hidden == ()``.
        learning_rates: a grid to choose the learning rate from on validation scores (``()`` = use
            ``lr``); e.g. :data:`LEARNING_RATE_GRID`. The choice is made once per evaluation (one task,
            one feature set) from the mean best validation score over every seed and fold.

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
    learning_rates: tuple[float, ...] = ()
    monitor: str = "score"

    def __post_init__(self) -> None:
        checks = {
            "monitor": self.monitor in MONITORS,
            "lr": self.lr > 0,
            "batch_size": self.batch_size >= 1,
            "max_epochs": self.max_epochs >= 1,
            "patience": self.patience >= 1,
            "weight_decay": self.weight_decay >= 0,
            "valid_fraction": 0 < self.valid_fraction < 1,
            "test_fraction": 0 < self.test_fraction < 1,
            "hidden": all(width >= 1 for width in self.hidden),
            "dropout": 0 <= self.dropout < 1,
            "learning_rates": all(rate > 0 for rate in self.learning_rates),
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
            if _better(config.monitor, valid_score, valid_loss, best_score, best_loss):
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


def _better(monitor: str, score: Any, loss: Any, best_score: Any, best_loss: Any) -> Any:
    """Whether an epoch beats the best so far (scalars or per-probe arrays alike).

    ``"score"``: a higher validation score, ties broken by a lower validation loss. Without the
    tie-break a plateau at the start (accuracy stuck while the loss still falls) would stop training
    before it learned anything; EVAR counts every tie as better, so plateaus never stop it.
    ``"loss"``: a lower validation loss.
    """
    if monitor == "loss":
        return loss < best_loss
    return (score > best_score) | ((score == best_score) & (loss < best_loss))


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
# Batched probes: every (seed, fold, learning rate) of an evaluation as one model with a probe axis


@dataclass(frozen=True)
class ProbeSpec:
    """One probe of a batched training: its rows (into the shared feature table), seed and learning rate."""

    train: np.ndarray
    valid: np.ndarray
    seed: int
    lr: float
    test: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


@dataclass
class ProbeOutcome:
    """What one trained probe gives: its best validation score and loss, the epoch restored, the
    epochs trained, and its test logits (``(len(spec.test), n_outputs)``)."""

    valid_score: float
    valid_loss: float
    best_epoch: int
    epochs: int
    test_logits: np.ndarray


MEMORY_BUDGET_BYTES = 384 * 2**20
"""Probes are trained in chunks whose standardised copies of the features stay under this size."""


def train_linear_batched(
    features: np.ndarray,
    targets: np.ndarray,
    probes: Sequence[ProbeSpec],
    config: LinearEvalConfig | None = None,
    *,
    n_classes: int | None = None,
) -> list[ProbeOutcome]:
    """Train many linear probes on one feature table together, as one batched model.

    Each probe is the probe :func:`train_linear` trains on ``features[spec.train]`` with early stopping
    on ``features[spec.valid]`` (same initial weights and batch order for the same seed, the same Adam
    update, the same stopping rule, the best epoch restored), so the results agree within float
    rounding. What differs is the cost: features are standardised once per distinct training set (not
    per minibatch), a step multiplies every probe's batch at once (``torch.baddbmm`` over a leading
    probe axis) with the gradient of the softmax/sigmoid cross-entropy written out, Adam runs on the
    stacked weights, and the host reads the losses and scores once per epoch. A probe whose patience
    runs out stops updating while the others go on.

    Args:
        features: ``(N, D)`` table shared by the probes.
        targets: ``(N,)`` class indices or ``(N, C)`` multi-hot.
        probes: the probes; rows index ``features``.
        config: training settings (``hidden`` must be ``()``: MLPs use :func:`train_linear`).
        n_classes: single-label output count; default ``max(label) + 1``.

    Returns:
        one :class:`ProbeOutcome` per probe, in order.

    Raises:
        ValueError: an MLP config, empty train/valid rows, NaN/Inf features, or labels out of range.
    """
    config = config or LinearEvalConfig()
    if config.hidden:
        raise ValueError("train_linear_batched trains linear probes; use train_linear for hidden layers")
    features, targets = _as_training_arrays(features, targets, "features")
    multilabel = targets.ndim == 2
    if multilabel:
        n_outputs = targets.shape[1]
    else:
        n_outputs = n_classes if n_classes is not None else int(targets.max()) + 1
        if targets.min() < 0 or targets.max() >= n_outputs:
            raise ValueError(f"class indices must lie in [0, {n_outputs}), got labels outside it")
    for position, spec in enumerate(probes):
        if len(spec.train) == 0 or len(spec.valid) == 0:
            raise ValueError(f"probe {position} has {len(spec.train)} training and {len(spec.valid)} validation rows")
    # Probes sharing a training set share one standardised copy of the table; chunks bound the memory.
    split_key = [(spec.train.tobytes(), spec.valid.tobytes()) for spec in probes]
    outcomes: list[ProbeOutcome | None] = [None] * len(probes)
    bytes_per_split = features.nbytes
    splits_per_chunk = max(1, MEMORY_BUDGET_BYTES // max(1, bytes_per_split))
    distinct = list(dict.fromkeys(split_key))
    for chunk_start in range(0, len(distinct), splits_per_chunk):
        chunk = set(distinct[chunk_start : chunk_start + splits_per_chunk])
        members = [index for index, key in enumerate(split_key) if key in chunk]
        with _single_thread():
            trained = _train_chunk(features, targets, [probes[i] for i in members], config, n_outputs, multilabel)
        for index, outcome in zip(members, trained):
            outcomes[index] = outcome
    return [outcome for outcome in outcomes if outcome is not None]


def _padded_rows(row_sets: Sequence[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """``(P, max_len)`` row indices (padded with row 0) and the matching ``(P, max_len)`` validity mask."""
    width = max(1, max(len(rows) for rows in row_sets))
    index = torch.zeros(len(row_sets), width, dtype=torch.long)
    mask = torch.zeros(len(row_sets), width, dtype=torch.bool)
    for position, rows in enumerate(row_sets):
        index[position, : len(rows)] = torch.as_tensor(rows, dtype=torch.long)
        mask[position, : len(rows)] = True
    return index, mask


def _train_chunk(
    features: np.ndarray,
    targets: np.ndarray,
    probes: Sequence[ProbeSpec],
    config: LinearEvalConfig,
    n_outputs: int,
    multilabel: bool,
) -> list[ProbeOutcome]:
    table = torch.from_numpy(features)
    n_probes, dim = len(probes), features.shape[1]
    # One standardised copy of the whole table per distinct training set: a probe's batches, validation
    # and test rows are then plain gathers, never re-standardised.
    keys = [(spec.train.tobytes(), spec.valid.tobytes()) for spec in probes]
    distinct = list(dict.fromkeys(keys))
    split_of = torch.tensor([distinct.index(key) for key in keys])
    standardised = torch.empty(len(distinct), *table.shape)
    for position, key in enumerate(distinct):
        rows = torch.as_tensor(probes[keys.index(key)].train)
        mean = table[rows].mean(dim=0)
        scale = table[rows].std(dim=0, unbiased=False)
        standardised[position] = (table - mean) / torch.where(scale > 0, scale, torch.ones_like(scale))
    if multilabel:
        labels = torch.from_numpy(targets)  # (N, C)
    else:
        labels = torch.nn.functional.one_hot(torch.from_numpy(targets), n_outputs).float()  # (N, C)

    weight = torch.empty(n_probes, dim, n_outputs)
    bias = torch.empty(n_probes, 1, n_outputs)
    for position, spec in enumerate(probes):
        with torch.random.fork_rng(devices=[]):  # the reference's nn.Linear initialisation, per seed
            torch.manual_seed(spec.seed)
            layer = nn.Linear(dim, n_outputs)
        weight[position] = layer.weight.detach().T
        bias[position, 0] = layer.bias.detach()
    learning_rate = torch.tensor([spec.lr for spec in probes]).view(-1, 1, 1)
    beta1, beta2, epsilon = 0.9, 0.999, 1e-8  # torch.optim.Adam's defaults, as the reference uses
    moments = [torch.zeros_like(weight), torch.zeros_like(bias)]
    squares = [torch.zeros_like(weight), torch.zeros_like(bias)]
    steps = torch.zeros(n_probes, 1, 1)
    generators = [torch.Generator().manual_seed(spec.seed) for spec in probes]
    train_sizes = [len(spec.train) for spec in probes]
    train_rows = [torch.as_tensor(spec.train, dtype=torch.long) for spec in probes]

    valid_index, valid_mask = _padded_rows([spec.valid for spec in probes])
    valid_x = standardised[split_of.view(-1, 1), valid_index]  # (P, V, D)
    valid_y = labels[valid_index]  # (P, V, C)
    valid_counts = valid_mask.sum(dim=1)

    best_score = np.full(n_probes, -math.inf)
    best_loss = np.full(n_probes, math.inf)
    best_epoch = np.full(n_probes, -1)
    epochs_trained = np.zeros(n_probes, dtype=np.int64)
    waiting = np.zeros(n_probes, dtype=np.int64)
    active = np.ones(n_probes, dtype=bool)
    best_weight, best_bias = weight.clone(), bias.clone()
    batch_size = config.batch_size
    sizes = np.asarray(train_sizes)
    for epoch in range(config.max_epochs):
        running = np.flatnonzero(active)
        live = torch.from_numpy(running)
        # Stopped probes leave the batch: the epoch works on the live probes' slices of the state.
        w, b, rate, split = weight[live], bias[live], learning_rate[live], split_of[live].view(-1, 1)
        m = [moments[0][live], moments[1][live]]
        v = [squares[0][live], squares[1][live]]
        n_live = len(running)
        n_steps = int(max(math.ceil(sizes[p] / batch_size) for p in running))
        # The epoch's batches of every live probe, padded: its step s is order[i, s*B:(s+1)*B].
        order = torch.zeros(n_live, n_steps * batch_size, dtype=torch.long)
        order_mask = torch.zeros(n_live, n_steps * batch_size)
        for i, p in enumerate(running):
            order[i, : sizes[p]] = train_rows[p][torch.randperm(int(sizes[p]), generator=generators[p])]
            order_mask[i, : sizes[p]] = 1.0
        for step in range(n_steps):
            batch_index = order[:, step * batch_size : (step + 1) * batch_size]
            batch_mask = order_mask[:, step * batch_size : (step + 1) * batch_size]
            stepping_host = sizes[running] > step * batch_size  # known on the host: no synchronisation
            everyone = bool(stepping_host.all())
            stepping = torch.from_numpy(stepping_host).view(-1, 1, 1)
            x = standardised[split, batch_index]  # (P, B, D)
            logits = torch.baddbmm(b, x, w)  # (P, B, C)
            counts = batch_mask.sum(dim=1).clamp(min=1).view(-1, 1, 1)
            if multilabel:  # BCEWithLogitsLoss averages over clips and classes
                gradient = (torch.sigmoid(logits) - labels[batch_index]) / (counts * n_outputs)
            else:  # CrossEntropyLoss averages over clips
                gradient = (torch.softmax(logits, dim=-1) - labels[batch_index]) / counts
            gradient = gradient * batch_mask.unsqueeze(-1)  # (P, B, C)
            grads = [torch.bmm(x.transpose(1, 2), gradient), gradient.sum(dim=1, keepdim=True)]
            steps[live] += stepping
            probe_steps = steps[live]
            correction1 = 1 - beta1**probe_steps.clamp(min=1)
            correction2_root = (1 - beta2**probe_steps.clamp(min=1)).sqrt()
            for position, (parameter, grad) in enumerate(zip((w, b), grads)):
                if config.weight_decay:
                    grad = grad + config.weight_decay * parameter
                if everyone:  # torch.optim.Adam's update, in place
                    m[position].mul_(beta1).add_(grad, alpha=1 - beta1)
                    v[position].mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                else:
                    m[position] = torch.where(stepping, beta1 * m[position] + (1 - beta1) * grad, m[position])
                    v[position] = torch.where(stepping, beta2 * v[position] + (1 - beta2) * grad * grad, v[position])
                denominator = (v[position].sqrt() / correction2_root).add_(epsilon)
                update = (rate / correction1) * m[position] / denominator
                parameter -= update if everyone else torch.where(stepping, update, torch.zeros_like(update))
        weight[live], bias[live] = w, b
        moments[0][live], moments[1][live] = m[0], m[1]
        squares[0][live], squares[1][live] = v[0], v[1]
        valid_logits = torch.baddbmm(b, valid_x[live], w)  # (P_live, V, C)
        mask, truth, counted = valid_mask[live], valid_y[live], valid_counts[live]
        scores, losses = np.full(n_probes, -math.inf), np.full(n_probes, math.inf)
        if multilabel:
            elementwise = torch.nn.functional.binary_cross_entropy_with_logits(valid_logits, truth, reduction="none")
            losses[running] = ((elementwise.mean(dim=-1) * mask).sum(dim=1) / counted).numpy()
            logits_host = valid_logits.numpy()
            scores[running] = [
                mean_average_precision(logits_host[i, : len(probes[p].valid)], targets[probes[p].valid])
                for i, p in enumerate(running)
            ]
        else:
            log_probabilities = torch.log_softmax(valid_logits, dim=-1)
            valid_loss = -((log_probabilities * truth).sum(dim=-1) * mask).sum(dim=1) / counted
            hits = (valid_logits.argmax(dim=-1) == truth.argmax(dim=-1)) & mask
            host = torch.stack([valid_loss, hits.sum(dim=1) / counted]).numpy()  # the epoch's one sync
            losses[running], scores[running] = host[0], host[1]
        improved = active & _better(config.monitor, scores, losses, best_score, best_loss)
        epochs_trained[active] += 1
        best_score[improved], best_loss[improved], best_epoch[improved] = scores[improved], losses[improved], epoch
        waiting[improved] = 0
        waiting[active & ~improved] += 1
        mask = torch.from_numpy(improved).view(-1, 1, 1)
        best_weight = torch.where(mask, weight, best_weight)
        best_bias = torch.where(mask, bias, best_bias)
        active &= waiting < config.patience
        if not active.any():
            break

    test_index, test_mask = _padded_rows([spec.test for spec in probes])
    test_logits = torch.baddbmm(best_bias, standardised[split_of.view(-1, 1), test_index], best_weight).numpy()
    return [
        ProbeOutcome(
            valid_score=float(best_score[p]), valid_loss=float(best_loss[p]), best_epoch=int(best_epoch[p]),
            epochs=int(epochs_trained[p]), test_logits=test_logits[p, : len(spec.test)].copy(),
        )
        for p, spec in enumerate(probes)
    ]  # fmt: skip


def train_linear_reference(
    features: np.ndarray,
    targets: np.ndarray,
    probes: Sequence[ProbeSpec],
    config: LinearEvalConfig | None = None,
    *,
    n_classes: int | None = None,
) -> list[ProbeOutcome]:
    """The probes of :func:`train_linear_batched`, one at a time through :func:`train_linear` (the
    reference the batched path is tested against, and the path of MLP probes)."""
    config = config or LinearEvalConfig()
    outcomes = []
    for spec in probes:
        model, score = train_linear(
            features[spec.train], targets[spec.train], features[spec.valid], targets[spec.valid],
            dataclasses.replace(config, lr=spec.lr), spec.seed, n_classes=n_classes,
        )  # fmt: skip
        test_logits = model.predict_scores(features[spec.test]) if len(spec.test) else np.zeros((0, 0), np.float32)
        outcomes.append(ProbeOutcome(
            valid_score=score, valid_loss=model.history[model.best_epoch]["valid_loss"], best_epoch=model.best_epoch,
            epochs=len(model.history), test_logits=test_logits,
        ))  # fmt: skip
    return outcomes


# ----------------------------------------------------------------------------------------------------
# Partitions and the repeated evaluation


@dataclass(frozen=True)
class EvaluationSplit:
    """One train/valid/test partition of the rows of an :class:`Embeddings` table."""

    name: str
    """The fold's name in the protocol plan (``"fold <k>"``, ``"k-fold <k>"``, ``"test"``)."""
    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray


@dataclass
class LinearEvalResult:
    """Scores of a repeated linear evaluation.

    Attributes:
        metric: ``"accuracy"`` (single-label) or ``"mAP"`` (multi-label).
        protocol: the protocol used (``"official"``, ``"kfold"`` or ``"grouped-kfold"``).
        mean: mean of ``per_seed``.
        ci95: half width of the 95 % Student's t interval of ``per_seed`` (0 for one seed).
        per_seed: one score per seed: the folds' scores averaged weighted by their test sizes.
        per_fold: partition name -> one score per seed (k-fold partitions are reshuffled per seed, so
            "k-fold 1" of two seeds are different clips; official folds are the same clips).
        seeds: the seeds, in ``per_seed`` order.
        n_train, n_valid: clips used to fit and to stop the first partition's classifier.
        n_test: clips scored per seed (every clip that some partition tests, each once).
        test_indices: ``(n_test,)`` rows of the embeddings table that were scored, in increasing order.
        test_targets: their targets, ``(n_test,)`` or ``(n_test, C)``.
        predictions: the first seed's predicted class ``(n_test,)``, or its sigmoid scores
            ``(n_test, C)`` for multi-label tasks; aligned with ``test_indices``.
        classes: class names.
        requested_protocol: the protocol asked for (``"auto"`` included).
        protocol_note: why ``protocol`` was used (a fallback from degenerate official folds says so).
        fold_sizes: partition name -> test clips of the first seed's partition.
        seed_predictions: every seed's predictions ``(n_seeds, n_test)`` (or ``(n_seeds, n_test, C)``),
            on the same items in the same order, so two systems can be compared item by item.
        learning_rate: the probe learning rate used (chosen on validation scores when a grid is given).
        valid_by_learning_rate: ``str(lr)`` -> mean best validation score over seeds and folds (empty
            without a grid).
        valid_score: the mean best validation score over seeds and folds at ``learning_rate``: what a
            model selection (a layer choice) may look at, since no test clip enters it.
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
    requested_protocol: str = ""
    protocol_note: str = ""
    fold_sizes: dict[str, int] = field(default_factory=dict)
    seed_predictions: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    learning_rate: float = 0.0
    valid_by_learning_rate: dict[str, float] = field(default_factory=dict)
    valid_score: float = 0.0

    ARRAY_FIELDS: ClassVar[tuple[str, ...]] = ("test_indices", "test_targets", "predictions", "seed_predictions")

    def correct(self) -> np.ndarray:
        """``(n_seeds, n_test)`` 0/1 correctness per seed and item (single-label tasks), for
        :func:`~workbench.evaluation.stats.compare_paired_items`.

        Raises:
            ValueError: a multi-label result (items have no single right answer).
        """
        if self.metric != "accuracy":
            raise ValueError(f"per-item correctness needs a single-label result, this one reports {self.metric}")
        return (np.asarray(self.seed_predictions) == self.test_targets[None, :]).astype(np.float64)

    def scalars(self) -> dict[str, Any]:
        """The JSON-serialisable part (for ``metrics.json``); :meth:`arrays` holds the rest."""
        return {
            "metric": self.metric, "protocol": self.protocol, "mean": self.mean, "ci95": self.ci95,
            "per_seed": list(self.per_seed), "per_fold": {k: list(v) for k, v in self.per_fold.items()},
            "seeds": list(self.seeds), "n_train": self.n_train, "n_valid": self.n_valid,
            "n_test": self.n_test, "classes": list(self.classes), "requested_protocol": self.requested_protocol,
            "protocol_note": self.protocol_note, "fold_sizes": dict(self.fold_sizes),
            "learning_rate": self.learning_rate, "valid_by_learning_rate": dict(self.valid_by_learning_rate),
            "valid_score": self.valid_score,
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
            **{name: np.asarray(arrays[name]) for name in cls.ARRAY_FIELDS if name in arrays},
        )  # fmt: skip

    def summary(self) -> str:
        """One line, e.g. ``accuracy 0.912 ± 0.010 (3 seeds, official, 400 test clips)``."""
        return (
            f"{self.metric} {self.mean:.3f} ± {self.ci95:.3f} "
            f"({len(self.seeds)} seed{'s' if len(self.seeds) != 1 else ''}, {self.protocol}, "
            f"{self.n_test} test clips)"
        )


def resolve_protocol_name(protocol: str) -> str:
    """``protocol`` itself, or the new name of an earlier one (:data:`LEGACY_PROTOCOLS`, with a warning).

    Raises:
        UnknownNameError: neither a protocol of :data:`PROTOCOLS` nor an earlier name.
    """
    if protocol in LEGACY_PROTOCOLS:
        warnings.warn(
            f"linear evaluation protocol {protocol!r} is now {LEGACY_PROTOCOLS[protocol]!r}",
            DeprecationWarning, stacklevel=3,
        )  # fmt: skip
        return LEGACY_PROTOCOLS[protocol]
    if protocol not in PROTOCOLS:
        raise UnknownNameError("linear evaluation protocol", protocol, PROTOCOLS)
    return protocol


def plan_for(embeddings: Embeddings, protocol: str = "auto", seed: int = 0, n_folds: int = 5) -> ProtocolPlan:
    """The protocol plan of ``embeddings`` for one seed (k-fold partitions are shuffled by ``seed``)."""
    return plan_protocol(
        embeddings.targets, protocol=resolve_protocol_name(protocol), folds=embeddings.folds,
        splits=embeddings.splits, groups=embeddings.groups, classes=embeddings.classes or None,
        n_folds=n_folds, seed=seed,
    )  # fmt: skip


def evaluation_splits(
    embeddings: Embeddings,
    protocol: str,
    seed: int,
    config: LinearEvalConfig | None = None,
    *,
    n_folds: int = 5,
) -> list[EvaluationSplit]:
    """The train/valid/test partitions of one repetition (deterministic given ``seed``).

    The test sides come from :func:`plan_for`; the validation clips are carved from each training side
    (:func:`~workbench.evaluation.protocols.carve_validation`: stratified, grouped by source where
    groups exist), differently per seed, or are the official validation split where the data have one.
    """
    config = config or LinearEvalConfig()
    plan = plan_for(embeddings, protocol, seed, n_folds)
    return _splits_of_plan(embeddings, plan, seed, config)


def _splits_of_plan(
    embeddings: Embeddings, plan: ProtocolPlan, seed: int, config: LinearEvalConfig
) -> list[EvaluationSplit]:
    partitions = []
    for position, fold in enumerate(plan.folds):
        train = fold.train
        official_valid = (
            train[np.isin(embeddings.splits[train], VALID_SPLIT_NAMES)]
            if plan.protocol == "official" and embeddings.splits is not None and embeddings.folds is None
            else np.zeros(0, dtype=np.int64)
        )
        if len(official_valid) and len(official_valid) < len(train):
            fit, valid = np.setdiff1d(train, official_valid), official_valid
        else:
            # One random stream per (seed, fold): each fold's carving is reproducible on its own.
            fit, valid = carve_validation(
                train, embeddings.targets, groups=embeddings.groups, fraction=config.valid_fraction,
                seed=seed * 1_000_003 + position,
            )  # fmt: skip
        partitions.append(EvaluationSplit(fold.name, fit, valid, fold.test))
    return partitions


def linear_evaluation(
    embeddings: Embeddings | tuple[np.ndarray, np.ndarray, np.ndarray | None],
    *,
    seeds: Sequence[int] = (0, 1, 2),
    config: LinearEvalConfig | None = None,
    protocol: str = "auto",
    n_folds: int = 5,
    engine: str = "batched",
) -> LinearEvalResult:
    """Linear evaluation repeated over ``seeds``: mean score and 95 % confidence interval.

    Every seed runs every partition of the protocol (k-fold partitions reshuffled per seed, the same
    for every feature set given the same data, so two systems scored with the same seeds are paired);
    a seed's score is the folds' scores weighted by their test sizes. With a learning-rate grid
    (``config.learning_rates``) every rate is trained on every (seed, fold) and the rate with the best
    mean validation score is the one whose test scores are reported: the test clips never choose.

    Args:
        embeddings: an :class:`Embeddings` table, or ``(features, targets, partition)`` where
            ``partition`` is an ``(N,)`` int array of folds, an ``(N,)`` str array of split names, or None.
        seeds: one repetition per seed (initial weights, batch order, validation carving, k-fold shuffle).
        config: classifier settings; default :class:`LinearEvalConfig`.
        protocol: one of :data:`~workbench.evaluation.protocols.PROTOCOLS` (earlier names
            ``"folds"``/``"splits"`` read as ``"official"``, ``"holdout"`` as ``"kfold"``).
        n_folds: folds of the k-fold protocols.
        engine: ``"batched"`` (all probes as one model) or ``"reference"`` (one :func:`train_linear`
            per probe; MLP probes always take it).

    Returns:
        :class:`LinearEvalResult`; a fallback from the requested protocol is in ``protocol_note`` and
        is logged (and warned when official folds exist but cannot be trained on).

    Raises:
        UnknownNameError: unknown ``protocol`` or ``engine``.
        ValueError: no seeds, or data that cannot support the protocol (naming the fold and classes).
    """
    if not isinstance(embeddings, Embeddings):
        embeddings = _embeddings_from_arrays(*embeddings)
    seeds = tuple(int(seed) for seed in seeds)
    if not seeds:
        raise ValueError("linear_evaluation needs at least one seed")
    if engine not in ENGINES:
        raise UnknownNameError("linear evaluation engine", engine, ENGINES)
    config = config or LinearEvalConfig()
    multilabel = embeddings.target_kind == "multilabel"
    n_classes = embeddings.targets.shape[1] if multilabel else _class_count(embeddings)
    features = np.ascontiguousarray(embeddings.features, dtype=np.float32)
    targets = embeddings.targets

    plans = {seed: plan_for(embeddings, protocol, seed, n_folds) for seed in seeds}
    first = plans[seeds[0]]
    if first.note:
        # "auto" leaving official folds that exist is a fallback the user did not ask for: warned. Notes on
        # an explicit protocol (fewer folds than asked) and on data without official folds are logged.
        fell_back = first.requested == "auto" and first.protocol != "official" and bool(official_partitions(
            embeddings.folds, embeddings.splits
        ))  # fmt: skip
        message = f"linear evaluation: protocol {first.requested!r} -> {first.protocol!r}: {first.note}"
        logger.info(message)
        if fell_back:  # shown once per call site (Python's warning filter), not once per layer or encoder
            warnings.warn(message, UserWarning, stacklevel=2)
    learning_rates = tuple(config.learning_rates) or (config.lr,)
    probes: list[ProbeSpec] = []
    layout: list[tuple[int, int, str, int]] = []  # (seed position, rate position, fold name, probe index)
    splits_by_seed: dict[int, list[EvaluationSplit]] = {}
    for seed_position, seed in enumerate(seeds):
        splits_by_seed[seed] = _splits_of_plan(embeddings, plans[seed], seed, config)
        for split in splits_by_seed[seed]:
            for rate_position, rate in enumerate(learning_rates):
                layout.append((seed_position, rate_position, split.name, len(probes)))
                probes.append(ProbeSpec(split.train, split.valid, seed, rate, split.test))
    trainer = train_linear_reference if engine == "reference" or config.hidden else train_linear_batched
    outcomes = trainer(features, targets, probes, config, n_classes=None if multilabel else n_classes)

    valid_by_rate = {
        rate: float(np.mean([outcomes[i].valid_score for _, r, _, i in layout if r == position]))
        for position, rate in enumerate(learning_rates)
    }
    valid_loss_by_rate = {
        rate: float(np.mean([outcomes[i].valid_loss for _, r, _, i in layout if r == position]))
        for position, rate in enumerate(learning_rates)
    }
    # Highest mean validation score; ties go to the lower validation loss, then the smaller rate.
    chosen = min(learning_rates, key=lambda rate: (-valid_by_rate[rate], valid_loss_by_rate[rate], rate))
    chosen_position = learning_rates.index(chosen)

    per_fold: dict[str, list[float]] = {}
    per_seed: list[float] = []
    seed_predictions: list[np.ndarray] = []
    test_rows: np.ndarray | None = None
    for seed_position, seed in enumerate(seeds):
        scores, sizes, rows, predictions = [], [], [], []
        for split in splits_by_seed[seed]:
            (index,) = [i for s, r, name, i in layout if s == seed_position and r == chosen_position and name == split.name]
            logits = outcomes[index].test_logits
            score = score_predictions(targets[split.test], logits)
            scores.append(score)
            sizes.append(len(split.test))
            per_fold.setdefault(split.name, []).append(score)
            rows.append(split.test)
            predictions.append(_sigmoid(logits) if multilabel else logits.argmax(axis=1))
        per_seed.append(weighted_fold_mean(scores, sizes))
        seed_rows = np.concatenate(rows)
        order = np.argsort(seed_rows, kind="stable")
        if len(np.unique(seed_rows)) != len(seed_rows):
            raise ValueError("a protocol tested some clip twice in one seed; its partitions overlap")
        if test_rows is None:
            test_rows = seed_rows[order]
        elif not np.array_equal(test_rows, seed_rows[order]):
            raise ValueError("the seeds' protocols test different clips; their predictions cannot be paired")
        seed_predictions.append(np.concatenate(predictions)[order])

    assert test_rows is not None
    mean, half_width = mean_confidence_interval(per_seed)
    first_split = splits_by_seed[seeds[0]][0]
    return LinearEvalResult(
        metric="mAP" if multilabel else "accuracy",
        protocol=first.protocol,
        mean=mean,
        ci95=half_width,
        per_seed=tuple(per_seed),
        per_fold={name: tuple(values) for name, values in per_fold.items()},
        seeds=seeds,
        n_train=len(first_split.train),
        n_valid=len(first_split.valid),
        n_test=len(test_rows),
        test_indices=test_rows,
        test_targets=targets[test_rows],
        predictions=seed_predictions[0],
        classes=embeddings.classes,
        requested_protocol=first.requested,
        protocol_note=first.note,
        fold_sizes={split.name: len(split.test) for split in splits_by_seed[seeds[0]]},
        seed_predictions=np.stack(seed_predictions),
        learning_rate=float(chosen),
        valid_by_learning_rate={repr(rate): score for rate, score in valid_by_rate.items()} if len(learning_rates) > 1 else {},
        valid_score=valid_by_rate[chosen],
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
