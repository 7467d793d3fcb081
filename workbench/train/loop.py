"""The training loop every recipe shares: optimiser, schedule, mixed precision, clipping, logging,
checkpoints, exact resume, and data parallelism under ``torchrun``.

A recipe supplies what differs, a ``step_fn(model, batch) -> (loss, metrics)``, and optionally an
``eval_fn(model, epoch) -> metrics`` and hooks (e.g. BYOL's EMA update of the target network in
``after_step``); :class:`Trainer` does the rest::

    config = TrainConfig(epochs=20, lr=3e-4, schedule="warmup_cosine", warmup_epochs=2, seed=params.seed)
    trainer = Trainer(model, step_fn, config, run_dir=RunDir.open("diff_byola", params))
    history = trainer.fit(train_loader)       # resumes from run_dir's latest checkpoint when present
    history["loss"]                           # mean training loss per epoch

Resume is exact on CPU: a run interrupted after any epoch (or mid-epoch, which replays from the last
checkpoint) and fitted again by a fresh ``Trainer`` ends with bit-identical weights and history, because
each checkpoint holds the model, optimiser, schedule, gradient scaler, counters, history, hook states, every
process's Python/NumPy/torch RNG states and the data loader's shuffling generator.

Under ``torchrun`` (see :mod:`workbench.train.distributed`) the same code trains one replica per process:
the model is wrapped in ``DistributedDataParallel``, per-epoch metrics are averaged over processes, and
rank 0 alone evaluates, logs, checkpoints and draws the progress bar. Give the loader
``sampler=context.sampler(dataset, shuffle=True, seed=...)`` so each process reads its own shard.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import torch
from torch import nn
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR
from tqdm.auto import tqdm

from workbench.errors import CheckpointError, UnknownNameError
from workbench.train.distributed import DistributedContext
from workbench.train.rundir import RunDir, plain
from workbench.train.seed import rng_state, seed_everything, set_rng_state

OptimizerName = Literal["adamw", "adam", "sgd"]
ScheduleName = Literal["constant", "cosine", "warmup_cosine", "step", "warmup_step"]
Precision = Literal["auto", "off", "bf16", "fp16"]

StepFn = Callable[[nn.Module, Any], tuple[torch.Tensor, Mapping[str, float]]]
"""``step_fn(model, batch) -> (loss, metrics)``: a scalar loss to minimise and floats to average per epoch."""
EvalFn = Callable[[nn.Module, int], Mapping[str, float]]
"""``eval_fn(model, epoch) -> metrics``, run on rank 0 after each epoch with the model in eval mode."""

CHECKPOINT_FORMAT = "workbench.train.Trainer/1"
_RESERVED_NAMES = ("epoch", "lr", "loss", "grad_norm", "step", "time", "event")
"""What the trainer records or logs itself; step_fn and eval_fn metrics must be named otherwise."""
_BOOKKEEPING_FIELDS = ("checkpoint_every", "log_every")
"""TrainConfig fields that do not change the trained weights; a resumed run may change them."""


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


def autocast_dtype(mixed_precision: Precision, device: torch.device) -> torch.dtype | None:
    """The autocast dtype ``mixed_precision`` means on ``device``, or None for full precision.

    Raises:
        ValueError: ``"bf16"`` on a CUDA device without bfloat16 support.
    """
    if mixed_precision == "off":
        return None
    if mixed_precision == "auto":
        return torch.bfloat16 if device.type == "cuda" and torch.cuda.is_bf16_supported() else None
    if mixed_precision == "bf16":
        if device.type == "cuda" and not torch.cuda.is_bf16_supported():
            raise ValueError(f"mixed_precision='bf16' but {device} does not support bfloat16; use 'fp16' or 'off'")
        return torch.bfloat16
    return torch.float16


def move_to_device(batch: Any, device: torch.device) -> Any:
    """``batch`` with every tensor (inside tuples, lists and dicts too) moved to ``device``."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=device.type == "cuda")
    if isinstance(batch, Mapping):
        return {key: move_to_device(value, device) for key, value in batch.items()}
    if isinstance(batch, (list, tuple)):
        moved = [move_to_device(value, device) for value in batch]
        return type(batch)(moved) if type(batch) in (list, tuple) else moved
    return batch


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


@dataclass
class History:
    """Per-epoch records, each ``{"epoch", "lr", "loss", step_fn metrics..., eval_fn metrics...}``
    (``"grad_norm"`` too when clipping: the mean gradient norm before clipping)."""

    epochs: list[dict[str, float]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.epochs)

    def names(self) -> list[str]:
        return sorted({name for record in self.epochs for name in record})

    def __getitem__(self, name: str) -> list[float]:
        """The values of metric ``name`` over the epochs that recorded it.

        Raises:
            UnknownNameError: no epoch recorded ``name``.
        """
        values = [record[name] for record in self.epochs if name in record]
        if not values:
            raise UnknownNameError("metric", name, self.names())
        return values

    @property
    def last(self) -> dict[str, float]:
        return dict(self.epochs[-1]) if self.epochs else {}


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


class Trainer:
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
        ddp_options: keyword arguments for ``DistributedDataParallel`` under ``torchrun``, e.g.
            ``{"find_unused_parameters": True}`` for a model whose forward skips some parameters.
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
        self.training_model = self.context.wrap(self.model, **(ddp_options or {}))
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
            disable=not (self.progress and self.context.is_main),
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
        grad_norm = None
        if self.config.grad_clip is not None:
            self.scaler.unscale_(self.optimizer)  # clip the true gradients, not the fp16-scaled ones
            grad_norm = nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        self.step += 1
        return loss, metrics, grad_norm

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
