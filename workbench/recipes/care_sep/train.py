"""Training of each row and seed: what determines it (:func:`training_params`, its run identity) and
its resumable run directory (:func:`train_row`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.data import DataLoader

from workbench.atomic import atomic_torch_save
from workbench.models.registry import read_checkpoint
from workbench.recipes.care_sep.data import SeparationData, Triplets, data_source
from workbench.recipes.care_sep.init import init_cache_path
from workbench.recipes.care_sep.params import CODE_VERSION, _OPTIMISER_KEYS, ROWS, TRAIN_NAME, Params, _keys, train_config
from workbench.recipes.care_sep.systems import (
    SeparationSystem,
    _init_kinds,
    build_system,
    frozen_encoder,
    model_config,
)
from workbench.train.loop import Trainer
from workbench.train.rundir import RunDir
from workbench.train.seed import make_generator

_DATA_KEYS = ("dataset", "data_root", "world_seed", "n_mixtures", "n_event_classes", "duration", "test_fraction",
              "pairs_per_clip", "n_anchors")  # fmt: skip


def training_params(params: Params, row: str, seed: int) -> dict[str, Any]:
    """What determines one row's training: data, model, training settings, the row's flags and the seed
    (and the Init it starts from, when its flags use one)."""
    flags = ROWS[row]
    keys = (*_DATA_KEYS, "model_size", "epochs", "mae_weight", "train_query", *_OPTIMISER_KEYS)
    values = {**_keys(params, keys), **dataclasses.asdict(flags), "seed": int(seed)}
    values.pop("paper_mixture_sdr")
    if params.train_query == "class-mean":  # a self query is one clip whatever query_clips says
        values["query_clips"] = params.query_clips
    if frozen_encoder(params, row):
        values["wo_grad"] = params.wo_grad
    if flags.tagging:
        values["tagging_weight"] = params.tagging_weight
    if flags.shared or flags.separator == "swin-unet":  # the Swin-UNET's front-end is part of what trains
        values["input_norm"] = model_config(params, 2).input_norm
    if flags.init:
        values["init"] = {kind: init_cache_path(params, kind).name for kind in _init_kinds(row)}
    return values


@dataclass
class Trained:
    """One row's trained system, its loss history and run directory."""

    system: SeparationSystem
    history: dict[str, list[float]]
    run_dir: RunDir


def train_row(
    params: Params, row: str, seed: int, dataset: SeparationData, init: Mapping[str, Mapping[str, torch.Tensor]],
    progress: bool = True,
) -> Trained:  # fmt: skip
    """Train one row (or read back its finished run directory; an interrupted one resumes)."""
    run_dir = RunDir.open(TRAIN_NAME, training_params(params, row, seed), data=data_source(params), code=CODE_VERSION)
    weights = run_dir.artifact("system.pt")
    system = build_system(params, row, seed, dataset, init)
    if run_dir.finished and weights.is_file():
        system.load_state_dict(read_checkpoint(weights))
        return Trained(system.eval(), run_dir.read_metrics()["history"], run_dir)
    triplets = Triplets(dataset.train, params.query_clips, self_query=params.train_query == "self")
    loader = DataLoader(triplets, batch_size=params.batch_size, shuffle=True, generator=make_generator(seed))
    trainer = Trainer(system, lambda model, batch: model(batch), train_config(params.epochs, params, seed),
                      run_dir=run_dir, progress=progress)  # fmt: skip
    fitted = trainer.fit(loader)
    history = {name: [float(value) for value in fitted[name]] for name in fitted.names() if name != "epoch"}
    system = system.cpu().eval()
    atomic_torch_save(weights, system.state_dict())
    run_dir.write_metrics({"history": history, "row": row, "seed": seed})
    return Trained(system, history, run_dir)
