"""Training K seeds of one small model together, as one vectorised model (``torch.func``).

A claim about a training method needs several independent training runs; where the model is small, K
seeds can share one forward and backward pass: their parameters are stacked along a leading seed axis
(:func:`torch.func.stack_module_state`), one forward runs ``functional_call`` under ``vmap``, and one
optimiser step updates all K. :class:`EnsembleTrainer` does this so that each seed trains **exactly as its
sequential run would** (:class:`~workbench.train.loop.Trainer` with ``config.seed = seed``):

- its own initial weights (the K models are built by the caller, each from its seed);
- its own data order: one loader per seed, each with its own generator, iterated inside the seed's streams;
- its own augmentation randomness: every random draw happens outside ``vmap``, in ``prepare(index, batch)``,
  with the global generators (Python, NumPy, torch) swapped to that seed's stream (:class:`SeedStreams`),
  which starts where ``Trainer.fit`` seeds them (``seed_everything(seed)``);
- no random draw inside the model: the forward runs under ``vmap(randomness="error")``, so a model with
  dropout or stochastic depth fails the probe (:func:`why_not_together`) instead of drawing other masks
  than its sequential run would;
- the optimiser state per seed: Adam, AdamW and SGD update element by element, so slice ``k`` of each
  stacked state tensor is seed ``k``'s state (:meth:`EnsembleTrainer.optimizer_state` gives it in the layout
  of a per-model optimiser's ``state_dict``); gradient clipping uses each seed's own norm.

The K losses are summed before ``backward``: seed ``k``'s parameters receive the gradient of its own loss
only. Weights then equal the sequential run's within float tolerance (batched matrix products round
differently from K separate ones), not bit for bit.

What it does not do (:func:`why_not_together` names it, and the caller trains the seeds one after another):
several processes under ``torchrun``, fp16 mixed precision (the gradient scaler would skip a step for all K
when one overflows), models whose forward draws random numbers, and resuming an interrupted group (the
group is cheap by construction; the sequential path keeps exact resume).

Measured on one CPU thread (``python -m benchmarks.run seeds``), the recipes' small models are already
compute-bound at their batch sizes and vectorising K seeds does not make them faster there;
:func:`together_is_faster` says where ``seed_parallel="auto"`` uses it.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Literal

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap
from torch.nn.attention import SDPBackend, sdpa_kernel
from workbench.progress import tqdm

from workbench.train.distributed import DistributedContext
from workbench.train.loop import History, TrainConfig, move_to_device, optimizer_from_config, scheduler_from_config
from workbench.train.loop.checkpoint import CHECKPOINT_FORMAT, _loader_generators
from workbench.train.rundir import plain
from workbench.train.seed import rng_state, seed_everything, set_rng_state

SeedParallel = Literal["auto", "on", "off"]
"""``auto``: train seeds together where it is faster (:func:`together_is_faster`); ``on``: wherever it is
possible; ``off``: always one after another (the reference)."""

VectorStepFn = Callable[["StackedModels", list[Any]], tuple[torch.Tensor, list[dict[str, float]]]]
"""``step_fn(stacked, batches) -> (losses (K,), metrics per seed)``; ``batches[k]`` is seed k's prepared batch."""


class SeedStreams:
    """The global random generators (Python, NumPy, torch) of K seeds, each as ``Trainer.fit`` would seed
    it (``seed_everything(seed)``), swapped in one at a time with :meth:`of`."""

    def __init__(self, seeds: Sequence[int]):
        outer = rng_state()
        self.states = []
        for seed in seeds:
            seed_everything(seed)
            self.states.append(rng_state())
        set_rng_state(outer)

    @contextmanager
    def of(self, index: int) -> Iterator[None]:
        """Run the block with seed ``index``'s generators; its draws advance that seed's stream only."""
        outer = rng_state()
        set_rng_state(self.states[index])
        try:
            yield
        finally:
            self.states[index] = rng_state()
            set_rng_state(outer)


