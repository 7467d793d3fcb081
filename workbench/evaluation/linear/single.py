"""The single-probe engine: :class:`LinearClassifier` and :func:`train_linear`, one probe at a time (the
reference the batched engine is tested against, and the path of MLP probes), with the stopping rule,
the one-thread context and the input checks both engines share."""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from workbench.evaluation.linear.config import LinearEvalConfig
from workbench.evaluation.metrics import mean_average_precision


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
