"""The run, read it first: open the run directory, tap the model's layers, score every layer per task,
choose or take the layers to fuse, score the fusion against the last layer and the usual embedding,
and compare them in claims; an identical rerun reads the finished scores back."""

from __future__ import annotations

import dataclasses

from workbench.errors import UnknownNameError
from workbench.evaluation.embeddings import Embeddings
from workbench.evaluation.linear import LinearEvalResult
from workbench.features.views import EMBEDDING, LayerVectorEncoder
from workbench.recipes.layer_fusion.choice import FusionChoice, choose_fusion_layers
from workbench.recipes.layer_fusion.claims import fusion_claims
from workbench.recipes.layer_fusion.data import build_dataset
from workbench.recipes.layer_fusion.evaluate import (
    TaskScores,
    _load_task_scores,
    _save_task_arrays,
    _scalars,
    evaluate_table,
    probe_config,
)
from workbench.recipes.layer_fusion.systems import build_model, extract_task_features, fused_table, tapped_layers
from workbench.recipes.layer_fusion.params import NAME, Params
from workbench.recipes.layer_fusion.result import LayerFusionRun
from workbench.train.rundir import RunDir
from workbench.train.seed import seed_everything


def run(params: Params) -> LayerFusionRun:
    """Score every layer of ``params.model`` on each task, fuse M + L, and compare with the last layer.

    An identical rerun finds the finished run directory and reads its scores back (features come
    from the embedding cache), so the notebook's figures and widget cost no training.

    Raises:
        UnknownNameError: an unknown model, layer, dataset, task option, or fuse layer.
        DatasetNotFoundError: a real dataset whose files are absent.
        MissingFileError, CheckpointError: a ``weights_path`` that is absent or does not fit.
        ValueError: no tasks, or fewer than two layers for the automatic choice.
    """
    if not params.tasks:
        raise ValueError("no tasks: give at least one in 'tasks' (e.g. event,speaker,word,pitch)")
    seed_everything(params.model_seed)
    run_dir = RunDir.open(NAME, params.to_dict(), data=[build_dataset(spec, params) for spec in params.tasks])
    encoder = build_model(params)
    stack = LayerVectorEncoder(
        encoder, tapped_layers(encoder, params.layers), view=params.layer_view, n_frames=params.n_frames or None
    )
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
    features = {task: extract_task_features(stack, build_dataset(task, params), params) for task in params.tasks}
    settings = params.to_dict()
    config = probe_config(settings)

    def evaluate(table: Embeddings) -> LinearEvalResult:
        return evaluate_table(table, settings, config)

    if run_dir.finished:
        stored = run_dir.read_metrics()
        kept = stored["choice"]
        choice = FusionChoice(
            layers=tuple(kept["layers"]), automatic=kept["automatic"],
            winners={task: kept["winners"][task] for task in params.tasks if task in kept["winners"]},
            middle_tasks=tuple(kept["middle_tasks"]), late_tasks=tuple(kept["late_tasks"]),
        )  # fmt: skip
        scores = {
            task: _load_task_scores(run_dir, position, stored["scores"][task], layer_names)
            for position, task in enumerate(params.tasks)
        }
    else:
        run_dir.log("start", params=settings, layers=layer_names, view=stack.view, dims=stack.dims)
        layer_results: dict[str, dict[str, LinearEvalResult]] = {}
        for task in params.tasks:
            layer_results[task] = {layer: evaluate(features[task][layer]) for layer in layer_names}
            run_dir.log("layers scored", task=task, means={k: v.mean for k, v in layer_results[task].items()})
        if automatic:  # on validation scores: the test scores judge the choice, they do not make it
            valid = {task: {k: v.valid_score for k, v in results.items()} for task, results in layer_results.items()}
            choice = choose_fusion_layers(layer_names, valid)
        else:
            choice = FusionChoice(layers=tuple(params.fuse_layers), automatic=False)
        scores = {}
        for position, task in enumerate(params.tasks):
            scores[task] = TaskScores(
                layers=layer_results[task],
                fused=evaluate(fused_table(features[task], choice.layers)),
                last=evaluate(features[task][EMBEDDING]),
            )
            _save_task_arrays(run_dir, position, scores[task])
            run_dir.log("fused scored", task=task, fused=scores[task].fused.mean, last=scores[task].last.mean)
    claims = fusion_claims(scores, choice, layer_names, params.model)
    metrics = {
        "model": params.model, "layers": layer_names, "view": stack.view, "dims": stack.dims,
        "choice": dataclasses.asdict(choice), "scores": {task: _scalars(s) for task, s in scores.items()},
        "claims": [dataclasses.asdict(claim) for claim in claims],
    }  # fmt: skip
    if not run_dir.finished:
        run_dir.write_metrics(metrics)
        run_dir.log("finished")
    return LayerFusionRun(
        recipe=NAME, params=settings, run_dir=run_dir.path, metrics=metrics, claims=claims, model=params.model,
        layer_names=layer_names, tasks=list(params.tasks), scores=scores, choice=choice, features=features,
        config=config,
    )  # fmt: skip
