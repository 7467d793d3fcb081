"""Figures and views for query-based separation: SDR and ablation tables, the embedding panels of
CaRE-SEP's Figure 3 (four panels with their KL divergences), markdown tables that survive ``|`` in class
names, and a player to hear a mixture, a separated estimate and its reference.

Tables are nested mappings ``row -> metric -> (mean, ci95)`` as
:class:`workbench.recipes.care_sep.CareSepRun` holds them; the player takes a ``separate`` function, so
nothing here trains or evaluates.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable, Mapping, Sequence

import ipywidgets
import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from workbench.typing import SampleRate
from workbench.viz.difference import score_table_figure
from workbench.viz.figures import MARGIN, color_of, db_range, log_mel
from workbench.viz.plotly_view import PlotlyView
from workbench.viz.widgets import audio_widget, duration_text, set_audio

SDR_COLUMNS = ("mixture_sdr", "clean_sdr", "silence_sdr", "sdri")
COLUMN_NAMES = {"mixture_sdr": "mixture-SDR", "clean_sdr": "clean-SDR", "silence_sdr": "silence-SDR",
                "sdri": "SDRi", "map": "tagging mAP"}  # fmt: skip
ScoreTable = Mapping[str, Mapping[str, tuple[float, float]]]
"""``row -> metric -> (mean, ci95)``."""


def _relabelled(table: ScoreTable, labels: Mapping[str, str] | None) -> dict[str, Mapping[str, tuple[float, float]]]:
    return {(labels or {}).get(row, row): values for row, values in table.items()}


def sdr_table_figure(
    table: ScoreTable, labels: Mapping[str, str] | None = None, query_blind: float | None = None,
    title: str | None = None,
) -> go.Figure:  # fmt: skip
    """Grouped bars of the SDRs (dB) per row with 95 % CIs, and the query-blind reference as a dashed line.

    Args:
        table: ``row -> metric -> (mean, ci95)`` with the metrics of :data:`SDR_COLUMNS`.
        labels: display name per row (default the row key).
        query_blind: SDR of half the mixture (what ignoring the query gets), drawn as a line.

    Raises:
        ValueError: an empty table or a row without one of the SDRs.
    """
    separating = {row: values for row, values in table.items()
                  if any(np.isfinite(values[metric][0]) for metric in SDR_COLUMNS if metric in values)}  # fmt: skip
    if not separating:
        raise ValueError("the SDR table has no row with SDRs (CaRE-CLS alone does not separate)")
    figure = score_table_figure(_relabelled(separating, labels), columns=SDR_COLUMNS, column_names=COLUMN_NAMES,
                                y_title="SDR (dB)", x_title="measure", title=title)  # fmt: skip
    if query_blind is not None and np.isfinite(query_blind):
        figure.add_hline(
            y=query_blind, line_dash="dash", line_color="gray",
            annotation_text=f"half the mixture: {query_blind:.1f} dB", annotation_position="top left",
        )  # fmt: skip
    return figure


FLAGS = ("grad", "init", "shared")
"""The paper's Table 2 columns, in its order: Grad, Init, Shared encoder."""
FLAG_NAMES = {"grad": "Grad", "init": "Init", "shared": "Shared encoder"}
_CELL_HEIGHT, _HEADER_HEIGHT, _LINE_HEIGHT = 30, 34, 20
_NAME_WIDTH = 18
"""Characters per line of the table's name column (longer names wrap at a space)."""


def _wrapped(text: str) -> str:
    return "<br>".join(textwrap.wrap(text, _NAME_WIDTH)) if text else text


def _format(mean: float, ci95: float, digits: int) -> str:
    if not np.isfinite(mean):
        return "-"
    return f"{mean:.{digits}f} ± {ci95:.{digits}f}" if np.isfinite(ci95) else f"{mean:.{digits}f}"


