"""Training one ASC network per fusion setting and seed: the training step (with or without mixup), the
shared trainer, and the fixed torch thread count."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.data import DataLoader

from workbench.audio.augment import mixup_targets, mixup_waveforms, sample_mixup_lambda
from workbench.losses.classification import soft_cross_entropy
from workbench.models.asc_raw import RawASCConfig
from workbench.models.tag_fusion import FusionConfig, TagFusionASC
from workbench.recipes.asc_tagging.params import CODE_VERSION, Params
from workbench.recipes.asc_tagging.scenes import SceneClips
from workbench.train.loop import Trainer, TrainConfig
from workbench.train.rundir import RunDir
from workbench.train.seed import make_generator, seed_everything
from workbench.train.threads import torch_threads  # noqa: F401  (run and plan use it from here)


def scene_step(model: torch.nn.Module, batch: Sequence[torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
    """Cross-entropy of the scene logits; the batch is ``(waveforms, tag vectors, scene indices)``."""
    waveforms, tags, scenes = batch
    logits = model(waveforms, tags)
    loss = torch.nn.functional.cross_entropy(logits, scenes)
    return loss, {"train_accuracy": float((logits.argmax(dim=1) == scenes).float().mean())}


@dataclass
class MixupSceneStep:
    """:func:`scene_step` with mixup (Sec. 4.2: "Mix-up is applied to both the ASC system and the audio
    tagging system"): each batch is mixed with a shuffled copy of itself, ``lam ~ Beta(alpha, alpha)``,
    waveforms, tag vectors (the tagger's view of the mixture, to first order) and one-hot scenes alike,
    and the loss is the cross-entropy against the mixed scene targets.

    Args:
        alpha: Beta parameter (> 0).
        n_scenes: scene classes.
    """

    alpha: float
    n_scenes: int

    def __call__(self, model: torch.nn.Module, batch: Sequence[torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        waveforms, tags, scenes = batch
        lam = sample_mixup_lambda(self.alpha)
        partner = torch.randperm(len(waveforms)).to(waveforms.device)
        mixed = mixup_waveforms(waveforms, waveforms[partner], lam)
        mixed_tags = lam * tags + (1 - lam) * tags[partner]
        targets = mixup_targets(scenes, scenes[partner], lam, n_classes=self.n_scenes)
        logits = model(mixed, mixed_tags)
        loss = soft_cross_entropy(logits, targets)
        return loss, {"train_accuracy": float((logits.argmax(dim=1) == targets.argmax(dim=1)).float().mean()),
                      "mixup_lambda": lam}  # fmt: skip


MODEL_NAME = "asc_tagging-model"
"""Runs folder of the ASC networks: each (model, seed, fold) its own run directory, keyed by
:func:`model_settings`."""

_NOT_MODEL = ("variants", "grid", "grid_rows", "grid_columns", "svm_kernel", "svm_c", "num_workers", "cache_audio",
              "seeds")  # fmt: skip
"""Parameters that choose which networks a run trains or how it scores them, not how one network trains."""


def model_settings(params: Params, name: str, fusion: FusionConfig, seed: int, fold: int) -> dict[str, Any]:
    """What determines one ASC network (its run id): the run's parameters that train it (the tagger's
    among them), its fusion, seed and fold position."""
    values = {key: value for key, value in params.to_dict().items() if key not in _NOT_MODEL}
    return {**values, "model": name, "fusion": dataclasses.asdict(fusion), "seed": int(seed), "fold": int(fold)}


def model_run(params: Params, name: str, fusion: FusionConfig, seed: int, fold: int, data: Any) -> RunDir:
    """One ASC network's run directory, ``runs/asc_tagging-model/<id>``: its checkpoint, and metrics.json
    once trained (a launch leaf of its own); ``data`` is what the parent run fingerprints."""
    return RunDir.open(MODEL_NAME, model_settings(params, name, fusion, seed, fold), data=data, code=CODE_VERSION)


def train_model(
    params: Params, asc_config: RawASCConfig, fusion: FusionConfig, seed: int, clips: SceneClips, model_dir: RunDir
) -> TagFusionASC:
    """Train one ASC network with the shared trainer (resuming from ``model_dir``'s checkpoint)."""
    seed_everything(seed)
    model = TagFusionASC(asc_config, fusion)
    loader = DataLoader(clips.train, batch_size=params.batch_size, shuffle=True, drop_last=True,
                        generator=make_generator(seed), num_workers=params.num_workers)  # fmt: skip
    config = TrainConfig(epochs=params.epochs, lr=params.learning_rate, weight_decay=params.weight_decay,
                         schedule="cosine", seed=seed, log_every=0)  # fmt: skip
    step = MixupSceneStep(params.asc_mixup_alpha, asc_config.n_scenes) if params.asc_mixup_alpha > 0 else scene_step
    Trainer(model, step, config, run_dir=model_dir, progress=False, keep_checkpoints=1).fit(loader)
    if not model_dir.finished:
        model_dir.write_metrics({"epochs": params.epochs, "seed": seed})
    return model