class StackedModels:
    """K models of one architecture as one: parameters and buffers stacked along a leading seed axis.

    Calling it runs every seed's forward at once: ``stacked(inputs)`` with ``inputs`` ``(K, batch, ...)``
    returns the forward's outputs with a leading ``K``. Keyword arguments go to every seed's ``forward``.

    Raises:
        ValueError: fewer than two models, or models whose parameter and buffer names or shapes differ.
    """

    def __init__(self, models: Sequence[nn.Module]):
        if len(models) < 2:
            raise ValueError(f"StackedModels needs at least two models, got {len(models)}")
        shapes = [{name: tuple(tensor.shape) for name, tensor in _tensors(model)} for model in models]
        if any(shape != shapes[0] for shape in shapes[1:]):
            raise ValueError("StackedModels: the models differ in their parameters or buffers; stack one architecture")
        self.count = len(models)
        self.params, self.buffers = stack_module_state(list(models))  # leaves with requires_grad as the models'
        # The template holds the structure only: its tensors live on the meta device and are never read.
        self.template = copy.deepcopy(models[0]).to("meta")
        self.template.train(models[0].training)

    def trainable(self) -> list[torch.Tensor]:
        """The stacked parameters to optimise, in the order of ``models[0].parameters()``."""
        return [tensor for tensor in self.params.values() if tensor.requires_grad]

    def __call__(self, *inputs: torch.Tensor, **options: Any) -> Any:
        def one_seed(params: dict, buffers: dict, *seed_inputs: torch.Tensor) -> Any:
            return functional_call(self.template, (params, buffers), seed_inputs, options)

        with warnings.catch_warnings(), sdpa_kernel(SDPBackend.MATH):
            # The fused attention kernels have no batching rule: vmap would run them once per seed, and its
            # fallback cannot differentiate an attention mask that requires grad (BEATs' relative position
            # bias). The math kernel is plain batched products, equal within float tolerance.
            warnings.filterwarnings("ignore", message="There is a performance drop because we have not yet implemented")
            return vmap(one_seed, randomness="error")(self.params, self.buffers, *inputs)

    @torch.no_grad()
    def write_back(self, models: Sequence[nn.Module]) -> None:
        """Copy each seed's slice into its model's parameters and buffers (after training)."""
        for index, model in enumerate(models):
            for name, tensor in _tensors(model):
                stacked = self.params[name] if name in self.params else self.buffers[name]
                tensor.copy_(stacked[index])


def _tensors(model: nn.Module) -> Iterator[tuple[str, torch.Tensor]]:
    yield from model.named_parameters()
    yield from model.named_buffers()


def together_is_faster(device: torch.device) -> bool:
    """Whether ``seed_parallel="auto"`` trains seeds together on ``device``.

    On the CPU, no: ``benchmarks/bench_seeds.py`` (one thread, 2-core machine) measured K = 3 and 5 seeds
    trained together at 1.32 and 1.28 times the time of training them one after another for add_loss's tiny
    AST, 1.13 and 1.19 for the ASC baseline network (goals 0.5 and 0.4): their steps are compute-bound matrix
    products and convolutions, which ``vmap`` turns into batched ones of the same work. On CUDA, yes, by expectation: a small model's step there is many short
    kernels, each paying its launch, and K seeds in one step pay it once. That side is not measured yet (no
    GPU in the session that built this); the benchmark runs on the GPU where there is one.
    """
    return device.type == "cuda"


def why_not_together(
    models: Sequence[nn.Module], config: TrainConfig, example_inputs: Sequence[torch.Tensor] = (), **options: Any
) -> str:
    """Why these models cannot train together as one vectorised model, or ``""`` when they can.

    ``example_inputs`` (one seed's inputs, a batch of a few items; each is repeated for every seed) run
    one probe forward and backward under ``vmap(randomness="error")`` on a stacked copy (the models' weights,
    buffers and gradients, and the caller's random state, are untouched): a forward that draws random numbers (dropout, stochastic depth) or that
    ``vmap`` cannot trace is named here. ``options`` go to ``forward`` as in :class:`StackedModels`.
    """
    if len(models) < 2:
        return "fewer than two seeds to train"
    if DistributedContext().world_size > 1:
        return "several processes (torchrun) split each seed's batch already"
    if config.mixed_precision == "fp16":
        return "fp16 mixed precision: the gradient scaler would skip a step for every seed when one overflows"
    try:
        stacked = StackedModels(models)
    except ValueError as error:
        return str(error)
    if example_inputs:
        try:
            with torch.random.fork_rng(devices=[]):
                outputs = stacked(*(inputs.unsqueeze(0).expand(len(models), *inputs.shape) for inputs in example_inputs),
                                  **options)  # fmt: skip
                # Backward too: an op may run forward under vmap and still have no batched gradient.
                floats = [part for part in _flatten(outputs) if part.is_floating_point() and part.requires_grad]
                if floats:
                    torch.stack([part.sum() for part in floats]).sum().backward()
        except RuntimeError as error:
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            return f"the forward cannot run under vmap: {first_line}"
    return ""


def _flatten(outputs: Any) -> list[torch.Tensor]:
    if isinstance(outputs, torch.Tensor):
        return [outputs]
    if isinstance(outputs, dict):
        outputs = list(outputs.values())
    return [tensor for part in outputs for tensor in _flatten(part)] if isinstance(outputs, (list, tuple)) else []


