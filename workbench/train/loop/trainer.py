"""The :class:`Trainer`: the epoch loop, one optimizer step (mixed precision, clipping, schedule), the
per-epoch evaluation and logging, and data parallelism under ``torchrun``; checkpoints and resume come
from :mod:`~workbench.train.loop.checkpoint`."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import torch
from torch import nn
from torch.optim.lr_scheduler import LambdaLR
from workbench.progress import epoch_bars_shown, tqdm

from workbench.train.distributed import DistributedContext
from workbench.train.loop.checkpoint import TrainerCheckpoints, _loader_generators
from workbench.train.loop.config import TrainConfig
from workbench.train.loop.device import autocast_dtype, move_to_device
from workbench.train.loop.history import History
from workbench.train.loop.hooks import EvalFn, StepFn, TrainerHook
from workbench.train.loop.optim import optimizer_from_config, scheduler_from_config
from workbench.train.rundir import RunDir
from workbench.train.seed import seed_everything

_RESERVED_NAMES = ("epoch", "lr", "loss", "grad_norm", "step", "time", "event")
"""What the trainer records or logs itself; step_fn and eval_fn metrics must be named otherwise."""


class Trainer(TrainerCheckpoints):
    """Trains ``model`` by minimising ``step_fn``'s loss over a data loader, epoch by epoch.

    Args:
        model: the module to train; moved to the context's device. Its parameters with
            ``requires_grad`` are optimised (freeze a target network by turning that off).
        step_fn: ``step_fn(model, batch) -> (loss, metrics)``. ``model`` is the DDP wrapper under
            ``torchrun``: call it (``model(inputs)``) for every forward that needs gradients, because
            calling its submodules directly would bypass DDP's gradient averaging. The batch arrives with
            its tensors on the device; autocast is active when mixed precision is on.
        config: the :class:`TrainConfig`.
        run_dir: where to log, checkpoint and resume from (pass it on every process); None trains in
            memory only.
        context: the :class:`DistributedContext`; default one read from the environment (single process
            when no ``torchrun`` variables are set). Initialised here.
        eval_fn: ``eval_fn(model, epoch) -> metrics`` on rank 0 after each epoch (unwrapped model, eval
            mode, gradients enabled so it may fit a probe); its metrics join the epoch's record on every
            process.
        hooks: :class:`TrainerHook` objects (or any objects with some of its methods).
        progress: show a ``tqdm`` bar per epoch on rank 0.
        keep_checkpoints: how many checkpoints the run directory keeps.
        ddp_options: keyword arguments for ``DistributedDataParallel`` under ``torchrun``. Without
            ``find_unused_parameters``, the first step runs with it on and the trainer keeps it only when
            that step left some trainable parameter without a gradient (a model whose forward skips
            parameters only in later steps must pass ``{"find_unused_parameters": True}``).
    """

    def __init__(
        self,
        model: nn.Module,
        step_fn: StepFn,
        config: TrainConfig,
        run_dir: RunDir | None = None,
        context: DistributedContext | None = None,
        eval_fn: EvalFn | None = None,
        hooks: Sequence[TrainerHook | Any] = (),
        progress: bool = True,
        keep_checkpoints: int = 2,
        ddp_options: Mapping[str, Any] | None = None,
    ):
        self.config = config
        self.context = (context if context is not None else DistributedContext()).init()
        self.device = self.context.device
        self.model = model.to(self.device)
        self.step_fn = step_fn
        self.eval_fn = eval_fn
        self.hooks = list(hooks)
        self.run_dir = run_dir
        self.progress = progress
        self.keep_checkpoints = keep_checkpoints
        trainable = [parameter for parameter in self.model.parameters() if parameter.requires_grad]
        if not trainable:
            raise ValueError(f"{type(model).__name__} has no parameters with requires_grad=True to train")
        self.optimizer = optimizer_from_config(trainable, config)
        self.autocast_dtype = autocast_dtype(config.mixed_precision, self.device)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.autocast_dtype == torch.float16)
        self.ddp_options = dict(ddp_options or {})
        # Unless the caller says, DDP starts out finding unused parameters (a classifier trained through
        # one head of a bigger module leaves the rest without gradients, which DDP refuses otherwise);
        # after the first step shows every parameter used, it is rewrapped without the per-step search.
        self._probe_unused = self.context.is_distributed and "find_unused_parameters" not in self.ddp_options
        if self._probe_unused:
            self.ddp_options["find_unused_parameters"] = True
        self.training_model = self.context.wrap(self.model, **self.ddp_options)
        """The model as ``step_fn`` gets it: the DDP wrapper under ``torchrun``, else :attr:`model`."""
        self.scheduler: LambdaLR | None = None
        self.steps_per_epoch: int | None = None
        self.epoch = 0
        """Epochs completed."""
        self.step = 0
        """Optimizer steps taken."""
        self.history = History()
        self._at_epoch_boundary = True

    # --- public ------------------------------------------------------------------------------------

    def fit(self, train_loader: Iterable[Any]) -> History:
        """Train until ``config.epochs`` epochs are done, resuming from the run directory's latest
        checkpoint when there is one, and return the per-epoch history (also when nothing was left to do).

        Raises:
            ValueError: the loader has no length or is empty, or ``step_fn`` returned something other
                than ``(scalar loss tensor, dict of floats)``.
            CheckpointError: the checkpoint to resume from is unreadable or was written with a different
                model, config or loader length.
            FloatingPointError: the epoch's mean loss is NaN or infinite.
            RuntimeError: a previous ``fit`` of this trainer stopped mid-epoch and there is no checkpoint
                to go back to.
        """
        steps_per_epoch = self._steps_in(train_loader)
        if self.scheduler is None:
            self.scheduler = scheduler_from_config(self.optimizer, self.config, steps_per_epoch)
            self.steps_per_epoch = steps_per_epoch
        elif steps_per_epoch != self.steps_per_epoch:
            raise ValueError(
                f"this trainer was fitted with {self.steps_per_epoch} steps per epoch, the loader now has "
                f"{steps_per_epoch}; use a new Trainer for a different loader"
            )
        generators = _loader_generators(train_loader)
        checkpoint = self.run_dir.latest_checkpoint() if self.run_dir is not None else None
        if checkpoint is not None:
            self._restore(checkpoint, generators)
        elif not self._at_epoch_boundary:
            raise RuntimeError(
                "a previous fit() stopped mid-epoch and there is no checkpoint to resume from; "
                "construct a new Trainer (and model), or pass a run_dir to make training resumable"
            )
        elif self.step == 0:
            seed_everything(self.config.seed + self.context.rank, deterministic=self.config.deterministic)

        self._log(
            "fit_start", epoch=self.epoch, step=self.step, resumed_from=str(checkpoint or ""),
            world_size=self.context.world_size, device=str(self.device),
        )
        try:
            for epoch in range(self.epoch, self.config.epochs):
                self._run_epoch(epoch, train_loader, generators)
        except BaseException as error:
            self._log("interrupted", epoch=self.epoch, step=self.step, error=f"{type(error).__name__}: {error}")
            raise
        self._log("fit_end", epoch=self.epoch, step=self.step)
        return self.history

    # --- one epoch ---------------------------------------------------------------------------------

    def _run_epoch(self, epoch: int, train_loader: Iterable[Any], generators: list[torch.Generator]) -> None:
        self._call_hooks("before_epoch", self.model, epoch)
        sampler = getattr(train_loader, "sampler", None)
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(epoch)  # DistributedSampler reshuffles per epoch from seed + epoch
        self._at_epoch_boundary = False
        self.training_model.train()
        loss_sum = torch.zeros((), dtype=torch.float64, device=self.device)
        grad_norm_sum = torch.zeros((), dtype=torch.float64, device=self.device)
        metric_sums: dict[str, float] = {}
        steps = 0
        learning_rate = self.optimizer.param_groups[0]["lr"]
        bar = tqdm(
            train_loader,
            total=self.steps_per_epoch,
            desc=f"epoch {epoch + 1}/{self.config.epochs}",
            disable=not (self.progress and self.context.is_main and epoch_bars_shown(self.config.epochs)),
            leave=False,
            dynamic_ncols=True,
        )
        for batch in bar:
            learning_rate = self.optimizer.param_groups[0]["lr"]
            loss, metrics, grad_norm = self._train_step(batch)
            steps += 1
            loss_sum += loss.detach().to(torch.float64)
            if grad_norm is not None:
                grad_norm_sum += grad_norm.detach().to(torch.float64)
            for name, value in metrics.items():
                metric_sums[name] = metric_sums.get(name, 0.0) + value
            self._call_hooks("after_step", self.model, self.step)
            if self.config.log_every and self.step % self.config.log_every == 0 and self.context.is_main:
                step_loss = loss.item()
                bar.set_postfix(loss=f"{step_loss:.4g}", refresh=False)
                self._log("step", epoch=epoch, step=self.step, loss=step_loss, lr=learning_rate, **metrics)
        bar.close()

        local = {name: total / steps for name, total in metric_sums.items()}
        local["loss"] = loss_sum.item() / steps
        if self.config.grad_clip is not None:
            local["grad_norm"] = grad_norm_sum.item() / steps
        record: dict[str, float] = {"epoch": epoch, "lr": learning_rate, **self.context.all_reduce_mean(local)}
        if not math.isfinite(record["loss"]):
            raise FloatingPointError(
                f"the mean training loss of epoch {epoch} is {record['loss']}; lower lr, set grad_clip, "
                f"or check the data for NaN/Inf"
            )
        record.update(self._evaluate(epoch, record))
        self._call_hooks("after_epoch", self.model, epoch, dict(record))
        self.history.epochs.append(record)
        self.epoch = epoch + 1
        self._at_epoch_boundary = True
        self._log("epoch", **record)
        is_last = self.epoch == self.config.epochs
        if is_last or self.epoch % self.config.checkpoint_every == 0:
            self._save_checkpoint(generators)

    def _train_step(self, batch: Any) -> tuple[torch.Tensor, dict[str, float], torch.Tensor | None]:
        batch = move_to_device(batch, self.device)
        self.optimizer.zero_grad(set_to_none=True)
        with torch.autocast(self.device.type, dtype=self.autocast_dtype, enabled=self.autocast_dtype is not None):
            output = self.step_fn(self.training_model, batch)
        loss, metrics = self._check_step_output(output)
        self.scaler.scale(loss).backward()
        if self._probe_unused:
            self._settle_unused_parameters()
        grad_norm = None
        if self.config.grad_clip is not None:
            self.scaler.unscale_(self.optimizer)  # clip the true gradients, not the fp16-scaled ones
            grad_norm = nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        self.step += 1
        return loss, metrics, grad_norm

    def _settle_unused_parameters(self) -> None:
        """After the first backward under DDP: keep ``find_unused_parameters`` when some trainable parameter
        got no gradient on any process (DDP leaves those None everywhere), else rewrap without it."""
        self._probe_unused = False
        trainable = [parameter for parameter in self.model.parameters() if parameter.requires_grad]
        unused = sum(parameter.grad is None for parameter in trainable)
        self._log("ddp_unused_parameters", unused=unused, trainable=len(trainable))
        if unused == 0:
            self.ddp_options["find_unused_parameters"] = False
            self.training_model = self.context.wrap(self.model, **self.ddp_options)

    @staticmethod
    def _check_step_output(output: Any) -> tuple[torch.Tensor, dict[str, float]]:
        if not (isinstance(output, tuple) and len(output) == 2):
            raise ValueError(f"step_fn must return (loss, metrics), got {type(output).__name__}")
        loss, metrics = output
        if not isinstance(loss, torch.Tensor):
            raise ValueError(f"step_fn's loss must be a scalar tensor that requires grad, got {type(loss).__name__}")
        if loss.ndim != 0 or not loss.requires_grad:
            raise ValueError(
                f"step_fn's loss must be a scalar tensor that requires grad, got shape {tuple(loss.shape)} "
                f"with requires_grad={loss.requires_grad}"
            )
        if not isinstance(metrics, Mapping):
            raise ValueError(f"step_fn's metrics must be a dict of name -> float, got {type(metrics).__name__}")
        reserved = set(_RESERVED_NAMES) & set(metrics)
        if reserved:
            raise ValueError(f"step_fn's metrics may not be named {sorted(reserved)}: the trainer records those")
        return loss, {name: float(value) for name, value in metrics.items()}

    def _evaluate(self, epoch: int, record: Mapping[str, float]) -> dict[str, float]:
        if self.eval_fn is None:
            return {}
        results: dict[str, float] | None = None
        if self.context.is_main:
            self.model.eval()
            try:
                results = {name: float(value) for name, value in self.eval_fn(self.model, epoch).items()}
            finally:
                self.model.train()
            clash = set(results) & (set(record) | set(_RESERVED_NAMES))
            if clash:
                raise ValueError(f"eval_fn's metrics {sorted(clash)} clash with training metrics; rename them")
        return self.context.broadcast_object(results)

    # --- helpers -----------------------------------------------------------------------------------

    def _steps_in(self, train_loader: Iterable[Any]) -> int:
        try:
            steps = len(train_loader)  # type: ignore[arg-type]
        except TypeError:
            raise ValueError(
                "the training loader must have a length (a map-style dataset, or an iterable one with "
                "__len__): the schedule and resume need steps per epoch"
            ) from None
        if steps == 0:
            raise ValueError(
                "the training loader is empty: no batches (a dataset smaller than one batch with drop_last?)"
            )
        return steps

    def _call_hooks(self, method: str, *arguments: Any) -> None:
        for hook in self.hooks:
            callback = getattr(hook, method, None)
            if callback is not None:
                callback(*arguments)

    def _log(self, event: str, **fields: Any) -> None:
        if self.run_dir is not None and self.context.is_main:
            self.run_dir.log(event, **fields)
