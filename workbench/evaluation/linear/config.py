"""Settings of linear evaluation: :class:`LinearEvalConfig`, and the names of the protocols, engines
and early-stopping monitors it accepts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

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
