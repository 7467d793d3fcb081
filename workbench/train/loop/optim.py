"""The optimiser and the per-step learning-rate schedule a :class:`~workbench.train.loop.TrainConfig` names
(constant, cosine, warm-up + cosine, step, warm-up + step)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR

from workbench.train.loop.config import TrainConfig


def optimizer_from_config(
    params: Iterable[torch.Tensor] | Iterable[dict[str, Any]], config: TrainConfig
) -> Optimizer:
    """The optimiser ``config.optimizer`` over ``params`` (tensors or param-group dicts)."""
    if config.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=config.lr, betas=config.betas, weight_decay=config.weight_decay)
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr, betas=config.betas, weight_decay=config.weight_decay)
    return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)


def warmup_step_factor(config: TrainConfig, epoch: int) -> float:
    """The ``"warmup_step"`` learning-rate factor of ``epoch`` (0-based; formula in :class:`TrainConfig`)."""
    if epoch < len(config.warmup_factors):
        return config.warmup_factors[epoch]
    peak = config.warmup_factors[-1] if config.warmup_factors else 1.0
    return max(config.min_factor, peak * config.step_gamma ** (epoch // config.step_epochs))


def scheduler_from_config(optimizer: Optimizer, config: TrainConfig, steps_per_epoch: int) -> LambdaLR:
    """A per-optimizer-step schedule (call ``.step()`` after every ``optimizer.step()``): the factor of
    ``config.schedule`` (formulas in :class:`TrainConfig`) times each group's initial learning rate.

    Raises:
        ValueError: ``steps_per_epoch`` is not positive.
    """
    if steps_per_epoch < 1:
        raise ValueError(f"steps_per_epoch must be at least 1, got {steps_per_epoch}")
    total_steps = config.epochs * steps_per_epoch
    warmup_steps = round(config.warmup_epochs * steps_per_epoch) if config.schedule == "warmup_cosine" else 0

    def factor(step: int) -> float:
        if config.schedule == "constant":
            return 1.0
        if config.schedule == "step":
            return config.step_gamma ** ((step // steps_per_epoch) // config.step_epochs)
        if config.schedule == "warmup_step":
            return warmup_step_factor(config, step // steps_per_epoch)
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
        return 0.5 * (1.0 + math.cos(math.pi * progress))

    return LambdaLR(optimizer, factor)
