"""Run every ``benchmarks/bench_*.py`` and print one table.

    python -m benchmarks.run            # full settings (a few minutes on 2 CPU cores)
    python -m benchmarks.run --quick    # fewer rounds, smaller inputs: checks that every benchmark runs
    python -m benchmarks.run frontends  # only benchmarks whose module name contains "frontends"
    python -m benchmarks.run seeds      # K training seeds as one vectorised model vs one after another

Each module exposes ``run(quick: bool = False) -> list[dict]`` with rows of
:data:`benchmarks.timing.COLUMNS` (the modules of :data:`ROW_MODULES`, when present, may give only
benchmark, setting, value and unit). Everything runs on one thread (torch, and the BLAS/OpenMP pools of
numpy-based anchors such as librosa) unless a row's setting names another count. Comparisons are
interleaved rounds with warm-up; ``ratio`` is candidate / anchor per round, shown as median (min);
``goal`` is the median ratio to stay at or below.
"""

from __future__ import annotations

import os

# Before numpy and torch are imported: one thread for the OpenMP/BLAS pools of every library.
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import argparse  # noqa: E402
import importlib  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402

from benchmarks.timing import COLUMNS  # noqa: E402
from workbench.train.threads import torch_threads  # noqa: E402


ROW_MODULES = ("byola_rows", "care_sep_rows")
"""Further modules of rows (``run(quick) -> rows``), printed when the file exists. Their rows may carry
only ``benchmark``, ``setting``, ``value`` and ``unit``; :func:`module_rows` leaves the other columns empty."""
REQUIRED = ("benchmark", "setting", "value", "unit")


def discover(selection: list[str]) -> list[str]:
    folder = Path(__file__).parent
    names = sorted(path.stem for path in folder.glob("bench_*.py"))
    names += [name for name in ROW_MODULES if (folder / f"{name}.py").is_file()]
    return [name for name in names if not selection or any(word in name for word in selection)]


def module_rows(name: str, quick: bool) -> list[dict]:
    """The rows of ``benchmarks.<name>``, each with every key of :data:`COLUMNS` (absent ones None).

    Raises:
        ValueError: a row with a key outside :data:`COLUMNS` or without one of :data:`REQUIRED`.
    """
    rows = []
    for entry in importlib.import_module(f"benchmarks.{name}").run(quick=quick):
        unknown, missing = set(entry) - set(COLUMNS), set(REQUIRED) - set(entry)
        if unknown or missing:
            raise ValueError(
                f"benchmarks.{name} returned a row with keys {sorted(entry)}; expected {REQUIRED} and "
                f"optionally the rest of {COLUMNS}"
            )
        rows.append({**dict.fromkeys(COLUMNS), **entry})
    return rows


def _cell(row: dict, key: str) -> str:
    value = row.get(key)
    if key == "value":
        return f"{value:.4g} {row['unit']}"
    if key == "ratio":
        if row["ratio_median"] is None:
            return ""
        return f"{row['ratio_median']:.2f} ({row['ratio_min']:.2f})"
    if key == "goal":
        return "" if value is None else f"<= {value:.2f}"
    if key == "met":
        return "" if value is None else ("yes" if value else "NO")
    return "" if value is None else str(value)


def format_table(rows: list[dict]) -> list[str]:
    """The rows as aligned text lines, header first."""
    keys = ["benchmark", "setting", "value", "anchor", "ratio", "goal", "met", "note"]
    titles = {"ratio": "ratio med (min)", "value": "value"}
    cells = [[titles.get(key, key) for key in keys]] + [[_cell(row, key) for key in keys] for row in rows]
    widths = [max(len(line[column]) for line in cells) for column in range(len(keys) - 1)]
    return ["  ".join([*(text.ljust(width) for text, width in zip(line, widths)), line[-1]]).rstrip()
            for line in cells]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("selection", nargs="*", help="substrings of benchmark module names")
    parser.add_argument("--quick", action="store_true", help="fewer rounds and smaller inputs")
    arguments = parser.parse_args(argv)
    rows: list[dict] = []
    with torch_threads(1):
        for name in discover(arguments.selection):
            start = time.perf_counter()
            rows += module_rows(name, arguments.quick)
            print(f"# {name}: {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, 1 thread per row unless "
        f"its setting says otherwise, torch {torch.__version__}, quick={arguments.quick}"
    )
    for line in format_table(rows):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
