"""The paper's protocol (Sec. 5.2 and Table 1): the overlaps and SNRs of the items, the training and test
folds, the tables' column names, and the probe's settings (:class:`BgKnownProtocol`)."""

from __future__ import annotations

from dataclasses import dataclass

from workbench.evaluation.linear import LinearEvalConfig

OVERLAPS: tuple[float, ...] = (1.0, 0.5, 0.0)
"""Shares of the mixture's background crop that the three references repeat (Table 1's columns)."""
SNR_RANGE_DB: tuple[float, float] = (0.0, 3.0)
"""Foreground-to-background ratio of the mixtures, drawn uniformly per item (Sec. 5.2: "a random SNR
between 0 to 3 dB")."""
TRAIN_FOLDS: tuple[int, ...] = (1, 2, 3)
TEST_FOLDS: tuple[int, ...] = (4, 5)
"""Sec. 5.2: "we assigned 1, 2, and 3 to the training set (1200 files) and 4 and 5 to the test set (800 files)"."""


def overlap_name(overlap: float) -> str:
    """``"diff-100"`` for overlap 1.0, ``"diff-50"`` for 0.5, ``"diff-0"`` for 0.0: the table's column keys."""
    return f"diff-{round(100 * overlap)}"


@dataclass(frozen=True)
class BgKnownProtocol:
    """BgKnown linear evaluation as Sec. 5.2 of the paper describes it.

    Defaults: training folds 1-3, test folds 4-5; one linear layer, at most 200 epochs, early stopping
    on the validation LOSS with patience 20 (BYOL-A's linear evaluation, which the paper follows) and the
    best-loss weights restored; 10 % of the training items for validation; Adam at 1e-3; three probe
    seeds ("we ran the experiments with different random seeds three times"). The batch size is not
    given in the paper; 128 as the workbench's linear evaluation.

    Raises:
        ValueError: a setting outside its range, or folds on both sides.
    """

    train_folds: tuple[int, ...] = TRAIN_FOLDS
    test_folds: tuple[int, ...] = TEST_FOLDS
    max_epochs: int = 200
    patience: int = 20
    valid_fraction: float = 0.1
    lr: float = 1e-3
    batch_size: int = 128
    probe_seeds: tuple[int, ...] = (0, 1, 2)

    def __post_init__(self) -> None:
        checks = {
            "max_epochs": self.max_epochs >= 1, "patience": self.patience >= 1, "lr": self.lr > 0,
            "batch_size": self.batch_size >= 1, "valid_fraction": 0 < self.valid_fraction < 1,
            "probe_seeds": len(self.probe_seeds) >= 1, "train_folds": len(self.train_folds) >= 1,
            "test_folds": len(self.test_folds) >= 1,
        }  # fmt: skip
        for name, valid in checks.items():
            if not valid:
                raise ValueError(f"BgKnownProtocol.{name} is out of range: {getattr(self, name)!r}")
        shared = sorted(set(self.train_folds) & set(self.test_folds))
        if shared:
            raise ValueError(f"BgKnownProtocol: fold(s) {shared} are both training and test folds")

    def config(self) -> LinearEvalConfig:
        """The workbench's linear-probe settings that train this protocol's probe: stopping on the
        validation loss (``monitor="loss"``), no weight decay, no hidden layer."""
        return LinearEvalConfig(lr=self.lr, batch_size=self.batch_size, max_epochs=self.max_epochs,
                                patience=self.patience, valid_fraction=self.valid_fraction, monitor="loss")  # fmt: skip
