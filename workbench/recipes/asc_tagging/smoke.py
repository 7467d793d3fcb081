"""The smoke run of an asc_tagging preset: the preset's tagger (its width, stages, clip length and rate),
every ASC network of its variants and grid (raw waveform input of ``input_samples``, stereo), their
optimisers, schedules, mixup and batch size, for a few steps each on stand-in DCASE 2019 1a and
FSDKaggle2019 copies in the real layouts; the tagging of the scene clips, each model's scoring (softmax
head and SVM back-end) and the claims, with the projected cost."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch
from torch.utils.data import DataLoader

from workbench.evaluation.svm import SVMConfig
from workbench.models.asc_raw import RawASCConfig
from workbench.models.tag_fusion import TagFusionASC
from workbench.models.tagger import ResNetTagger, TaggingStep
from workbench.recipes.asc_tagging.claims import fusion_claims
from workbench.recipes.asc_tagging.evaluate import score_model
from workbench.recipes.asc_tagging.params import NAME, Params
from workbench.recipes.asc_tagging.result import AscTaggingRun, ModelScore
from workbench.recipes.asc_tagging.scenes import (
    ClipsWithTags,
    FixedLengthClips,
    build_dataset,
    input_samples,
    plan_scene_folds,
    tagging_data,
)
from workbench.recipes.asc_tagging.systems import models_to_train
from workbench.recipes.asc_tagging.tagger import (
    HELD_OUT_TAGGING_FRACTION,
    describe_tagger,
    WithWeights,
    tagger_config,
    tagging_weights,
    tags_of_clips,
)
from workbench.recipes.asc_tagging.train import MixupSceneStep, scene_step
from workbench.smoke import SmokeReport, measure_calls, measure_trainer, measured_batch, standin_root, workers_here
from workbench.train.loop import Trainer, TrainConfig
from workbench.train.seed import make_generator

FULL_SIZES = {"dcase2019_task1a": (9185, 4185), "fsdkaggle2019": 4970 + 19815}
"""DCASE 2019 1a's fold-1 training and evaluation lists; FSDKaggle2019's curated and noisy training clips."""

_TAGGED_CLIPS = 4
"""Scene clips the smoke tags (its time is scaled to the full dataset): the preset's tagger over every 10-s
stand-in clip took most of an hour here."""
_STANDIN_CLIPS_PER_CLASS = 5  # four training clips of each of the 10 scenes: one batch of 32 (drop_last)


def tiny(params: Params) -> Params:
    """``params`` with short clips: the preset's tagger and ASC networks (widths, stages, filters), optimisers
    and stages on one-second scene clips (the raw-waveform network needs 0.55 s) and half-second tagging
    clips. The test suite runs every preset's smoke so, one step at batch 1; the cost table comes from the
    full-size smoke."""
    samples = params.sample_rate
    return dataclasses.replace(params, input_samples=min(params.input_samples or samples, samples),
                               tagger_seconds=min(params.tagger_seconds, 0.5), clip_seconds=min(params.clip_seconds, 1.0))  # fmt: skip


def smoke(params: Params, steps: int = 2, preset: str = "", progress: bool = False, batch: int | None = None
          ) -> SmokeReport:
    """Run every stage of ``params`` for ``steps`` steps at full size and project the full preset's cost."""
    report = SmokeReport(NAME, preset, f"cpu ({torch.get_num_threads()} threads)")
    real = [name for name in (params.dataset, params.tagger_dataset) if name in ("dcase2019_task1a", "fsdkaggle2019")]
    if real:
        root = standin_root(tuple(dict.fromkeys(real)), _STANDIN_CLIPS_PER_CLASS)
        params = dataclasses.replace(params, data_root=str(root))
        report.notes.append(f"data: stand-in {', '.join(real)} ({_STANDIN_CLIPS_PER_CLASS} clips per class) in {root}")
    workers, note = workers_here(params.num_workers)
    if note:
        params = dataclasses.replace(params, num_workers=workers)
        report.notes.append(note)
    batch = measured_batch(params.batch_size, batch)
    dataset = build_dataset(params)
    full_train, full_test = FULL_SIZES.get(params.dataset, (None, None))
    asc_config = RawASCConfig(sample_rate=params.sample_rate, input_samples=input_samples(params, dataset),
                              filters=params.filters, code_dim=params.code_dim, n_scenes=dataset.n_classes)  # fmt: skip
    folds, _ = plan_scene_folds(params, dataset)
    _, train_indices, test_indices = folds[0]
    full_train = full_train or len(train_indices)
    full_test = full_test or len(test_indices)
    order = np.concatenate([train_indices, test_indices])
    if params.tagger == "trained":
        tagging = tagging_data(params)
        samples = int(round(params.tagger_seconds * params.tagger_sample_rate))
        tag_clips = FixedLengthClips(tagging, range(len(tagging)), params.tagger_sample_rate, samples, channels=1)
        tagger = ResNetTagger(tagger_config(params, tagging.n_classes, tagging.classes))
        weights = tagging_weights(tagging, range(len(tagging)), params.tagger_noisy_weight)
        train_set = tag_clips if weights is None else WithWeights(tag_clips, weights)
        loader = DataLoader(train_set, batch_size=batch, shuffle=True, drop_last=True,
                            generator=make_generator(params.seeds[0]))  # fmt: skip
        config = TrainConfig(epochs=params.tagger_epochs, lr=params.tagger_lr, weight_decay=params.weight_decay,
                             schedule="warmup_cosine", warmup_epochs=min(1.0, params.tagger_epochs / 4),
                             seed=params.seeds[0], log_every=0)  # fmt: skip
        full_tagging = FULL_SIZES["fsdkaggle2019"] if params.tagger_dataset == "fsdkaggle2019" else len(tagging)
        per_run = int(full_tagging * (1 - HELD_OUT_TAGGING_FRACTION)) // params.batch_size * params.tagger_epochs
        step = TaggingStep(params.mixup_alpha, weighted=weights is not None)
        report.add(measure_trainer(
            "train tagger", lambda hooks: Trainer(tagger, step, config, hooks=hooks, progress=progress), loader, steps,
            1, per_run, note=describe_tagger(params, tagging.n_classes),
        ).per_batch(batch, params.batch_size))  # fmt: skip
        holder = {}
        tagged = FixedLengthClips(dataset, order[:_TAGGED_CLIPS], params.sample_rate, asc_config.input_samples,
                                  asc_config.channels)  # fmt: skip
        report.add(measure_calls(
            "tag the scene clips", lambda: holder.update(tags=tags_of_clips(tagger.eval(), tagged, params, "scene clips",
                                                                             sample_rate=params.sample_rate)[0]),
            1, 1, max(1, round((full_train + full_test) / len(tagged))),
            note=f"{len(tagged)} stand-in clips per step, scaled; their tags repeated for the other {len(order)}",
        ))  # fmt: skip
        tags = holder["tags"].float().repeat(math.ceil(len(order) / len(tagged)), 1)[: len(order)]
    else:
        tags = torch.rand(len(order), params.code_dim)
        report.notes.append(f"tagger {params.tagger!r}: not timed (oracle or pretrained), random tag vectors")
    n_train = len(train_indices)
    train = ClipsWithTags(FixedLengthClips(dataset, train_indices, params.sample_rate, asc_config.input_samples,
                                           asc_config.channels), tags[:n_train])  # fmt: skip
    test = ClipsWithTags(FixedLengthClips(dataset, test_indices, params.sample_rate, asc_config.input_samples,
                                          asc_config.channels), tags[n_train:])  # fmt: skip
    scenes = np.asarray(dataset.targets())[order]
    models, _ = models_to_train(params, tags.shape[1])
    runs = len(folds) * len(params.seeds)
    per_run = full_train // params.batch_size * params.epochs
    scores = {}
    for name, fusion in models.items():
        model = TagFusionASC(asc_config, fusion)
        loader = DataLoader(train, batch_size=batch, shuffle=True, drop_last=True,
                            generator=make_generator(params.seeds[0]))  # fmt: skip
        config = TrainConfig(epochs=params.epochs, lr=params.learning_rate, weight_decay=params.weight_decay,
                             schedule="cosine", seed=params.seeds[0], log_every=0)  # fmt: skip
        step = MixupSceneStep(params.asc_mixup_alpha, asc_config.n_scenes) if params.asc_mixup_alpha > 0 else scene_step
        report.add(measure_trainer(
            f"train {name}", lambda hooks, model=model, step=step, config=config: Trainer(
                model, step, config, hooks=hooks, progress=progress), loader, steps, runs, per_run,
        ).per_batch(batch, params.batch_size))  # fmt: skip
        score = ModelScore(name, fusion)
        loaders = [DataLoader(subset, batch_size=params.batch_size) for subset in (train, test)]

        def scored(model=model, score=score, loaders=loaders):
            result = score_model(model.eval(), *loaders, scenes[:n_train], scenes[n_train:],
                                 SVMConfig(kernel=params.svm_kernel, C=params.svm_c))  # fmt: skip
            score.accuracy[:] = [result.accuracy] * len(params.seeds)
            score.svm_accuracy[:] = [result.svm_accuracy] * len(params.seeds)

        report.add(measure_calls(
            f"score {name}", scored, 1, runs, max(1, round((full_train + full_test) / len(order))),
            note=f"softmax head and SVM on {len(order)} stand-in clips per step",
        ))  # fmt: skip
        scores[name] = score
    result = AscTaggingRun(recipe=NAME, params=params.to_dict(), run_dir=None, scores=scores,
                           variants=list(params.variants))  # fmt: skip
    report.add(measure_calls("claims", lambda: fusion_claims(result), 1, 1, 1))
    return report
