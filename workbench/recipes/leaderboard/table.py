"""The table: one row per encoder (or per encoder layer), one column per task, each cell a linear-evaluation score
with its interval over probe seeds, the average over tasks stratified by task, and ranks with ties.

A tie is decided by a paired comparison, never by overlapping intervals: the best row of a task (highest mean) is
compared with every other row on the same probe seeds and test items (:func:`paired`); the rows it does not
separate share its rank. Those rows set aside, the best of the rest is compared with the others the same way, and
so on (:func:`tied_ranks`), so every rank is "1 + the rows that were separated above it". The average over tasks is
ranked the same way with :func:`~workbench.evaluation.replication.compare_stratified` (per-task effects over the
probe seeds, averaged with equal weight per task).

The unit is honest: the encoders are fixed, so the repetitions are probe trainings (seeds of the linear probe) on
one frozen encoder and, for single-label tasks, the test items; the intervals say how stable a score is on these
clips, not how another dataset would rank the encoders.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from workbench.evaluation.linear import LinearEvalResult
from workbench.evaluation.replication import compare_runs, compare_stratified
from workbench.evaluation.stats import Comparison

UNIT = "probe trainings on a fixed encoder"
"""What an interval's ``n`` counts: the linear probe's seeds; the encoder itself is never retrained."""

EVAR_COLUMNS = ("representation", "task", "score", "run_id", "report")
"""EVAR's ``scores.csv`` columns (``nttcslab/eval-audio-repr``, ``lineareval.py``); the export adds the interval."""
EXPORT_COLUMNS = (*EVAR_COLUMNS, "ci95", "ci_low", "ci_high", "n", "unit", "metric", "rank", "tied_with_best")


def paired(treatment: LinearEvalResult, control: LinearEvalResult) -> Comparison:
    """``treatment - control`` on the same probe seeds: for single-label tasks scored on the same test items, the
    crossed probe-seeds x items interval (:func:`~workbench.evaluation.replication.compare_runs`, ``over="runs and
    items"``: it also counts which clips the test set drew); otherwise the paired t over the seeds' scores.

    Raises:
        ValueError: the two results were not scored with the same seeds.
    """
    if tuple(treatment.seeds) != tuple(control.seeds):
        raise ValueError(f"a paired comparison needs the same probe seeds, got {treatment.seeds} and {control.seeds}")
    same_items = (
        treatment.metric == control.metric == "accuracy"
        and np.array_equal(treatment.test_indices, control.test_indices)
        and np.shape(treatment.seed_predictions) == np.shape(control.seed_predictions)
        and np.ndim(treatment.seed_predictions) == 2 and np.shape(treatment.seed_predictions)[-1] >= 2
    )  # fmt: skip
    if same_items:
        return compare_runs(treatment.correct(), control.correct(), over="runs and items", unit=UNIT,
                            nested=f"{treatment.n_test} test items")  # fmt: skip
    return compare_runs(np.asarray(treatment.per_seed), np.asarray(control.per_seed), unit=UNIT)


def grouped_ranks(order: Sequence[str], separated: Callable[[str, str], bool]) -> dict[str, int]:
    """Ranks with ties: the first row of ``order`` (best first) and the rows ``separated(head, row)`` says it does
    not beat share rank 1; those set aside, the same rule ranks the rest (each rank is 1 + the rows above it)."""
    remaining = list(order)
    ranks: dict[str, int] = {}
    while remaining:
        head = remaining[0]
        group = [head, *(row for row in remaining[1:] if not separated(head, row))]
        ranks.update(dict.fromkeys(group, len(ranks) + 1))
        remaining = [row for row in remaining if row not in group]
    return ranks


def tied_ranks(scores: Mapping[str, LinearEvalResult]) -> tuple[dict[str, int], dict[str, Comparison]]:
    """Ranks with ties for one task, and each row's comparison with the task's best row.

    Returns:
        ``({row: rank}, {row: comparison of the best row minus this row})``; the best row itself has no
        comparison. Rows the best does not separate (interval reaching zero) share rank 1; the same rule
        then ranks the rest (:func:`grouped_ranks`).
    """
    order = sorted(scores, key=lambda row: -scores[row].mean)
    against_best = {row: paired(scores[order[0]], scores[row]) for row in order[1:]}

    def separated(head: str, row: str) -> bool:
        comparison = against_best[row] if head == order[0] else paired(scores[head], scores[row])
        return comparison.ci_low > 0

    return grouped_ranks(order, separated), against_best


def stratified_ranks(per_task: Mapping[str, Mapping[str, LinearEvalResult]], rows: Sequence[str]) -> dict[str, int]:
    """Ranks with ties of the average over tasks: the rule of :func:`tied_ranks`, each comparison stratified by
    task over the probe seeds (:func:`~workbench.evaluation.replication.compare_stratified`)."""

    def average(row: str) -> float:
        return float(np.mean([per_task[task][row].mean for task in per_task]))

    def separated(head: str, row: str) -> bool:
        pairs = {task: (per_task[task][head].per_seed, per_task[task][row].per_seed) for task in per_task}
        return compare_stratified(pairs, unit=UNIT).overall.ci_low > 0

    return grouped_ranks(sorted(rows, key=lambda row: -average(row)), separated)


