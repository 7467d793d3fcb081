"""The launcher: run a plan's stages on an executor, one job array per stage, skipping finished leaves,
showing progress, and then gather with the recipe's own ``run(params)``."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from workbench.errors import WorkbenchError
from workbench.launch.executors import ExecutorOptions, make_executor
from workbench.launch.plan import Leaf, Plan
from workbench.launch.versions import check_code_versions

STDERR_TAIL_LINES = 15
"""Lines of a failed job's stderr shown in the launcher's report."""


class LaunchError(WorkbenchError):
    """Leaves of a stage failed; the message names each, with its job id and the tail of its stderr."""


@dataclass
class LeafOutcome:
    """What became of one leaf in this launch."""

    leaf: Leaf
    state: str  # "skipped" (finished before), "done", "failed"
    job_id: str | None = None
    error: str | None = None


@dataclass
class LaunchReport:
    """Every leaf's outcome, the notes of the code-version check, and the gathered result."""

    outcomes: list[LeafOutcome] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    result: Any = None

    def count(self, state: str) -> int:
        return sum(outcome.state == state for outcome in self.outcomes)


def _stderr_tail(job: Any) -> str:
    try:
        text = job.stderr() or ""
    except Exception:  # a job whose log was never written (killed before it started)
        text = ""
    return "\n".join(text.rstrip().splitlines()[-STDERR_TAIL_LINES:])


def _array_name(jobs: Sequence[Any]) -> str:
    ids = [str(job.job_id) for job in jobs]
    arrays = sorted({job_id.split("_")[0] for job_id in ids})
    if len(arrays) == 1 and "_" in ids[0]:
        return f"job array {arrays[0]} ({len(ids)} tasks)"
    return "jobs " + (", ".join(ids) if len(ids) <= 6 else f"{', '.join(ids[:3])} ... {ids[-1]}")


def _wait(jobs: Sequence[Any], leaves: Sequence[Leaf], stage: str, poll_seconds: float,
          echo: Callable[[str], None]) -> list[LeafOutcome]:  # fmt: skip
    """Wait for every job, printing a line whenever the counts change and one per failed leaf."""
    pending = dict(zip(jobs, leaves))
    outcomes: list[LeafOutcome] = []
    last = None
    while pending:
        for job in list(pending):
            if not job.done():
                continue
            leaf = pending.pop(job)
            error = job.exception()
            if error is None:
                outcomes.append(LeafOutcome(leaf, "done", str(job.job_id)))
                continue
            tail = _stderr_tail(job)
            summary = str(error).strip().splitlines()[-1] if str(error).strip() else type(error).__name__
            outcomes.append(LeafOutcome(leaf, "failed", str(job.job_id), f"{summary}\n{tail}".rstrip()))
            echo(f"  FAILED {leaf.name} (job {job.job_id}): {summary}")
        done = sum(outcome.state == "done" for outcome in outcomes)
        failed = len(outcomes) - done
        counts = (done, failed, len(pending))
        if counts != last:
            echo(f"  {stage}: {done} done, {failed} failed, {len(pending)} running or queued")
            last = counts
        if pending:
            time.sleep(poll_seconds)
    return outcomes


def launch(
    plan: Plan, options: ExecutorOptions, gather: Callable[[], Any] | None = None, *, allow_mixed_code: bool = False,
    poll_seconds: float = 10.0, echo: Callable[[str], None] = print,
) -> LaunchReport:  # fmt: skip
    """Run ``plan`` stage by stage on ``options``' executor, then ``gather()``.

    Each stage's unfinished leaves go out as one job array (``map_array`` of a ``Checkpointable`` job; on
    the local executor in groups of ``options.array_parallelism``); finished leaves are skipped, so
    launching again after an interruption runs only what is left. A stage with failed leaves stops the
    launch before the next stage (which may need them).

    Args:
        plan: the recipe's plan.
        options: the executor and its resources.
        gather: called once every leaf is finished (the recipe's ``run(params)``); its value is the
            report's ``result``. None stops after the leaves.
        allow_mixed_code: gather leaves made by different code versions (listed in the notes).
        poll_seconds: how often job states are checked.
        echo: where progress lines go.

    Raises:
        LaunchError: leaves failed (each named, with its job id and the tail of its stderr).
        MixedCodeError: the leaves were made by different code versions (see
            :func:`~workbench.launch.versions.check_code_versions`).
    """
    report = LaunchReport()
    echo(plan.describe())
    for position, stage in enumerate(plan.stages, start=1):
        todo = [leaf for leaf in stage.leaves if not leaf.finished()]
        report.outcomes += [LeafOutcome(leaf, "skipped") for leaf in stage.leaves if leaf not in todo]
        title = f"stage {position}/{len(plan.stages)} {stage.name}"
        echo(f"{title}: {len(stage.leaves) - len(todo)} of {len(stage.leaves)} leaves finished already")
        if not todo:
            continue
        from workbench.launch.job import LeafJob  # imports submitit, which only launching needs

        executor = make_executor(options, f"workbench-{plan.recipe}-{stage.name}")
        group_size = options.array_parallelism if options.kind == "local" else len(todo)
        outcomes: list[LeafOutcome] = []
        try:
            for start in range(0, len(todo), group_size):
                group = todo[start : start + group_size]
                jobs = executor.map_array(LeafJob(), group)
                echo(f"{title}: submitted {len(group)} leaves as {_array_name(jobs)}; logs in {options.folder}")
                outcomes += _wait(jobs, group, stage.name, poll_seconds, echo)
        except KeyboardInterrupt:
            echo(f"launcher interrupted in {title}: jobs already submitted keep running on {options.kind} "
                 f"executors; launch again to wait for them and run the rest (finished leaves are skipped)")  # fmt: skip
            raise
        report.outcomes += outcomes
        failed = [outcome for outcome in outcomes if outcome.state == "failed"]
        if failed:
            details = "\n".join(f"- {outcome.leaf.name} (job {outcome.job_id}, {outcome.leaf.path}):\n"
                                f"    " + (outcome.error or "").replace("\n", "\n    ") for outcome in failed)  # fmt: skip
            raise LaunchError(
                f"{len(failed)} of {len(todo)} leaves of {title} failed; fix the cause and launch again "
                f"(finished leaves are skipped):\n{details}"
            )
    report.notes = check_code_versions(plan.leaves, allow_mixed=allow_mixed_code)
    for note in report.notes:
        echo(f"note: {note}")
    if gather is not None:
        echo(f"gathering {plan.recipe}: every leaf is finished")
        report.result = gather()
    return report