class EnsembleTrainer:
    """Trains K models of one architecture from K seeds together, each as ``Trainer(model, ..., config with
    seed=seeds[k])`` would train it alone (see the module docstring for what makes them equal).

    Args:
        models: the K models, each initialised from its seed; after :meth:`fit` each holds its trained weights.
        step_fn: ``step_fn(stacked, batches) -> (losses (K,), metrics per seed)``; it calls ``stacked(...)``
            once for all seeds and must not draw random numbers (do that in ``prepare``).
        config: the shared :class:`TrainConfig`; its ``seed`` is ignored (each seed has its own).
        seeds: the K seeds (what ``config.seed`` would be in each sequential run).
        prepare: ``prepare(index, batch) -> batch`` run with seed ``index``'s generators: the random part of
            the sequential run's step (mixup, augmentation), in the order that step draws it.
        after_epoch: ``after_epoch(index, record)`` per seed and epoch, with the record ``Trainer`` keeps.
        device: where to train (default: this process's device, as ``Trainer``).

    Raises:
        ValueError: what :func:`why_not_together` names (without the probe forward).
    """

    def __init__(
        self,
        models: Sequence[nn.Module],
        step_fn: VectorStepFn,
        config: TrainConfig,
        seeds: Sequence[int],
        prepare: Callable[[int, Any], Any] | None = None,
        after_epoch: Callable[[int, dict[str, float]], None] | None = None,
        device: torch.device | None = None,
    ):
        if len(seeds) != len(models):
            raise ValueError(f"EnsembleTrainer: {len(models)} models but {len(seeds)} seeds")
        reason = why_not_together(models, config)
        if reason:
            raise ValueError(f"EnsembleTrainer cannot train these seeds together: {reason}")
        self.device = device if device is not None else DistributedContext().device
        self.models = [model.to(self.device) for model in models]
        self.stacked = StackedModels(self.models)
        self.step_fn, self.config, self.seeds = step_fn, config, list(seeds)
        self.prepare, self.after_epoch = prepare, after_epoch
        self.optimizer = optimizer_from_config(self.stacked.trainable(), config)
        self.histories = [History() for _ in self.seeds]
        self.steps = 0
        """Optimizer steps taken (the same for every seed)."""

    def fit(self, loaders: Sequence[Iterable[Any]]) -> list[History]:
        """Train every seed for ``config.epochs`` epochs on its own loader; returns each seed's history and
        leaves each model with its trained weights.

        Raises:
            ValueError: loaders of different lengths, or an empty one.
            FloatingPointError: a seed's mean loss of an epoch is NaN or infinite.
        """
        lengths = {len(loader) for loader in loaders}  # type: ignore[arg-type]
        if len(loaders) != len(self.seeds) or len(lengths) != 1 or 0 in lengths:
            raise ValueError(f"EnsembleTrainer.fit needs one non-empty loader per seed of one length, got {lengths}")
        self.steps_per_epoch = steps_per_epoch = lengths.pop()
        self.scheduler = scheduler = scheduler_from_config(self.optimizer, self.config, steps_per_epoch)
        self.generators = [_loader_generators(loader) for loader in loaders]
        if self.config.deterministic:
            torch.use_deterministic_algorithms(True, warn_only=True)
        self.streams = streams = SeedStreams(self.seeds)
        for epoch in range(self.config.epochs):
            self.stacked.template.train()
            iterators = []
            for index, loader in enumerate(loaders):
                # Wrapped as Trainer wraps it: tqdm.auto's bar opens an iterator of its own when it is made,
                # one more draw from the loader's generator per epoch, which the data order depends on. A
                # loader without a generator of its own draws from the seed's stream.
                with streams.of(index):
                    iterators.append(iter(tqdm(loader, total=len(loader), disable=True, leave=False)))
            loss_sums = torch.zeros(len(self.seeds), dtype=torch.float64, device=self.device)
            metric_sums: list[dict[str, float]] = [{} for _ in self.seeds]
            learning_rate = self.optimizer.param_groups[0]["lr"]
            for _ in range(steps_per_epoch):
                learning_rate = self.optimizer.param_groups[0]["lr"]
                batches = []
                for index, iterator in enumerate(iterators):
                    with streams.of(index):
                        batch = move_to_device(next(iterator), self.device)
                        batches.append(self.prepare(index, batch) if self.prepare is not None else batch)
                losses, metrics = self._train_step(batches)
                self.steps += 1
                loss_sums += losses.detach().to(torch.float64)
                for sums, seed_metrics in zip(metric_sums, metrics, strict=True):
                    for name, value in seed_metrics.items():
                        sums[name] = sums.get(name, 0.0) + float(value)
                scheduler.step()
            for index, iterator in enumerate(iterators):
                # Run each loader to its end as Trainer's loop does: a RandomSampler draws its last permutation
                # there, and the next epoch's order depends on it.
                with streams.of(index):
                    if next(iterator, None) is not None:
                        raise ValueError(f"the loader of seed {self.seeds[index]} gave more batches than its length")
            self._end_epoch(epoch, learning_rate, loss_sums / steps_per_epoch, metric_sums, steps_per_epoch)
        # The global generators end as the last seed's, where a sequential run over the seeds leaves them.
        set_rng_state(streams.states[-1])
        self.stacked.write_back(self.models)
        return self.histories

    def _train_step(self, batches: list[Any]) -> tuple[torch.Tensor, list[dict[str, float]]]:
        self.optimizer.zero_grad(set_to_none=True)
        autocast = self.config.mixed_precision == "bf16" or (
            self.config.mixed_precision == "auto" and self.device.type == "cuda" and torch.cuda.is_bf16_supported()
        )
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=autocast):
            losses, metrics = self.step_fn(self.stacked, batches)
        if losses.shape != (len(self.seeds),):
            raise ValueError(f"step_fn must return one loss per seed, shape ({len(self.seeds)},), got {tuple(losses.shape)}")
        losses.sum().backward()  # seed k's parameters get the gradient of its own loss only
        if self.config.grad_clip is not None:
            self._clip_per_seed(self.config.grad_clip)
        self.optimizer.step()
        return losses, metrics

    @torch.no_grad()
    def _clip_per_seed(self, max_norm: float) -> None:
        """``clip_grad_norm_`` of each seed's own gradients (the global norm over its parameters)."""
        grads = [tensor.grad for tensor in self.stacked.trainable() if tensor.grad is not None]
        norms = torch.stack([grad.flatten(1).norm(dim=1) for grad in grads]).norm(dim=0)  # (K,)
        factors = (max_norm / (norms + 1e-6)).clamp(max=1.0)
        for grad in grads:
            grad.mul_(factors.view(-1, *([1] * (grad.ndim - 1))).to(grad.dtype))

    def _end_epoch(
        self, epoch: int, learning_rate: float, mean_losses: torch.Tensor, metric_sums: list[dict], steps: int
    ) -> None:
        for index, (history, sums) in enumerate(zip(self.histories, metric_sums, strict=True)):
            record = {"epoch": epoch, "lr": learning_rate, **{name: total / steps for name, total in sums.items()},
                      "loss": float(mean_losses[index])}  # fmt: skip
            if not math.isfinite(record["loss"]):
                raise FloatingPointError(
                    f"the mean training loss of seed {self.seeds[index]} in epoch {epoch} is {record['loss']}; "
                    f"lower lr, set grad_clip, or check the data for NaN/Inf"
                )
            history.epochs.append(record)
            if self.after_epoch is not None:
                self.after_epoch(index, dict(record))

    def optimizer_state(self, index: int) -> dict[str, Any]:
        """Seed ``index``'s optimiser state in the layout of ``optimizer.state_dict()`` of its sequential run
        (parameters numbered in the order of its model's trainable parameters)."""
        trainable = self.stacked.trainable()
        state = {}
        for number, tensor in enumerate(trainable):
            entries = self.optimizer.state.get(tensor, {})
            state[number] = {name: value[index] if isinstance(value, torch.Tensor) and value.ndim > 0 else value
                             for name, value in entries.items()}  # fmt: skip
        groups = [{**{key: value for key, value in group.items() if key != "params"},
                   "params": list(range(len(trainable)))} for group in self.optimizer.param_groups]  # fmt: skip
        return {"state": state, "param_groups": groups}

    def trainer_checkpoint(self, index: int) -> dict[str, Any]:
        """Seed ``index``'s state after :meth:`fit` as the checkpoint its sequential ``Trainer`` writes after
        its last epoch (same format, model, optimiser, schedule, counters, history, random and loader
        generator states), so that a trained model is kept, and read, the same way whichever path trained it."""
        model = self.models[index]
        return {
            "format": CHECKPOINT_FORMAT,
            "model": model.state_dict(),
            "optimizer": self.optimizer_state(index),
            "scheduler": self.scheduler.state_dict(),
            "scaler": torch.amp.GradScaler(self.device.type, enabled=False).state_dict(),
            "epoch": self.config.epochs,
            "step": self.steps,
            "steps_per_epoch": self.steps_per_epoch,
            "history": [dict(record) for record in self.histories[index].epochs],
            "config": plain(dataclasses.asdict(self.config.replace(seed=self.seeds[index]))),
            "rng": [self.streams.states[index]],
            "generators": [generator.get_state() for generator in self.generators[index]],
            "hooks": [],
        }