def ablation_table_figure(
    table: ScoreTable, flags: Mapping[str, Mapping[str, bool]], names: Mapping[str, str] | None = None,
    title: str | None = None,
) -> go.Figure:  # fmt: skip
    """The ablation as a table (the paper's Table 2): one line per row, its flags and its scores.

    The figure is as tall as its rows (every row visible, no scrolling box); a metric a row does not have
    (CaRE-CLS's SDRs) shows as ``-``.

    Args:
        table: ``row -> metric -> (mean, ci95)``; SDRs in dB and ``"map"``.
        flags: ``row -> {"grad": bool, "init": bool, "shared": bool}``.
        names: the paper's name of each row (a column of its own), optional.

    Raises:
        ValueError: an empty table, or a row without flags.
    """
    if not table:
        raise ValueError("the ablation table is empty: no row to show")
    missing = [row for row in table if row not in flags]
    if missing:
        raise ValueError(f"rows {missing} have no flags")
    rows = list(table)
    metrics = [metric for metric in (*SDR_COLUMNS, "map") if all(metric in table[row] for row in rows)]
    mark = {True: "✓", False: "✗"}
    header = ["ID", *(["model"] if names else []), *(FLAG_NAMES[flag] for flag in FLAGS),
              *(COLUMN_NAMES[m] for m in metrics)]  # fmt: skip
    columns: list[list[str]] = [rows]
    if names:
        columns.append([_wrapped(names.get(row, "")) for row in rows])
    columns += [[mark[bool(flags[row][flag])] for row in rows] for flag in FLAGS]
    for metric in metrics:
        digits = 2 if metric == "map" else 1
        columns.append([_format(*table[row][metric], digits) for row in rows])
    # Column widths follow their longest text (names are wrapped here, at word boundaries, so plotly does
    # not wrap them again), and each row is as tall as its most-wrapped cell: the figure holds every line.
    widths = [max(len(line) for text in [name, *column] for line in str(text).split("<br>")) + 3
              for name, column in zip(header, columns)]  # fmt: skip
    lines = [max(str(column[position]).count("<br>") + 1 for column in columns) for position in range(len(rows))]
    figure = go.Figure(go.Table(
        columnwidth=widths,
        header={"values": header, "align": "left", "height": _HEADER_HEIGHT},
        cells={"values": columns, "align": "left", "height": _CELL_HEIGHT},
    ))  # fmt: skip
    margin = {**MARGIN, "t": 50 if title else 10, "b": 10}
    body = sum(_CELL_HEIGHT + _LINE_HEIGHT * (count - 1) for count in lines)
    height = margin["t"] + margin["b"] + _HEADER_HEIGHT + body + 20
    figure.update_layout(title=title, margin=margin, height=height)
    return figure


