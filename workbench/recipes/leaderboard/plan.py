"""The plan of a leaderboard for ``workbench launch``: one leaf per (encoder, task) cell, each the cell's own run
directory, so a cluster computes the missing cells side by side and the gather (:func:`run`) reads them all back."""

from __future__ import annotations

from typing import Any

from workbench.launch.plan import Plan, Stage, run_leaf
from workbench.recipes.layer_fusion.data import datasets_at_hand
from workbench.recipes.leaderboard.cells import EncoderSpec, build, cell_data, cell_settings, compute_cell, open_cell, resolve_encoders
from workbench.recipes.leaderboard.params import CODE_VERSION, NAME, Params
from workbench.train.rundir import run_id


def plan(params: Params) -> Plan:
    """Stage ``cells``: every cell of the grid at hand (the encoders and tasks :func:`run` would evaluate)."""
    encoders, _ = resolve_encoders(params)
    datasets, _ = datasets_at_hand(params)
    leaves = [
        run_leaf(f"{__name__}:cell_leaf",
                 {"params": params.to_dict(), "encoder": encoder.name, "weights_file": encoder.weights_file, "task": task},
                 NAME, run_id(NAME, cell_settings(params, encoder, task), data=cell_data(encoder, dataset), code=CODE_VERSION),
                 f"{encoder.name} on {task}")
        for encoder in encoders for task, dataset in datasets.items()
    ]  # fmt: skip
    return Plan(NAME, [Stage("cells", leaves)])


def cell_leaf(params: dict[str, Any], encoder: str, weights_file: str, task: str) -> None:
    """One cell, as :func:`run` computes it (nothing when its run is finished)."""
    settings = Params.from_dict(params)
    spec = EncoderSpec(encoder, weights_file)
    datasets, _ = datasets_at_hand(settings)
    with open_cell(settings, spec, task, datasets[task]) as run_dir:
        if not run_dir.finished:
            compute_cell(run_dir, build(spec, settings), spec, task, datasets[task], settings)
