"""The plan of a CaRE-SEP table for ``workbench launch``: the Init classifiers (one cache file each), then
every row and seed (one run directory each); :func:`~workbench.recipes.care_sep.run.run` gathers them."""

from __future__ import annotations

from typing import Any

from workbench.launch.plan import Leaf, Plan, Stage, run_leaf, torch_threads
from workbench.recipes.care_sep.data import data_source, separation_data
from workbench.recipes.care_sep.init import init_cache_path, init_classifiers, pretrained_classifier
from workbench.recipes.care_sep.params import CODE_VERSION, NAME, TRAIN_NAME, Params
from workbench.recipes.care_sep.systems import _init_kinds
from workbench.recipes.care_sep.train import train_row, training_params
from workbench.train.rundir import run_id
from workbench.train.seed import seed_everything


def plan(params: Params) -> Plan:
    """Stage ``init``: each Init classifier the rows need; stage ``train``: each (row, seed)."""
    values = params.to_dict()
    init = []
    for kind in sorted({kind for row in params.rows for kind in _init_kinds(row)}):
        path = init_cache_path(params, kind)
        init.append(Leaf(f"{__name__}:init_leaf", {"params": values, "kind": kind}, path.stem, str(path), "file",
                         f"Init {kind}"))  # fmt: skip
    source = data_source(params)
    rows = [
        run_leaf(f"{__name__}:train_leaf", {"params": values, "row": row, "seed": seed}, TRAIN_NAME,
                 run_id(TRAIN_NAME, training_params(params, row, seed), data=source, code=CODE_VERSION), f"row {row} seed {seed}")
        for seed in params.seeds for row in params.rows
    ]  # fmt: skip
    return Plan(NAME, [Stage("init", init), Stage("train", rows)])


def init_leaf(params: dict[str, Any], kind: str) -> None:
    """Pretrain (or find) one Init classifier."""
    settings = Params.from_dict(params)
    with torch_threads(settings.cpu_threads):
        pretrained_classifier(settings, kind, progress=False)


def train_leaf(params: dict[str, Any], row: str, seed: int) -> None:
    """Train one row and seed as :func:`run` would (the same data, Init weights and seeding)."""
    settings = Params.from_dict(params)
    with torch_threads(settings.cpu_threads):
        seed_everything(settings.world_seed)
        dataset = separation_data(settings)
        train_row(settings, row, seed, dataset, init_classifiers(settings, progress=False), progress=False)
