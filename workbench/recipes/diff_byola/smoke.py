"""The smoke run of a diff_byola preset: the preset's encoder (channels, embedding, projector and predictor
sizes), Adam and schedule, batch size and crop length for a few pre-training steps of every lambda, one
evaluation (BgKnown, retrieval, general tasks) on fewer items, and the claims, with the projected cost."""

from __future__ import annotations

import dataclasses
import math

import torch
from torch.utils.data import DataLoader, Subset

from workbench.audio.byola_augment import byola_augmentation
from workbench.data.synthetic.views import SceneDataset
from workbench.evaluation.retrieval import synthetic_modifier_pairs
from workbench.models.byola import BYOLConfig, BYOLNetworks
from workbench.recipes.diff_byola.claims import evaluation_claims
from workbench.recipes.diff_byola.data import (
    LogMelCrops,
    bgknown_builder,
    general_datasets,
    log_mel_clips,
    pretraining_dataset,
    recipe_frontend,
)
from workbench.recipes.diff_byola.evaluate import evaluate
from workbench.recipes.diff_byola.params import NAME, SCENE_SECONDS, Params, model_label
from workbench.recipes.diff_byola.systems import DifferenceAwareBYOLA, make_encoder
from workbench.recipes.diff_byola.train import TargetUpdate
from workbench.smoke import SmokeReport, measure_calls, measure_trainer, measured_batch, standin_root
from workbench.train.loop import Trainer, TrainConfig
from workbench.train.seed import make_generator

_BACKGROUND_CLIPS_PER_CLASS = 5  # ESC-10 ambience clips per category: five source recordings to split

_EVALUATION_ITEMS = 48
"""Items of each evaluation set in the smoke (BgKnown clips, retrieval scenes, general clips); the time is
scaled to the preset's sizes linearly (embedding and probe training are linear in the items)."""


def _datasets(pretraining) -> list:
    return pretraining if isinstance(pretraining, list) else [pretraining]


def _first_clips(params: Params, count: int) -> list[torch.Tensor]:
    """The log-mels of the first ``count`` pre-training clips (mixtures over backgrounds as the preset
    makes them), taken from each of the preset's pre-training sets in turn."""
    datasets = _datasets(pretraining_dataset(params))
    share = math.ceil(count / len(datasets))
    subsets = [Subset(dataset, range(min(share, len(dataset)))) for dataset in datasets]
    for subset, dataset in zip(subsets, datasets):
        subset.sample_rate = dataset.sample_rate
    return log_mel_clips(subsets, recipe_frontend(params), params.unit_frames)[:count]


def tiny(params: Params) -> Params:
    """``params`` with few, short backgrounds and one-epoch probes: the preset's encoder, projector and
    predictor, lambdas, Adam and stages. The test suite runs every preset's smoke so, one step at batch 1;
    the cost table comes from the full-size smoke."""
    return dataclasses.replace(
        params, n_pretrain_backgrounds=min(params.n_pretrain_backgrounds, 4), background_seconds=min(params.background_seconds, 2.0),
        n_bgknown_clips=min(params.n_bgknown_clips, 16), n_retrieval_scenes=min(params.n_retrieval_scenes, 16),
        n_general_clips=min(params.n_general_clips, 16), max_epochs=1, bgknown_max_epochs=1, retrieval_epochs=1,
        n_probe_seeds=1, n_adapter_seeds=1, n_bgknown_probe_seeds=1,
    )  # fmt: skip


