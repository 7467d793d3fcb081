"""The run: tag the scene clips, train and score every fusion setting for every fold and seed, check the
claims; or read a finished run back from its directory."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
from torch.utils.data import DataLoader
from workbench.progress import tqdm

from workbench.data.fingerprint import data_fingerprint
from workbench.data.records import AudioDataset
from workbench.evaluation.metrics import mean_average_precision
from workbench.evaluation.svm import SVMConfig
from workbench.models.asc_raw import RawASCConfig
from workbench.recipes import base
from workbench.recipes.asc_tagging.claims import fusion_claims
from workbench.recipes.asc_tagging.evaluate import attention_by_scene, score_model
from workbench.recipes.asc_tagging.params import CODE_VERSION, NAME, Params
from workbench.recipes.asc_tagging.result import AscTaggingRun, GridResult, ModelScore, grid_result
from workbench.recipes.asc_tagging.scenes import (
    SceneClips,
    build_dataset,
    fold_clips,
    input_samples,
    plan_scene_folds,
    tagging_data,
    true_tags,
)
from workbench.recipes.asc_tagging.systems import models_to_train
from workbench.recipes.asc_tagging.tagger import describe_tagger, read_and_tag, tagger_weights_fingerprint
from workbench.recipes.asc_tagging.train import model_run, torch_threads, train_model
from workbench.train.rundir import RunDir


def run(params: Params) -> AscTaggingRun:
    """Tag the scene clips, train every fusion setting for every seed, score both back-ends, check the claims.

    An identical rerun finds the finished run directory and reads everything back instead of training.
    """
    run_dir = RunDir.open(NAME, params.to_dict(), data=run_data(params), code=CODE_VERSION)
    dataset = build_dataset(params)
    if run_dir.finished:
        return _read_back(params, run_dir, dataset)
    run_dir.log("start", params=params.to_dict())
    with torch_threads(params.threads):
        result = _train_and_score(params, run_dir, dataset)
    run_dir.write_metrics(result.metrics)
    run_dir.log("finished")
    return result


def run_data(params: Params) -> list[Any]:
    """What the run and each of its networks fingerprint: the scene data, the tagging data and a pretrained
    tagger's weights file (its sha256: a checkpoint overwritten in place is a new run, recorded in
    provenance.json with its path)."""
    return [build_dataset(params), tagging_data(params), *tagger_weights_fingerprint(params)]


def asc_config_of(params: Params, dataset: AudioDataset) -> RawASCConfig:
    """The ASC network's input and size for ``dataset``."""
    return RawASCConfig(sample_rate=params.sample_rate, input_samples=input_samples(params, dataset),
                        filters=params.filters, code_dim=params.code_dim, n_scenes=dataset.n_classes)  # fmt: skip


def scene_order(folds: list[tuple[str, np.ndarray, np.ndarray]]) -> np.ndarray:
    """Every scene clip some fold trains or tests on, in index order: the clips read and tagged once."""
    return np.unique(np.concatenate([np.concatenate([train, test]) for _, train, test in folds]))