def markdown_cell(value: object) -> str:
    """``value`` as text safe inside a markdown table cell: ``|`` escaped (class names contain it), no newlines."""
    return str(value).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A markdown table whose cells are escaped with :func:`markdown_cell`.

    Raises:
        ValueError: a row with another number of cells than the header.
    """
    for row in rows:
        if len(row) != len(header):
            raise ValueError(f"markdown_table: a row has {len(row)} cells for {len(header)} columns: {list(row)}")
    lines = ["| " + " | ".join(markdown_cell(name) for name in header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(markdown_cell(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def kl_markdown(kl: Mapping[str, Mapping[str, float]], labels: Mapping[str, str] | None = None) -> str:
    """The Figure-3 KL divergences (nats) as a markdown table: one line per row, one column per pair."""
    names: list[str] = []
    for values in kl.values():
        names += [name for name in values if name not in names]
    body = [[(labels or {}).get(row, row), *(f"{values[name]:.3g}" if name in values else "-" for name in names)]
            for row, values in kl.items()]  # fmt: skip
    return markdown_table(["row", *names], body)


PANEL_KINDS = {"separation": "separation feature", "query": "query embedding"}


def embedding_panels_figure(
    panels: Mapping[str, Mapping[str, tuple[np.ndarray, np.ndarray]]], class_names: Sequence[str],
    kl: Mapping[str, Mapping[str, float]] | None = None, labels: Mapping[str, str] | None = None,
    title: str | None = None,
) -> go.Figure:  # fmt: skip
    """Figure 3 of CaRE-SEP as the paper draws it: per row, a t-SNE panel of its separation features and one
    of its query embeddings, two classes in two colours, each panel titled with its class-vs-class KL.

    With rows A (baseline) and C (CaRE-SEP) these are the paper's panels (a)-(d); the query-vs-separation KL
    of each class, where the two have one width, is written under the row's separation panel.

    Args:
        panels: ``row -> kind ("separation" | "query") -> (points (M, 2), class index per point (M,))``.
        class_names: names of the class indices.
        kl: ``row -> name -> KL`` (nats) as :func:`~workbench.recipes.care_sep.figure_analysis` names them.
        labels: display name per row.

    Raises:
        ValueError: no panels, or points and classes that disagree.
    """
    cells = [(row, kind) for row, kinds in panels.items() for kind in PANEL_KINDS if kind in kinds]
    if not cells:
        raise ValueError("no embedding panels to draw")
    titles = []
    for position, (row, kind) in enumerate(cells):
        text = f"({chr(ord('a') + position)}) {(labels or {}).get(row, row)}: {PANEL_KINDS[kind]}"
        values = (kl or {}).get(row, {})
        pair = next((value for name, value in values.items() if name.startswith(f"{kind}: ")), None)
        if pair is not None:
            text += f"<br>KL between classes {pair:.3g}"
        across = [value for name, value in values.items() if name.startswith("query | separation")]
        if kind == "separation" and across:
            text += f"; query vs separation {np.mean(across):.3g}"
        titles.append(text)
    columns = min(4, len(cells))
    grid_rows = -(-len(cells) // columns)
    figure = make_subplots(rows=grid_rows, cols=columns, subplot_titles=titles, horizontal_spacing=0.05,
                           vertical_spacing=0.18 if grid_rows > 1 else 0.1)  # fmt: skip
    shown: set[int] = set()
    for position, (row, kind) in enumerate(cells):
        points, classes = (np.asarray(array) for array in panels[row][kind])
        if points.ndim != 2 or points.shape[1] != 2 or classes.shape != (len(points),):
            raise ValueError(
                f"panel {row!r} {kind}: points must be (M, 2) with one class each, got {points.shape}, {classes.shape}"
            )
        for order, label in enumerate(sorted(set(classes.tolist()))):
            members = classes == label
            figure.add_trace(
                go.Scatter(
                    x=points[members, 0], y=points[members, 1], mode="markers", name=class_names[int(label)],
                    legendgroup=str(label), showlegend=label not in shown,
                    marker={"color": color_of(order), "size": 7, "opacity": 0.8},
                ),
                row=position // columns + 1, col=position % columns + 1,
            )  # fmt: skip
            shown.add(label)
    figure.update_xaxes(showticklabels=False, title_text="t-SNE 1")
    figure.update_yaxes(showticklabels=False, title_text="t-SNE 2")
    figure.update_annotations(font_size=11)
    figure.update_layout(title=title, margin={**MARGIN, "t": 100}, height=140 + 300 * grid_rows,
                         legend_title_text="class")  # fmt: skip
    return figure


def _spectrogram_panels(waveforms: Sequence[np.ndarray], titles: Sequence[str], sample_rate: SampleRate) -> go.Figure:
    """Log-mel spectrograms side by side on one colour scale (:func:`~workbench.viz.figures.db_range` of
    them all, one dB colour bar), so a quiet estimate looks quiet next to its mixture and silence is
    drawn at the floor colour; time in seconds, mel band up."""
    figure = make_subplots(rows=1, cols=len(waveforms), subplot_titles=list(titles), shared_yaxes=True,
                           horizontal_spacing=0.05)  # fmt: skip
    spectrograms = [log_mel(waveform, sample_rate) for waveform in waveforms]
    low, high = db_range(*(decibels for _times, decibels in spectrograms))
    for column, (times, decibels) in enumerate(spectrograms, start=1):
        figure.add_trace(
            go.Heatmap(x=times, y=np.arange(decibels.shape[0]), z=decibels, coloraxis="coloraxis"), row=1, col=column
        )
        figure.update_xaxes(title_text="time (s)", row=1, col=column)
    figure.update_yaxes(title_text="mel band", row=1, col=1)
    figure.update_layout(
        coloraxis={"colorscale": "Viridis", "cmin": low, "cmax": high,
                   "colorbar": {"title": {"text": "dB"}, "thickness": 10, "len": 0.9}},
        margin={**MARGIN, "r": 40}, height=320,
    )  # fmt: skip
    return figure


def separation_player(
    separate: Callable[[str, torch.Tensor, int], torch.Tensor],
    sources: torch.Tensor,
    classes: np.ndarray,
    class_names: Sequence[str],
    sample_rate: SampleRate,
    rows: Sequence[str],
    row_labels: Mapping[str, str] | None = None,
    indices: Sequence[int] | None = None,
) -> ipywidgets.VBox:
    """Pick a mixture, a query class and a model; hear mixture, estimate and reference, see their spectrograms.

    The reference is the mixture's source of the query class, or silence when the class is not in the
    mixture (then the estimate should be silent too). Picking another mixture resets the query to the
    class of its first source, so the first thing heard is a source that is there.

    Args:
        separate: ``separate(row, mixture (samples,), query_class) -> estimate (samples,)``.
        sources: ``(pairs, 2, samples)``; the mixture is their sum.
        classes: ``(pairs, 2)`` class of each source.
        class_names: names of the classes; every class can be queried.
        sample_rate: the audio's rate.
        rows: the models to choose from; row_labels: their display names.
        indices: the pairs to offer (default the first 20).

    Raises:
        ValueError: no pairs or no rows to offer.
    """
    indices = list(range(min(20, len(sources)))) if indices is None else list(indices)
    if not indices or not rows:
        raise ValueError("separation_player needs at least one pair and one model")
    classes = np.asarray(classes)

    def pair_label(index: int) -> str:
        first, second = (class_names[int(label)] for label in classes[index])
        return f"pair {index}: {first} + {second}"

    pair_chooser = ipywidgets.Dropdown(
        options=[(pair_label(index), index) for index in indices], value=indices[0], description="mixture"
    )
    class_chooser = ipywidgets.Dropdown(
        options=[(name, position) for position, name in enumerate(class_names)], value=int(classes[indices[0], 0]),
        description="query",
    )  # fmt: skip
    row_chooser = ipywidgets.Dropdown(
        options=[((row_labels or {}).get(row, row), row) for row in rows], value=rows[0], description="model"
    )
    players = [audio_widget(), audio_widget(), audio_widget()]
    captions = [ipywidgets.Label(text) for text in ("mixture", "estimate", "reference")]
    durations = [ipywidgets.Label() for _ in players]  # the controls show 0.5-s clips as "0:00 / 0:00"
    titles = ["mixture", "estimate", "reference"]
    spectrograms = PlotlyView(_spectrogram_panels([np.zeros(1024)] * 3, titles, sample_rate))

    def parts() -> tuple[list[np.ndarray], list[str]]:
        index, query_class = pair_chooser.value, class_chooser.value
        mixture = sources[index].sum(dim=0)
        estimate = separate(row_chooser.value, mixture, query_class)
        present = np.flatnonzero(classes[index] == query_class)
        reference = sources[index, int(present[0])] if present.size else torch.zeros_like(mixture)
        name = class_names[query_class]
        titles = ["mixture", f"estimate ({name})", f"reference ({name})" if present.size else "reference: silence"]
        return [mixture.numpy(), estimate.detach().numpy(), reference.numpy()], titles

    def show(_change: object = None) -> None:
        waveforms, titles = parts()
        fresh = _spectrogram_panels(waveforms, titles, sample_rate)
        for player, caption, duration, waveform, text in zip(players, captions, durations, waveforms, titles):
            set_audio(player, waveform, sample_rate)
            caption.value = text
            duration.value = duration_text(waveform, sample_rate)
        spectrograms.figure = fresh

    def reset_query(change: dict) -> None:
        first_source = int(classes[change["new"], 0])
        if class_chooser.value != first_source:
            class_chooser.value = first_source  # its observer shows the new pair
        else:
            show()

    pair_chooser.observe(reset_query, names="value")
    for chooser in (class_chooser, row_chooser):
        chooser.observe(show, names="value")
    show()
    audio = ipywidgets.HBox([ipywidgets.VBox([caption, player, duration])
                             for caption, player, duration in zip(captions, players, durations)])  # fmt: skip
    return ipywidgets.VBox([ipywidgets.HBox([pair_chooser, class_chooser, row_chooser]), audio, spectrograms])


PAPER_WIDTH = re.compile(r"\b\d+-d\b")
"""The query width in a row's paper name ("2048-d ST-SED-SEP", "768-d CaRE-SEP")."""


def measured_labels(result) -> dict[str, str]:
    """``result.labels()`` with the width of the query each row's trained system really has in place of
    the paper's (at the tiny size the queries are 128-d, not 2048-d or 768-d)."""
    labels = dict(result.labels())
    for row, system in result.systems.items():
        if row in labels:
            width = system.query_model.embedding_dim
            labels[row] = PAPER_WIDTH.sub(f"{width}-d", labels[row], count=1)
    return labels


def result_player(result, rows: Sequence[str] | None = None, indices: Sequence[int] | None = None) -> ipywidgets.VBox:
    """:func:`separation_player` on a :class:`~workbench.recipes.care_sep.CareSepRun`'s test pairs and systems,
    the models named with their real query widths (:func:`measured_labels`)."""
    rows = result.separating_rows() if rows is None else list(rows)
    test = result.data.test
    return separation_player(
        result.separate, test.sources, test.classes, result.class_names, result.sample_rate, rows,
        row_labels=measured_labels(result), indices=indices,
    )  # fmt: skip
