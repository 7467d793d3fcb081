"""The submitit executors a launch runs on, from :class:`ExecutorOptions`: ``debug`` (in this process,
one leaf after the other, a debugger on failure), ``local`` (one process per leaf on this machine) and
``slurm`` (one job array per stage). submitit is imported here, when an executor is made."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from workbench.errors import UnknownNameError, WorkbenchError

EXECUTORS = ("debug", "local", "slurm")


@dataclass(frozen=True)
class ExecutorOptions:
    """Where and with what resources the leaves run.

    Args:
        kind: ``"debug"``, ``"local"`` or ``"slurm"``.
        folder: submitit's folder of job scripts, pickles and logs (on a shared file system for Slurm).
        partition: Slurm partition.
        gpus_per_node: GPUs per job (Slurm ``--gpus-per-node``; local: GPUs per process).
        cpus_per_task: CPU cores per job.
        time_minutes: wall time of one job; a leaf still running then is signalled, requeued and resumes.
        array_parallelism: at most this many jobs of an array at once (Slurm ``--array=...%N``; local:
            leaves submitted in groups of N).
        max_requeue: how often a leaf that times out is requeued (preemptions do not count).
        extra: further executor parameters, ``key: value`` as submitit's Slurm executor names them
            (``mem``, ``account``, ``qos``, ``constraint``, ``setup``, ``additional_parameters``...).
    """

    kind: str = "local"
    folder: Path = Path("runs/.launch")
    partition: str | None = None
    gpus_per_node: int = 0
    cpus_per_task: int | None = None
    time_minutes: int = 24 * 60
    array_parallelism: int = 256
    max_requeue: int = 3
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in EXECUTORS:
            raise UnknownNameError("executor", self.kind, EXECUTORS)
        if self.array_parallelism < 1 or self.time_minutes < 1 or self.gpus_per_node < 0:
            raise ValueError("array_parallelism and time_minutes must be >= 1, gpus_per_node >= 0")


def parse_extra(assignments: list[str]) -> dict[str, Any]:
    """``["mem=64G", "exclusive=true"]`` -> ``{"mem": "64G", "exclusive": True}`` (values read as YAML)."""
    extra: dict[str, Any] = {}
    for assignment in assignments:
        key, separator, raw = assignment.partition("=")
        if not separator or not key.strip():
            raise ValueError(f"executor option {assignment!r} must look like key=value (e.g. -o mem=64G)")
        extra[key.strip()] = yaml.safe_load(raw) if raw.strip() else ""
    return extra


def _submitit() -> Any:
    try:
        import submitit
    except ImportError:
        raise WorkbenchError(
            "workbench launch needs submitit (every executor, debug included): pip install submitit"
        ) from None
    return submitit


def make_executor(options: ExecutorOptions, job_name: str) -> Any:
    """The submitit executor of ``options``; ``job_name`` names its jobs (``workbench-<recipe>-<stage>``).

    Raises:
        WorkbenchError: submitit is not installed, or Slurm's srun is not on PATH.
        ValueError: an ``extra`` key the executor does not know (submitit names the ones it knows).
    """
    submitit = _submitit()
    folder = Path(options.folder) / "%j"
    if options.kind == "debug":
        return submitit.DebugExecutor(folder)
    if options.kind == "local":
        executor = submitit.LocalExecutor(folder)
        executor.update_parameters(timeout_min=options.time_minutes, gpus_per_node=options.gpus_per_node,
                                   **dict(options.extra))  # fmt: skip
        return executor
    try:
        executor = submitit.SlurmExecutor(folder, max_num_timeout=options.max_requeue)
    except RuntimeError as error:  # submitit finds no srun: not on a Slurm login node
        raise WorkbenchError(f"--executor slurm: {error}; launch from a Slurm login node, or use --executor local") from error
    parameters: dict[str, Any] = {
        "job_name": job_name, "time": options.time_minutes, "array_parallelism": options.array_parallelism,
        "gpus_per_node": options.gpus_per_node or None, "ntasks_per_node": 1, "nodes": 1,
    }  # fmt: skip
    if options.partition:
        parameters["partition"] = options.partition
    if options.cpus_per_task:
        parameters["cpus_per_task"] = options.cpus_per_task
    parameters.update(options.extra)
    executor.update_parameters(**{key: value for key, value in parameters.items() if value is not None})
    return executor
