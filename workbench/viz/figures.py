"""Plotly figures for notebooks: audio (waveform, log-mel), embeddings, and evaluation results.

Every function takes arrays or result objects and returns a ``plotly.graph_objects.Figure``; nothing
here trains or loads a model. Figures are plain data (no random ids), so with
``plotly.io.renderers.default = "plotly_mimetype"`` their notebook output is deterministic.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import plotly.colors
import plotly.graph_objects as go
import torch
import torchaudio

from workbench.typing import SampleRate

if TYPE_CHECKING:  # only for annotations: drawing needs no scikit-learn import
    from workbench.evaluation.linear import LinearEvalResult

WEBGL_ABOVE = 2000
"""Scatter plots with more points than this use WebGL (fast), smaller ones SVG (browsers cap the number
of WebGL contexts a page may hold, and a notebook can have many small figures)."""

PALETTE: tuple[str, ...] = tuple(plotly.colors.qualitative.Plotly) + tuple(plotly.colors.qualitative.Dark24)
"""Class colours: 10 distinct ones first, then 24 more; cycled beyond 34 classes."""


MARGIN = {"l": 50, "r": 20, "t": 40, "b": 40}
"""Tight margins: notebook figures sit in narrow output cells."""


def color_of(position: int) -> str:
    """The palette colour for the ``position``-th class or series."""
    return PALETTE[position % len(PALETTE)]


def _mono_numpy(waveform: torch.Tensor | np.ndarray) -> np.ndarray:
    """``(samples,)`` or ``(channels, samples)`` -> ``(samples,)`` float32, averaging the channels."""
    array = waveform.detach().cpu().numpy() if isinstance(waveform, torch.Tensor) else np.asarray(waveform)
    array = array.astype(np.float32)
    if array.ndim == 2:
        array = array.mean(axis=0)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(
            f"expected a non-empty waveform (samples,) or (channels, samples), got shape {array.shape}"
        )
    return array


def log_mel(
    waveform: torch.Tensor | np.ndarray, sample_rate: SampleRate, n_mels: int = 64
) -> tuple[np.ndarray, np.ndarray]:
    """Log-mel spectrogram for display: 25 ms windows (rounded up to a power of two, at least 512
    samples so low rates still resolve 64 mel bands), 10 ms hop, dB with an 80 dB floor.

    Args:
        waveform: ``(samples,)`` or ``(channels, samples)``; channels are averaged.
        sample_rate: its rate in Hz.
        n_mels: mel bands.

    Returns:
        ``(frame_times, decibels)``: ``(frames,)`` seconds of each frame's centre, ``(n_mels, frames)``.
    """
    signal = torch.from_numpy(_mono_numpy(waveform))
    n_fft = 1 << max(9, math.ceil(math.log2(0.025 * sample_rate)))
    hop = max(1, round(0.010 * sample_rate))
    if signal.numel() <= n_fft // 2:  # centre padding is a reflection, which needs more samples
        signal = torch.nn.functional.pad(signal, (0, n_fft // 2 + 1 - signal.numel()))
    mel = torchaudio.transforms.MelSpectrogram(sample_rate, n_fft=n_fft, hop_length=hop, n_mels=n_mels)
    decibels = torchaudio.transforms.AmplitudeToDB(stype="power", top_db=80.0)(mel(signal))
    frames = decibels.shape[-1]
    return np.arange(frames) * hop / sample_rate, decibels.numpy()


DYNAMIC_RANGE_DB = 80.0
"""The dB range every spectrogram colour scale spans (:func:`log_mel`'s floor below its peak)."""
SILENCE_DB = -100.0
""":func:`log_mel` of digital silence (``AmplitudeToDB``'s floor, power 1e-10)."""


def db_range(*decibels: np.ndarray) -> tuple[float, float]:
    """The colour range of spectrograms drawn together: from the loudest one's peak down
    :data:`DYNAMIC_RANGE_DB`, and never above ``SILENCE_DB + DYNAMIC_RANGE_DB`` at the bottom, so
    silence (and anything far quieter than its neighbours) is drawn at the floor colour, never as loud."""
    peaks = [float(np.max(values)) for values in decibels if np.size(values)]
    top = max([*peaks, SILENCE_DB + DYNAMIC_RANGE_DB])
    return top - DYNAMIC_RANGE_DB, top


def spectrogram_figure(
    waveform: torch.Tensor | np.ndarray, sample_rate: SampleRate, title: str | None = None, n_mels: int = 64
) -> go.Figure:
    """Heatmap of the log-mel spectrogram: time in seconds across, mel band up, dB as colour on the
    :func:`db_range` of the clip (the rule every spectrogram view here follows)."""
    times, decibels = log_mel(waveform, sample_rate, n_mels)
    low, high = db_range(decibels)
    figure = go.Figure(
        go.Heatmap(
            x=times, y=np.arange(decibels.shape[0]), z=decibels, colorscale="Viridis", zmin=low, zmax=high,
            colorbar={"title": {"text": "dB"}},
        )
    )
    figure.update_layout(title=title, xaxis_title="time (s)", yaxis_title="mel band", margin=MARGIN)
    return figure


def waveform_figure(
    waveform: torch.Tensor | np.ndarray,
    sample_rate: SampleRate,
    title: str | None = None,
    max_points: int = 20_000,
) -> go.Figure:
    """Amplitude against time in seconds (channels averaged).

    Long clips are drawn as a min/max envelope over ``max_points / 2`` buckets, which keeps every peak
    visible (plain decimation would drop them) while the browser draws a bounded number of points.
    """
    signal = _mono_numpy(waveform)
    if signal.size > max_points:
        buckets = max_points // 2
        edges = np.linspace(0, signal.size, buckets + 1).astype(int)
        lows = np.minimum.reduceat(signal, edges[:-1])
        highs = np.maximum.reduceat(signal, edges[:-1])
        times = np.repeat(edges[:-1] / sample_rate, 2)
        values = np.stack([lows, highs], axis=1).reshape(-1)
    else:
        times, values = np.arange(signal.size) / sample_rate, signal
    figure = go.Figure(go.Scatter(x=times, y=values, mode="lines", line={"width": 1}, name="waveform"))
    figure.update_layout(title=title, xaxis_title="time (s)", yaxis_title="amplitude", margin=MARGIN)
    return figure


def scatter_figure(
    points: np.ndarray,
    labels: Sequence[int] | np.ndarray,
    class_names: Sequence[str],
    hover_text: Sequence[str] | None = None,
    title: str | None = None,
) -> go.Figure:
    """2-D scatter of projected embeddings with one trace per class (so the legend toggles classes).

    Each point's ``customdata`` is its row in ``points``, so a click on (trace, point) maps back to
    the clip whatever the grouping by class.

    Args:
        points: ``(N, 2)`` coordinates (e.g. from :func:`workbench.evaluation.projection.project`).
        labels: ``(N,)`` class indices into ``class_names``.
        class_names: names in label order.
        hover_text: ``N`` strings shown on hover (e.g. clip ids); default the row number.
        title: figure title.

    Raises:
        ValueError: shapes that do not agree, or labels outside ``class_names``.
    """
    points = np.asarray(points, dtype=np.float64)
    labels = np.asarray(labels)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"points must be (N, 2), got shape {points.shape}")
    if labels.shape != (len(points),):
        raise ValueError(f"labels must be ({len(points)},) class indices, got shape {labels.shape}")
    if len(labels) and (labels.min() < 0 or labels.max() >= len(class_names)):
        raise ValueError(f"labels must lie in [0, {len(class_names)}) to index class_names")
    if hover_text is None:
        hover_text = [f"clip {row}" for row in range(len(points))]
    hover = np.asarray(hover_text)
    if len(hover) != len(points):
        raise ValueError(f"hover_text has {len(hover)} entries for {len(points)} points")
    trace_type = go.Scattergl if len(points) > WEBGL_ABOVE else go.Scatter
    figure = go.Figure()
    for label, name in enumerate(class_names):
        rows = np.flatnonzero(labels == label)
        if rows.size == 0:
            continue
        figure.add_trace(
            trace_type(
                x=points[rows, 0], y=points[rows, 1], mode="markers", name=str(name),
                marker={"color": color_of(label), "size": 7, "opacity": 0.8},
                customdata=rows, text=hover[rows],
                hovertemplate="%{text}<extra>%{fullData.name}</extra>",
            )
        )
    figure.update_layout(
        title=title, xaxis_title="dimension 1", yaxis_title="dimension 2", legend_title_text="class",
        margin=MARGIN,
    )
    return figure


