"""How to train, as data: :class:`TrainConfig` (optimiser, learning-rate schedule, precision, clipping,
bookkeeping), checked when it is built."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal, get_args

OptimizerName = Literal["adamw", "adam", "sgd"]
ScheduleName = Literal["constant", "cosine", "warmup_cosine", "step", "warmup_step"]
Precision = Literal["auto", "off", "bf16", "fp16"]


@dataclass(frozen=True)
class TrainConfig:
    """How to train: optimiser, learning-rate schedule, precision, clipping and bookkeeping.

    Args:
        epochs: passes over the training loader.
        optimizer: ``"adamw"``, ``"adam"`` or ``"sgd"``.
        lr: peak learning rate.
        betas: Adam/AdamW moment decay rates.
        weight_decay: decoupled for AdamW, L2 for Adam and SGD.
        momentum: SGD momentum (ignored by Adam/AdamW).
        schedule: learning-rate factor per optimizer step ``s`` of ``T = epochs * steps_per_epoch``:
            ``"constant"`` 1; ``"cosine"`` ``(1 + cos(pi s / T)) / 2``; ``"warmup_cosine"`` linear
            ``(s + 1) / W`` for the first ``W = round(warmup_epochs * steps_per_epoch)`` steps, then
            ``(1 + cos(pi (s - W) / (T - W))) / 2``; ``"step"`` ``step_gamma ** (epoch // step_epochs)``;
            ``"warmup_step"`` (HTS-AT's and CaRE-SEP's, per epoch): ``warmup_factors[epoch]`` for the first
            ``len(warmup_factors)`` epochs, then ``max(min_factor, warmup_factors[-1] * step_gamma **
            (epoch // step_epochs))`` (the last warm-up factor, or 1 without warm-up, decayed every
            ``step_epochs`` epochs counted from the start, never below ``min_factor``).
        warmup_epochs: warm-up length (may be fractional); only for ``"warmup_cosine"``.
        warmup_factors: per-epoch learning-rate factors of the warm-up; only for ``"warmup_step"``
            (CaRE-SEP, Sec. 3.2: ``(0.05, 0.1, 0.2)``).
        min_factor: floor of the ``"warmup_step"`` decay (CaRE-SEP: 0.05).
        step_epochs: epochs between decays of the ``"step"`` schedule.
        step_gamma: decay factor of the ``"step"`` schedule.
        grad_clip: maximum global L2 norm of the gradients, or None for no clipping.
        mixed_precision: ``"auto"`` (bf16 autocast on a CUDA device that supports it, else off),
            ``"off"``, ``"bf16"`` (autocast), or ``"fp16"`` (autocast with a gradient scaler).
        checkpoint_every: save a checkpoint every this many epochs (and always after the last one).
        log_every: write a ``step`` line to the run's log every this many optimizer steps; 0 for none.
        seed: seeds Python, NumPy and torch at the start of a fresh run (``seed + rank`` per process).
        deterministic: ask torch for deterministic kernels (see :func:`seed_everything`).

    Raises:
        ValueError: a field out of range or not one of its allowed values, naming the field.
    """

    epochs: int = 10
    optimizer: OptimizerName = "adamw"
    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 0.0
    momentum: float = 0.9
    schedule: ScheduleName = "constant"
    warmup_epochs: float = 0.0
    step_epochs: int = 10
    step_gamma: float = 0.1
    warmup_factors: tuple[float, ...] = ()
    min_factor: float = 0.0
    grad_clip: float | None = None
    mixed_precision: Precision = "auto"
    checkpoint_every: int = 1
    log_every: int = 50
    seed: int = 0
    deterministic: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "betas", tuple(self.betas))  # YAML and JSON give lists
        object.__setattr__(self, "warmup_factors", tuple(float(value) for value in self.warmup_factors))
        for name, allowed in (
            ("optimizer", get_args(OptimizerName)),
            ("schedule", get_args(ScheduleName)),
            ("mixed_precision", get_args(Precision)),
        ):
            if getattr(self, name) not in allowed:
                raise ValueError(f"TrainConfig.{name} must be one of {list(allowed)}, got {getattr(self, name)!r}")
        for name, minimum in (("epochs", 1), ("step_epochs", 1), ("checkpoint_every", 1), ("log_every", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise ValueError(f"TrainConfig.{name} must be an integer >= {minimum}, got {value!r}")
        if not self.lr > 0:
            raise ValueError(f"TrainConfig.lr must be positive, got {self.lr!r}")
        if len(self.betas) != 2 or not all(0 <= beta < 1 for beta in self.betas):
            raise ValueError(f"TrainConfig.betas must be two numbers in [0, 1), got {self.betas!r}")
        if self.weight_decay < 0 or self.momentum < 0:
            raise ValueError("TrainConfig.weight_decay and TrainConfig.momentum must be non-negative")
        if self.schedule == "warmup_cosine":
            if not 0 <= self.warmup_epochs < self.epochs:
                raise ValueError(
                    f"TrainConfig.warmup_epochs must be in [0, epochs={self.epochs}), got {self.warmup_epochs!r}"
                )
        elif self.warmup_epochs != 0:
            raise ValueError(
                f"TrainConfig.warmup_epochs={self.warmup_epochs!r} only applies to schedule='warmup_cosine', "
                f"not {self.schedule!r}; set it to 0 or change the schedule"
            )
        if self.warmup_factors and self.schedule != "warmup_step":
            raise ValueError(
                f"TrainConfig.warmup_factors={self.warmup_factors!r} only applies to schedule='warmup_step', "
                f"not {self.schedule!r}; leave it empty or change the schedule"
            )
        if not all(0 < value <= 1 for value in self.warmup_factors):
            raise ValueError(f"TrainConfig.warmup_factors must lie in (0, 1], got {self.warmup_factors!r}")
        if not 0 <= self.min_factor <= 1:
            raise ValueError(f"TrainConfig.min_factor must be in [0, 1], got {self.min_factor!r}")
        if not 0 < self.step_gamma <= 1:
            raise ValueError(f"TrainConfig.step_gamma must be in (0, 1], got {self.step_gamma!r}")
        if self.grad_clip is not None and not self.grad_clip > 0:
            raise ValueError(f"TrainConfig.grad_clip must be positive or None, got {self.grad_clip!r}")

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)

