"""Figures and views for difference-aware representations: score tables, loss curves, ``y_diff`` maps,
and a player for BgKnown items (mixture, reference backgrounds, foreground).

Tables are nested mappings ``model -> column -> (mean, ci95)`` as
:class:`workbench.recipes.diff_byola.DiffBYOLARun` holds them; nothing here trains or evaluates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import ipywidgets
import numpy as np
import plotly.graph_objects as go

from workbench.typing import SampleRate
from workbench.viz.figures import MARGIN, color_of, spectrogram_figure
from workbench.viz.plotly_view import PlotlyView
from workbench.viz.widgets import audio_widget, set_audio

ScoreTable = Mapping[str, Mapping[Any, tuple[float, float]]]
"""``model -> column -> (mean, ci95)``."""


def _columns(table: ScoreTable, columns: Sequence[Any] | None) -> list[Any]:
    if not table:
        raise ValueError("the score table is empty: no model to show")
    if columns is None:
        columns = list(next(iter(table.values())))
    for model, row in table.items():
        missing = [column for column in columns if column not in row]
        if missing:
            raise ValueError(f"model {model!r} has no score for {missing}")
    return list(columns)


def score_table_figure(
    table: ScoreTable,
    columns: Sequence[Any] | None = None,
    column_names: Mapping[Any, str] | None = None,
    y_title: str = "score",
    title: str | None = None,
    x_title: str = "condition",
) -> go.Figure:
    """Grouped bars: one group per column (condition, task or k), one bar per model, 95 % CI error bars.

    Args:
        table: ``model -> column -> (mean, ci95)``.
        columns: the columns to draw, in order; default every column of the first model.
        column_names: display name of each column (default ``str(column)``).
        y_title, x_title: axis titles; title: figure title.

    Raises:
        ValueError: an empty table or a model without a score for a drawn column.
    """
    columns = _columns(table, columns)
    names = [(column_names or {}).get(column, str(column)) for column in columns]
    figure = go.Figure()
    for position, (model, row) in enumerate(table.items()):
        figure.add_trace(
            go.Bar(
                x=names, y=[row[column][0] for column in columns], name=str(model),
                error_y={"type": "data", "array": [row[column][1] for column in columns], "visible": True},
                marker_color=color_of(position),
                hovertemplate="%{x}: %{y:.3f} ± %{error_y.array:.3f}<extra>%{fullData.name}</extra>",
            )
        )  # fmt: skip
    figure.update_layout(barmode="group", title=title, xaxis_title=x_title, yaxis_title=y_title, legend_title_text="model",
                         margin=MARGIN)  # fmt: skip
    return figure


def score_table_markdown(
    table: ScoreTable, columns: Sequence[Any] | None = None, column_names: Mapping[Any, str] | None = None
) -> str:
    """The table as Markdown, ``mean ± ci`` per cell with three decimals, best mean per column in bold."""
    columns = _columns(table, columns)
    names = [(column_names or {}).get(column, str(column)) for column in columns]
    best = {column: max(row[column][0] for row in table.values()) for column in columns}
    lines = ["| model | " + " | ".join(names) + " |", "| --- |" + " --- |" * len(columns)]
    for model, row in table.items():
        cells = []
        for column in columns:
            mean, half_width = row[column]
            text = f"{mean:.3f} ± {half_width:.3f}"
            cells.append(f"**{text}**" if mean == best[column] and len(table) > 1 else text)
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def loss_curves_figure(histories: Mapping[str, Mapping[str, Sequence[float]]], title: str | None = None) -> go.Figure:
    """Pre-training losses per epoch: one colour per model, one dash per loss (total, BYOL, difference, and
    the BYOL loss of fixed views the convergence check reads)."""
    dashes = {"loss": "solid", "byol_loss": "dot", "difference_loss": "dash", "monitor_byol_loss": "longdashdot"}
    figure = go.Figure()
    for position, (model, curves) in enumerate(histories.items()):
        for name, values in curves.items():
            figure.add_trace(
                go.Scatter(
                    x=list(range(1, len(values) + 1)), y=list(values), mode="lines+markers",
                    name=f"{model} {name.replace('_', ' ')}", legendgroup=str(model),
                    line={"color": color_of(position), "dash": dashes.get(name, "solid")},
                )
            )  # fmt: skip
    # Epochs are whole numbers: a tick at epoch 1.5 would name an epoch that never was.
    figure.update_layout(title=title, xaxis_title="epoch", yaxis_title="loss", margin=MARGIN,
                         xaxis={"tickformat": "d", "dtick": 1, "tick0": 1})  # fmt: skip
    return figure


def bgknown_player(builder: Any, indices: Sequence[int] | None = None) -> ipywidgets.VBox:
    """Pick a BgKnown item and a part, listen to it and see its spectrogram.

    Args:
        builder: a :class:`workbench.evaluation.bgknown.BgKnownBuilder`.
        indices: the items to offer (default the first 20).

    Raises:
        ValueError: no items to offer.
    """
    indices = list(range(min(20, len(builder)))) if indices is None else list(indices)
    if not indices:
        raise ValueError("bgknown_player needs at least one item")
    sample_rate: SampleRate = builder.sample_rate
    classes = builder.classes
    parts = {"mixture": None, "foreground": None, "background in the mixture": None}
    parts.update({f"reference, {round(100 * overlap)} % overlap": overlap for overlap in builder.overlaps})

    def waveform_of(index: int, part: str) -> np.ndarray:
        item = builder.item(index)
        overlap = parts[part]
        if overlap is not None:
            return item.references[overlap].numpy()
        return {"mixture": item.mixture, "foreground": item.foreground,
                "background in the mixture": item.background}[part].numpy()  # fmt: skip

    def label_of(index: int) -> str:
        item = builder.item(index)
        source = f"; {item.pool} background {item.background_group}" if item.background_group else ""
        return f"item {index}: {classes[item.label]} at {item.snr_db:.1f} dB SNR{source}"

    options = [(label_of(index), index) for index in indices]
    item_chooser = ipywidgets.Dropdown(options=options, value=indices[0], description="item")
    part_chooser = ipywidgets.ToggleButtons(options=list(parts), value="mixture")
    first = waveform_of(indices[0], "mixture")
    player = audio_widget(first, sample_rate)
    spectrogram = PlotlyView(spectrogram_figure(first, sample_rate, title="mixture"))

    def show(_change: Any) -> None:
        waveform = waveform_of(item_chooser.value, part_chooser.value)
        set_audio(player, waveform, sample_rate)
        fresh = spectrogram_figure(waveform, sample_rate, title=part_chooser.value)
        spectrogram.figure = fresh

    item_chooser.observe(show, names="value")
    part_chooser.observe(show, names="value")
    return ipywidgets.VBox([ipywidgets.HBox([item_chooser, player]), part_chooser, spectrogram])


def background_pools_markdown(builder: Any, indices: Sequence[int] | None = None) -> str:
    """Which recording each BgKnown item's background came from, and whether any recording serves both
    the training and the test pool (it must not: the paper draws test backgrounds from FSD50K's eval set).

    A markdown table of the first 12 items (or ``indices``): item, fold, class, pool, background clip,
    recording; then one line per pool with its number of recordings, and the recordings in both pools.
    """
    indices = list(range(min(12, len(builder)))) if indices is None else list(indices)
    lines = ["| item | fold | class | pool | background | recording |", "| --- | --- | --- | --- | --- | --- |"]
    for index in indices:
        item = builder.item(index)
        fold = builder.foregrounds.fold_of(index)
        lines.append(f"| {index} | {fold} | {builder.classes[item.label]} | {item.pool} | {item.background_id} | "
                     f"{item.background_group} |")  # fmt: skip
    sources = builder.background_sources()
    lines.append("")
    lines += [f"- {pool} pool: {len(names)} recordings" for pool, names in sources.items()]
    if set(sources) == {"train", "test"}:
        shared = sorted(sources["train"] & sources["test"])
        lines.append(f"- recordings in both pools: {', '.join(shared) if shared else 'none'}")
    else:
        lines.append("- one pool shared by training and test items (the `textures` test bed)")
    return "\n".join(lines)


def paired_markdown(paired: Mapping[str, Mapping[str, Mapping[str, Any]]],
                    column_names: Mapping[str, str] | None = None) -> str:  # fmt: skip
    """The paired comparisons with λ=0 on the same test items (effect, 95 % CI, MDE, verdict) as a
    markdown table: one row per model, one cell per column (e.g. ``result.bgknown_paired``)."""
    if not paired:
        return "(no λ=0 model to compare with)"
    columns = list(next(iter(paired.values())))
    names = column_names or {}
    lines = ["| model - λ=0 | " + " | ".join(names.get(column, column) for column in columns) + " |",
             "| --- |" + " --- |" * len(columns)]  # fmt: skip

    def cell(c: Mapping[str, Any]) -> str:
        low = "-inf" if c["ci_low"] is None else f"{c['ci_low']:+.3f}"
        high = "inf" if c["ci_high"] is None else f"{c['ci_high']:+.3f}"
        mde = "unbounded" if c["mde"] is None else f"{c['mde']:.3f}"
        return f"{c['effect']:+.3f} [{low}, {high}], MDE {mde}, {c['verdict']}"

    lines += [f"| {model} | " + " | ".join(cell(row[column]) for column in columns) + " |" for model, row in paired.items()]
    return "\n".join(lines)
