"""Runs side by side: a table of run folders and their training curves on shared axes.

:func:`runs_table_figure` draws :func:`workbench.train.runs_index.runs_table` as a plotly table (the
parameters that differ between the runs get a column each); :func:`runs_curves_figure` draws the
chosen runs' curves from log.jsonl, one panel per quantity (``epoch/loss``, ``step/lr``), every run a
colour of its own in every panel, so runs compare on the same axes; :func:`runs_browser` is the
notebook view: select runs and quantities, the figure redraws. Scripts use the figure functions (the
CLI's ``workbench runs --curves`` writes one as an HTML page).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence

import ipywidgets
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from workbench.train.runs_index import Curve, RunSummary, list_runs, read_curves, runs_table
from workbench.viz.figures import MARGIN, color_of
from workbench.viz.plotly_view import PlotlyView

TABLE_COLUMNS = ("run", "status", "created", "data", "data_digest", "weights", "error")


def runs_table_figure(runs: Sequence[RunSummary]) -> go.Figure:
    """A plotly table: one row per run, the fixed columns and one column per differing parameter."""
    rows = runs_table(runs)
    differing = list(rows[0]["params"]) if rows else []
    headers = [*TABLE_COLUMNS[:3], *differing, *TABLE_COLUMNS[3:]]
    columns = [[row[name] for row in rows] for name in TABLE_COLUMNS[:3]]
    columns += [[json.dumps(row["params"][name]) for row in rows] for name in differing]
    columns += [[row[name] for row in rows] for name in TABLE_COLUMNS[3:]]
    figure = go.Figure(go.Table(header={"values": headers, "align": "left"},
                                cells={"values": columns, "align": "left"}))  # fmt: skip
    figure.update_layout(margin=MARGIN, height=120 + 28 * len(rows))
    return figure


def runs_curves_figure(
    runs: Sequence[RunSummary | str | os.PathLike], quantities: Sequence[str] | None = None, *, log_y: bool = False
) -> go.Figure:
    """The curves of ``runs`` on shared axes: one panel per quantity, one colour per run.

    Args:
        runs: run summaries or run folders.
        quantities: curve names to draw (``"epoch/loss"``); default every one any run logged.
        log_y: logarithmic value axes (losses over orders of magnitude).

    Raises:
        ValueError: ``quantities`` names a curve that none of the runs logged (the message lists them).
    """
    curves = [curve for run in runs for curve in read_curves(run)]
    return curves_figure(curves, quantities, log_y=log_y)


def curves_figure(
    curves: Sequence[Curve], quantities: Sequence[str] | None = None, *, log_y: bool = False
) -> go.Figure:
    """:func:`runs_curves_figure` from curves already read."""
    logged = list(dict.fromkeys(curve.name for curve in curves))
    wanted = logged if quantities is None else list(quantities)
    unknown = [name for name in wanted if name not in logged]
    if unknown:
        raise ValueError(f"no run logged {', '.join(unknown)}; logged quantities: {', '.join(logged) or 'none'}")
    run_names = list(dict.fromkeys(curve.run for curve in curves))
    rows = max(1, len(wanted))
    figure = make_subplots(rows=rows, cols=1, subplot_titles=wanted or ["no curves logged"],
                           vertical_spacing=min(0.08, 0.3 / rows))  # fmt: skip
    shown: set[str] = set()
    for row, name in enumerate(wanted, start=1):
        for curve in (curve for curve in curves if curve.name == name):
            colour = color_of(run_names.index(curve.run))
            trace = go.Scatter(x=list(curve.x), y=list(curve.values), mode="lines+markers", name=curve.run,
                               legendgroup=curve.run, showlegend=curve.run not in shown,
                               line={"color": colour}, marker={"size": 4})  # fmt: skip
            figure.add_trace(trace, row=row, col=1)
            shown.add(curve.run)
            figure.update_xaxes(title_text=curve.x_name, row=row, col=1)
    if log_y:
        figure.update_yaxes(type="log")
    figure.update_layout(margin=MARGIN, height=120 + 240 * rows, legend={"title": {"text": "run"}})
    return figure


def runs_browser(
    root: str | os.PathLike | None = None, *, recipe: str | Sequence[str] | None = None,
    status: str | Sequence[str] | None = None,
) -> ipywidgets.VBox:
    """The notebook view of the runs under ``root``: their table, a run selector and a quantity selector;
    the curves of the selected runs redraw on every change (filters as :func:`list_runs`)."""
    runs = list_runs(root, recipe=recipe, status=status)
    by_name = {run.name: run for run in runs}
    curves = {run.name: read_curves(run) for run in runs}
    run_picker = ipywidgets.SelectMultiple(options=list(by_name), value=list(by_name)[-2:], description="runs",
                                           rows=min(8, max(2, len(runs))), layout={"width": "60%"})  # fmt: skip
    quantity_picker = ipywidgets.SelectMultiple(description="curves", rows=8, layout={"width": "38%"})
    view = PlotlyView()

    def chosen_curves() -> list[Curve]:
        return [curve for name in run_picker.value for curve in curves[name]]

    def update_quantities(*_: object) -> None:
        logged = list(dict.fromkeys(curve.name for curve in chosen_curves()))
        kept = [name for name in quantity_picker.value if name in logged]
        quantity_picker.options = logged
        quantity_picker.value = kept or logged[:2]

    def redraw(*_: object) -> None:
        view.figure = curves_figure(chosen_curves(), list(quantity_picker.value))

    run_picker.observe(lambda change: (update_quantities(), redraw()), names="value")
    quantity_picker.observe(redraw, names="value")
    update_quantities()
    redraw()
    table = PlotlyView(runs_table_figure(runs))
    return ipywidgets.VBox([table, ipywidgets.HBox([run_picker, quantity_picker]), view])
