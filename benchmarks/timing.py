"""What the benchmark modules share: interleaved timing against an anchor, and the rows of the table.

A comparison is only as good as the conditions both sides ran under. On a shared 2-core machine the
load changes from second to second, so timing one function and then the other compares the load, not
the code. :func:`interleaved` therefore runs every candidate once per round (after warm-up calls),
rotating their order, and each row reports the **per-round ratio** candidate / anchor: its median
over the rounds and its minimum (the least disturbed round). Every row runs on one torch thread unless
its setting says otherwise (:func:`workbench.train.threads.torch_threads`).

Rows are dicts with the keys of :data:`COLUMNS`; ``benchmarks.run`` prints them as one table. A row
with an anchor has ``ratio_median``/``ratio_min`` (candidate / anchor, lower is faster) and a
``goal`` (the ratio to stay at or below); ``met`` says whether the median reached it, and ``note``
says what limits it when it does not.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping

COLUMNS = ("benchmark", "setting", "value", "unit", "anchor", "ratio_median", "ratio_min", "goal", "met", "note")
"""Every row has exactly these keys; the last six are None where a row compares with nothing."""


def interleaved(
    functions: Mapping[str, Callable[[], object]], rounds: int, warmup: int = 1
) -> dict[str, list[float]]:
    """Seconds of each function in each of ``rounds`` rounds; every round runs every function once.

    ``warmup`` untimed rounds come first (first-call allocations, kernel selection, caches). The
    order rotates from round to round so no function always runs right after the same neighbour.

    Returns:
        name -> ``rounds`` durations in seconds, position ``r`` measured in round ``r``.
    """
    if rounds < 1 or warmup < 0:
        raise ValueError(f"need rounds >= 1 and warmup >= 0, got rounds={rounds}, warmup={warmup}")
    names = list(functions)
    for _ in range(warmup):
        for name in names:
            functions[name]()
    seconds: dict[str, list[float]] = {name: [] for name in names}
    for round_index in range(rounds):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            start = time.perf_counter()
            functions[name]()
            seconds[name].append(time.perf_counter() - start)
    return seconds


def ratios(seconds: Mapping[str, list[float]], candidate: str, anchor: str) -> list[float]:
    """Per-round ratios candidate / anchor of :func:`interleaved` timings."""
    return [ours / theirs for ours, theirs in zip(seconds[candidate], seconds[anchor], strict=True)]


def row(benchmark: str, setting: str, value: float, unit: str, **comparison: object) -> dict:
    """A table row; ``comparison`` may set ``anchor``, ``ratio_median``, ``ratio_min``, ``goal``, ``met``, ``note``."""
    unknown = set(comparison) - set(COLUMNS)
    if unknown:
        raise ValueError(f"unknown row fields {sorted(unknown)}; the columns are {COLUMNS}")
    entry = dict.fromkeys(COLUMNS)
    entry.update(benchmark=benchmark, setting=setting, value=float(value), unit=unit, **comparison)
    return entry


def compared_row(
    benchmark: str,
    setting: str,
    seconds: Mapping[str, list[float]],
    candidate: str,
    anchor: str,
    goal: float | None = None,
    *,
    scale: float = 1.0,
    note: str = "",
    value: float | None = None,
    unit: str = "ms",
) -> dict:
    """A row for ``candidate`` against ``anchor`` from :func:`interleaved` timings.

    Args:
        scale: multiplies both sides' times before the ratio (e.g. per audio-second normalisation
            when the two process different amounts); the ratio is ``scale * t_candidate / t_anchor``.
        goal: the median ratio to stay at or below (None: reported, no goal).
        note: what limits the row, printed only while the goal is not met.
        value, unit: the value shown (default: the candidate's median time in ms).
    """
    per_round = [scale * ratio for ratio in ratios(seconds, candidate, anchor)]
    median = statistics.median(per_round)
    shown = statistics.median(seconds[candidate]) * 1e3 if value is None else value
    met = None if goal is None else median <= goal
    return row(
        benchmark, setting, shown, unit, anchor=anchor, ratio_median=median, ratio_min=min(per_round),
        goal=goal, met=met, note=(note or None) if met is not True else None,
    )  # fmt: skip

