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

The modules, one per concern: :mod:`~workbench.train.loop.config` (:class:`TrainConfig`),
:mod:`~workbench.train.loop.optim` (optimiser and learning-rate schedules), :mod:`~workbench.train.loop.device`
(device placement and mixed precision), :mod:`~workbench.train.loop.hooks` (what a recipe plugs in),
:mod:`~workbench.train.loop.history` (per-epoch records), :mod:`~workbench.train.loop.checkpoint`
(checkpoints and exact resume) and :mod:`~workbench.train.loop.trainer` (:class:`Trainer`, the loop itself).
"""

from workbench.train.loop.checkpoint import CHECKPOINT_FORMAT
from workbench.train.loop.config import OptimizerName, Precision, ScheduleName, TrainConfig
from workbench.train.loop.device import autocast_dtype, move_to_device
from workbench.train.loop.history import History
from workbench.train.loop.hooks import EvalFn, StepFn, TrainerHook
from workbench.train.loop.optim import optimizer_from_config, scheduler_from_config, warmup_step_factor
from workbench.train.loop.trainer import Trainer

__all__ = [
    "CHECKPOINT_FORMAT",
    "EvalFn",
    "History",
    "OptimizerName",
    "Precision",
    "ScheduleName",
    "StepFn",
    "TrainConfig",
    "Trainer",
    "TrainerHook",
    "autocast_dtype",
    "move_to_device",
    "optimizer_from_config",
    "scheduler_from_config",
    "warmup_step_factor",
]
