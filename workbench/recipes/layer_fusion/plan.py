"""The plan of a layer-fusion table for ``workbench launch``: one leaf, the run itself (it trains no
network: its cost is one model's embeddings and linear probes per task), which the gather reads back."""

from __future__ import annotations

from typing import Any

from workbench.launch.plan import Plan, Stage, run_leaf
from workbench.recipes.layer_fusion.data import datasets_at_hand
from workbench.recipes.layer_fusion.params import CODE_VERSION, NAME, Params
from workbench.recipes.layer_fusion.run import run, run_data
from workbench.recipes.layer_fusion.systems import resolve_weights
from workbench.train.rundir import run_id


def plan(params: Params) -> Plan:
    """Stage ``run``: the run, under the id :func:`run` opens (its weights and every task at hand)."""
    status = resolve_weights(params)
    datasets, _ = datasets_at_hand(status.params)
    identifier = run_id(NAME, status.params.to_dict(), data=run_data(status, datasets), code=CODE_VERSION)
    return Plan(NAME, [Stage("run", [run_leaf(f"{__name__}:whole_run_leaf", {"params": params.to_dict()}, NAME, identifier,
                                              f"{params.model} on {', '.join(params.tasks)}")])])  # fmt: skip


def whole_run_leaf(params: dict[str, Any]) -> None:
    """The run, as ``workbench run`` would make it."""
    run(Params.from_dict(params))
