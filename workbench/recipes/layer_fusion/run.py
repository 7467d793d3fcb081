"""The run, read it first: find the weights (or say they are random), list the tasks' data and plan their
protocols, open the run directory, tap the model's layers, score every layer per task,
choose or take the layers to fuse, score the fusion against the last layer and the usual embedding,
and compare them in claims; an identical rerun reads the finished scores back."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from workbench.data.records import AudioDataset
from workbench.errors import UnknownNameError
from workbench.evaluation.embeddings import Embeddings
from workbench.evaluation.linear import LinearEvalResult
from workbench.evaluation.protocols import one_warning_per_cause, plan_dataset_protocol
from workbench.features.views import EMBEDDING, LayerVectorEncoder
from workbench.models.digest import weights_fingerprint
from workbench.recipes.layer_fusion.choice import FusionChoice, choose_fusion_layers
from workbench.recipes.layer_fusion.claims import fusion_claims
from workbench.recipes.layer_fusion.data import datasets_at_hand
from workbench.recipes.layer_fusion.evaluate import (
    TaskScores,
    _load_task_scores,
    _save_task_arrays,
    _scalars,
    evaluate_table,
    probe_config,
    seeds_of,
)
from workbench.recipes.layer_fusion.systems import (
    WeightsStatus,
    build_model,
    extract_task_features,
    fused_table,
    resolve_weights,
    tapped_layers,
)
from workbench.recipes.layer_fusion.params import CODE_VERSION, NAME, Params
from workbench.recipes.layer_fusion.result import LayerFusionRun
from workbench.train.rundir import RunDir
from workbench.train.seed import seed_everything


def run(params: Params) -> LayerFusionRun:
    """Score every layer of ``params.model`` on each task, fuse M + L, and compare with the last layer.

    First, before any model runs: the weights are found (:func:`resolve_weights`: a mirror, the cache or a
    download; offline without them, random weights and every claim labelled so), the datasets of ``tasks``
    and of the ``tasks_at_hand`` whose files are here are listed, and every task's protocol is planned from
    its labels, folds and groups (a protocol the data cannot support fails now, and a fallback is warned
    about once per run and cause). An identical rerun finds the finished run directory and reads its scores
    back (features come from the embedding cache), so the notebook's figures and widget cost no training.

    Raises:
        UnknownNameError: an unknown model, layer, dataset, task option, or fuse layer.
        DatasetNotFoundError: a dataset of ``tasks`` whose files are absent.
        MissingFileError, CheckpointError: a ``weights_path`` that is absent or does not fit; weights that
            cannot be found with ``if_weights_absent="error"``; a mirror or cache file that is not official.
        ValueError: no tasks, fewer than two layers for the automatic choice, or a protocol the data cannot
            support.
    """
    with one_warning_per_cause():
        return _run(params)


def run_data(status: WeightsStatus, datasets: Mapping[str, AudioDataset]) -> list[Any]:
    """What the run id keys on besides the parameters: every task's dataset and, for pretrained weights, the
    weights file's sha256 (:func:`~workbench.models.digest.weights_fingerprint`, hashed once per file version),
    so a checkpoint overwritten in place is a new run; provenance.json records the file's path and sha256."""
    weights = [weights_fingerprint(status.file, status.params.model)] if status.pretrained and status.file else []
    return [*datasets.values(), *weights]


