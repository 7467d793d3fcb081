"""The plan of a difference-aware BYOL-A table for ``workbench launch``: one pre-training per (lambda,
seed); :func:`~workbench.recipes.diff_byola.run.run` evaluates them and checks the claims."""

from __future__ import annotations

from typing import Any

from workbench.launch.plan import Plan, Stage, run_leaf, torch_threads
from workbench.recipes.diff_byola.data import pretraining_dataset
from workbench.recipes.diff_byola.params import CODE_VERSION, NAME, PRETRAIN_NAME, Params
from workbench.recipes.diff_byola.train import pretrain, pretraining_params
from workbench.train.rundir import run_id
from workbench.train.seed import seed_everything


def plan(params: Params) -> Plan:
    """Stage ``pretrain``: each (lambda, seed)."""
    values, data = params.to_dict(), pretraining_dataset(params)
    leaves = [
        run_leaf(f"{__name__}:pretrain_leaf", {"params": values, "difference_weight": weight, "seed": seed},
                 PRETRAIN_NAME, run_id(PRETRAIN_NAME, pretraining_params(params, weight, seed), data=data, code=CODE_VERSION),
                 f"lambda {weight:g} seed {seed}")
        for weight in params.difference_weights for seed in params.pretrain_seeds
    ]  # fmt: skip
    return Plan(NAME, [Stage("pretrain", leaves)])


def pretrain_leaf(params: dict[str, Any], difference_weight: float, seed: int) -> None:
    """Pre-train one encoder as :func:`run` would."""
    settings = Params.from_dict(params)
    with torch_threads(settings.cpu_threads):
        seed_everything(settings.world_seed)
        pretrain(settings, difference_weight, seed, progress=False)