def _train_and_score(params: Params, run_dir: RunDir, dataset: AudioDataset) -> AscTaggingRun:
    asc_config = asc_config_of(params, dataset)
    folds, protocol_note = plan_scene_folds(params, dataset)
    if protocol_note:
        run_dir.log("protocol", note=protocol_note)
    order = scene_order(folds)
    tagged = read_and_tag(params, dataset, asc_config, order)
    run_dir.log("tagged", n_tags=len(tagged.tag_names), held_out_map=tagged.held_out_map)
    # The first fold's test clips are the ones the notebook draws (predictions, tag vectors, attention).
    clips = fold_clips(tagged, folds[0][1], folds[0][2], params, dataset, asc_config)
    test_scenes = clips.scenes[clips.n_train :]
    test_tags = clips.tags[clips.n_train :]
    truth = true_tags(dataset)
    test_true_tags = truth[clips.test_indices] if truth is not None else None
    tagger_map = (mean_average_precision(test_tags.numpy(), test_true_tags)
                  if test_true_tags is not None and params.tagger != "oracle" else None)  # fmt: skip

    models, cell_names = models_to_train(params, clips.tags.shape[1])
    scores = {name: ModelScore(name, fusion) for name, fusion in models.items()}
    predictions: dict[str, np.ndarray] = {}
    attention: dict[str, np.ndarray] = {}
    svm_config = SVMConfig(kernel=params.svm_kernel, C=params.svm_c)
    # Runs in the same (fold, seed) order for every model: their score lists are paired.
    fingerprint = data_fingerprint(run_data(params))  # once: each network's run id carries it
    jobs = [(position, name, seed) for position in range(len(folds)) for seed in params.seeds for name in models]
    fold_data: dict[int, tuple[SceneClips, DataLoader, DataLoader]] = {}
    for position, name, seed in tqdm(jobs, desc="training ASC models", unit="model"):
        if position not in fold_data:
            fold_data.clear()  # one fold's clips at a time
            this = clips if position == 0 else fold_clips(tagged, folds[position][1], folds[position][2], params,
                                                          dataset, asc_config)  # fmt: skip
            loaders = [DataLoader(subset, batch_size=params.batch_size, num_workers=params.num_workers)
                       for subset in (this.train, this.test)]  # fmt: skip
            fold_data[position] = (this, *loaders)
        this, train_loader, test_loader = fold_data[position]
        directory = model_run(params, name, models[name], seed, position, data=fingerprint)
        model = train_model(params, asc_config, models[name], seed, this, directory)
        directory.close()
        scored = score_model(model, train_loader, test_loader, this.scenes[: this.n_train],
                             this.scenes[this.n_train :], svm_config)  # fmt: skip
        scores[name].accuracy.append(scored.accuracy)
        scores[name].svm_accuracy.append(scored.svm_accuracy)
        run_dir.log("scored", model=name, fold=folds[position][0], seed=seed, accuracy=scored.accuracy,
                    svm_accuracy=scored.svm_accuracy)  # fmt: skip
        if position == 0 and seed == params.seeds[0]:
            predictions[name] = scored.predictions
            if model.attention is not None:
                attention[name] = attention_by_scene(model, test_tags, test_scenes, dataset.n_classes)

    grid = grid_result(params, scores, cell_names)
    result = AscTaggingRun(
        recipe=NAME, params=params.to_dict(), run_dir=run_dir.path, scores=scores, variants=list(params.variants),
        grid=grid, classes=list(dataset.classes), tag_names=clips.tag_names, tagger_map=tagger_map,
        test_indices=clips.test_indices, test_targets=test_scenes, test_tags=test_tags.numpy(),
        test_true_tags=test_true_tags, predictions=predictions, attention_by_scene=attention, dataset=dataset,
    )  # fmt: skip
    result.claims = fusion_claims(result)
    result.metrics = {
        "scores": {name: score.scalars() for name, score in scores.items()},
        "variants": result.variants, "grid": grid.scalars() if grid is not None else None,
        "classes": result.classes, "tag_names": clips.tag_names, "tagger_map": tagger_map,
        "tagger_held_out_map": clips.held_out_map, "attention_models": list(attention),
        "protocol_note": protocol_note, "folds": [name for name, _, _ in folds],
        "tagger_description": describe_tagger(params, len(clips.tag_names)),
        "prediction_models": list(predictions), "claims": [dataclasses.asdict(claim) for claim in result.claims],
    }  # fmt: skip
    arrays = {"indices": clips.test_indices, "targets": test_scenes, "tags": result.test_tags,
              "predictions": np.stack(list(predictions.values()))}  # fmt: skip
    if test_true_tags is not None:
        arrays["true_tags"] = test_true_tags
    run_dir.save_arrays("test", **arrays)
    for index, maps in enumerate(attention.values()):
        run_dir.save_arrays(f"attention-{index}", maps=maps)
    return result


def _read_back(params: Params, run_dir: RunDir, dataset: AudioDataset) -> AscTaggingRun:
    """The result of a finished run from its metrics.json and arrays, without training."""
    metrics = run_dir.read_metrics()
    scores = {name: ModelScore.from_scalars(name, values) for name, values in metrics["scores"].items()}
    test = run_dir.load_arrays("test")
    attention = {name: run_dir.load_arrays(f"attention-{index}")["maps"]
                 for index, name in enumerate(metrics["attention_models"])}  # fmt: skip
    result = AscTaggingRun(
        recipe=NAME, params=params.to_dict(), run_dir=run_dir.path, metrics=metrics,
        claims=[base.Claim.from_dict(claim) for claim in metrics["claims"]], scores=scores, variants=metrics["variants"],
        grid=GridResult.from_scalars(metrics["grid"]) if metrics["grid"] else None, classes=metrics["classes"],
        tag_names=metrics["tag_names"], tagger_map=metrics["tagger_map"], test_indices=test["indices"],
        test_targets=test["targets"], test_tags=test["tags"], test_true_tags=test.get("true_tags"),
        predictions=dict(zip(metrics["prediction_models"], test["predictions"], strict=True)),
        attention_by_scene=attention,
        dataset=dataset,
    )  # fmt: skip
    return result