def smoke(params: Params, steps: int = 2, preset: str = "", progress: bool = False, batch: int | None = None
          ) -> SmokeReport:
    """Run every stage of ``params`` for ``steps`` steps at full size and project the full preset's cost."""
    report = SmokeReport(NAME, preset, f"cpu ({torch.get_num_threads()} threads)")
    if params.pretrain_backgrounds in ("recorded", "both") or params.bgknown_backgrounds == "recorded":
        # The recorded backgrounds (ESC-10 ambiences; FSDD babble where present) from the ESC-10 stand-in: a
        # cluster node without the shared data failed here before any step.
        root = standin_root("esc10", _BACKGROUND_CLIPS_PER_CLASS)
        params = dataclasses.replace(params, background_root=str(root))
        report.notes.append(f"recorded backgrounds: stand-in ESC-10 in {root} (no FSDD babble)")
    full_clips = sum(len(dataset) for dataset in _datasets(pretraining_dataset(params)))
    per_run = full_clips // params.batch_size * params.epochs
    # At least two clips: the projector's and predictor's BatchNorm cannot train on one (--smoke-batch 1 failed).
    batch = min(params.batch_size, max(2, measured_batch(params.batch_size, batch)))
    clips = _first_clips(params, batch * steps)
    count = sum(clip.numel() for clip in clips)
    mean = sum(float(clip.double().sum()) for clip in clips) / count
    std = math.sqrt(sum(float((clip.double() - mean).pow(2).sum()) for clip in clips) / count)
    normalised = [(clip - mean) / std for clip in clips]
    report.notes.append(f"pre-training: the first {len(clips)} of {full_clips} clips (log-mels), the preset's sizes")
    encoders = {}
    for weight in params.difference_weights:
        seed = params.pretrain_seeds[0]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            encoder = make_encoder(params, mean, std)
            networks = BYOLNetworks(encoder, BYOLConfig(params.projection_dim, params.hidden_dim, params.ema_decay,
                                                        difference_predictor=weight > 0))  # fmt: skip
        learner = DifferenceAwareBYOLA(networks, byola_augmentation(params.augmentation, memory_size=params.memory_size),
                                       weight, mixing=params.mixing, input_std=std)  # fmt: skip
        loader = DataLoader(LogMelCrops(normalised, params.unit_frames), batch_size=batch, shuffle=True,
                            drop_last=True, generator=make_generator(seed))  # fmt: skip
        config = TrainConfig(epochs=params.epochs, optimizer="adam", lr=params.learning_rate,
                             schedule=params.lr_schedule, seed=seed, log_every=0)  # fmt: skip

        def trainer(hooks, learner=learner, config=config):
            return Trainer(learner, lambda model, batch: model(batch), config, hooks=[TargetUpdate(), *hooks],
                           progress=progress)  # fmt: skip

        report.add(measure_trainer(f"pre-train {model_label(weight)}", trainer, loader, steps,
                                             len(params.pretrain_seeds), per_run).per_batch(batch, params.batch_size))  # fmt: skip
        encoders[weight] = networks.online_encoder.eval()

    small = dataclasses.replace(params, n_bgknown_clips=min(params.n_bgknown_clips, _EVALUATION_ITEMS),
                                n_retrieval_scenes=min(params.n_retrieval_scenes, _EVALUATION_ITEMS),
                                n_general_clips=min(params.n_general_clips, _EVALUATION_ITEMS))  # fmt: skip
    builder = bgknown_builder(small)
    pairs = synthetic_modifier_pairs(SceneDataset(seed=small.world_seed, n_clips=small.n_retrieval_scenes,
                                                  duration=SCENE_SECONDS), n_distractors=small.n_distractors,
                                     seed=small.world_seed)  # fmt: skip
    general = general_datasets(small)
    holder = {}
    full_items = params.n_bgknown_clips + params.n_retrieval_scenes + params.n_general_clips * len(params.general_tasks)
    small_items = small.n_bgknown_clips + small.n_retrieval_scenes + small.n_general_clips * len(small.general_tasks)
    first = params.difference_weights[0]
    report.add(measure_calls(
        "evaluate (BgKnown, retrieval, general)",
        lambda: holder.update(result=evaluate(encoders[first], small, builder, pairs, general)), 1,
        len(params.difference_weights) * len(params.pretrain_seeds), max(1, round(full_items / small_items)),
        note=f"{small_items} of {full_items} items per step, scaled linearly",
    ))  # fmt: skip
    evaluations = {model_label(weight): [holder["result"]] * len(params.pretrain_seeds)
                   for weight in params.difference_weights}  # fmt: skip
    report.add(measure_calls("claims", lambda: evaluation_claims(evaluations, params.difference_weights),
                                       1, 1, 1))  # fmt: skip
    report.notes.append("evaluation: every lambda's evaluation is timed as the first lambda's (the same encoder size)")
    return report
