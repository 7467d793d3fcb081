"""Checkpoints and exact resume: what a :class:`~workbench.train.loop.Trainer` saves after an epoch (model,
optimiser, schedule, scaler, counters, history, hook states, every process's RNG states and the data
loader's generators) and how it restores them."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

import torch

from workbench.errors import CheckpointError
from workbench.train.loop.history import History
from workbench.train.rundir import plain
from workbench.train.seed import rng_state, set_rng_state

CHECKPOINT_FORMAT = "workbench.train.Trainer/1"
_BOOKKEEPING_FIELDS = ("checkpoint_every", "log_every")
"""TrainConfig fields that do not change the trained weights; a resumed run may change them."""


def _loader_generators(loader: Iterable[Any]) -> list[torch.Generator]:
    """The torch generators that decide a DataLoader's order and worker seeds, without duplicates."""
    candidates = [
        getattr(loader, "generator", None),
        getattr(getattr(loader, "sampler", None), "generator", None),
        getattr(getattr(getattr(loader, "batch_sampler", None), "sampler", None), "generator", None),
    ]
    found: list[torch.Generator] = []
    for candidate in candidates:
        if isinstance(candidate, torch.Generator) and all(candidate is not other for other in found):
            found.append(candidate)
    return found


class TrainerCheckpoints:
    """The part of :class:`~workbench.train.loop.Trainer` that writes checkpoints and resumes from them (the
    trainer sets the model, optimiser, scheduler, scaler, counters, history, hooks, context and run_dir)."""

    # --- checkpoints -------------------------------------------------------------------------------

    def _save_checkpoint(self, generators: list[torch.Generator]) -> None:
        # Every process's RNG state, so a resumed multi-process run draws what the uninterrupted one would.
        rng_states = self.context.gather_object(rng_state())
        if self.run_dir is None or not self.context.is_main:
            return
        state = {
            "format": CHECKPOINT_FORMAT,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "epoch": self.epoch,
            "step": self.step,
            "steps_per_epoch": self.steps_per_epoch,
            "history": [dict(record) for record in self.history.epochs],
            "config": plain(dataclasses.asdict(self.config)),
            "rng": rng_states,
            "generators": [generator.get_state() for generator in generators],
            "hooks": [hook.state_dict() if hasattr(hook, "state_dict") else None for hook in self.hooks],
        }
        path = self.run_dir.save_checkpoint(state, self.step, keep_last=self.keep_checkpoints)
        self._log("checkpoint", epoch=self.epoch, step=self.step, path=path.name)

    def _restore(self, path: Any, generators: list[torch.Generator]) -> None:
        state = self.run_dir.load_checkpoint(path)
        if state.get("format") != CHECKPOINT_FORMAT:
            raise CheckpointError(
                f"checkpoint {path} has format {state.get('format')!r}, expected {CHECKPOINT_FORMAT!r}: "
                f"it was not written by Trainer"
            )
        saved_config = state["config"]
        current_config = plain(dataclasses.asdict(self.config))
        differing = sorted(
            name for name in current_config
            if name not in _BOOKKEEPING_FIELDS and saved_config.get(name) != current_config[name]
        )
        if differing:
            raise CheckpointError(
                f"checkpoint {path} was trained with a different TrainConfig ({', '.join(differing)}); "
                f"use a new run directory for new settings"
            )
        if state["steps_per_epoch"] != self.steps_per_epoch:
            raise CheckpointError(
                f"checkpoint {path} was trained with {state['steps_per_epoch']} steps per epoch, the loader "
                f"now has {self.steps_per_epoch} (different dataset size, batch size or world size)"
            )
        if len(state["generators"]) != len(generators):
            raise CheckpointError(
                f"checkpoint {path} holds {len(state['generators'])} data-loader generator states but the "
                f"loader has {len(generators)}; build the loader the way the interrupted run did"
            )
        try:
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            self.scheduler.load_state_dict(state["scheduler"])
            self.scaler.load_state_dict(state["scaler"])  # fails when fp16 scaling was on and now is not
        except (RuntimeError, ValueError, KeyError) as error:
            raise CheckpointError(
                f"checkpoint {path} does not fit this model, optimizer or precision: {error}"
            ) from error
        self.epoch, self.step = state["epoch"], state["step"]
        self.history = History([dict(record) for record in state["history"]])
        for hook, hook_state in zip(self.hooks, state["hooks"], strict=False):
            if hook_state is not None and hasattr(hook, "load_state_dict"):
                hook.load_state_dict(hook_state)
        for generator, generator_state in zip(generators, state["generators"], strict=True):
            generator.set_state(generator_state)
        rng_states = state["rng"]
        # A different world size cannot be exact anyway; rank 0's state keeps the run reproducible.
        same_world = len(rng_states) == self.context.world_size
        set_rng_state(rng_states[self.context.rank] if same_world else rng_states[0])
        if self.config.deterministic:
            torch.use_deterministic_algorithms(True, warn_only=True)
        self._at_epoch_boundary = True
