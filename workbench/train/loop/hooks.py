"""What a recipe plugs into the :class:`~workbench.train.loop.Trainer`: its ``step_fn``, ``eval_fn`` and
hooks."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn

StepFn = Callable[[nn.Module, Any], tuple[torch.Tensor, Mapping[str, float]]]
"""``step_fn(model, batch) -> (loss, metrics)``: a scalar loss to minimise and floats to average per epoch."""
EvalFn = Callable[[nn.Module, int], Mapping[str, float]]
"""``eval_fn(model, epoch) -> metrics``, run on rank 0 after each epoch with the model in eval mode."""


class TrainerHook:
    """Base of trainer hooks; override the methods you need. Every process calls them.

    ``model`` is the unwrapped module (not the DDP wrapper), so hooks may reach its submodules.
    A hook with state (e.g. a momentum schedule) returns it from ``state_dict`` (tensors, numbers,
    strings, containers of them) so checkpoints carry it and resumed runs continue exactly.
    """

    def before_epoch(self, model: nn.Module, epoch: int) -> None:
        """Before epoch ``epoch`` (0-based) starts."""

    def after_step(self, model: nn.Module, step: int) -> None:
        """After optimizer step ``step`` (1-based count of steps so far), e.g. an EMA update."""

    def after_epoch(self, model: nn.Module, epoch: int, metrics: Mapping[str, float]) -> None:
        """After epoch ``epoch`` and its evaluation, before the checkpoint is written."""

    def state_dict(self) -> dict[str, Any] | None:
        return None

    def load_state_dict(self, state: dict[str, Any]) -> None:
        del state
