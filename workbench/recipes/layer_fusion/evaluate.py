"""Scoring: the linear evaluation of one feature table with the run's seeds, protocol and probe settings, the
scores of one task, and how they are kept in and read back from the run directory."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from workbench.evaluation.embeddings import Embeddings
from workbench.evaluation.linear import LEARNING_RATE_GRID, LinearEvalConfig, LinearEvalResult, linear_evaluation
from workbench.train.rundir import RunDir


@dataclass
class TaskScores:
    """Linear-evaluation scores of one task: every layer, the fused layers and the usual embedding."""

    layers: dict[str, LinearEvalResult]
    fused: LinearEvalResult
    last: LinearEvalResult
    """The model's usual last-layer embedding (``encoder.embed``), the paper's baseline."""

    def best_layer(self) -> str:
        """The layer with the highest mean test score (the earliest one on ties): for display only;
        choices use :meth:`best_valid_layer`."""
        return max(self.layers, key=lambda name: self.layers[name].mean)

    def best_valid_layer(self, among: Sequence[str] | None = None) -> str:
        """The layer (of ``among``, default all) with the highest validation score, earliest on ties."""
        names = list(self.layers if among is None else among)
        return max(names, key=lambda name: self.layers[name].valid_score)


def seeds_of(params: Mapping[str, Any]) -> tuple[int, ...]:
    return tuple(range(int(params["n_seeds"])))


def probe_config(params: Mapping[str, Any]) -> LinearEvalConfig:
    """The probe settings: a fixed ``learning_rate``, or (0) the grid :data:`LEARNING_RATE_GRID` chosen
    from on validation clips per task and feature set."""
    rate = float(params["learning_rate"])
    return LinearEvalConfig(
        lr=rate if rate > 0 else 1e-3, learning_rates=() if rate > 0 else LEARNING_RATE_GRID,
        batch_size=int(params["batch_size"]), max_epochs=int(params["max_epochs"]), patience=int(params["patience"]),
    )  # fmt: skip


def evaluate_table(table: Embeddings, settings: Mapping[str, Any], config: LinearEvalConfig) -> LinearEvalResult:
    """Linear evaluation of one feature table with the run's seeds, protocol and folds (``settings``: the
    run's parameters as a dict) and probe ``config``, so every score of a run, and of a later fusion, is
    comparable."""
    return linear_evaluation(
        table, seeds=seeds_of(settings), config=config, protocol=settings["protocol"],
        n_folds=int(settings["n_folds"]),
    )  # fmt: skip


def _save_task_arrays(run_dir: RunDir, position: int, scores: TaskScores) -> None:
    arrays: dict[str, np.ndarray] = {}
    for column, result in [*scores.layers.items(), ("__fused", scores.fused), ("__last", scores.last)]:
        arrays.update({f"{column}//{key}": value for key, value in result.arrays().items()})
    run_dir.save_arrays(f"scores-{position}", **arrays)


def _load_task_scores(
    run_dir: RunDir, position: int, stored: Mapping[str, Any], layer_names: Sequence[str]
) -> TaskScores:
    arrays = run_dir.load_arrays(f"scores-{position}")

    def part(column: str, scalars: Mapping[str, Any]) -> LinearEvalResult:
        return LinearEvalResult.from_parts(
            scalars, {key: arrays[f"{column}//{key}"] for key in LinearEvalResult.ARRAY_FIELDS}
        )

    return TaskScores(
        # metrics.json sorts its keys: the forward order of the layers comes from the model.
        layers={layer: part(layer, stored["layers"][layer]) for layer in layer_names},
        fused=part("__fused", stored["fused"]),
        last=part("__last", stored["last"]),
    )


def _scalars(scores: TaskScores) -> dict[str, Any]:
    return {
        "layers": {layer: result.scalars() for layer, result in scores.layers.items()},
        "fused": scores.fused.scalars(),
        "last": scores.last.scalars(),
    }
