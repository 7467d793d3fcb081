"""Run All times the browser tests measure (cold cache, the notebook's defaults), kept as the table the
README's "Working in notebooks" section shows.

Each measurement is printed; with ``WORKBENCH_RECORD_RUN_TIMES=1`` it also replaces that notebook's row
between the README's ``<!-- run-times -->`` markers, with the machine it ran on, so the table is
re-recorded by running the browser tests on purpose, never as a side effect of CI.
"""

from __future__ import annotations

import os
import platform
import re
from datetime import date

from workbench.paths import REPO_DIR

RECORD_VARIABLE = "WORKBENCH_RECORD_RUN_TIMES"
BEGIN, END = "<!-- run-times -->", "<!-- /run-times -->"
HEADER = "| notebook | Run All, cold cache (s) | notebooks running at once | measured on |\n|---|---|---|---|"


def machine() -> str:
    return f"{os.cpu_count()} cores, {platform.machine()}, {date.today().isoformat()}"


def table_rows(readme: str) -> dict[str, str]:
    """The table's rows by notebook name."""
    try:
        block = readme.split(BEGIN, 1)[1].split(END, 1)[0]
    except IndexError:
        raise ValueError(f"README.md has no {BEGIN} ... {END} block for the run-time table") from None
    return {match.group(1): match.group(0) for match in re.finditer(r"^\| `([^`]+)` \|.*$", block, re.MULTILINE)}


def with_run_time(readme: str, name: str, seconds: float, where: str, together: int = 1) -> str:
    """``readme`` with notebook ``name``'s row set to ``seconds`` (rows sorted by notebook); ``together``:
    how many notebooks ran at once, sharing the cores."""
    rows = table_rows(readme)
    rows[name] = f"| `{name}` | {seconds:.0f} | {together} | {where} |"
    table = "\n".join([HEADER, *(rows[key] for key in sorted(rows))])
    before, rest = readme.split(BEGIN, 1)
    return f"{before}{BEGIN}\n{table}\n{END}{rest.split(END, 1)[1]}"


def record_run_time(name: str, seconds: float, together: int = 1) -> None:
    print(f"\nRun All {name}: {seconds:.1f} s ({together} notebooks at once)")
    if os.environ.get(RECORD_VARIABLE) == "1":
        path = REPO_DIR / "README.md"
        path.write_text(with_run_time(path.read_text(), name, seconds, machine(), together))
