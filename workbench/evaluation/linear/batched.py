"""Batched probes: every (seed, fold, learning rate) of an evaluation as one model with a probe axis
(:func:`train_linear_batched`), and the same probes one at a time (:func:`train_linear_reference`)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from workbench.evaluation.linear.config import LinearEvalConfig
from workbench.evaluation.linear.single import _as_training_arrays, _better, _single_thread, train_linear
from workbench.evaluation.metrics import mean_average_precision


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
