"""What :func:`~workbench.recipes.leaderboard.run` returns: every cell's scores, the two views of the table, and
what a click on a cell opens (that run's predictions for a confusion matrix, its embeddings for the explorer)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from workbench.data.records import AudioDataset
from workbench.evaluation.embeddings import Embeddings
from workbench.evaluation.linear import LinearEvalResult
from workbench.features.views import EMBEDDING
from workbench.recipes import base
from workbench.recipes.leaderboard.cells import CellScores, EncoderSpec, build, feature_columns
from workbench.recipes.leaderboard.params import Params
from workbench.recipes.leaderboard.table import UNIT, Leaderboard, build_leaderboard

VIEWS = ("encoders", "layers")


@dataclass
class LeaderboardRun(base.Result):
    """The grid's cells and the table built from them.

    Attributes:
        settings: the run's :class:`Params`.
        encoders: the encoders evaluated (those at hand), in grid order.
        tasks: the tasks evaluated, in grid order.
        datasets: each task's dataset (for listening in the explorer).
        cells: ``{(encoder, task): CellScores}``, every column of the cell (usual embedding and layers).
        skipped: ``{encoder or task: why it is not in the grid}``.
        estimate_seconds, compute_seconds: the CPU seconds estimated for the missing cells and those spent.
    """

    settings: Params | None = None
    encoders: list[EncoderSpec] = field(default_factory=list)
    tasks: list[str] = field(default_factory=list)
    datasets: dict[str, AudioDataset] = field(default_factory=dict)
    cells: dict[tuple[str, str], CellScores] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    estimate_seconds: float = 0.0
    compute_seconds: float = 0.0

    @property
    def computed(self) -> list[tuple[str, str]]:
        """The cells this call computed (the others were read back from finished runs)."""
        return [key for key, cell in self.cells.items() if cell.computed]

    def kind_of(self, encoder: str) -> str:
        kinds = {cell.kind for (name, _), cell in self.cells.items() if name == encoder}
        return next(iter(kinds)) if len(kinds) == 1 else "mixed"

    def row_label(self, encoder: str, column: str = EMBEDDING) -> str:
        """``"audiontt-tiny (random weights)"`` for an encoder's usual embedding, ``"efficientat-mn04 / block4"``
        for one of its layers."""
        if column != EMBEDDING:
            return f"{encoder} / {column}"
        kind = self.kind_of(encoder)
        return encoder if kind == "pretrained" else f"{encoder} ({kind})"

    def rows(self, view: str = "encoders") -> dict[str, tuple[str, str]]:
        """``{row label: (encoder, column)}`` of a view: ``"encoders"`` (each encoder's usual embedding) or
        ``"layers"`` (each encoder's embedding, then each of its tapped layers).

        Raises:
            ValueError: an unknown view.
        """
        if view not in VIEWS:
            raise ValueError(f"unknown leaderboard view {view!r}; valid: {', '.join(VIEWS)}")
        rows: dict[str, tuple[str, str]] = {}
        for encoder in self.encoders:
            columns = {column for (name, _), cell in self.cells.items() if name == encoder.name for column in cell.columns}
            order = next((list(cell.columns) for (name, _), cell in self.cells.items() if name == encoder.name), [])
            for column in order if view == "layers" else [EMBEDDING]:
                if column in columns:
                    rows[self.row_label(encoder.name, column)] = (encoder.name, column)
        return rows

    def table(self, view: str = "encoders") -> Leaderboard:
        """The table of ``view`` (see :meth:`rows`), ranked, with the stratified average."""
        rows = self.rows(view)
        scores: dict[str, dict[str, LinearEvalResult]] = {}
        run_dirs: dict[tuple[str, str], str] = {}
        for label, (encoder, column) in rows.items():
            scores[label] = {}
            for task in self.tasks:
                cell = self.cells.get((encoder, task))
                if cell is not None and column in cell.columns:
                    scores[label][task] = cell.columns[column]
                    run_dirs[(label, task)] = str(cell.run_dir)
        return build_leaderboard(scores, run_dirs, self.tasks, view)

    def result_of(self, row: str, task: str, view: str = "layers") -> LinearEvalResult:
        encoder, column = self.rows(view)[row]
        return self.cells[(encoder, task)].columns[column]

    def embeddings(self, row: str, task: str, view: str = "layers") -> Embeddings:
        """The embeddings a cell was scored on, from the embedding cache (the encoder is built to find them, and
        runs only if the cache lost them)."""
        encoder_name, column = self.rows(view)[row]
        encoder = next(spec for spec in self.encoders if spec.name == encoder_name)
        return feature_columns(build(encoder, self.settings), encoder, self.datasets[task], self.settings)[column]

    def summary(self) -> str:
        """The encoders and tasks, the rows tied for rank 1 on each task (those the paired test does not separate
        from the best), the ranks of the stratified average, and the layers of the layer view: what the notebook's
        compared cell prints. Rows of one rank are listed by name, so close scores swapping places on another
        machine change no line."""
        table = self.table("encoders")
        lines = [
            f"recipe: leaderboard: {len(self.encoders)} encoders x {len(self.tasks)} tasks; each cell the mean ± 95 % "
            f"CI over {table.n_seeds} {UNIT}",
            "encoders: " + ", ".join(self.row_label(encoder.name) for encoder in self.encoders),
            *sorted(self.skipped.values()),
            "task [metric, protocol]: rank 1 (the best and the rows the paired test does not separate from it)",
        ]
        for task in table.tasks:
            cells = [table.cell(row, task) for row in table.rows if table.cell(row, task) is not None]
            first = sorted(f"{cell.row} {cell.result.mean:.2f}" for cell in cells if cell.tied_with_best)
            lines.append(f"{task} [{cells[0].result.metric}, {cells[0].result.protocol}]: {', '.join(first)}")
        if table.average:
            lines.append(f"average over {len(table.tasks)} tasks (stratified by task), rank: encoders (average [95 % CI])")
            for rank in sorted(set(table.average_rank.values())):
                rows = sorted(row for row, value in table.average_rank.items() if value == rank)
                lines.append(f"{rank}: " + ", ".join(
                    f"{row} {table.average[row].effect:.2f} [{table.average[row].ci_low:.2f}, {table.average[row].ci_high:.2f}]"
                    for row in rows))  # fmt: skip
        for encoder in self.encoders:
            layers = [column for column in next(
                (cell.columns for (name, _), cell in self.cells.items() if name == encoder.name), {}) if column != EMBEDDING]
            if layers:
                lines.append(f"layer view: {encoder.name} rows for {', '.join(layers)} (tapped), beside its embedding")
        return "\n".join(lines)
