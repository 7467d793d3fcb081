"""The leaderboard's views: a sortable, filterable table, a heatmap of encoders x tasks, and what a click on a cell
opens (that run's confusion matrix and the embedding explorer on the embeddings it was scored on).

:class:`LeaderboardView` is one ipywidgets box: a view switch (encoders / encoder layers), a sort choice (any task
or the average), a filter (part of a row's name), the table (a plotly table, redrawn on every change) and the
heatmap (a :class:`~workbench.viz.plotly_view.PlotlyView` whose cells carry ``"row|task"``); clicking a heatmap
cell, or :meth:`LeaderboardView.open` from code, draws the cell's confusion matrix (first probe seed, every test
clip) and opens the explorer on its embeddings. Nothing here trains: the embeddings come from the cache.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import TYPE_CHECKING

import ipywidgets
import numpy as np
import plotly.graph_objects as go

from workbench.viz.explorer import EmbeddingExplorer, explore
from workbench.viz.figures import MARGIN, confusion_figure
from workbench.viz.plotly_view import PlotlyView

if TYPE_CHECKING:  # only for annotations
    from workbench.recipes.leaderboard import Leaderboard, LeaderboardRun

AVERAGE = "average (stratified)"
"""The heatmap's and the table's last column: each row's average over tasks, stratified by task."""


def _average_text(table: Leaderboard, row: str, digits: int) -> str:
    average = table.average.get(row)
    if average is None:
        return "-"
    return f"{average.effect:.{digits}f} [{average.ci_low:.{digits}f}, {average.ci_high:.{digits}f}] ({table.average_rank[row]})"


def sorted_rows(table: Leaderboard, sort_by: str = AVERAGE, contains: str = "") -> list[str]:
    """The table's rows whose name contains ``contains`` (any case), best first on ``sort_by`` (a task or
    :data:`AVERAGE`; rows without a score there last).

    Raises:
        ValueError: ``sort_by`` is neither a task of the table nor :data:`AVERAGE`.
    """
    if sort_by != AVERAGE and sort_by not in table.tasks:
        raise ValueError(f"cannot sort by {sort_by!r}; valid: {', '.join([AVERAGE, *table.tasks])}")

    def score(row: str) -> float:
        if sort_by == AVERAGE:
            return table.average[row].effect if row in table.average else -np.inf
        cell = table.cell(row, sort_by)
        return cell.result.mean if cell is not None else -np.inf

    needle = contains.strip().lower()
    rows = [row for row in table.rows if needle in row.lower()]
    return sorted(rows, key=lambda row: -score(row))


def leaderboard_table_figure(table: Leaderboard, rows: list[str] | None = None, digits: int = 3) -> go.Figure:
    """A plotly table: rank of the average, row, one column per task (mean ± 95 % CI and the task's rank; tied
    with the best in bold), the stratified average with its interval and rank."""
    rows = table.rows if rows is None else rows
    columns: list[list[str]] = [[str(table.average_rank.get(row, "-")) for row in rows], [html.escape(row) for row in rows]]
    for task in table.tasks:
        texts = []
        for row in rows:
            cell = table.cell(row, task)
            text = "-" if cell is None else f"{cell.text(digits)} ({cell.rank})"
            texts.append(f"<b>{text}</b>" if cell is not None and cell.tied_with_best else text)
        columns.append(texts)
    columns.append([_average_text(table, row, digits) for row in rows])
    header = ["rank", "encoder" if table.view == "encoders" else "encoder / layer", *table.tasks, AVERAGE]
    figure = go.Figure(go.Table(
        header={"values": [f"<b>{html.escape(name)}</b>" for name in header], "align": "left", "fill_color": "#eef"},
        cells={"values": columns, "align": "left", "height": 24},
        columnwidth=[40, 220, *([130] * len(table.tasks)), 190],
    ))  # fmt: skip
    # A cell's text wraps to two lines in a notebook-wide figure: room for both, so no row is cut off.
    figure.update_layout(margin={**MARGIN, "t": 10, "b": 10}, height=90 + 48 * max(1, len(rows)))
    return figure


def leaderboard_heatmap(table: Leaderboard, rows: list[str] | None = None, digits: int = 2) -> go.Figure:
    """Rows x tasks (and the average) coloured by score; each cell's text is its score and rank on the task, its
    hover the interval and the comparison with the task's best row, its customdata ``"row|task"``."""
    rows = table.rows if rows is None else rows
    columns = [*table.tasks, AVERAGE]
    grid: list[list[tuple[float | None, str, str, str]]] = []  # per row: (score, text, hover, key) per column
    for row in rows:
        entries = []
        for task in table.tasks:
            cell = table.cell(row, task)
            if cell is None:
                entries.append((None, "", "not evaluated", ""))
                continue
            versus = ("best on this task" if cell.against_best is None
                      else f"best minus this: {cell.against_best.interval(3)} ({cell.against_best.method})")  # fmt: skip
            hover = (f"{cell.text(3)} over {len(cell.result.per_seed)} probe seeds<br>rank {cell.rank}; {versus}"
                     "<br>click: confusion matrix and explorer")  # fmt: skip
            entries.append((cell.result.mean, f"{cell.result.mean:.{digits}f} ({cell.rank})", hover, f"{row}|{task}"))
        average = table.average.get(row)
        entries.append((None, "", "-", "") if average is None else (
            average.effect, f"{average.effect:.{digits}f} ({table.average_rank[row]})", _average_text(table, row, 3), ""))
        grid.append(entries)
    z, text, hover, keys = ([[entry[part] for entry in entries] for entries in grid] for part in range(4))
    figure = go.Figure(go.Heatmap(
        z=z, x=columns, y=rows, text=text, texttemplate="%{text}", customdata=keys, hovertext=hover,
        hovertemplate="%{y} on %{x}<br>%{hovertext}<extra></extra>", colorscale="Viridis", zmin=0, zmax=1,
        colorbar={"title": {"text": "score"}},
    ))  # fmt: skip
    figure.update_layout(
        title="score per task (rank on the task; click a cell to open its run)", yaxis_autorange="reversed",
        height=160 + 34 * len(rows), margin={**MARGIN, "l": 260}, xaxis_side="top",
    )  # fmt: skip
    return figure


