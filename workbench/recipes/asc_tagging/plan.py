"""The plan of an ASC-with-tagging table for ``workbench launch``: the trained tagger (its own run
directory), then every ASC network of every fold and seed (each its own run directory);
:func:`~workbench.recipes.asc_tagging.run.run` scores them and checks the claims."""

from __future__ import annotations

from typing import Any

from workbench.data.fingerprint import data_fingerprint
from workbench.launch.plan import Plan, Stage, run_leaf, torch_threads
from workbench.models.registry import load_pretrained
from workbench.recipes.asc_tagging.params import CODE_VERSION, NAME, Params
from workbench.recipes.asc_tagging.run import asc_config_of, run_data, scene_order
from workbench.recipes.asc_tagging.scenes import build_dataset, fold_clips, plan_scene_folds, tagging_data
from workbench.recipes.asc_tagging.systems import models_to_train
from workbench.recipes.asc_tagging.tagger import (
    TAGGER_NAME,
    read_and_tag,
    tagger_settings,
    tagger_weights_file,
    train_tagger,
)
from workbench.recipes.asc_tagging.train import MODEL_NAME, model_run, model_settings, train_model
from workbench.train.rundir import run_id


def _n_tags(params: Params, dataset: Any) -> int:
    """Tags the tagger gives (the networks' input width), known before any tagging."""
    if params.tagger == "oracle":
        return len(dataset.world.events)
    if params.tagger == "trained":
        return tagging_data(params).n_classes
    return len(load_pretrained(params.tagger, path=tagger_weights_file(params)).tag_names)


def plan(params: Params) -> Plan:
    """Stage ``tagger``: the trained tagger (none for the oracle or a pretrained one); stage ``networks``:
    each (fold, seed, network) in the order :func:`run` trains them."""
    values, dataset = params.to_dict(), build_dataset(params)
    tagger = []
    if params.tagger == "trained":
        identifier = run_id(TAGGER_NAME, tagger_settings(params), data=tagging_data(params), code=CODE_VERSION)
        tagger.append(run_leaf(f"{__name__}:tagger_leaf", {"params": values}, TAGGER_NAME, identifier, "tagger"))
    folds, _ = plan_scene_folds(params, dataset)
    models, _ = models_to_train(params, _n_tags(params, dataset))
    fingerprint = data_fingerprint(run_data(params))
    networks = [
        run_leaf(f"{__name__}:network_leaf", {"params": values, "name": name, "seed": seed, "fold": position},
                 MODEL_NAME, run_id(MODEL_NAME, model_settings(params, name, models[name], seed, position),
                                    data=fingerprint, code=CODE_VERSION),
                 f"{name} seed {seed}" + (f" {folds[position][0]}" if len(folds) > 1 else ""))
        for position in range(len(folds)) for seed in params.seeds for name in models
    ]  # fmt: skip
    return Plan(NAME, [Stage("tagger", tagger), Stage("networks", networks)])


def tagger_leaf(params: dict[str, Any]) -> None:
    """Train the tagger as :func:`run` would."""
    settings = Params.from_dict(params)
    with torch_threads(settings.threads):
        train_tagger(settings)


def network_leaf(params: dict[str, Any], name: str, seed: int, fold: int) -> None:
    """Tag the scene clips (the tagger is read back) and train one network of one fold, as :func:`run` would."""
    settings = Params.from_dict(params)
    dataset = build_dataset(settings)
    with torch_threads(settings.threads):
        config = asc_config_of(settings, dataset)
        folds, _ = plan_scene_folds(settings, dataset)
        tagged = read_and_tag(settings, dataset, config, scene_order(folds))
        clips = fold_clips(tagged, folds[fold][1], folds[fold][2], settings, dataset, config)
        models, _ = models_to_train(settings, clips.tags.shape[1])
        directory = model_run(settings, name, models[name], seed, fold, data=data_fingerprint(run_data(settings)))
        train_model(settings, config, models[name], seed, clips, directory)
