"""The smoke run of a layer_fusion preset: the preset's model (its checkpoint, else random weights) with
the paper's taps, one pass over a stand-in of each task's dataset in the real layout, the linear probes of
every layer, of the fused layers and of the last embedding per task (the preset's probe seeds, learning-rate
grid, folds and batch, for :data:`PROBE_EPOCHS` of its epochs), and the claims, with the projected cost on
the full datasets and all of the preset's epochs."""

from __future__ import annotations

import dataclasses

import torch

from workbench import data
from workbench.evaluation.embeddings import extract_embeddings
from workbench.features.views import EMBEDDING, LayerVectorEncoder
from workbench.models import registry
from workbench.models.zoo import build_encoder
from workbench.recipes.base import resolve_device
from workbench.recipes.layer_fusion.choice import FusionChoice, choose_fusion_layers
from workbench.recipes.layer_fusion.claims import fusion_claims
from workbench.recipes.layer_fusion.data import build_dataset
from workbench.recipes.layer_fusion.evaluate import TaskScores, evaluate_table, probe_config
from workbench.recipes.layer_fusion.params import NAME, Params, parse_task
from workbench.recipes.layer_fusion.systems import fused_table, layer_tables, tapped_layers
from workbench.smoke import STANDINS, SmokeReport, encoder_or_random, measure_calls, standin_root

FULL_CLIPS = {
    "esc50": 2000, "urbansound8k": 8732, "speech_commands": 105829, "voxceleb1": 153516, "voxforge": 176438,
    "cremad": 7442, "gtzan": 930, "nsynth": 305979, "surge": 183392,
}  # fmt: skip
"""Clips of each task's full dataset (the loaders' documented counts; GTZAN: the fault-filtered split,
Surge: 2084 tones x 88 pitches, VoxForge: EVAR's listing)."""

_STANDIN_CLIPS_PER_CLASS = 4

PROBE_EPOCHS = 2
"""Epochs each probe trains in the smoke; the probe stages are projected to the preset's ``max_epochs``, an
upper bound (early stopping on validation ends most probes sooner). Full probes of every layer on every
stand-in took 1-10 minutes per task on one CPU thread, most of a smoke run."""


def _model(params: Params) -> tuple[torch.nn.Module, str]:
    if params.weights_path or params.model not in registry.names():
        return build_encoder(params.model, seed=params.model_seed), ""
    return encoder_or_random(params.model)


def tiny(params: Params) -> Params:
    """``params`` with one-epoch probes of one seed: the preset's model and taps, every task (its stand-in's
    clips: fewer per class leave classes without a second recording, which no protocol scores) and stage.
    The test suite runs every preset's smoke so; the cost table comes from the full-size smoke."""
    return dataclasses.replace(params, max_real_clips=0, n_clips=min(params.n_clips, 24), n_seeds=1, max_epochs=1,
                               n_folds=2)  # fmt: skip


def smoke(params: Params, steps: int = 1, preset: str = "", progress: bool = False, batch: int | None = None
          ) -> SmokeReport:  # fmt: skip
    """Extract and probe every task of ``params`` on stand-ins and project the full preset's cost (``steps``
    passes over each stand-in; ``batch`` is unused: extraction and probes keep the preset's batch)."""
    device = resolve_device(params.device)
    report = SmokeReport(NAME, preset, f"{device} ({torch.get_num_threads()} threads)")
    names = [parse_task(spec)[0] for spec in params.tasks]
    real = tuple(dict.fromkeys(name for name in names if name in STANDINS))
    if real:
        root = standin_root(real, _STANDIN_CLIPS_PER_CLASS)
        params = dataclasses.replace(params, data_root=str(root))
        report.notes.append(f"data: stand-ins of {', '.join(real)} in {root}")
    encoder, note = _model(params)
    if note:
        report.notes.append(note)
    encoder = encoder.to(device).eval()
    stack = LayerVectorEncoder(encoder, tapped_layers(encoder, params.layers), view=params.layer_view,
                               n_frames=params.n_frames or None)  # fmt: skip
    settings = params.to_dict()
    max_epochs = int(settings["max_epochs"])
    epochs = min(max_epochs, PROBE_EPOCHS)
    config = probe_config({**settings, "max_epochs": epochs})
    epoch_scale = max_epochs / epochs
    probe_note = (f"{epochs} of the preset's {max_epochs} epochs, scaled to all (an upper bound: "
                  f"early stopping with patience {settings['patience']} ends most probes sooner)")
    features, sizes = {}, {}
    for spec, name in zip(params.tasks, names):
        dataset = build_dataset(spec, params)
        full = FULL_CLIPS.get(name, len(dataset))
        sizes[spec] = (len(dataset), full)
        holder = {}
        report.add(measure_calls(
            f"extract {spec}", lambda: holder.update(table=extract_embeddings(stack, dataset, cache=False,
                                                                              progress=progress)),
            steps, 1, max(1, round(full / len(dataset))), device,
            note=f"{len(dataset)} stand-in clips per step, {len(stack.columns)} tapped columns",
        ))  # fmt: skip
        features[spec] = layer_tables(stack, holder["table"])
    layer_names = stack.names
    automatic = tuple(params.fuse_layers) in ((), ("auto",))
    layer_results = {}
    for spec in params.tasks:
        small, full = sizes[spec]
        holder = {}
        report.add(measure_calls(
            f"probe every layer of {spec}",
            lambda spec=spec: holder.update(results={layer: evaluate_table(features[spec][layer], settings, config)
                                                     for layer in layer_names}),
            1, 1, max(1, round(full / small * epoch_scale)), device,
            note=f"{len(layer_names)} probes on {small} clips, scaled to the full dataset; {probe_note}",
        ))  # fmt: skip
        layer_results[spec] = holder["results"]
    if automatic:
        valid = {task: {k: v.valid_score for k, v in results.items()} for task, results in layer_results.items()}
        choice = choose_fusion_layers(layer_names, valid)
    else:
        choice = FusionChoice(layers=tuple(params.fuse_layers), automatic=False)
    scores = {}
    for spec in params.tasks:
        small, full = sizes[spec]
        holder = {}
        report.add(measure_calls(
            f"probe fused and last of {spec}",
            lambda spec=spec: holder.update(scores=TaskScores(
                layers=layer_results[spec], fused=evaluate_table(fused_table(features[spec], choice.layers), settings,
                                                                 config),
                last=evaluate_table(features[spec][EMBEDDING], settings, config))),
            1, 1, max(1, round(full / small * epoch_scale)), device, note=f"scaled to the full dataset; {probe_note}",
        ))  # fmt: skip
        scores[spec] = holder["scores"]
    report.add(measure_calls("claims", lambda: fusion_claims(scores, choice, layer_names, params.model), 1, 1, 1))
    return report
