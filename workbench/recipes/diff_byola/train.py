"""Pre-training: one encoder per (lambda, seed), each in a run directory of its own keyed by
:func:`pretraining_params`, read back when finished."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader

from workbench.atomic import atomic_torch_save
from workbench.audio.byola_augment import byola_augmentation, normalize_batch
from workbench.models.audiontt import AudioNTT2020
from workbench.models.byola import BYOLConfig, BYOLNetworks
from workbench.models.registry import read_checkpoint
from workbench.recipes.diff_byola.data import LogMelCrops, log_mel_clips, pretraining_dataset, recipe_frontend
from workbench.recipes.diff_byola.params import CODE_VERSION, PRETRAIN_NAME, Params
from workbench.recipes.diff_byola.systems import DifferenceAwareBYOLA, make_encoder
from workbench.train.loop import Trainer, TrainConfig, TrainerHook
from workbench.train.rundir import RunDir
from workbench.train.seed import make_generator


class TargetUpdate(TrainerHook):
    """Moves the target networks towards the online ones after every optimizer step (BYOL's EMA)."""

    def after_step(self, model: nn.Module, step: int) -> None:
        model.networks.update_target()


def pretraining_params(params: Params, difference_weight: float, seed: int) -> dict[str, Any]:
    """What determines one pre-training (its run directory's identity): data, sizes, training, lambda, seed."""
    keys = (
        "world_seed", "pretrain_dataset", "pretrain_tasks", "n_pretrain_clips", "data_root", "channels",
        "embedding_dim", "projection_dim", "hidden_dim", "epochs", "batch_size", "learning_rate", "ema_decay",
        "augmentation", "memory_size", "unit_frames", "mixing", "pretrain_backgrounds", "window_ms", "f_min",
        "f_max",
    )  # fmt: skip
    values = {key: value for key, value in params.to_dict().items() if key in keys}
    if params.pretrain_backgrounds in ("synthetic", "both"):
        values.update(n_pretrain_backgrounds=params.n_pretrain_backgrounds, background_seconds=params.background_seconds)
    if params.pretrain_backgrounds in ("recorded", "both"):
        values["background_root"] = params.background_root
    if params.lr_schedule != "constant":  # constant pre-trainings keep the run ids they had before the option
        values["lr_schedule"] = params.lr_schedule
    if params.n_mels != 64:  # 64-mel pre-trainings keep the run ids they had before the option
        values["n_mels"] = params.n_mels
    if difference_weight == 0:
        del values["mixing"]  # no difference branch: the same pre-training whatever its mixing
    return {**values, "difference_weight": float(difference_weight), "seed": int(seed)}


MONITOR_CLIPS = 64
"""Clips of the fixed views whose BYOL loss is measured after every epoch (:func:`monitor_views`)."""


def monitor_views(normalised: Sequence[torch.Tensor], params: Params, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Two augmented views of up to :data:`MONITOR_CLIPS` pre-training clips (every k-th clip, its first
    ``unit_frames`` frames), drawn ONCE under ``seed`` by an augmentation chain of their own and
    post-normalised as training does: the fixed inputs of the per-epoch monitor loss.

    Why: the epoch-mean training loss carries the sampling noise of its crops and augmentation draws
    (measured on the notebook bed: about 8 % per epoch at 6 steps of 32 clips), so a line fitted to a
    dozen epochs of it moves by +-6 % from noise alone; the same networks' loss on fixed views moves
    only as the networks do, which is what the convergence check asks about.
    """
    step = max(1, len(normalised) // MONITOR_CLIPS)
    crops = torch.stack([clip[:, : params.unit_frames] for clip in list(normalised)[::step][:MONITOR_CLIPS]])
    with torch.random.fork_rng(devices=[]):  # the training's random stream is left as it was
        torch.manual_seed(seed)
        augmentation = byola_augmentation(params.augmentation, memory_size=params.memory_size)
        views = normalize_batch(torch.cat([augmentation(crops), augmentation(crops)]))  # (2 x clips, n_mels, frames)
    return views[: len(crops)], views[len(crops) :]


def monitor_loss(views: tuple[torch.Tensor, torch.Tensor]) -> Callable[[nn.Module, int], dict[str, float]]:
    """The trainer's ``eval_fn``: the BYOL loss of the fixed ``views`` (networks in evaluation mode, so no
    dropout, batch-norm running statistics and no buffer changes), recorded as ``monitor_byol_loss``."""

    def evaluate(model: nn.Module, epoch: int) -> dict[str, float]:
        with torch.no_grad():
            loss, _, _ = model.byol_of_views(*views)
        return {"monitor_byol_loss": float(loss)}

    return evaluate


@dataclass
class Pretrained:
    """One pre-trained encoder, its loss history (``loss``, ``byol_loss``, ``difference_loss`` and
    ``monitor_byol_loss`` per epoch; pre-trainings finished before the monitor have no ``monitor_byol_loss``)
    and the pre-training run directory."""

    encoder: AudioNTT2020
    history: dict[str, list[float]]
    run_dir: RunDir


def pretrain(
    params: Params, difference_weight: float, seed: int, clips: Sequence[torch.Tensor] | None = None,
    progress: bool = True,
) -> Pretrained:  # fmt: skip
    """Pre-train one encoder (or read back a finished pre-training with the same parameters).

    Args:
        params: the recipe's parameters (only those of :func:`pretraining_params` matter).
        difference_weight: lambda.
        seed: initialisation, augmentation and shuffling seed.
        clips: precomputed log-mels of the pre-training data (:func:`log_mel_clips`); computed when None.
        progress: show the trainer's progress bars.
    """
    run_dir = RunDir.open(PRETRAIN_NAME, pretraining_params(params, difference_weight, seed), data=pretraining_dataset(params), code=CODE_VERSION)
    encoder_file = run_dir.artifact("encoder.pt")
    frontend = recipe_frontend(params)
    if run_dir.finished and encoder_file.is_file():
        statistics = run_dir.read_metrics()
        encoder = make_encoder(params, statistics["norm_mean"], statistics["norm_std"])
        encoder.load_state_dict(read_checkpoint(encoder_file))
        return Pretrained(encoder.eval(), statistics["history"], run_dir)

    if clips is None:
        clips = log_mel_clips(pretraining_dataset(params), frontend, params.unit_frames)
    # BYOL-A's pre-normalisation with statistics of the pre-training data, kept in the encoder for embed().
    count = sum(clip.numel() for clip in clips)
    norm_mean = sum(float(clip.double().sum()) for clip in clips) / count
    norm_std = math.sqrt(sum(float((clip.double() - norm_mean).pow(2).sum()) for clip in clips) / count)
    normalised = [(clip - norm_mean) / norm_std for clip in clips]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        encoder = make_encoder(params, norm_mean, norm_std)
        networks = BYOLNetworks(
            encoder,
            BYOLConfig(params.projection_dim, params.hidden_dim, params.ema_decay, difference_predictor=difference_weight > 0),
        )  # fmt: skip
    augmentation = byola_augmentation(params.augmentation, memory_size=params.memory_size)
    learner = DifferenceAwareBYOLA(networks, augmentation, difference_weight, mixing=params.mixing, input_std=norm_std)
    loader = DataLoader(
        LogMelCrops(normalised, params.unit_frames), batch_size=params.batch_size, shuffle=True, drop_last=True,
        generator=make_generator(seed),
    )  # fmt: skip
    config = TrainConfig(
        epochs=params.epochs, optimizer="adam", lr=params.learning_rate, schedule=params.lr_schedule, seed=seed,
        checkpoint_every=max(1, params.epochs // 2), log_every=0,
    )  # fmt: skip
    trainer = Trainer(learner, lambda model, batch: model(batch), config, run_dir=run_dir,
                      eval_fn=monitor_loss(monitor_views(normalised, params, seed)), hooks=[TargetUpdate()],
                      progress=progress)  # fmt: skip
    history = trainer.fit(loader)
    curves = {name: [float(value) for value in history[name]]
              for name in ("loss", "byol_loss", "monitor_byol_loss") if name in history.names()}  # fmt: skip
    if difference_weight > 0:
        curves["difference_loss"] = [float(value) for value in history["difference_loss"]]
    encoder = networks.online_encoder.eval()
    atomic_torch_save(encoder_file, encoder.state_dict())
    run_dir.write_metrics({"norm_mean": norm_mean, "norm_std": norm_std, "history": curves})
    return Pretrained(encoder, curves, run_dir)
