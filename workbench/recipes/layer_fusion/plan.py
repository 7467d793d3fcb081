"""The plan of a layer-fusion table for ``workbench launch``: one leaf, the run itself (it trains no
network: its cost is one model's embeddings and linear probes per task), which the gather reads back."""

from __future__ import annotations

from typing import Any

from workbench.launch.plan import Plan, Stage, run_leaf
from workbench.recipes.layer_fusion.data import build_dataset
from workbench.recipes.layer_fusion.params import CODE_VERSION, NAME, Params
from workbench.recipes.layer_fusion.run import run
from workbench.train.rundir import run_id


def plan(params: Params) -> Plan:
    """Stage ``run``: the run."""
    data = [build_dataset(spec, params) for spec in params.tasks]
    identifier = run_id(NAME, params.to_dict(), data=data, code=CODE_VERSION)
    return Plan(NAME, [Stage("run", [run_leaf(f"{__name__}:whole_run_leaf", {"params": params.to_dict()}, NAME, identifier,
                                              f"{params.model} on {', '.join(params.tasks)}")])])  # fmt: skip


def whole_run_leaf(params: dict[str, Any]) -> None:
    """The run, as ``workbench run`` would make it."""
    run(Params.from_dict(params))
