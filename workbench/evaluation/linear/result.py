"""The result of a repeated linear evaluation (:class:`LinearEvalResult`): scores per seed and fold,
every seed's predictions on the same test items, and its round trip through ``metrics.json``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np


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
        excluded_classes: class name -> why it is left out of training and test (no partition can
            both train and test it, e.g. ``"one source recording"``); empty when every class is scored.
        scored_line: ``"49 of 50 classes scored; washing_machine: one source recording"``, or "".
        leaked_test_clips: the first seed's test clips that share a source recording with their
            training side (``"kfold"`` on data with groups), or None.
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
    excluded_classes: dict[str, str] = field(default_factory=dict)
    scored_line: str = ""
    leaked_test_clips: int | None = None

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
            "valid_score": self.valid_score, "excluded_classes": dict(self.excluded_classes),
            "scored_line": self.scored_line, "leaked_test_clips": self.leaked_test_clips,
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
        """One line, e.g. ``accuracy 0.912 ± 0.010 (3 seeds, official, 400 test clips)``, naming the
        classes left unscored where there are any."""
        return (
            f"{self.metric} {self.mean:.3f} ± {self.ci95:.3f} "
            f"({len(self.seeds)} seed{'s' if len(self.seeds) != 1 else ''}, {self.protocol}, "
            f"{self.n_test} test clips{'; ' + self.scored_line if self.scored_line else ''})"
        )
