"""What a run returns: one trained model's test arrays (:class:`FoldResult`), one loss over its folds and
repeats (:class:`LossRun`), and the recipe's result with its tables (:class:`AddLossResult`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from workbench.data.records import AudioDataset
from workbench.evaluation.geometry import Geometry
from workbench.recipes import base
from workbench.recipes.add_loss.params import Params

SUMMARY_NAMES = ("intra-class clustering", "intra-class equidistance", "inter-class separation",
                 "inter-class equidistance", "inter-class hierarchy")  # fmt: skip
"""The keys of :meth:`Geometry.summaries`, in the order the tables print them."""


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
    seeding: dict[str, Any] | None = None
    """Under ``max_seeds``: the repeats' seeds used, the budget and why adding them stopped
    (:meth:`~workbench.recipes.base.seeding.SeedingResult.to_dict`); None for a fixed number of repeats."""

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

    def repeats_words(self) -> str:
        """``3 repeat(s)``, or under ``max_seeds`` the seeds used, of which budget, and why adding them stopped."""
        if not self.seeding:
            return f"{self.params['repeats']} repeat(s)"
        seeds = self.seeding["seeds"]
        return (f"{len(seeds)} repeat(s) (seeds {', '.join(map(str, seeds))}, added one at a time up to max_seeds "
                f"{self.seeding['budget']} until {self.seeding['claim']} was settled: {self.seeding['stopped']})")  # fmt: skip

    def summary(self) -> str:
        """Per loss: accuracy (mean ± std over repeats) and the geometry summaries, 2 decimals; the claims."""
        params = self.params
        folds = sorted({r.fold for run in self.losses.values() for r in run.folds}, key=lambda fold: fold or 0)
        fold_names = ",".join("split" if fold is None else str(fold) for fold in folds)
        lines = [
            f"recipe: {self.recipe} on {params['dataset']}{' / ' + params['task'] if params['task'] else ''}, "
            f"encoder {params['encoder']}, test fold(s) {fold_names}, {self.repeats_words()}"
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