def chance_level(result: LinearEvalResult) -> float | None:
    """The score a classifier gets without looking at the clips: for accuracy, always answering the most
    frequent test class; for mAP, a random ranking (the mean share of positives over the classes that
    have any). None when the result holds no test targets and no class names."""
    targets = np.asarray(result.test_targets)
    if targets.size and targets.ndim == 1:
        return float(np.bincount(targets.astype(np.int64)).max() / len(targets))
    if targets.size and targets.ndim == 2:
        prevalence = targets.astype(np.float64).mean(axis=0)
        present = prevalence[prevalence > 0]
        return float(present.mean()) if present.size else None
    return 1.0 / len(result.classes) if result.classes else None


def linear_eval_figure(results: Mapping[str, LinearEvalResult], title: str | None = None) -> go.Figure:
    """Bars of each result's mean score with its 95 % confidence interval as error bars, and the chance
    level (:func:`chance_level`) as a dashed line (or a dash per bar when the results' chance levels differ).

    Args:
        results: label (e.g. encoder or layer name) -> :class:`LinearEvalResult`, drawn in order.
        title: figure title.
    """
    if not results:
        raise ValueError("linear_eval_figure needs at least one result")
    names = list(results)
    metrics = {result.metric for result in results.values()}
    figure = go.Figure(
        go.Bar(
            x=names,
            y=[results[name].mean for name in names],
            error_y={"type": "data", "array": [results[name].ci95 for name in names], "visible": True},
            marker_color=[color_of(position) for position in range(len(names))],
            customdata=[", ".join(f"{score:.3f}" for score in results[name].per_seed) for name in names],
            hovertemplate="%{x}: %{y:.3f} ± %{error_y.array:.3f}<br>per seed: %{customdata}<extra></extra>",
            name="score",
        )
    )
    chances = [chance_level(results[name]) for name in names]
    known = [chance for chance in chances if chance is not None]
    if known and len(known) == len(chances) and max(known) - min(known) < 1e-9:
        figure.add_hline(
            y=known[0], line_dash="dash", line_color="gray",
            annotation_text=f"chance: {known[0]:.3f}", annotation_position="top right",
        )  # fmt: skip
    elif known:
        figure.add_trace(
            go.Scatter(
                x=names, y=chances, mode="markers", name="chance",
                marker={"symbol": "line-ew-open", "size": 36, "color": "gray", "line": {"width": 2}},
                hovertemplate="chance: %{y:.3f}<extra></extra>",
            )
        )  # fmt: skip
    metric = metrics.pop() if len(metrics) == 1 else "score"
    figure.update_layout(
        title=title, xaxis_title="encoder", yaxis_title=f"{metric} (0-1)", showlegend=False, margin=MARGIN,
    )
    return figure


