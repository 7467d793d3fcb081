"""``workbench launch``: a recipe's plan of leaves as job arrays (submitit), then the gather."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from workbench.cli.parameters import _add_parameter_options, _check_cache_writable, _given_values, _resolve_params, check_writable


def _minutes(text: str) -> int:
    """``--time``: minutes (``720``) or Slurm's ``[D-]HH:MM[:SS]`` (``12:00:00``, ``1-00:00``)."""
    days, _, clock = text.rpartition("-") if "-" in text else ("0", "", text)
    parts = clock.split(":")
    try:
        if len(parts) == 1:
            return int(days) * 24 * 60 + int(parts[0])
        hours, minutes = int(parts[0]), int(parts[1])
        seconds = int(parts[2]) if len(parts) > 2 else 0
        return int(days) * 24 * 60 + hours * 60 + minutes + (1 if seconds else 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--time {text!r} must be minutes or [D-]HH:MM[:SS]") from None


def _command_launch(arguments: argparse.Namespace) -> int:
    from workbench import launch, recipes
    from workbench.paths import runs_root

    module = recipes.get(arguments.recipe)
    params = _resolve_params(arguments.recipe, arguments.preset, _given_values(arguments))
    plan = module.plan(params)
    if arguments.show_plan:
        print(plan.describe())
        for stage in plan.stages:
            for leaf in stage.leaves:
                print(f"  {stage.name}: {leaf.name:24s} {'finished' if leaf.finished() else 'to run':9s} {leaf.path}")
        return 0
    check_writable(runs_root(), "runs folder", "set WORKBENCH_RUNS to a folder you can write (shared by every node)")
    _check_cache_writable()
    options = launch.ExecutorOptions(
        kind=arguments.executor, folder=Path(arguments.folder) if arguments.folder else runs_root() / ".launch",
        partition=arguments.partition, gpus_per_node=arguments.gpus, cpus_per_task=arguments.cpus,
        time_minutes=arguments.time, array_parallelism=arguments.array_parallelism, max_requeue=arguments.max_requeue,
        extra=launch.parse_extra(arguments.option),
    )  # fmt: skip
    gather = None if arguments.no_gather else (lambda: module.run(params))
    report = launch.launch(plan, options, gather, allow_mixed_code=arguments.allow_mixed_code,
                           poll_seconds=arguments.poll)  # fmt: skip
    print(f"leaves: {report.count('done')} run now, {report.count('skipped')} finished before")
    if report.result is not None:
        print(report.result.summary())
        if report.result.run_dir is not None:
            print(f"run directory: {report.result.run_dir}")
    return 0


def add_launch_command(commands: Any) -> None:
    """The ``launch`` subcommand on the CLI's subparsers."""
    launch = commands.add_parser(
        "launch", help="run a recipe's independent trainings as job arrays (Slurm, local processes), then gather",
        description="Each stage of the recipe's plan goes out as one submitit job array of its unfinished "
        "leaves; the launcher waits, shows progress, then gathers with the recipe's run. Launching again "
        "after an interruption runs only the unfinished leaves.",
    )  # fmt: skip
    launch.add_argument("recipe")
    _add_parameter_options(launch)
    launch.add_argument("--executor", choices=("debug", "local", "slurm"), default="local",
                        help="debug: in this process; local: processes on this machine; slurm: job arrays")  # fmt: skip
    launch.add_argument("--partition", help="Slurm partition")
    launch.add_argument("--gpus", type=int, default=0, help="GPUs per leaf (Slurm --gpus-per-node)")
    launch.add_argument("--cpus", type=int, help="CPU cores per leaf (Slurm --cpus-per-task)")
    launch.add_argument("--time", type=_minutes, default=24 * 60, metavar="MINUTES|HH:MM:SS",
                        help="wall time per job; a leaf still running is requeued and resumes (default 24 h)")  # fmt: skip
    launch.add_argument("--array-parallelism", type=int, default=256, help="jobs of an array running at once")
    launch.add_argument("--max-requeue", type=int, default=3, help="requeues of a leaf that times out")
    launch.add_argument("-o", "--option", action="append", default=[], metavar="KEY=VALUE",
                        help="a further submitit executor parameter, e.g. -o mem=64G -o account=lab")  # fmt: skip
    launch.add_argument("--folder", help="submitit logs and job files (default <runs>/.launch)")
    launch.add_argument("--poll", type=float, default=10.0, help="seconds between job state checks")
    launch.add_argument("--allow-mixed-code", action="store_true",
                        help="gather leaves made by different code versions")  # fmt: skip
    launch.add_argument("--no-gather", action="store_true", help="stop after the leaves")
    launch.add_argument("--show-plan", action="store_true", help="print the plan and which leaves are finished")
    launch.set_defaults(handler=_command_launch)
