"""Figures and views for query-based separation: SDR and ablation tables, the embedding panels of
CaRE-SEP's Figure 3, and a player to hear a mixture, a separated estimate and its reference.

Tables are nested mappings ``row -> metric -> (mean, ci95)`` as
:class:`workbench.recipes.care_sep.CareSepRun` holds them; the player takes a ``separate`` function, so
nothing here trains or evaluates.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import ipywidgets
import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from workbench.typing import SampleRate
from workbench.viz.difference import score_table_figure
from workbench.viz.figures import MARGIN, color_of, log_mel
from workbench.viz.plotly_view import PlotlyView
from workbench.viz.widgets import audio_widget, set_audio

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
    figure = score_table_figure(_relabelled(table, labels), columns=SDR_COLUMNS, column_names=COLUMN_NAMES,
                                y_title="SDR (dB)", x_title="measure", title=title)  # fmt: skip
    if query_blind is not None and np.isfinite(query_blind):
        figure.add_hline(
            y=query_blind, line_dash="dash", line_color="gray",
            annotation_text=f"half the mixture: {query_blind:.1f} dB", annotation_position="top left",
        )  # fmt: skip
    return figure


def ablation_table_figure(
    table: ScoreTable, flags: Mapping[str, Mapping[str, bool]], names: Mapping[str, str] | None = None,
    title: str | None = None,
) -> go.Figure:  # fmt: skip
    """The ablation as a table (the paper's Table 2): one line per row, its flags and its scores.

    Args:
        table: ``row -> metric -> (mean, ci95)``; SDRs in dB and ``"map"``.
        flags: ``row -> {"shared": bool, "init": bool, "grad": bool}``.
        names: what each row is (a column of its own), optional.

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
    header = ["row", *(["what"] if names else []), "shared", "init", "grad", *(COLUMN_NAMES[m] for m in metrics)]
    columns: list[list[str]] = [rows]
    if names:
        columns.append([names.get(row, "") for row in rows])
    columns += [[mark[bool(flags[row][flag])] for row in rows] for flag in ("shared", "init", "grad")]
    for metric in metrics:
        digits = 2 if metric == "map" else 1
        columns.append([f"{table[row][metric][0]:.{digits}f} ± {table[row][metric][1]:.{digits}f}" for row in rows])
    figure = go.Figure(go.Table(header={"values": header, "align": "left"}, cells={"values": columns, "align": "left"}))
    figure.update_layout(title=title, margin=MARGIN, height=120 + 30 * len(rows))
    return figure


def embedding_panels_figure(
    panels: Mapping[str, tuple[np.ndarray, np.ndarray]], group_names: Sequence[str],
    kl: Mapping[str, Mapping[str, float]] | None = None, labels: Mapping[str, str] | None = None,
    title: str | None = None,
) -> go.Figure:  # fmt: skip
    """Figure 3 of CaRE-SEP: per model, a 2-D map of query embeddings and separation features of two classes.

    Groups are ``(query a, query b, separation a, separation b)``: colour is the class, the marker the
    kind (circle: query embedding, cross: separation feature), so a mismatch between query and separation
    distributions shows as circles and crosses apart.

    Args:
        panels: ``row -> (points (M, 2), groups (M,))``, groups indexing ``group_names``.
        group_names: the four group names, ``"query: <a>"``, ``"query: <b>"``, ``"separation: <a>"``, ...
        kl: ``row -> name -> KL`` (nats), printed under each panel's title.
        labels: panel title per row.

    Raises:
        ValueError: no panels, not four groups, or points and groups that disagree.
    """
    if not panels:
        raise ValueError("no embedding panels to draw")
    if len(group_names) != 4:
        raise ValueError(f"expected four groups (query/separation x two classes), got {list(group_names)}")
    rows = list(panels)
    titles = []
    for row in rows:
        text = (labels or {}).get(row, row)
        if kl and row in kl:
            query_vs_separation = [value for name, value in kl[row].items() if name.startswith("query | separation")]
            if query_vs_separation:
                text += f"<br>KL query|separation {np.mean(query_vs_separation):.3g}"
        titles.append(text)
    figure = make_subplots(rows=1, cols=len(rows), subplot_titles=titles)
    symbols = ("circle", "circle", "x", "x")
    for column, row in enumerate(rows, start=1):
        points, groups = (np.asarray(array) for array in panels[row])
        if points.ndim != 2 or points.shape[1] != 2 or groups.shape != (len(points),):
            raise ValueError(
                f"panel {row!r}: points must be (M, 2) with one group each, got {points.shape}, {groups.shape}"
            )
        for group, name in enumerate(group_names):
            members = groups == group
            figure.add_trace(
                go.Scatter(
                    x=points[members, 0], y=points[members, 1], mode="markers", name=name, legendgroup=name,
                    showlegend=column == 1,
                    marker={"color": color_of(group % 2), "symbol": symbols[group], "size": 8, "opacity": 0.8},
                ),
                row=1, col=column,
            )  # fmt: skip
    figure.update_xaxes(title_text="t-SNE 1")
    figure.update_yaxes(title_text="t-SNE 2", col=1)
    figure.update_layout(title=title, margin={**MARGIN, "t": 80}, legend_title_text="t-SNE of")
    return figure


def _spectrogram_panels(waveforms: Sequence[np.ndarray], titles: Sequence[str], sample_rate: SampleRate) -> go.Figure:
    figure = make_subplots(rows=1, cols=len(waveforms), subplot_titles=list(titles), shared_yaxes=True)
    for column, waveform in enumerate(waveforms, start=1):
        times, decibels = log_mel(waveform, sample_rate)
        figure.add_trace(
            go.Heatmap(x=times, y=np.arange(decibels.shape[0]), z=decibels, colorscale="Viridis", zmin=-80, zmax=0,
                       showscale=column == len(waveforms)),
            row=1, col=column,
        )  # fmt: skip
    figure.update_layout(margin=MARGIN, height=300)
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
    mixture (then the estimate should be silent too).

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
        for player, caption, waveform, text in zip(players, captions, waveforms, titles):
            set_audio(player, waveform, sample_rate)
            caption.value = text
        spectrograms.figure = fresh

    for chooser in (pair_chooser, class_chooser, row_chooser):
        chooser.observe(show, names="value")
    show()
    audio = ipywidgets.HBox([ipywidgets.VBox([caption, player]) for caption, player in zip(captions, players)])
    return ipywidgets.VBox([ipywidgets.HBox([pair_chooser, class_chooser, row_chooser]), audio, spectrograms])


def result_player(result, rows: Sequence[str] | None = None, indices: Sequence[int] | None = None) -> ipywidgets.VBox:
    """:func:`separation_player` on a :class:`~workbench.recipes.care_sep.CareSepRun`'s test pairs and systems."""
    rows = list(result.systems) if rows is None else list(rows)
    test = result.data.test
    return separation_player(
        result.separate, test.sources, test.classes, result.class_names, result.sample_rate, rows,
        row_labels=result.labels(), indices=indices,
    )  # fmt: skip
