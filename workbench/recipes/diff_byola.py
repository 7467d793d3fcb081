"""Difference-aware BYOL-A: BYOL-A plus subtraction-consistent learning, and the evaluations that test it.

Takeuchi et al., "Towards Learning a Difference-Aware General-Purpose Audio Representation", on BYOL-A
(Niizumi et al., IJCNN 2021). BYOL-A learns by predicting, from one augmented view of a sound, the
moving-average target's projection of another view. Subtraction-consistent learning adds a branch: each
view ``v`` is mixed with its index-shifted neighbour, ``w = log(gamma exp(s(v)) + (1 - gamma) exp(v))``
with ``gamma ~ U(0.4, 0.6)``, and ``f(w) - gamma s(f(v))`` (what should remain once the neighbour is
subtracted) must predict, through the projector and a second predictor, the target projection of the
view; the loss is ``(1 - lambda) L_byol + lambda L_diff``.

:func:`run` pre-trains one encoder per ``lambda`` in ``difference_weights`` (and per pre-training seed)
on unlabeled audio (the synthetic world's event, word and pitch clips by default; any registered
dataset or a folder otherwise), then scores each with

- **BgKnown** (Table 1): linear evaluation of ``y_diff = f(mixture) - f(reference)`` for references
  overlapping the mixture's background crop by 100, 50 and 0 %, and of ``y_mix = f(mixture)``
  (:mod:`workbench.evaluation.bgknown`). Every item has its own time-varying background; items of folds
  1-3 (training) and 4-5 (test) draw from disjoint pools (disjoint seeds, or real recordings split by
  recording); the probe follows Sec. 5.2 (200 epochs at most, early stopping on the validation loss,
  3 probe seeds), and each λ is compared with λ = 0 on the SAME test items;
- **text-modified retrieval**: recall@1/5/10 of "this scene, plus a <event>" queries through a trained
  adapter on frozen encoders (:mod:`workbench.evaluation.retrieval`);
- **general-purpose linear evaluation** (Table 3): the synthetic world's event, speaker, word and pitch
  tasks, mean ± 95 % CI.

The claims: ``lambda > 0`` raises ``y_diff`` accuracy over ``lambda = 0`` (Table 1; a paired bootstrap
over the shared test items, the runs paired by pre-training and probe seed) and raises retrieval recall
(paired over pre-training x adapter seeds); both go through :mod:`workbench.evaluation.stats` and are
reported with effect, interval, MDE and verdict whichever way they come out.
Pre-trainings are run directories of their own (``runs/diff_byola-pretrain/<id>``), keyed by the
pre-training parameters only, so changing an evaluation parameter re-uses the trained encoders.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from workbench import data
from workbench.atomic import atomic_torch_save
from workbench.audio.byola_augment import (
    byola_augmentation,
    normalize_batch,
    sample_mixing_weights,
    subtraction_mix,
)
from workbench.audio.frontends import LogMelSpectrogram
from workbench.audio.io import resample
from workbench.data.records import AudioDataset, Subset
from workbench.data.synthetic.backgrounds import LongBackgroundDataset
from workbench.data.synthetic.views import SceneDataset
from workbench.errors import ParameterError, UnknownNameError
from workbench.evaluation.bgknown import (
    BgKnownBuilder,
    BgKnownProtocol,
    BgKnownScores,
    bgknown_embeddings,
    compare_bgknown,
    folder_background_pools,
    overlap_name,
    probe_bgknown,
    recorded_background_pools,
)
from workbench.evaluation.embeddings import extract_embeddings
from workbench.evaluation.linear import PROTOCOLS, LinearEvalConfig, LinearEvalResult, linear_evaluation
from workbench.evaluation.projection import project
from workbench.evaluation.retrieval import (
    KS,
    ModifierPairs,
    RetrievalConfig,
    RetrievalResult,
    TextEncoderFactory,
    embed_waveforms,
    modifier_retrieval,
    frozen_small_text_encoder,
    small_text_encoder,
    synthetic_modifier_pairs,
)
from workbench.evaluation.stats import compare_paired, mean_confidence_interval
from workbench.losses.byol import BYOLLoss, DifferenceLoss
from workbench.models.audiontt import AudioNTT2020, AudioNTTConfig
from workbench.models.byola import BYOLConfig, BYOLNetworks
from workbench.models.registry import read_checkpoint
from workbench.models.text import load_distilbert
from workbench.recipes import base
from workbench.train.convergence import loss_plateau
from workbench.train.loop import Trainer, TrainConfig, TrainerHook
from workbench.train.rundir import RunDir
from workbench.train.seed import make_generator, seed_everything

NAME = "diff_byola"
NOTEBOOK = "02_difference_aware.ipynb"
PRETRAIN_NAME = f"{NAME}-pretrain"
PRETRAIN_FIRST_CLIP = 100_000
"""Synthetic pre-training clips are numbers 100000 onwards of their view: random streams that no
evaluation set of this recipe (clips 0 .. n - 1) draws from, so pre-training never sees an evaluated clip."""
SYNTHETIC_TASKS = ("event", "speaker", "word", "pitch")
TEXT_ENCODERS = ("frozen", "small", "distilbert")
MIXINGS = ("normalized", "power")
LR_SCHEDULES = ("constant", "cosine")
SCENE_SECONDS = 2.0
"""Length of the retrieval scenes: long enough for a few events, short enough to render quickly."""
BGKNOWN_COLUMNS = ("diff-100", "diff-50", "diff-0", "mix")
BGKNOWN_BACKGROUNDS = ("synthetic", "recorded", "folder", "textures")
PRETRAIN_BACKGROUNDS = ("none", "synthetic", "recorded", "both")
PRETRAIN_BACKGROUND_SEED = 1000
"""Pre-training backgrounds come from ``LongBackgroundDataset(world_seed + 1000, pool="train")``: a seed
no BgKnown pool uses (the BgKnown pools are ``world_seed``'s), so no evaluated background is pre-trained on."""
PAPER_TABLE1 = {0.0: (55.29, 52.21, 47.92, 47.25), 0.1: (55.54, 52.46, 48.50, 47.39),
                0.2: (57.54, 53.37, 48.67, 47.42), 0.5: (58.96, 54.63, 50.50, 47.33),
                0.8: (59.96, 55.50, 51.96, 45.84)}  # fmt: skip
"""Table 1 of the paper (%): lambda -> (a) 100 %, (b) 50 %, (c) 0 % references, Mix."""


@dataclass(frozen=True)
class Params(base.Params):
    recipe: ClassVar[str] = NAME

    world_seed: int = 0  # seed of the synthetic world (classes and clips)
    pretrain_dataset: str = "synthetic"  # unlabeled pre-training audio: a name from workbench.data.names()
    pretrain_tasks: tuple[str, ...] = ("event", "word", "pitch")  # synthetic pre-training: clip families mixed
    n_pretrain_clips: int = 300  # pre-training clips (per task for the synthetic world)
    data_root: str = ""  # data root of a real pre-training dataset, or the folder of pretrain_dataset="folder"
    channels: int = 8  # AudioNTT2020 convolution channels (64 in BYOL-A)
    embedding_dim: int = 128  # representation size d (512 / 1024 / 2048 in BYOL-A)
    projection_dim: int = 64  # BYOL projection size (256 in BYOL-A)
    hidden_dim: int = 256  # hidden width of projector and predictors (4096 in BYOL-A)
    difference_weights: tuple[float, ...] = (0.0, 0.5)  # lambda of each pre-training; 0 is plain BYOL-A
    pretrain_seeds: tuple[int, ...] = (0,)  # one pre-training per seed and lambda; tables pool them
    epochs: int = 5  # pre-training epochs
    batch_size: int = 64  # pre-training batch size (256 in BYOL-A)
    learning_rate: float = 1e-3  # Adam learning rate (3e-4 in BYOL-A)
    lr_schedule: str = "constant"  # pre-training learning rate: constant (BYOL-A, the paper) | cosine (annealed to 0)
    ema_decay: float = 0.99  # target network moving-average decay
    mixing: str = "normalized"  # difference-branch mix: normalized (the paper's formula) | power (mel power)
    augmentation: str = "v1"  # BYOL-A augmentations: v1 (mixup + random resize crop) | v2 (+ linear fader)
    memory_size: int = 512  # mixup memory of past log-mels (2048 in v1, 512 in v2)
    unit_frames: int = 96  # frames per pre-training crop (96 = 0.96 s, as BYOL-A)
    bgknown_dataset: str = "synthetic"  # labelled clips of BgKnown: synthetic events, or e.g. esc50
    bgknown_root: str = ""  # data root of a real BgKnown dataset ("" = default)
    n_bgknown_clips: int = 300  # labelled clips mixed over backgrounds (synthetic: how many to render)
    n_backgrounds: int = 20  # 10-s background textures the crops come from
    n_retrieval_scenes: int = 160  # scenes, one text-modified query each
    n_distractors: int = 2  # gallery distractors per query: the scene with another event class
    text_encoder: str = "frozen"  # frozen (small, pretrained once, frozen as the paper's) | small (trained) | distilbert
    retrieval_epochs: int = 150  # adapter training steps (full batch)
    general_tasks: tuple[str, ...] = ("event", "speaker", "word", "pitch")  # Table-3 style tasks
    n_general_clips: int = 240  # clips per general task
    n_probe_seeds: int = 2  # seeds of every linear probe (scores pool folds x seeds)
    n_adapter_seeds: int = 3  # seeds of the retrieval adapter (recall is their mean ± CI)
    max_epochs: int = 60  # linear-probe epochs at most (early stopping decides)
    patience: int = 8  # linear-probe epochs without validation improvement before stopping
    cpu_threads: int = 1  # torch CPU threads (1: the same numbers on any machine, fastest on a busy one)
    bgknown_backgrounds: str = "synthetic"  # synthetic (long, one per item, disjoint seed pools) | recorded | folder | textures
    background_root: str = "{shared}/data"  # recorded: data root with esc10/ and fsdd/; folder: your recordings
    background_seconds: float = 3.0  # length of each synthetic long background (at least twice a clip)
    bgknown_max_epochs: int = 200  # BgKnown probe: epochs at most (Sec. 5.2: 200)
    bgknown_patience: int = 20  # BgKnown probe: epochs without a lower validation LOSS before stopping
    n_bgknown_probe_seeds: int = 3  # BgKnown probe seeds (Sec. 5.2: three)
    window_ms: float = 64.0  # log-mel window (BYOL-A's code: 64 ms; the paper, Sec. 5.1: 25 ms)
    f_min: float = 60.0  # log-mel lowest frequency (BYOL-A: 60 Hz; the paper: 50 Hz)
    f_max: float = 7800.0  # log-mel highest frequency (BYOL-A: 7800 Hz; the paper: 8000 Hz)
    pretrain_backgrounds: str = "none"  # none | synthetic | recorded | both: pre-train on clips mixed over backgrounds
    n_pretrain_backgrounds: int = 40  # synthetic long backgrounds for pre-training (also added as clips)
    protocol: str = "auto"  # partition of the general linear evaluations (passed to linear_evaluation)

    checks: ClassVar[dict[str, Any]] = {
        "pretrain_dataset": base.OneOf("dataset", base.dataset_names),
        "bgknown_dataset": base.OneOf("dataset", base.dataset_names),
        **dict.fromkeys(
            ("n_pretrain_clips", "channels", "embedding_dim", "projection_dim", "hidden_dim", "epochs",
             "memory_size", "unit_frames", "n_bgknown_clips", "n_backgrounds", "n_retrieval_scenes",
             "retrieval_epochs", "n_general_clips", "max_epochs", "patience"),
            base.AT_LEAST_ONE,
        ),
        "batch_size": base.at_least(2),  # BYOL's batch norm needs two clips
        "learning_rate": base.POSITIVE,
        "lr_schedule": base.OneOf("pre-training learning-rate schedule", LR_SCHEDULES),
        "ema_decay": base.PROBABILITY,
        "pretrain_seeds": base.NonEmpty(distinct=True),
        "difference_weights": base.NonEmpty(),
        "augmentation": base.OneOf("BYOL-A augmentation version", ("v1", "v2")),
        "mixing": base.OneOf("difference-branch mixing", MIXINGS),
        "text_encoder": base.OneOf("text encoder", TEXT_ENCODERS),
        "general_tasks": base.OneOf("synthetic task", SYNTHETIC_TASKS),
        **dict.fromkeys(("cpu_threads", "n_probe_seeds", "n_adapter_seeds"), base.AT_LEAST_ONE),
        **dict.fromkeys(
            ("bgknown_max_epochs", "bgknown_patience", "n_bgknown_probe_seeds", "n_pretrain_backgrounds"),
            base.AT_LEAST_ONE,
        ),
        **dict.fromkeys(("background_seconds", "window_ms"), base.POSITIVE),
        **dict.fromkeys(("f_min",), base.NON_NEGATIVE),
        "f_max": base.POSITIVE,
        "bgknown_backgrounds": base.OneOf("BgKnown backgrounds", BGKNOWN_BACKGROUNDS),
        "pretrain_backgrounds": base.OneOf("pre-training backgrounds", PRETRAIN_BACKGROUNDS),
        "protocol": base.OneOf("evaluation protocol", PROTOCOLS),
    }

    def __post_init__(self) -> None:
        super().__post_init__()
        for weight in self.difference_weights:
            if not 0.0 <= weight <= 1.0:
                raise ParameterError(
                    f"parameter 'difference_weights': every lambda must lie in [0, 1], got {weight!r}"
                )
        for task in self.pretrain_tasks if self.pretrain_dataset == "synthetic" else ():
            base.OneOf("synthetic task", SYNTHETIC_TASKS)("pretrain_tasks", task)
        if self.f_min >= self.f_max:
            raise ParameterError(f"parameter 'f_min' ({self.f_min}) must lie below 'f_max' ({self.f_max})")


def model_label(weight: float) -> str:
    """How tables name the encoder pre-trained with ``lambda = weight``: ``"λ=0"``, ``"λ=0.5"``."""
    return f"λ={weight:g}"


# --------------------------------------------------------------------------------------------------
# Pre-training data


def pretraining_dataset(params: Params) -> AudioDataset | list[AudioDataset]:
    """The unlabeled clips: synthetic clips no evaluation uses, or the first clips of a registered dataset."""
    if params.pretrain_dataset == "synthetic":
        first, last = PRETRAIN_FIRST_CLIP, PRETRAIN_FIRST_CLIP + params.n_pretrain_clips
        clips: list[AudioDataset] = [
            Subset(data.get("synthetic", task=task, n_clips=last, seed=params.world_seed), range(first, last))
            for task in params.pretrain_tasks
        ]
    elif params.pretrain_dataset == "folder":  # your own audio: data_root is the folder
        dataset = data.get("folder", path=params.data_root or None)
        clips = [Subset(dataset, range(min(len(dataset), params.n_pretrain_clips)))]
    else:
        dataset = data.get(params.pretrain_dataset, root=params.data_root or None)
        clips = [Subset(dataset, range(min(len(dataset), params.n_pretrain_clips)))]
    if params.pretrain_backgrounds == "none":
        return clips[0] if len(clips) == 1 and params.pretrain_dataset != "synthetic" else clips
    backgrounds = pretraining_backgrounds(params)
    return [*(BackgroundMixtures(dataset, backgrounds, seed=params.world_seed) for dataset in clips), *backgrounds]


def pretraining_backgrounds(params: Params) -> list[AudioDataset]:
    """Backgrounds of the pre-training mixtures: synthetic long backgrounds of a seed no BgKnown pool uses,
    and/or the TRAINING pool of the recorded backgrounds (never a test recording)."""
    sets: list[AudioDataset] = []
    if params.pretrain_backgrounds in ("synthetic", "both"):
        sets.append(LongBackgroundDataset(params.world_seed + PRETRAIN_BACKGROUND_SEED, "train",
                                          params.n_pretrain_backgrounds, params.background_seconds))  # fmt: skip
    if params.pretrain_backgrounds in ("recorded", "both"):
        sets.append(recorded_background_pools(base.expand_shared(params.background_root), seed=params.world_seed)["train"])
    return sets


class BackgroundMixtures(AudioDataset):
    """Each clip of ``clips`` over a random crop of a random background at an SNR of U(0, 6) dB: background-
    rich pre-training audio, as AudioSet clips are (the paper pre-trains on AudioSet, Sec. 5.1).

    The backgrounds are read once, on first use; the draws of clip ``i`` come from ``[seed, 0xB9, i]``.
    """

    target_kind = "class"

    def __init__(self, clips: AudioDataset, backgrounds: Sequence[AudioDataset], snr_db: tuple[float, float] = (0.0, 6.0),
                 seed: int = 0):  # fmt: skip
        if not backgrounds or not any(len(dataset) for dataset in backgrounds):
            raise ValueError("BackgroundMixtures needs at least one non-empty background dataset")
        self.clips, self.background_sets, self.snr_db, self.seed = clips, list(backgrounds), snr_db, seed
        self.sample_rate = clips.sample_rate
        self.classes = clips.classes
        self._backgrounds: list[torch.Tensor] | None = None

    def __len__(self) -> int:
        return len(self.clips)

    def _loaded(self) -> list[torch.Tensor]:
        if self._backgrounds is None:
            self._backgrounds = [
                resample(dataset[index][0].mean(dim=0), dataset.sample_rate, self.sample_rate)
                for dataset in self.background_sets for index in range(len(dataset))
            ]  # fmt: skip
        return self._backgrounds

    def __getitem__(self, index: int) -> tuple[torch.Tensor, Any, dict[str, Any]]:
        waveform, target, meta = self.clips[index]
        clip = waveform.mean(dim=0)
        rng = np.random.default_rng([self.seed, 0xB9, int(index)])
        backgrounds = self._loaded()
        background = backgrounds[int(rng.integers(len(backgrounds)))]
        if background.shape[-1] < clip.shape[-1]:
            background = background.repeat(math.ceil(clip.shape[-1] / background.shape[-1]))
        start = int(rng.integers(background.shape[-1] - clip.shape[-1] + 1))
        crop = background[start : start + clip.shape[-1]]
        snr = float(rng.uniform(*self.snr_db))
        clip_power, crop_power = float(clip.pow(2).mean()), float(crop.pow(2).mean())
        gain = math.sqrt(clip_power / (crop_power * 10 ** (snr / 10))) if clip_power > 0 and crop_power > 0 else 0.0
        return (clip + gain * crop)[None], target, {**meta, "snr_db": snr}


def recipe_frontend(params: Params) -> LogMelSpectrogram:
    """The log-mel front-end of pre-training and embedding: 16 kHz, hop 10 ms, 64 mels, ``window_ms``
    window (FFT size the next power of two), ``f_min``-``f_max`` Hz."""
    window = int(round(params.window_ms * 16))
    n_fft = 1 << max(0, (window - 1).bit_length())
    return LogMelSpectrogram(n_fft=n_fft, win_length=window, hop_length=160, n_mels=64, f_min=params.f_min,
                             f_max=params.f_max)  # fmt: skip


def make_encoder(params: Params, norm_mean: float, norm_std: float) -> AudioNTT2020:
    """An AudioNTT2020 encoder over :func:`recipe_frontend` (its filterbank holds no state to load)."""
    encoder = AudioNTT2020(encoder_config(params, norm_mean, norm_std))
    encoder.frontend = recipe_frontend(params)
    return encoder


def log_mel_clips(
    datasets: AudioDataset | Sequence[AudioDataset], frontend: LogMelSpectrogram, min_frames: int, batch_size: int = 64
) -> list[torch.Tensor]:
    """Every clip's log-mel ``(n_mels, frames)``, mono, resampled to the front-end's rate, zero-padded to
    at least ``min_frames`` frames (as BYOL-A pads short clips to its unit length).

    Consecutive clips of equal length go through the front-end together, ``batch_size`` at a time.
    """
    datasets = [datasets] if isinstance(datasets, AudioDataset) else list(datasets)
    min_samples = (min_frames - 1) * frontend.hop_length
    clips: list[torch.Tensor] = []
    pending: list[torch.Tensor] = []

    def flush() -> None:
        if pending:
            clips.extend(frontend(torch.stack(pending)))  # (B, n_mels, frames) -> B clips
            pending.clear()

    with torch.no_grad():
        for dataset in datasets:
            for index in range(len(dataset)):
                waveform = resample(dataset[index][0].mean(dim=0), dataset.sample_rate, frontend.sample_rate)
                waveform = nn.functional.pad(waveform, (0, max(0, min_samples - waveform.shape[-1])))
                if pending and (len(pending) == batch_size or pending[0].shape != waveform.shape):
                    flush()
                pending.append(waveform)
        flush()
    return clips


class LogMelCrops(Dataset):
    """Random ``frames``-long crops of precomputed, normalised log-mels (one per clip per epoch).

    The crop position is drawn from torch's global generator, which the trainer seeds and checkpoints.
    """

    def __init__(self, clips: Sequence[torch.Tensor], frames: int):
        self.clips = list(clips)
        self.frames = int(frames)

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, index: int) -> torch.Tensor:
        clip = self.clips[index]
        start = int(torch.randint(clip.shape[-1] - self.frames + 1, ()))
        return clip[:, start : start + self.frames]  # (n_mels, frames)


