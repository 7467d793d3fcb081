"""What one smoke stage measures: seconds per step, peak memory and FLOPs per step, and the projected cost
of the full preset from them.

A training stage runs the recipe's own :class:`~workbench.train.loop.Trainer` (its optimiser, schedule,
clipping and mixed precision) with a :class:`StepTimer` hook that stops it after a few steps; any other
stage (Init feature extraction, evaluation, claims) is a callable timed by :func:`measure_calls`. The first
call runs under :class:`torch.utils.flop_counter.FlopCounterMode` (it counts matmuls and convolutions,
forward and backward) and is not timed when there are later calls: it pays for the first allocation and
the counting.
"""

from __future__ import annotations

import dataclasses
import math
import os
import resource
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

GPU_NAME = "A100-SXM4-80GB"
GPU_TFLOPS = 156.0
"""The named GPU's dense TF32 tensor-core peak (NVIDIA's A100 datasheet), in TFLOP/s."""
GPU_UTILISATION = 0.3
"""Assumed share of that peak a training step reaches (convolutions, attention and small batches
rarely pass 30-40 % on an A100)."""


class SmokeStop(Exception):
    """Raised by :class:`StepTimer` to end a trainer's fit after the smoke's steps."""


@dataclass(frozen=True)
class StageMeasure:
    """One stage of a smoke run.

    Attributes:
        stage: what ran (``"Init care"``, ``"train row C"``, ``"evaluate"``, ``"claims"``).
        runs: how many times the full preset runs this stage (rows x seeds, losses x folds x repeats, ...).
        steps_per_run: steps (or batches) of one such run at full size (steps per epoch x epochs).
        step_seconds: measured seconds per step on this device.
        measured_steps: how many steps the time is the mean of.
        peak_rss_mib: the process's peak resident memory by the end of the stage (MiB).
        cuda_peak_mib: CUDA max allocated memory during the stage (MiB), or None off CUDA.
        flops_per_step: FLOPs of one step (FlopCounterMode), or None when not counted.
        note: what differs from the full preset (random weights instead of a checkpoint, stand-in data).
    """

    stage: str
    runs: int
    steps_per_run: int
    step_seconds: float
    measured_steps: int
    peak_rss_mib: float
    cuda_peak_mib: float | None = None
    flops_per_step: float | None = None
    note: str = ""

    @property
    def projected_hours(self) -> float:
        """Hours of the full preset's stage on this device: runs x steps per run x seconds per step."""
        return self.runs * self.steps_per_run * self.step_seconds / 3600.0

    def per_batch(self, measured_batch: int, full_batch: int) -> StageMeasure:
        """This stage as if measured at ``full_batch``: time and FLOPs scaled linearly from ``measured_batch``
        (convolutions, attention over a fixed length and the optimiser step per sample are linear in the batch;
        the memory stays the measured one, and the note says so)."""
        if measured_batch >= full_batch:
            return self
        factor = full_batch / measured_batch
        note = f"measured at batch {measured_batch} of {full_batch}: time and FLOPs x{factor:g}, memory as measured"
        return dataclasses.replace(
            self, step_seconds=self.step_seconds * factor,
            flops_per_step=self.flops_per_step * factor if self.flops_per_step else None,
            note="; ".join(part for part in (self.note, note) if part),
        )  # fmt: skip

    def gpu_hours(self, tflops: float = GPU_TFLOPS, utilisation: float = GPU_UTILISATION) -> float | None:
        """Hours of the full stage on the named GPU from the counted FLOPs (None when none were counted)."""
        if not self.flops_per_step:
            return None
        return self.runs * self.steps_per_run * self.flops_per_step / (tflops * 1e12 * utilisation) / 3600.0