def confusion_figure(
    y_true: Sequence[int] | np.ndarray,
    y_pred: Sequence[int] | np.ndarray,
    class_names: Sequence[str],
    normalize: bool = True,
    title: str | None = None,
) -> go.Figure:
    """Confusion matrix heatmap: true class down, predicted class across.

    Args:
        y_true, y_pred: ``(N,)`` class indices.
        class_names: names in index order.
        normalize: colour and label each cell by its share of the true class's clips (rows sum to 100 %),
            with the count in the hover; otherwise colour and label by counts.
        title: figure title.
    """
    y_true, y_pred = np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise ValueError(
            f"y_true and y_pred must be equal-length (N,) arrays, got {y_true.shape} and {y_pred.shape}"
        )
    n_classes = len(class_names)
    if y_true.size and (min(y_true.min(), y_pred.min()) < 0 or max(y_true.max(), y_pred.max()) >= n_classes):
        raise ValueError(f"class indices must lie in [0, {n_classes}) to index class_names")
    counts = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(counts, (y_true, y_pred), 1)
    row_totals = counts.sum(axis=1, keepdims=True)
    shares = counts / np.where(row_totals > 0, row_totals, 1)
    names = [str(name) for name in class_names]
    if normalize:
        # Colour and cell text are both the share of the true class's clips; the hover adds the count.
        heatmap = go.Heatmap(
            z=shares, x=names, y=names, text=[[f"{100 * share:.0f} %" for share in row] for row in shares],
            texttemplate="%{text}", customdata=counts, zmin=0, zmax=1, colorscale="Blues",
            colorbar={"title": {"text": "share of the<br>true class"}, "tickformat": ".0%"},
            hovertemplate="true %{y}<br>predicted %{x}<br>%{customdata} clips (%{text})<extra></extra>",
        )  # fmt: skip
    else:
        heatmap = go.Heatmap(
            z=counts, x=names, y=names, text=counts, texttemplate="%{text}", colorscale="Blues",
            colorbar={"title": {"text": "clips"}},
            hovertemplate="true %{y}<br>predicted %{x}<br>%{text} clips<extra></extra>",
        )
    figure = go.Figure(heatmap)
    figure.update_layout(
        title=title, xaxis_title="predicted class", yaxis_title="true class", yaxis_autorange="reversed",
        margin={"l": 80, "r": 20, "t": 40, "b": 80},
    )
    return figure


