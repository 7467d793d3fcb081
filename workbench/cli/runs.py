"""``workbench runs``: the run folders side by side, their curves as an HTML page or TensorBoard event files."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_runs_command(commands: argparse._SubParsersAction) -> None:
    runs = commands.add_parser(
        "runs", help="list the run folders (recipe, differing params, data, weights, status); draw or export curves",
        description="List the runs under the runs root ($WORKBENCH_RUNS): recipe, the parameters that differ "
                    "between the listed runs, data, weights (sha256), status and creation time.",
    )  # fmt: skip
    runs.add_argument("--root", help="runs root (default $WORKBENCH_RUNS, else ./runs)")
    runs.add_argument("--recipe", action="append", help="only this recipe (repeatable)")
    runs.add_argument("--status", action="append", choices=("finished", "failed", "running", "interrupted"),
                      help="only runs with this status (repeatable)")  # fmt: skip
    runs.add_argument("--curves", nargs="+", metavar="RUN",
                      help="draw these runs' curves from log.jsonl on shared axes (run id, prefix, <recipe>/<id> or "
                           "folder) into the HTML page --out")  # fmt: skip
    runs.add_argument("--quantity", action="append", help="with --curves: only this curve, e.g. epoch/loss")
    runs.add_argument("--out", default="runs-curves.html", help="the HTML page --curves writes (default %(default)s)")
    runs.add_argument("--tensorboard", metavar="OUT",
                      help="export the curves of the listed runs (or of --curves RUN...) as TensorBoard event files "
                           "under OUT (needs the tensorboard extra)")  # fmt: skip
    runs.add_argument("--json", action="store_true", help="print the table as JSON lines")
    runs.set_defaults(handler=_command_runs)


def _print_table(rows: list[dict]) -> None:
    differing = list(rows[0]["params"]) if rows else []
    header = ["run", "status", "created", *differing, "data", "weights"]
    lines = [[row["run"], row["status"], row["created"][:19].replace("T", " "),
              *(json.dumps(row["params"][name]) for name in differing), row["data"], row["weights"]]
             for row in rows]  # fmt: skip
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *lines)]
    for cells in [header, *lines]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(cells, widths)).rstrip())
    for row in rows:
        if row["error"]:
            print(f"{row['run']} failed: {row['error']}")


def _command_runs(arguments: argparse.Namespace) -> int:
    from workbench.train.runs_index import find_runs, list_runs, runs_table

    if arguments.curves:
        runs = find_runs(arguments.curves, arguments.root)
    else:
        runs = list_runs(arguments.root, recipe=arguments.recipe, status=arguments.status)
    rows = runs_table(runs)
    if arguments.json:
        for row in rows:
            print(json.dumps(row))
    else:
        _print_table(rows)
    if arguments.curves:
        from workbench.atomic import atomic_write_text
        from workbench.viz.runs import runs_curves_figure

        figure = runs_curves_figure(runs, arguments.quantity)
        page = atomic_write_text(Path(arguments.out), figure.to_html(include_plotlyjs=True, full_html=True))
        print(f"curves of {len(runs)} run(s): {page}")
    if arguments.tensorboard:
        from workbench.train.runs_tensorboard import export_tensorboard

        folders = export_tensorboard(runs, arguments.tensorboard)
        print(f"TensorBoard event files of {len(folders)} run(s) under {arguments.tensorboard}; "
              f"view them with: tensorboard --logdir {arguments.tensorboard}")  # fmt: skip
    return 0