def peak_rss_mib() -> float:
    """The process's peak resident set size so far, in MiB (``ru_maxrss``: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def _cuda_start(device: torch.device | None) -> bool:
    if device is not None and device.type == "cuda" and torch.cuda.is_available():
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        return True
    return False


def _cuda_peak(device: torch.device | None, used: bool) -> float | None:
    if not used:
        return None
    torch.cuda.synchronize(device)
    return torch.cuda.max_memory_allocated(device) / 2**20


def _check_counts(stage: str, steps: int, runs: int, steps_per_run: int) -> None:
    if steps < 1:
        raise ValueError(f"smoke stage {stage!r}: steps must be at least 1, got {steps}")
    if runs < 0 or steps_per_run < 0:
        raise ValueError(f"smoke stage {stage!r}: runs and steps_per_run must not be negative, got {runs}, {steps_per_run}")


def _mean_seconds(stamps: list[float]) -> tuple[float, int]:
    """Seconds per step from the times at the start and after each step: the first step only when there
    is no other (it carries the FLOP counting and the first allocations)."""
    durations = [later - earlier for earlier, later in zip(stamps, stamps[1:])]
    timed = durations[1:] or durations
    return sum(timed) / len(timed), len(timed)


def _first_step_note(note: str, steps: int) -> str:
    if steps > 1:
        return note
    return "; ".join(part for part in (note, "one step, timed with the FLOP counter and first allocations: high") if part)


def measure_calls(
    stage: str, call: Callable[[], Any], steps: int, runs: int, steps_per_run: int,
    device: torch.device | None = None, note: str = "",
) -> StageMeasure:  # fmt: skip
    """Call ``call()`` ``steps`` times (the first under the FLOP counter) and measure it as one stage."""
    _check_counts(stage, steps, runs, steps_per_run)
    cuda = _cuda_start(device)
    counter = FlopCounterMode(display=False)
    stamps = [time.perf_counter()]
    for index in range(steps):
        if index == 0:
            with counter:
                call()
        else:
            call()
        if cuda:
            torch.cuda.synchronize(device)
        stamps.append(time.perf_counter())
    seconds, measured = _mean_seconds(stamps)
    flops = float(counter.get_total_flops()) or None
    return StageMeasure(stage, runs, steps_per_run, seconds, measured, peak_rss_mib(), _cuda_peak(device, cuda),
                        flops, _first_step_note(note, steps))  # fmt: skip


class StepTimer:
    """A trainer hook that counts the first step's FLOPs, stamps the time after every step and stops the fit
    (:class:`SmokeStop`) after ``steps`` steps."""

    def __init__(self, steps: int, device: torch.device | None = None):
        self.steps, self.device = int(steps), device
        self.counter = FlopCounterMode(display=False)
        self.stamps: list[float] = []
        self._counting = False

    def before_epoch(self, model: nn.Module, epoch: int) -> None:
        if not self.stamps:
            self.stamps.append(time.perf_counter())
            self.counter.__enter__()
            self._counting = True

    def after_step(self, model: nn.Module, step: int) -> None:
        if self._counting:
            self.counter.__exit__(None, None, None)
            self._counting = False
        if self.device is not None and self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        self.stamps.append(time.perf_counter())
        if len(self.stamps) > self.steps:
            raise SmokeStop

    def close(self) -> None:
        """Leave the FLOP counter if the fit ended before its first step finished."""
        if self._counting:
            self.counter.__exit__(None, None, None)
            self._counting = False


def measure_trainer(
    stage: str, make_trainer: Callable[[list[Any]], Any], loader: Iterable[Any], steps: int, runs: int,
    steps_per_run: int, device: torch.device | None = None, note: str = "",
) -> StageMeasure:  # fmt: skip
    """Fit the trainer ``make_trainer(hooks)`` builds on ``loader`` until ``steps`` steps are done.

    ``loader`` should be the full preset's kind of loader (its batch size); only ``steps`` batches are
    drawn. ``steps_per_run`` is one full run's optimizer steps (steps per epoch x epochs).

    Raises:
        RuntimeError: the fit ended before ``steps`` steps (the loader is too short for the preset's batch).
    """
    _check_counts(stage, steps, runs, steps_per_run)
    cuda = _cuda_start(device)
    timer = StepTimer(steps, device)
    try:
        make_trainer([timer]).fit(loader)
    except SmokeStop:
        pass
    finally:
        timer.close()
    if len(timer.stamps) <= steps:
        raise RuntimeError(
            f"smoke stage {stage!r}: the fit ended after {len(timer.stamps) - 1} of {steps} steps; "
            f"the stand-in data has too few batches for the preset's batch size"
        )
    seconds, measured = _mean_seconds(timer.stamps)
    flops = float(timer.counter.get_total_flops()) or None
    return StageMeasure(stage, runs, steps_per_run, seconds, measured, peak_rss_mib(), _cuda_peak(device, cuda),
                        flops, _first_step_note(note, steps))  # fmt: skip


def steps_per_epoch(items: int, batch_size: int, drop_last: bool = False) -> int:
    """Optimizer steps of one epoch over ``items`` examples."""
    return items // batch_size if drop_last else math.ceil(items / batch_size)


def measured_batch(full_batch: int, batch: int | None) -> int:
    """The batch a smoke measures with: the preset's, or the smaller ``batch`` asked for (a full-size
    step of a big model on a few CPU cores can take many minutes).

    Raises:
        ValueError: ``batch`` is not positive.
    """
    if batch is None:
        return full_batch
    if batch < 1:
        raise ValueError(f"the smoke's batch must be at least 1, got {batch}")
    return min(batch, full_batch)


def workers_here(requested: int) -> tuple[int, str]:
    """DataLoader workers for a smoke on this machine: the preset's, at most one per available core (a
    preset's 8 readers for a cluster node, forked 8 at a time per loader on a 2-core machine, only add
    processes and memory), and a note for the table when capped."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if requested <= cores:
        return requested, ""
    return cores, f"DataLoader workers: {cores} (this machine's cores) instead of the preset's {requested}"