def stratified_average(scores: Mapping[str, LinearEvalResult]) -> Comparison:
    """A row's average over tasks with equal weight per task, and its interval stratified by task (each task's
    spread over its probe seeds; Welch-Satterthwaite degrees of freedom): ``effect`` is the average."""
    return compare_stratified(
        {task: (np.asarray(result.per_seed), np.zeros(len(result.per_seed))) for task, result in scores.items()},
        unit=UNIT,
    ).overall


@dataclass
class TableCell:
    """One cell: the score with its 95 % interval over probe seeds, its rank on the task, the comparison with the
    task's best row (None for the best row itself) and the run directory the score comes from."""

    row: str
    task: str
    result: LinearEvalResult
    rank: int
    against_best: Comparison | None
    run_dir: str

    @property
    def tied_with_best(self) -> bool:
        return self.rank == 1

    def text(self, digits: int = 3) -> str:
        return f"{self.result.mean:.{digits}f} ± {self.result.ci95:.{digits}f}"


@dataclass
class Leaderboard:
    """The table of one view (``"encoders"``: one row per encoder's usual embedding; ``"layers"``: one row per
    encoder layer as well). Rows are in the order of the average's rank, then its mean."""

    view: str
    rows: list[str]
    tasks: list[str]
    cells: dict[tuple[str, str], TableCell]
    average: dict[str, Comparison] = field(default_factory=dict)
    average_rank: dict[str, int] = field(default_factory=dict)
    n_seeds: int = 0

    def cell(self, row: str, task: str) -> TableCell | None:
        return self.cells.get((row, task))

    def records(self) -> list[dict[str, object]]:
        """One record per cell with EVAR's ``scores.csv`` columns plus the interval and its ``n``."""
        records = []
        for (row, task), cell in self.cells.items():
            result = cell.result
            records.append({
                "representation": row, "task": task, "score": result.mean, "run_id": str(cell.run_dir).rsplit("/", 1)[-1],
                "report": f"{result.summary()} [{cell.run_dir}]", "ci95": result.ci95,
                "ci_low": result.mean - result.ci95, "ci_high": result.mean + result.ci95, "n": len(result.per_seed),
                "unit": UNIT, "metric": result.metric, "rank": cell.rank, "tied_with_best": cell.tied_with_best,
            })  # fmt: skip
        return records

    def to_csv(self) -> str:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=EXPORT_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.records())
        return buffer.getvalue()

    def to_markdown(self, digits: int = 3) -> str:
        """The pivot: rank, row, one column per task (mean ± 95 % CI, its rank on the task; bold where tied with
        the best), and the stratified average with its interval."""
        header = ["rank", "encoder" if self.view == "encoders" else "encoder / layer", *self.tasks,
                  "average (stratified)"]  # fmt: skip
        lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
        for row in self.rows:
            values = [str(self.average_rank.get(row, "-")), row]
            for task in self.tasks:
                cell = self.cell(row, task)
                text = "-" if cell is None else f"{cell.text(digits)} ({cell.rank})"
                values.append(f"**{text}**" if cell is not None and cell.tied_with_best else text)
            average = self.average.get(row)
            values.append("-" if average is None else
                          f"{average.effect:.{digits}f} [{average.ci_low:.{digits}f}, {average.ci_high:.{digits}f}]")  # fmt: skip
            lines.append("| " + " | ".join(values) + " |")
        return "\n".join(lines)


def build_leaderboard(
    scores: Mapping[str, Mapping[str, LinearEvalResult]],
    run_dirs: Mapping[tuple[str, str], str],
    tasks: Sequence[str],
    view: str,
) -> Leaderboard:
    """The table from ``{row: {task: result}}`` (a row may lack a task: its cell is empty and it has no average)."""
    cells: dict[tuple[str, str], TableCell] = {}
    per_task: dict[str, dict[str, LinearEvalResult]] = {}
    for task in tasks:
        column = {row: results[task] for row, results in scores.items() if task in results}
        if not column:
            continue
        per_task[task] = column
        ranks, against_best = tied_ranks(column)
        for row, result in column.items():
            cells[(row, task)] = TableCell(row, task, result, ranks[row], against_best.get(row), str(run_dirs[(row, task)]))
    complete = [row for row in scores if all(task in scores[row] for task in per_task)]
    average = {row: stratified_average({task: per_task[task][row] for task in per_task}) for row in complete}
    average_rank = stratified_ranks(per_task, complete) if per_task else {}
    order = sorted(scores, key=lambda row: (average_rank.get(row, len(scores) + 1),
                                            -(average[row].effect if row in average else -1.0)))  # fmt: skip
    seeds = {len(result.per_seed) for column in per_task.values() for result in column.values()}
    return Leaderboard(view, order, list(per_task), cells, average, average_rank, n_seeds=max(seeds, default=0))