def _run(params: Params) -> LayerFusionRun:
    if not params.tasks:
        raise ValueError("no tasks: give at least one in 'tasks' (e.g. event,speaker,word,pitch)")
    status = resolve_weights(params)
    params = status.params  # weights="random" after a fallback: the run id is never the pretrained one's
    seed_everything(params.model_seed)
    datasets, skipped = datasets_at_hand(params)
    for dataset in datasets.values():  # seconds, from the metadata: before minutes of extraction
        plan_dataset_protocol(dataset, params.protocol, n_folds=params.n_folds, seeds=seeds_of(params.to_dict()))
    tasks = list(datasets)
    run_dir = RunDir.open(NAME, params.to_dict(), data=run_data(status, datasets), code=CODE_VERSION)
    encoder = build_model(params)
    tapped = tapped_layers(encoder, params.layers, params.max_layers)
    stack = LayerVectorEncoder(encoder, tapped, view=params.layer_view, n_frames=params.n_frames or None)
    layer_names = stack.names
    automatic = tuple(params.fuse_layers) in ((), ("auto",))
    if automatic and len(layer_names) < 2:  # checked now, not after the layer-wise evaluation
        raise ValueError(
            f"choosing a middle and a late layer needs at least two tapped layers, {params.model} has {layer_names}; "
            "tap more ('layers': all) or give 'fuse_layers'"
        )
    for layer in () if automatic else params.fuse_layers:
        if layer not in stack.columns:  # checked now, not after minutes of layer-wise evaluation
            raise UnknownNameError(f"layer to fuse of {params.model}", layer, stack.columns)
    features = {task: extract_task_features(stack, datasets[task], params) for task in tasks}
    settings = params.to_dict()
    config = probe_config(settings)

    def evaluate(table: Embeddings) -> LinearEvalResult:
        return evaluate_table(table, settings, config)

    if run_dir.finished:
        stored = run_dir.read_metrics()
        kept = stored["choice"]
        choice = FusionChoice(
            layers=tuple(kept["layers"]), automatic=kept["automatic"],
            winners={task: kept["winners"][task] for task in tasks if task in kept["winners"]},
            middle_tasks=tuple(kept["middle_tasks"]), late_tasks=tuple(kept["late_tasks"]),
        )  # fmt: skip
        scores = {
            task: _load_task_scores(run_dir, position, stored["scores"][task], layer_names)
            for position, task in enumerate(tasks)
        }
    else:
        run_dir.log("start", params=settings, layers=layer_names, view=stack.view, dims=stack.dims)
        layer_results: dict[str, dict[str, LinearEvalResult]] = {}
        for task in tasks:
            layer_results[task] = {layer: evaluate(features[task][layer]) for layer in layer_names}
            run_dir.log("layers scored", task=task, means={k: v.mean for k, v in layer_results[task].items()})
        if automatic:  # on validation scores: the test scores judge the choice, they do not make it
            valid = {task: {k: v.valid_score for k, v in results.items()} for task, results in layer_results.items()}
            choice = choose_fusion_layers(layer_names, valid)
        else:
            choice = FusionChoice(layers=tuple(params.fuse_layers), automatic=False)
        scores = {}
        for position, task in enumerate(tasks):
            scores[task] = TaskScores(
                layers=layer_results[task],
                fused=evaluate(fused_table(features[task], choice.layers)),
                last=evaluate(features[task][EMBEDDING]),
            )
            _save_task_arrays(run_dir, position, scores[task])
            run_dir.log("fused scored", task=task, fused=scores[task].fused.mean, last=scores[task].last.mean)
    claims = fusion_claims(scores, choice, layer_names, params.model, pretrained=status.pretrained)
    metrics = {
        "model": params.model, "pretrained": status.pretrained, "weights": status.note, "skipped": skipped,
        "tasks": tasks, "layers": layer_names, "view": stack.view, "dims": stack.dims,
        "choice": dataclasses.asdict(choice), "scores": {task: _scalars(s) for task, s in scores.items()},
        "claims": [dataclasses.asdict(claim) for claim in claims],
    }  # fmt: skip
    if not run_dir.finished:
        run_dir.write_metrics(metrics)
        run_dir.log("finished")
    return LayerFusionRun(
        recipe=NAME, params=settings, run_dir=run_dir.path, metrics=metrics, claims=claims, model=params.model,
        layer_names=layer_names, tasks=tasks, scores=scores, choice=choice, features=features, config=config,
        pretrained=status.pretrained, weights_note=status.note, skipped=skipped,
    )  # fmt: skip
