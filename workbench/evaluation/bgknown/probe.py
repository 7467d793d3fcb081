"""Probing a table under the protocol: one linear probe per seed on the training folds, every test
item's correctness per seed (:class:`BgKnownScores`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from workbench.evaluation.bgknown.protocol import BgKnownProtocol
from workbench.evaluation.embeddings import Embeddings
from workbench.evaluation.linear import ProbeSpec, train_linear_batched
from workbench.evaluation.protocols import carve_validation


@dataclass
class BgKnownScores:
    """Per-item results of one table under :class:`BgKnownProtocol`.

    Attributes:
        ids: ``(items,)`` the test items, in table order.
        correct: ``(probe seeds, items)`` bool, whether each seed's probe classified each item correctly.
        accuracy: ``(probe seeds,)`` test accuracy per seed.
        epochs: epochs each seed's probe trained; ``best_epochs`` the restored (lowest validation loss) ones.
    """

    ids: np.ndarray
    correct: np.ndarray
    accuracy: np.ndarray
    epochs: tuple[int, ...]
    best_epochs: tuple[int, ...]

    @property
    def mean(self) -> float:
        return float(self.accuracy.mean())


def protocol_rows(table: Embeddings, protocol: BgKnownProtocol) -> tuple[np.ndarray, np.ndarray]:
    """Training and test rows of a table by fold.

    Raises:
        ValueError: a table without folds, or without items in the training or the test folds.
    """
    if table.folds is None:
        raise ValueError("the BgKnown protocol splits by fold; these embeddings have no folds")
    rows = np.arange(len(table))
    train = rows[np.isin(table.folds, protocol.train_folds)]
    test = rows[np.isin(table.folds, protocol.test_folds)]
    if len(train) < 2 or len(test) == 0:
        raise ValueError(
            f"the BgKnown protocol needs items in training folds {protocol.train_folds} and test folds "
            f"{protocol.test_folds}; the table has folds {sorted(set(table.folds.tolist()))}"
        )
    return train, test


def probe_bgknown(table: Embeddings, protocol: BgKnownProtocol | None = None) -> BgKnownScores:
    """Train one probe per seed on the training folds (validation carved per seed, grouped by source
    recording where the table has groups) and score each test item."""
    protocol = protocol or BgKnownProtocol()
    train, test = protocol_rows(table, protocol)
    n_classes = max(int(table.targets.max()) + 1, len(table.classes))
    specs = []
    for seed in protocol.probe_seeds:
        fit, valid = carve_validation(train, table.targets, groups=table.groups, fraction=protocol.valid_fraction,
                                      seed=seed)  # fmt: skip
        specs.append(ProbeSpec(train=fit, valid=valid, seed=seed, lr=protocol.lr, test=test))
    # Every seed's probe trained at once: the batched engine equals train_linear with the same config
    # (one probe at a time) within float rounding.
    outcomes = train_linear_batched(table.features, table.targets, specs, protocol.config(), n_classes=n_classes)
    correct = [outcome.test_logits.argmax(axis=1) == table.targets[test] for outcome in outcomes]
    epochs = [outcome.epochs for outcome in outcomes]
    best = [outcome.best_epoch for outcome in outcomes]
    correct_array = np.asarray(correct, dtype=bool)
    return BgKnownScores(np.asarray(table.ids)[test], correct_array, correct_array.mean(axis=1), tuple(epochs), tuple(best))
