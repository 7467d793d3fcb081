"""``workbench leaderboard``: evaluate a grid of encoders x tasks (reusing every finished cell), print the table,
and export it as CSV (EVAR's ``scores.csv`` columns plus the interval and its n) and markdown."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from workbench.cli.parameters import _add_parameter_options, _check_cache_writable, _given_values, _resolve_params, check_writable


def _command_leaderboard(arguments: argparse.Namespace) -> int:
    from workbench.evaluation.protocols import one_warning_per_cause
    from workbench.paths import runs_root
    from workbench.recipes import leaderboard

    params = _resolve_params(leaderboard.NAME, arguments.preset, _given_values(arguments))
    check_writable(runs_root(), "runs folder", "set WORKBENCH_RUNS to a folder you can write")
    _check_cache_writable()
    for option, path in (("--csv", arguments.csv), ("--markdown", arguments.markdown)):
        if path:  # before minutes of evaluation, not after
            check_writable(Path(path).resolve().parent, f"folder of {option}", f"pass {option} with a writable path")
    with one_warning_per_cause():
        result = leaderboard.run(params)
    table = result.table(arguments.view)
    print(table.to_markdown())
    print(f"each cell: mean ± 95 % CI over {table.n_seeds} {leaderboard.UNIT} (rank on the task; bold: tied with the "
          f"best by the paired test); {len(result.computed)} of {len(result.cells)} cells computed now, the others "
          f"read back")  # fmt: skip
    for why in result.skipped.values():
        print(why)
    if arguments.csv:
        Path(arguments.csv).write_text(table.to_csv(), encoding="utf-8")
        print(f"csv: {arguments.csv}")
    if arguments.markdown:
        Path(arguments.markdown).write_text(table.to_markdown() + "\n", encoding="utf-8")
        print(f"markdown: {arguments.markdown}")
    return 0


def add_leaderboard_command(commands: Any) -> None:
    """The ``leaderboard`` subcommand on the CLI's subparsers."""
    from workbench.recipes.leaderboard.result import VIEWS

    command = commands.add_parser(
        "leaderboard", help="encoders x tasks (x layers) by linear evaluation, from the runs already made",
        description="Evaluate the grid of the leaderboard recipe (workbench params leaderboard --explain), computing "
        "only the cells no earlier run finished, and print the table; --preset paper names the layer-fusion "
        "paper's nine tasks and models.",
    )  # fmt: skip
    _add_parameter_options(command)
    command.add_argument("--view", choices=VIEWS, default="encoders",
                         help="rows: each encoder's usual embedding, or every tapped layer as well")  # fmt: skip
    command.add_argument("--csv", metavar="FILE", help="write the cells as CSV (EVAR's scores.csv columns + interval, n)")
    command.add_argument("--markdown", metavar="FILE", help="write the table as markdown")
    command.set_defaults(handler=_command_leaderboard)
