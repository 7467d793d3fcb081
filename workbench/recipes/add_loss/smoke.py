"""The smoke run of an add_loss preset: the preset's encoder (AST, BEATs, ...: its checkpoint, else random
weights), input length, SpecAugment, mixup, optimiser and schedule, batch size, for a few steps of every
loss variant on one fold of a stand-in dataset in the real layout, its test prediction and embedding
geometry, and the claims, with the projected cost of every fold and repeat."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import torch

from workbench.audio import SpecAugment
from workbench.audio.frontends import KaldiFbank
from workbench.models.zoo import build_encoder
from workbench.models import registry
from workbench.recipes.add_loss.claims import comparison_claims
from workbench.recipes.add_loss.data import build_dataset, plan_partitions, prepare_fold_inputs
from workbench.recipes.add_loss.evaluate import fold_geometry, predict
from workbench.recipes.add_loss.params import NAME, Params, canonical, loss_label, parse_variant
from workbench.recipes.add_loss.result import FoldResult, LossRun
from workbench.recipes.add_loss.systems import FineTuner, build_criterion, encoder_rate
from workbench.recipes.add_loss.train import make_step, train_config
from workbench.recipes.base import expand_shared, resolve_device
from workbench.smoke import (
    SmokeReport,
    encoder_or_random,
    measure_calls,
    measure_trainer,
    measured_batch,
    standin_root,
    workers_here,
)
from workbench.train.loop import Trainer
from workbench.train.seed import make_generator

FULL_PARTITIONS: dict[str, list[tuple[int, int]]] = {
    "esc50": [(1600, 400)] * 5,  # five official folds of 400 clips
    "esc10": [(320, 80)] * 5,
    "speech_commands": [(84843, 11005)],  # v0.02's official train and test lists
    # The four classes (excited merged into happy) per session, as the literature counts them: 1085, 1023,
    # 1151, 1031, 1241 utterances of 5531.
    "iemocap": [(5531 - n, n) for n in (1085, 1023, 1151, 1031, 1241)],
}
"""Training and test clips of each partition of the real datasets (the preset's ``folds: all``)."""

_STANDIN_CLIPS_PER_CLASS = {"esc50": 5, "esc10": 5, "speech_commands": 3, "iemocap": 12}
"""Stand-in clips per class: ESC-50's five put one clip of each class in each fold, so the official folds
hold every class (with fewer, ``protocol: auto`` falls back to k-fold, which the real data never does)."""


def _encoder(params: Params, seed: int) -> tuple[torch.nn.Module, str]:
    """The encoder as :func:`~workbench.recipes.add_loss.systems.build_fine_tuned_encoder` adapts it, from
    random weights when the checkpoint is not in the cache."""
    note = ""
    if params.encoder in registry.names():
        encoder, note = encoder_or_random(params.encoder, expand_shared(params.pretrained_path) or None)
    else:
        encoder = build_encoder(params.encoder, seed=seed)
    if params.input_frames:
        encoder.set_input_frames(params.input_frames)
    if params.window_type:
        for module in encoder.modules():
            if isinstance(module, KaldiFbank):
                module.window_type = params.window_type
    encoder.requires_grad_(True)
    return encoder.train(), note


def _partitions(params: Params, tested: int) -> list[tuple[int, int]]:
    full = FULL_PARTITIONS.get(params.dataset)
    if full is None:
        return [(tested, tested)]
    return full[:1] if params.folds == "first" else full


def tiny(params: Params) -> Params:
    """``params`` with short clips: the preset's encoder (depth, width, heads), losses, optimiser and stages,
    on half-second clips (48 spectrogram frames where the preset fixes them). The test suite runs every
    preset's smoke so, one step at batch 1; the cost table comes from the full-size smoke."""
    return params.replace(clip_seconds=min(params.clip_seconds, 0.5), input_frames=min(params.input_frames, 48),
                          time_mask=min(params.time_mask, 8), freq_mask=min(params.freq_mask, 8))  # fmt: skip


def smoke(params: Params, steps: int = 2, preset: str = "", progress: bool = False, batch: int | None = None
          ) -> SmokeReport:
    """Run every loss of ``params`` for ``steps`` steps at full size on one fold and project the full cost."""
    device = resolve_device("auto")
    report = SmokeReport(NAME, preset, f"{device} ({torch.get_num_threads()} threads)")
    if params.dataset in _STANDIN_CLIPS_PER_CLASS:
        root = standin_root(params.dataset, _STANDIN_CLIPS_PER_CLASS[params.dataset])
        params = params.replace(data_root=str(root))
        report.notes.append(f"data: stand-in {params.dataset} in {root}")
    dataset = build_dataset(params, encoder_rate(params))
    splits, _ = plan_partitions(dataset, "first", params.protocol, params.n_folds, params.seed)
    split = splits[0]
    partitions = _partitions(params, len(split.train))
    runs = len(partitions) * params.repeats
    report.notes.append(f"one stand-in partition ({len(split.train)} train, {len(split.test)} test clips) of "
                        f"{len(partitions)} x {params.repeats} repeats per loss")  # fmt: skip
    workers, note = workers_here(params.num_workers)
    if note:
        params = dataclasses.replace(params, num_workers=workers)
        report.notes.append(note)
    batch = measured_batch(params.batch_size, batch)
    variants = [parse_variant(key) for key in params.variants] or [parse_variant(params.loss)]
    losses: dict[str, LossRun] = {}
    labels = {}
    fold_data = None
    for variant in variants:
        variant_params = canonical(params.replace(**variant.changes))
        encoder, note = _encoder(variant_params, params.seed)
        spec_augment = SpecAugment(params.freq_mask, params.time_mask) if params.freq_mask or params.time_mask else None
        model = FineTuner(encoder, dataset.n_classes, spec_augment)
        if fold_data is None:
            fold_data = prepare_fold_inputs(params, dataset, split, encoder, device)
        loader = torch.utils.data.DataLoader(fold_data.train, batch_size=batch, shuffle=True,
                                             drop_last=len(fold_data.train) > batch,
                                             collate_fn=fold_data.collate, generator=make_generator(params.seed))  # fmt: skip
        per_run = math.ceil(sum(train for train, _ in partitions) / len(partitions) / params.batch_size) * params.epochs
        step = make_step(build_criterion(variant_params), variant_params, dataset.n_classes)
        config = train_config(variant_params, params.seed)
        holder = {}

        def trainer(hooks, model=model, step=step, config=config):
            holder["trainer"] = Trainer(model, step, config, hooks=hooks, progress=progress,
                                        ddp_options={"find_unused_parameters": True})  # fmt: skip
            return holder["trainer"]

        label = loss_label(variant_params)
        report.add(measure_trainer(f"train {label}", trainer, loader, steps, runs, per_run, device, note)
                   .per_batch(batch, params.batch_size))
        outputs = {}

        def evaluate():
            embeddings, logits, targets = predict(holder["trainer"].model, fold_data.test, fold_data.collate,
                                                  params, device)  # fmt: skip
            outputs["result"] = FoldResult(
                fold=split.fold, repeat=0, accuracy=float((logits.argmax(axis=1) == targets).mean()),
                indices=np.asarray(split.test), ids=np.asarray([str(index) for index in split.test]),
                targets=targets, predictions=logits.argmax(axis=1), embeddings=embeddings,
                geometry=fold_geometry(embeddings, targets, dataset, params),
            )  # fmt: skip

        test_batches = max(1, math.ceil(len(split.test) / params.batch_size))
        full_batches = math.ceil(sum(test for _, test in partitions) / len(partitions) / params.batch_size)
        report.add(measure_calls(
            f"test {label}", evaluate, 1, runs, max(1, round(full_batches / test_batches)), device,
            note=f"prediction and geometry of {len(split.test)} stand-in clips per step",
        ))  # fmt: skip
        losses[label] = LossRun(label, variant_params, Path("."), [outputs["result"]] * runs)
        labels[variant.key] = label
    report.add(measure_calls("claims", lambda: comparison_claims(losses, labels, params), 1, 1, 1))
    return report
