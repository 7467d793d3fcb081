"""The plan of an ASC-with-tagging table for ``workbench launch``: one leaf, the run itself, which the
gather reads back."""

from __future__ import annotations

from typing import Any

from workbench.launch.plan import Plan, Stage, run_leaf
from workbench.recipes.asc_tagging.params import NAME, Params
from workbench.recipes.asc_tagging.run import run
from workbench.recipes.asc_tagging.scenes import build_dataset, tagging_data
from workbench.train.rundir import run_id


def plan(params: Params) -> Plan:
    """Stage ``run``: the run."""
    identifier = run_id(NAME, params.to_dict(), data=[build_dataset(params), tagging_data(params)])
    return Plan(NAME, [Stage("run", [run_leaf(f"{__name__}:whole_run_leaf", {"params": params.to_dict()}, NAME,
                                              identifier, "the run")])])  # fmt: skip


def whole_run_leaf(params: dict[str, Any]) -> None:
    """The run, as ``workbench run`` would make it."""
    run(Params.from_dict(params))