# --------------------------------------------------------------------------------------------------
# The learner


class DifferenceAwareBYOLA(nn.Module):
    """BYOL-A with the subtraction-consistent branch; ``forward(log_mels) -> (loss, metrics)``.

    Each step: two augmented views of the batch, post-normalised together (BYOL-A's
    ``NormalizeBatch``); the symmetric BYOL loss (view 1 predicts view 2's target projection and the
    reverse). With ``difference_weight > 0`` each view is also mixed with its shifted neighbour and the
    difference ``f(w) - gamma s(f(v))`` predicts, through projector and difference predictor, the target
    projection of the *other* view of the same clip (as the BYOL branch does), both directions.

    Args:
        networks: online and target networks (with a difference predictor when ``difference_weight > 0``).
        augmentation: BYOL-A's augmentation chain on normalised log-mels.
        difference_weight: lambda in ``(1 - lambda) L_byol + lambda L_diff``.
        mixing_range: range of ``gamma``.
        mixing: ``"normalized"``, the paper's formula on the views as the encoder sees them, or
            ``"power"``, the same weights applied to the mel power of the two sounds (undoing the pre-
            and post-normalisation scales, :func:`~workbench.audio.byola_augment.subtraction_mix`'s
            ``scale``), which is how sounds played together mix.
        input_std: the pre-normalisation's standard deviation (log units per input unit), for ``"power"``.

    Shape:
        log_mels: ``(batch, n_mels, frames)`` normalised crops; ``batch >= 2``.
    """

    def __init__(
        self,
        networks: BYOLNetworks,
        augmentation: nn.Module,
        difference_weight: float,
        mixing_range: tuple[float, float] = (0.4, 0.6),
        mixing: str = "normalized",
        input_std: float = 1.0,
    ):
        super().__init__()
        if difference_weight > 0 and networks.difference_predictor is None:
            raise ValueError("difference_weight > 0 needs BYOLNetworks built with a difference predictor")
        if mixing not in MIXINGS:
            raise UnknownNameError("difference-branch mixing", mixing, MIXINGS)
        self.mixing = mixing
        self.input_std = float(input_std)
        self.networks = networks
        self.augmentation = augmentation
        self.difference_weight = float(difference_weight)
        self.mixing_range = mixing_range
        self.byol_loss = BYOLLoss()
        self.difference_loss = DifferenceLoss(shift=1)

    def forward(self, log_mels: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        batch = log_mels.shape[0]
        augmented = torch.cat([self.augmentation(log_mels), self.augmentation(log_mels)])
        views = normalize_batch(augmented)
        view_one, view_two = views[:batch], views[batch:]
        online_one, online_two = self.networks.online(view_one), self.networks.online(view_two)
        target_one, target_two = self.networks.target(view_one), self.networks.target(view_two)
        byol = self.byol_loss(online_one.prediction, target_two) + self.byol_loss(online_two.prediction, target_one)
        metrics = {"byol_loss": float(byol.detach())}
        if self.difference_weight == 0:
            return byol, metrics
        # Log units per unit of the post-normalised views: the two normalisations' scales.
        scale = self.input_std * float(augmented.detach().std()) if self.mixing == "power" else 1.0
        difference = torch.zeros((), dtype=byol.dtype, device=byol.device)
        for online, view, other_target in ((online_one, view_one, target_two), (online_two, view_two, target_one)):
            gamma = sample_mixing_weights(batch, *self.mixing_range).to(view.device)  # (B,)
            mixture = self.networks.online_encoder.forward_log_mel(subtraction_mix(view, gamma, scale=scale))  # (B, D)
            difference = difference + self.difference_loss(
                mixture, online.embedding, gamma, other_target, self.networks.difference_head
            )
        metrics["difference_loss"] = float(difference.detach())
        return (1.0 - self.difference_weight) * byol + self.difference_weight * difference, metrics


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
    if difference_weight == 0:
        del values["mixing"]  # no difference branch: the same pre-training whatever its mixing
    return {**values, "difference_weight": float(difference_weight), "seed": int(seed)}


@dataclass
class Pretrained:
    """One pre-trained encoder, its loss history (``loss``, ``byol_loss``, ``difference_loss`` per epoch)
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
    run_dir = RunDir.open(PRETRAIN_NAME, pretraining_params(params, difference_weight, seed), data=pretraining_dataset(params))
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
                      hooks=[TargetUpdate()], progress=progress)  # fmt: skip
    history = trainer.fit(loader)
    curves = {name: [float(value) for value in history[name]] for name in ("loss", "byol_loss")}
    if difference_weight > 0:
        curves["difference_loss"] = [float(value) for value in history["difference_loss"]]
    encoder = networks.online_encoder.eval()
    atomic_torch_save(encoder_file, encoder.state_dict())
    run_dir.write_metrics({"norm_mean": norm_mean, "norm_std": norm_std, "history": curves})
    return Pretrained(encoder, curves, run_dir)


def encoder_config(params: Params, norm_mean: float, norm_std: float) -> AudioNTTConfig:
    return AudioNTTConfig(
        embedding_dim=params.embedding_dim, channels=params.channels, norm_mean=norm_mean, norm_std=norm_std
    )


# --------------------------------------------------------------------------------------------------
# Evaluations


def pooled(results: Sequence[LinearEvalResult]) -> tuple[float, float]:
    """Mean and 95 % CI over every fold and probe seed of every pre-training seed.

    Folds rather than seeds alone: two probe seeds give a t-interval too wide to say anything
    (t = 12.7 at one degree of freedom), while the folds' spread is the test-set noise that matters.
    """
    return mean_confidence_interval(
        [score for result in results for scores in result.per_fold.values() for score in scores]
    )


def bgknown_builder(params: Params) -> BgKnownBuilder:
    """BgKnown items: labelled clips (the synthetic world's events, or a registered dataset such as
    ESC-50) over backgrounds whose training and test pools are disjoint (items of folds 4-5 draw test
    backgrounds, as the paper's test items draw FSD50K eval clips):

    - ``"synthetic"``: one long, time-varying background per item (:mod:`workbench.data.synthetic.backgrounds`),
      the two pools from disjoint seeds;
    - ``"recorded"``: ESC-10 ambiences and FSDD babble under ``background_root``, split by recording,
      the clips cut to half a 5-s background so the 0 % reference fits;
    - ``"folder"``: your own long recordings in ``background_root``, split by file;
    - ``"textures"``: the earlier test bed, ``n_backgrounds`` stationary textures shared by every item.
    """
    if params.bgknown_dataset == "synthetic":
        foregrounds = data.get("synthetic", task="event", n_clips=params.n_bgknown_clips, seed=params.world_seed)
    else:
        foregrounds = data.get(params.bgknown_dataset, root=params.bgknown_root or None)
    clip = foregrounds.duration or 5.0
    rate = foregrounds.sample_rate
    if params.bgknown_backgrounds == "synthetic":
        duration = max(params.background_seconds, 2.0 * clip)
        pools = {pool: LongBackgroundDataset(params.world_seed, pool, len(foregrounds), duration, rate)
                 for pool in ("train", "test")}  # fmt: skip
        return BgKnownBuilder(foregrounds, pools, seed=params.world_seed, per_item=True)
    if params.bgknown_backgrounds in ("recorded", "folder"):
        root = base.expand_shared(params.background_root)
        if params.bgknown_backgrounds == "recorded":
            pools = recorded_background_pools(root, seed=params.world_seed, sample_rate=rate)
        else:
            pools = folder_background_pools(root, seed=params.world_seed)
        shortest = min(pool[index][0].shape[-1] / pool.sample_rate for pool in pools.values() for index in range(len(pool)))
        return BgKnownBuilder(foregrounds, pools, seed=params.world_seed, clip_seconds=min(clip, shortest / 2))
    backgrounds = data.get(
        "synthetic-backgrounds", n_clips=params.n_backgrounds, seed=params.world_seed,
        duration=max(10.0, 2.0 * clip), sample_rate=rate,
    )  # fmt: skip
    return BgKnownBuilder(foregrounds, backgrounds, seed=params.world_seed)


def bgknown_protocol(params: Params) -> BgKnownProtocol:
    """The paper's BgKnown protocol (Sec. 5.2) with the epochs, patience and probe seeds of ``params``."""
    return BgKnownProtocol(max_epochs=params.bgknown_max_epochs, patience=params.bgknown_patience,
                           probe_seeds=tuple(range(params.n_bgknown_probe_seeds)))  # fmt: skip


def text_encoder_factory(params: Params, config: RetrievalConfig) -> TextEncoderFactory:
    """The sentence encoder of the retrieval: the small one pretrained once and frozen (the paper freezes
    its text encoder, Sec. 5.3), the small one trained with the adapter, or frozen local DistilBERT."""
    if params.text_encoder == "distilbert":
        encoder = load_distilbert()
        return lambda texts: encoder
    if params.text_encoder == "frozen":
        return frozen_small_text_encoder(config.text_dim)
    return small_text_encoder(config.text_dim)


def probe_config(params: Params) -> LinearEvalConfig:
    return LinearEvalConfig(max_epochs=params.max_epochs, patience=params.patience)


def general_datasets(params: Params) -> dict[str, AudioDataset]:
    return {
        task: data.get("synthetic", task=task, n_clips=params.n_general_clips, seed=params.world_seed)
        for task in params.general_tasks
    }


@dataclass
class Evaluation:
    """Every score of one pre-trained encoder."""

    bgknown: dict[str, BgKnownScores]
    retrieval: RetrievalResult
    general: dict[str, LinearEvalResult]
    difference_points: np.ndarray
    """2-D PCA projection of every item's ``y_diff`` (100 % reference), for the picture."""


def evaluate(
    encoder: AudioNTT2020, params: Params, builder: BgKnownBuilder, pairs: ModifierPairs,
    general: Mapping[str, AudioDataset],
) -> Evaluation:  # fmt: skip
    """BgKnown, retrieval and general linear evaluation of one frozen encoder."""
    seeds = tuple(range(params.n_probe_seeds))
    config = probe_config(params)
    tables = bgknown_embeddings(encoder, builder, progress=False)
    protocol = bgknown_protocol(params)
    bgknown = {column: probe_bgknown(tables[column], protocol) for column in BGKNOWN_COLUMNS}
    retrieval_config = RetrievalConfig(epochs=params.retrieval_epochs)
    retrieval = modifier_retrieval(
        embed_waveforms(encoder, pairs.query_audio, pairs.sample_rate),
        embed_waveforms(encoder, pairs.gallery_audio, pairs.sample_rate),
        pairs, text_encoder_factory(params, retrieval_config), retrieval_config,
        seeds=tuple(range(params.n_adapter_seeds)),
    )  # fmt: skip
    # No embedding cache: its key would render every clip once more for the ids, and a finished run
    # directory already keeps the scores.
    general_scores = {
        task: linear_evaluation(extract_embeddings(encoder, dataset, cache=False, progress=False), seeds=seeds,
                                config=config, protocol=params.protocol)
        for task, dataset in general.items()
    }  # fmt: skip
    return Evaluation(bgknown, retrieval, general_scores, project(tables["diff-100"].features, method="pca"))


# --------------------------------------------------------------------------------------------------
# Result and claims


@dataclass
class DiffBYOLARun(base.Result):
    """Tables per model label (``"λ=0"`` ...), pooled over pre-training seeds, plus what the notebook draws.

    Attributes:
        bgknown: model -> column (``"diff-100"``, ``"diff-50"``, ``"diff-0"``, ``"mix"``) -> (mean, ci95).
        retrieval: model -> k -> (mean, ci95) recall@k; ``retrieval_audio_only``: model -> k -> recall
            of the bare query audio (no text, no adapter).
        general: model -> task -> (mean, ci95).
        histories: model -> pre-training loss curves of its first pre-training seed.
        difference_points: model -> ``(N, 2)`` projection of ``y_diff`` (100 %); ``difference_labels``
            ``(N,)`` the foreground classes, ``class_names`` their names.
        builder: the BgKnown items (to listen to mixture, references and foreground).
    """

    bgknown: dict[str, dict[str, tuple[float, float]]] = field(default_factory=dict)
    retrieval: dict[str, dict[int, tuple[float, float]]] = field(default_factory=dict)
    retrieval_audio_only: dict[str, dict[int, float]] = field(default_factory=dict)
    general: dict[str, dict[str, tuple[float, float]]] = field(default_factory=dict)
    histories: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    difference_points: dict[str, np.ndarray] = field(default_factory=dict)
    difference_labels: np.ndarray | None = None
    class_names: tuple[str, ...] = ()
    builder: BgKnownBuilder | None = None
    bgknown_paired: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    """model -> column -> the paired comparison with λ=0 on the same test items (effect, ci_low, ci_high,
    n, mde, verdict: :meth:`~workbench.evaluation.stats.Comparison.to_dict`)."""
    convergence: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    """model -> pre-training seed -> whether its BYOL loss had flattened when training ended
    (:meth:`~workbench.train.convergence.Plateau.to_dict`: the slope over the last quarter of the epochs)."""

    def still_falling(self) -> list[str]:
        """``"λ=0.5 seed 1"`` for every pre-training whose BYOL loss was still falling at its last epoch."""
        return [f"{model} seed {seed}" for model, seeds in self.convergence.items()
                for seed, plateau in seeds.items() if not plateau["flat"]]  # fmt: skip

    def convergence_lines(self) -> list[str]:
        """Per model and pre-training seed, how much the BYOL loss still fell over the last quarter of
        its epochs, and a caution naming every pre-training that had not flattened."""
        if not self.convergence:
            return []
        lines = ["pre-training BYOL loss: the fall of a line fitted to the last quarter of the epochs, "
                 "relative to its mean (flat under 5 %):"]
        lines += [f"  {model}: " + "; ".join(f"seed {seed} {100 * p['change']:+.1f} %"
                                              + ("" if p["flat"] else " (still falling)") for seed, p in seeds.items())
                  for model, seeds in self.convergence.items()]  # fmt: skip
        falling = self.still_falling()
        if falling:
            lines.append(f"  caution: {', '.join(falling)} had not converged; the claims compare encoders "
                         "that more pre-training would change (raise `epochs`)")  # fmt: skip
        return lines

    def summary(self) -> str:
        def cell(value: tuple[float, float]) -> str:
            return f"{value[0]:.2f}±{value[1]:.2f}"

        lines = [f"recipe: {self.recipe}; pre-training seeds {self.params['pretrain_seeds']}"]
        lines += self.convergence_lines()
        lines.append("BgKnown accuracy: " + " | ".join(BGKNOWN_COLUMNS))
        lines += [f"  {model}: " + " | ".join(cell(row[column]) for column in BGKNOWN_COLUMNS)
                  for model, row in self.bgknown.items()]  # fmt: skip
        for model, row in self.bgknown_paired.items():
            lines.append(f"  {model} - λ=0 on the same items: " + " | ".join(
                f"{column} {row[column]['effect']:+.3f} [{_bound(row[column]['ci_low'])}, {_bound(row[column]['ci_high'])}] "
                f"MDE {_bound(row[column]['mde'], signed=False)}" for column in BGKNOWN_COLUMNS if column in row))  # fmt: skip
        lines.append("retrieval recall: " + " | ".join(f"R@{k}" for k in KS))
        lines += [f"  {model}: " + " | ".join(cell(row[k]) for k in KS) for model, row in self.retrieval.items()]
        tasks = list(self.params["general_tasks"])
        lines.append("general accuracy: " + " | ".join(tasks))
        lines += [f"  {model}: " + " | ".join(cell(row[task]) for task in tasks) for model, row in self.general.items()]
        lines += [f"claim {claim.line()}" for claim in self.claims]
        return "\n".join(lines)


def _bound(value: float | None, signed: bool = True) -> str:
    """A stored interval bound or MDE (None where infinite) as text."""
    if value is None:
        return "unbounded"
    return f"{value:+.3f}" if signed else f"{value:.3f}"


def mean_over(row: Mapping[str, tuple[float, float]], columns: Sequence[str]) -> float:
    return float(np.mean([row[column][0] for column in columns]))


def _averaged(runs: Mapping[str, Sequence[BgKnownScores]], columns: Sequence[str]) -> list[BgKnownScores]:
    """Per pre-training seed, each item's correctness averaged over ``columns`` (the three references)."""
    averaged = []
    for position in range(len(runs[columns[0]])):
        parts = [runs[column][position] for column in columns]
        correct = np.mean([part.correct.astype(float) for part in parts], axis=0)
        averaged.append(BgKnownScores(parts[0].ids, correct, correct.mean(axis=1), parts[0].epochs, parts[0].best_epochs))
    return averaged


def _paper_reference_gain(weight: float) -> float | None:
    """Table 1's gain of the mean of the (a)-(c) references over lambda = 0, as a share (0.0289 at 0.5)."""
    if weight not in PAPER_TABLE1:
        return None
    return (float(np.mean(PAPER_TABLE1[weight][:3])) - float(np.mean(PAPER_TABLE1[0.0][:3]))) / 100


def difference_claims(
    bgknown: Mapping[str, Mapping[str, Sequence[BgKnownScores]]],
    retrieval: Mapping[str, Sequence[RetrievalResult]],
    weights: Sequence[float],
) -> list[base.Claim]:
    """For each lambda > 0 against lambda = 0, through the shared claim statistics:

    - BgKnown (Table 1): each test item's correctness averaged over the three references and over the
      paired runs (pre-training seed x probe seed, matched in order), compared on the SAME items with a
      paired bootstrap (:func:`~workbench.evaluation.bgknown.compare_bgknown`); the detail gives each
      reference's effect and, with two or more pre-training seeds, the paired t over those seeds;
    - retrieval (Table 2): mean recall@1/5/10 per (pre-training seed, adapter seed), paired.

    Without a lambda = 0 model there is nothing to claim.

    Args:
        bgknown: model label -> column -> one :class:`BgKnownScores` per pre-training seed.
        retrieval: model label -> one :class:`RetrievalResult` per pre-training seed.
    """
    if 0.0 not in weights:
        return []
    baseline = model_label(0.0)
    columns = [overlap_name(overlap) for overlap in (1.0, 0.5, 0.0)]
    claims = []
    for weight in weights:
        if weight == 0:
            continue
        model = model_label(weight)
        treated, controlled = _averaged(bgknown[model], columns), _averaged(bgknown[baseline], columns)
        comparison = compare_bgknown(treated, controlled)
        details = []
        for column in columns:
            per_column = compare_bgknown(bgknown[model][column], bgknown[baseline][column])
            details.append(f"{column} {per_column.effect:+.3f} [{per_column.ci_low:+.3f}, {per_column.ci_high:+.3f}] "
                           f"MDE {_bound(per_column.mde, signed=False)}")  # fmt: skip
        seeds = len(treated)
        if seeds >= 2:
            over_seeds = compare_paired([run.mean for run in treated], [run.mean for run in controlled])
            details.append(f"over {seeds} pre-training seeds: {over_seeds.effect:+.3f} "
                           f"[{over_seeds.ci_low:+.3f}, {over_seeds.ci_high:+.3f}] -> {over_seeds.verdict}")  # fmt: skip
        paper_gain = _paper_reference_gain(weight)
        paper = ("higher with λ > 0 (Table 1, mean of the (a) 100 / (b) 50 / (c) 0 % references: "
                 + (f"{np.mean(PAPER_TABLE1[0.0][:3]):.2f} -> {np.mean(PAPER_TABLE1[weight][:3]):.2f} % at λ={weight:g})"
                    if paper_gain is not None else "51.81 % at λ=0, 54.70 % at λ=0.5)"))  # fmt: skip
        claims.append(base.Claim.from_comparison(
            f"BgKnown y_diff accuracy, {model} vs λ=0", paper, comparison,
            measured=f"λ=0 {comparison.control_mean:.3f} -> {model} {comparison.treatment_mean:.3f} "
                     f"({comparison.n} test items, {seeds} pre-training seed{'s' if seeds != 1 else ''})",
            paper_effect=paper_gain, detail="; ".join(details),
        ))  # fmt: skip
        recall = [float(np.mean([result.per_seed[k][i] for k in KS])) for result in retrieval[model]
                  for i in range(len(result.per_seed[KS[0]]))]  # fmt: skip
        base_recall = [float(np.mean([result.per_seed[k][i] for k in KS])) for result in retrieval[baseline]
                       for i in range(len(result.per_seed[KS[0]]))]  # fmt: skip
        recall_comparison = compare_paired(recall, base_recall)
        claims.append(base.Claim.from_comparison(
            f"text-modified retrieval recall, {model} vs λ=0",
            "higher with λ > 0 (Table 2, e.g. Rain R@1 50.23 -> 52.76 %, Traffic 36.86 -> 39.73 % at λ=0.5)",
            recall_comparison,
            measured=f"mean R@1/5/10 {np.mean(base_recall):.3f} -> {np.mean(recall):.3f} "
                     f"({len(recall)} paired pre-training x adapter seeds)",
        ))  # fmt: skip
    return claims


# --------------------------------------------------------------------------------------------------
# The run


def run(params: Params, progress: bool = True) -> DiffBYOLARun:
    """Pre-train every (lambda, seed), evaluate every encoder, and check the paper's claims.

    A finished run directory with the same parameters is read back instead of evaluated again (its
    pre-trainings are re-used in any case, from their own run directories). Torch runs on
    ``params.cpu_threads`` threads meanwhile, and the caller's setting is restored afterwards.
    """
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(params.cpu_threads)
    try:
        return _run(params, progress)
    finally:
        torch.set_num_threads(previous_threads)


def _run(params: Params, progress: bool) -> DiffBYOLARun:
    seed_everything(params.world_seed)
    run_dir = RunDir.open(NAME, params.to_dict(), data=[pretraining_dataset(params), bgknown_builder(params).foregrounds, *general_datasets(params).values()])
    builder = bgknown_builder(params)
    labels = [model_label(weight) for weight in params.difference_weights]
    histories: dict[str, dict[str, list[float]]] = {}
    if run_dir.finished:
        metrics = run_dir.read_metrics()
        arrays = run_dir.load_arrays("difference")
        points = {label: arrays[f"points-{index}"] for index, label in enumerate(labels)}
        histories = metrics["histories"]
        bgknown = {m: {c: tuple(v) for c, v in row.items()} for m, row in metrics["bgknown"].items()}
        retrieval = {m: {int(k): tuple(v) for k, v in row.items()} for m, row in metrics["retrieval"].items()}
        audio_only = {m: {int(k): v for k, v in row.items()} for m, row in metrics["retrieval_audio_only"].items()}
        general = {m: {t: tuple(v) for t, v in row.items()} for m, row in metrics["general"].items()}
        difference_labels = arrays["labels"]
        claims = [base.Claim.from_dict(claim) for claim in metrics["claims"]]
        paired = {model: {column: row[column] for column in BGKNOWN_COLUMNS if column in row}
                  for model, row in metrics.get("bgknown_paired", {}).items()}  # fmt: skip
        convergence = metrics.get("pretraining_convergence", {})
    else:
        run_dir.log("start", params=params.to_dict())
        frontend = recipe_frontend(params)
        clips = None
        pairs = synthetic_modifier_pairs(
            SceneDataset(seed=params.world_seed, n_clips=params.n_retrieval_scenes, duration=SCENE_SECONDS),
            n_distractors=params.n_distractors, seed=params.world_seed,
        )  # fmt: skip
        general_sets = general_datasets(params)
        evaluations: dict[str, list[Evaluation]] = {}
        convergence: dict[str, dict[str, dict[str, Any]]] = {}
        for weight, label in zip(params.difference_weights, labels):
            for seed in params.pretrain_seeds:
                pretrained_dir = RunDir.open(PRETRAIN_NAME, pretraining_params(params, weight, seed), data=pretraining_dataset(params))
                if clips is None and not pretrained_dir.finished:
                    clips = log_mel_clips(pretraining_dataset(params), frontend, params.unit_frames)
                pretrained = pretrain(params, weight, seed, clips, progress=progress)
                histories.setdefault(label, pretrained.history)
                plateau = loss_plateau(pretrained.history["byol_loss"])
                convergence.setdefault(label, {})[str(seed)] = plateau.to_dict()
                run_dir.log("pretrained", model=label, seed=seed, byol_loss=plateau.line())
                if not plateau.flat:
                    warnings.warn(
                        f"diff_byola: the BYOL loss of {label} seed {seed} was still falling when pre-training "
                        f"ended ({plateau.line()}); raise `epochs` (now {params.epochs}) before trusting the comparison",
                        stacklevel=3,  # at the caller of run(): the notebook cell or script
                    )
                evaluations.setdefault(label, []).append(
                    evaluate(pretrained.encoder, params, builder, pairs, general_sets)
                )
                run_dir.log("evaluated", model=label, seed=seed)
        bgknown = {label: {column: mean_confidence_interval([float(a) for e in runs for a in e.bgknown[column].accuracy])
                           for column in BGKNOWN_COLUMNS}
                   for label, runs in evaluations.items()}  # fmt: skip
        retrieval = {
            label: {k: mean_confidence_interval([v for e in runs for v in e.retrieval.per_seed[k]]) for k in KS}
            for label, runs in evaluations.items()
        }
        audio_only = {label: {k: float(np.mean([e.retrieval.audio_only[k] for e in runs])) for k in KS}
                      for label, runs in evaluations.items()}  # fmt: skip
        general = {label: {task: pooled([e.general[task] for e in runs]) for task in params.general_tasks}
                   for label, runs in evaluations.items()}  # fmt: skip
        points = {label: runs[0].difference_points for label, runs in evaluations.items()}
        difference_labels = np.asarray(builder.foregrounds.targets())
        run_dir.save_arrays(
            "difference", labels=difference_labels, **{f"points-{i}": points[label] for i, label in enumerate(labels)}
        )
        paired = {
            label: {column: compare_bgknown([e.bgknown[column] for e in runs],
                                            [e.bgknown[column] for e in evaluations[model_label(0.0)]]).to_dict()
                    for column in BGKNOWN_COLUMNS}
            for label, runs in evaluations.items() if label != model_label(0.0) and model_label(0.0) in evaluations
        }  # fmt: skip
        claims = difference_claims(
            {label: {column: [e.bgknown[column] for e in runs] for column in BGKNOWN_COLUMNS}
             for label, runs in evaluations.items()},
            {label: [e.retrieval for e in runs] for label, runs in evaluations.items()},
            params.difference_weights,
        )  # fmt: skip
    metrics = {
        "bgknown": bgknown, "retrieval": {m: {str(k): v for k, v in row.items()} for m, row in retrieval.items()},
        "retrieval_audio_only": {m: {str(k): v for k, v in row.items()} for m, row in audio_only.items()},
        "general": general, "histories": histories, "claims": [dataclasses.asdict(claim) for claim in claims],
        "bgknown_paired": paired, "pretraining_convergence": convergence,
    }  # fmt: skip
    if not run_dir.finished:
        run_dir.write_metrics(metrics)
        run_dir.log("finished")
    return DiffBYOLARun(
        recipe=NAME, params=params.to_dict(), run_dir=run_dir.path, metrics=metrics, claims=claims,
        bgknown=bgknown, retrieval=retrieval, retrieval_audio_only=audio_only, general=general,
        histories=histories, difference_points=points, difference_labels=difference_labels,
        class_names=tuple(builder.classes), builder=builder, bgknown_paired=paired, convergence=convergence,
    )  # fmt: skip
