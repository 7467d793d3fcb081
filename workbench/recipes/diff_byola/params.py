"""The recipe's parameters and constants: :class:`Params` with its checks, the names of the run and of
its pre-trainings, and how tables name each pre-trained encoder."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from workbench.errors import ParameterError
from workbench.evaluation.linear import PROTOCOLS
from workbench.recipes import base

NAME = "diff_byola"
CODE_VERSION = 1
"""The version of this recipe's computation; it enters every run id and cache key of the recipe, its sub-runs
included. Bump it (one line) when a change of code changes what a run computes from the same parameters and
data, so that finished runs are computed again instead of read back (README, "When to bump a code version")."""
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


@dataclass(frozen=True)
class Params(base.Params):
    recipe: ClassVar[str] = NAME

    world_seed: int = 0  # seed of the synthetic world (classes and clips)
    pretrain_dataset: str = "synthetic"  # unlabeled pre-training audio: a name from workbench.data.names()
    pretrain_tasks: tuple[str, ...] = ("event", "word", "pitch")  # synthetic pre-training: clip families mixed
    n_pretrain_clips: int = 64  # pre-training clips (per task for the synthetic world)
    data_root: str = ""  # data root of a real pre-training dataset, or the folder of pretrain_dataset="folder"
    channels: int = 8  # AudioNTT2020 convolution channels (64 in BYOL-A)
    embedding_dim: int = 128  # representation size d (512 / 1024 / 2048 in BYOL-A)
    projection_dim: int = 64  # BYOL projection size (256 in BYOL-A)
    hidden_dim: int = 256  # hidden width of projector and predictors (4096 in BYOL-A)
    difference_weights: tuple[float, ...] = (0.0, 0.5)  # lambda of each pre-training; 0 is plain BYOL-A
    pretrain_seeds: tuple[int, ...] = (0, 1, 2)  # one pre-training per seed and lambda; claims pair lambdas over seeds
    max_seeds: int = 0  # 0: exactly pretrain_seeds; N >= 3: add seeds one at a time until the headline claim is settled, N at most
    epochs: int = 80  # pre-training epochs
    batch_size: int = 32  # pre-training batch size (256 in BYOL-A)
    learning_rate: float = 1e-3  # Adam learning rate (3e-4 in BYOL-A)
    lr_schedule: str = "cosine"  # pre-training learning rate: constant (BYOL-A, the paper) | cosine (annealed to 0)
    ema_decay: float = 0.99  # target network moving-average decay
    mixing: str = "normalized"  # difference-branch mix: normalized (the paper's formula) | power (mel power)
    augmentation: str = "v1"  # BYOL-A augmentations: v1 (mixup + random resize crop) | v2 (+ linear fader)
    memory_size: int = 512  # mixup memory of past log-mels (2048 in v1, 512 in v2)
    unit_frames: int = 32  # frames per pre-training crop (96 = 0.96 s in BYOL-A)
    bgknown_dataset: str = "synthetic"  # labelled clips of BgKnown: synthetic events, or e.g. esc50
    bgknown_root: str = ""  # data root of a real BgKnown dataset ("" = default)
    n_bgknown_clips: int = 300  # labelled clips mixed over backgrounds (synthetic: how many to render)
    n_backgrounds: int = 20  # 10-s background textures the crops come from
    n_retrieval_scenes: int = 120  # scenes, one text-modified query each
    n_distractors: int = 2  # gallery distractors per query: the scene with another event class
    text_encoder: str = "frozen"  # frozen (small, pretrained once, frozen as the paper's) | small (trained) | distilbert
    retrieval_epochs: int = 150  # adapter training steps (full batch)
    general_tasks: tuple[str, ...] = ("event", "speaker", "word", "pitch")  # Table-3 style tasks
    n_general_clips: int = 160  # clips per general task
    n_probe_seeds: int = 1  # seeds of every general-task linear probe (scores pool folds x seeds)
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
    n_mels: int = 32  # log-mel bins (BYOL-A and the paper: 64; a multiple of 8, the encoder's pooling)
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
            ("n_pretrain_clips", "n_mels", "channels", "embedding_dim", "projection_dim", "hidden_dim", "epochs",
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
        if self.max_seeds:
            self._check_seed_budget()
        if self.n_mels % 8:
            raise ParameterError(f"parameter 'n_mels' must be a multiple of 8 (the encoder pools the mel axis 8-fold), got {self.n_mels}")
        if self.f_min >= self.f_max:
            raise ParameterError(f"parameter 'f_min' ({self.f_min}) must lie below 'f_max' ({self.f_max})")

    def _check_seed_budget(self) -> None:
        """``max_seeds`` decides the headline claim (the first lambda > 0 against lambda = 0) sequentially:
        it needs both sides and the 3 seeds the confidence sequence needs before its first look."""
        if self.max_seeds < base.seeding.MIN_SEEDS:
            raise ParameterError(
                f"parameter 'max_seeds' must be 0 (train exactly pretrain_seeds) or at least "
                f"{base.seeding.MIN_SEEDS} (the seeds the confidence sequence needs before its first look), got {self.max_seeds}"
            )  # fmt: skip
        if 0.0 not in self.difference_weights or not any(weight > 0 for weight in self.difference_weights):
            raise ParameterError(
                "parameter 'max_seeds' adds seeds until the claim 'lambda > 0 beats lambda = 0' is settled: "
                f"difference_weights must hold 0 and a lambda > 0, got {list(self.difference_weights)} "
                "(or set max_seeds: 0)"
            )  # fmt: skip


def model_label(weight: float) -> str:
    """How tables name the encoder pre-trained with ``lambda = weight``: ``"λ=0"``, ``"λ=0.5"``."""
    return f"λ={weight:g}"
