"""What the benchmark modules share: a timer and the table rows that ``benchmarks.run`` prints."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence


def best_seconds(function: Callable[[], object], repeats: int) -> float:
    """Best of ``repeats`` timed calls after a warm-up (the minimum is the least disturbed by other load)."""
    function()
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        timings.append(time.perf_counter() - start)
    return min(timings)


def table_rows(prefix: str, setting: str, measured: Sequence[tuple[str, float, str]]) -> list[dict]:
    """``(what, value, unit)`` triples as rows ``{"benchmark": "<prefix>: <what>", "setting", "value", "unit"}``."""
    return [{"benchmark": f"{prefix}: {what}", "setting": setting, "value": value, "unit": unit}
            for what, value, unit in measured]  # fmt: skip