ClipLoaderFactory = Callable[[str], Callable[[int], tuple]]
"""``task -> (index -> (waveform, sample_rate))``: how the explorer plays a task's clips."""


class LeaderboardView:
    """The interactive leaderboard of a :class:`~workbench.recipes.leaderboard.LeaderboardRun`.

    Args:
        result: the run.
        projection: the explorer's map: ``"pca"``, ``"tsne"`` or ``"umap"``.

    Attributes:
        view, sort, filter: the view switch, the sort choice and the filter text.
        table_view, heatmap: the table and the heatmap (:class:`PlotlyView`).
        confusion: the opened cell's confusion matrix (:class:`PlotlyView`; None before a cell is opened, so the
            notebook shows no empty figure).
        explorer: the opened cell's :class:`EmbeddingExplorer` (None before a cell is opened).
        opened: ``(row, task)`` of the opened cell, None before.
        info: one line naming the opened cell and its run directory.
    """

    def __init__(self, result: LeaderboardRun, projection: str = "pca"):
        self.result = result
        self.projection = projection
        self.view = ipywidgets.ToggleButtons(options=[("encoders", "encoders"), ("encoder layers", "layers")],
                                             value="encoders", description="rows")  # fmt: skip
        self.sort = ipywidgets.Dropdown(options=[AVERAGE, *result.tasks], value=AVERAGE, description="sort by")
        self.filter = ipywidgets.Text(value="", placeholder="part of a name", description="filter")
        self.table_view = PlotlyView(go.Figure())
        self.heatmap = PlotlyView(go.Figure())
        self.heatmap.on_click(self._on_click)
        self.confusion: PlotlyView | None = None
        self.info = ipywidgets.HTML("Click a cell of the heatmap to open its run: confusion matrix and explorer.")
        self.explorer: EmbeddingExplorer | None = None
        self.opened: tuple[str, str] | None = None
        self._opened_box = ipywidgets.VBox([])
        for control in (self.view, self.sort, self.filter):
            control.observe(lambda _change: self.redraw(), names="value")
        self.redraw()
        controls = ipywidgets.HBox([self.view, self.sort, self.filter])
        self._container = ipywidgets.VBox([controls, self.table_view, self.heatmap, self.info, self._opened_box])

    @property
    def widget(self) -> ipywidgets.Box:
        return self._container

    def _repr_mimebundle_(self, **kwargs):
        return self._container._repr_mimebundle_(**kwargs)

    @property
    def table(self) -> Leaderboard:
        return self.result.table(self.view.value)

    def redraw(self) -> None:
        """Draw the table and the heatmap for the current view, sort and filter."""
        table = self.table
        rows = sorted_rows(table, self.sort.value, self.filter.value)
        self.table_view.figure = leaderboard_table_figure(table, rows)
        self.heatmap.figure = leaderboard_heatmap(table, rows)

    def _on_click(self, _trace: int, point, customdata) -> None:
        key = customdata
        if not key and isinstance(point, (list, tuple)) and len(point) == 2:  # a heatmap point is [row, column]
            key = np.asarray(self.heatmap.figure.data[0].customdata)[point[0]][point[1]]
        if not key or "|" not in str(key):
            return  # the average column opens nothing
        row, task = str(key).split("|", 1)
        try:
            self.open(row, task)
        except Exception as error:  # noqa: BLE001 - a click callback has nowhere to raise to; show it
            self.info.value = f"<b>could not open {html.escape(row)} on {html.escape(task)}</b>: {html.escape(str(error))}"

    def open(self, row: str, task: str) -> None:
        """Open the cell of ``row`` on ``task``: its confusion matrix and the explorer on its embeddings.

        Raises:
            KeyError: no such cell in the current view.
        """
        view = self.view.value
        cell = self.result.table(view).cell(row, task)
        if cell is None:
            raise KeyError(f"no cell {row!r} x {task!r} in the {view} view")
        score = cell.result
        views = []
        if score.metric == "accuracy":  # a multi-label task has no single confusion matrix
            self.confusion = PlotlyView(confusion_figure(
                score.test_targets, score.predictions, score.classes,
                title=f"{row} on {task}: confusion of the first probe seed ({score.n_test} test clips, {score.protocol})",
            ))  # fmt: skip
            views.append(self.confusion)
        embeddings = self.result.embeddings(row, task, view)
        dataset = self.result.datasets[task]

        def load_clip(index: int):
            waveform, _, _ = dataset[index]
            return waveform, dataset.sample_rate

        labels = embeddings.targets if embeddings.targets.ndim == 1 else embeddings.targets.argmax(axis=1)
        self.explorer = explore(embeddings.features, labels, embeddings.classes, load_clip, method=self.projection,
                                title=f"{row} on {task} (click a point to listen)",
                                hover_text=[str(clip) for clip in embeddings.ids])  # fmt: skip
        self._opened_box.children = [*views, self.explorer.widget]
        self.opened = (row, task)
        self.info.value = (f"<b>{html.escape(row)}</b> on <b>{html.escape(task)}</b>: {html.escape(score.summary())}; "
                           f"run <code>{html.escape(cell.run_dir)}</code>")  # fmt: skip