def curve_figure(
    x: Sequence[float] | np.ndarray,
    ys: Mapping[str, tuple[Sequence[float] | np.ndarray, Sequence[float] | np.ndarray]],
    x_title: str,
    y_title: str,
    title: str | None = None,
) -> go.Figure:
    """Lines of means with shaded confidence bands, one per series (e.g. accuracy against layer).

    Args:
        x: ``(K,)`` positions (numbers or category names).
        ys: series name -> ``(mean, half_width)``, each ``(K,)``; the band is ``mean ± half_width``.
        x_title, y_title: axis titles.
        title: figure title.
    """
    x = list(x)
    figure = go.Figure()
    for position, (name, (mean, half_width)) in enumerate(ys.items()):
        mean, half_width = np.asarray(mean, dtype=np.float64), np.asarray(half_width, dtype=np.float64)
        if mean.shape != (len(x),) or half_width.shape != (len(x),):
            raise ValueError(
                f"series {name!r}: mean and half width must both have {len(x)} values, "
                f"got {mean.shape} and {half_width.shape}"
            )
        color = color_of(position)
        # The band is one closed polygon: upper edge left to right, lower edge back.
        figure.add_trace(
            go.Scatter(
                x=x + x[::-1], y=np.concatenate([mean + half_width, (mean - half_width)[::-1]]),
                fill="toself", fillcolor=color, opacity=0.2, line={"width": 0},
                hoverinfo="skip", showlegend=False, legendgroup=name, name=f"{name} 95% CI",
            )
        )
        figure.add_trace(
            go.Scatter(
                x=x, y=mean, mode="lines+markers", name=name, legendgroup=name, line={"color": color},
                customdata=half_width, hovertemplate="%{x}: %{y:.3f} ± %{customdata:.3f}",
            )
        )
    figure.update_layout(title=title, xaxis_title=x_title, yaxis_title=y_title, margin=MARGIN)
    return figure


def gallery_figure(
    clips: Mapping[str, torch.Tensor | np.ndarray], sample_rate: SampleRate, columns: int = 5, n_mels: int = 64
) -> go.Figure:
    """Log-mel spectrograms of several named clips side by side (e.g. one per class) on one colour scale
    (:func:`db_range` of them all)."""
    from plotly.subplots import make_subplots

    names = list(clips)
    rows = max(1, math.ceil(len(names) / columns))
    figure = make_subplots(rows=rows, cols=columns, subplot_titles=names, shared_yaxes=True,
                           horizontal_spacing=0.02, vertical_spacing=0.12)  # fmt: skip
    spectrograms = {name: log_mel(clips[name], sample_rate, n_mels) for name in names}
    low, high = db_range(*(decibels for _times, decibels in spectrograms.values()))
    for position, name in enumerate(names):
        times, decibels = spectrograms[name]
        figure.add_trace(
            go.Heatmap(x=times, y=np.arange(decibels.shape[0]), z=decibels, coloraxis="coloraxis"),
            row=position // columns + 1,
            col=position % columns + 1,
        )
    figure.update_layout(coloraxis={"colorscale": "Viridis", "cmin": low, "cmax": high, "colorbar": {"title": {"text": "dB"}}},
                         height=220 * rows + 40, margin={**MARGIN, "b": 50})  # fmt: skip
    figure.update_xaxes(title_text="time (s)", row=rows)
    figure.update_yaxes(title_text="mel band", col=1)
    return figure


def save_figure(figure: go.Figure, directory: str | Path, name: str) -> Path:
    """Write ``figure`` as an HTML page ``<directory>/figures/<name>.html`` (atomically) that opens offline.

    Recipes' run directories collect their figures this way, so ``workbench reproduce`` can point at them.
    The pages load plotly.js from ``figures/plotly-<version>.min.js``, written once per folder from the
    installed plotly package, rather than from a CDN a machine without network cannot reach (and
    rather than 4.6 MB of script inside every page).
    """
    from plotly.offline import get_plotlyjs, get_plotlyjs_version

    from workbench.atomic import atomic_write_text

    folder = Path(directory) / "figures"
    script = folder / f"plotly-{get_plotlyjs_version()}.min.js"
    if not script.is_file():
        atomic_write_text(script, get_plotlyjs())
    path = folder / f"{name}.html"
    return atomic_write_text(path, figure.to_html(include_plotlyjs=script.name, full_html=True))
