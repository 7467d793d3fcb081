"""Figures of embedding geometry: the per-class-pair distance heatmaps of the ADD-loss paper (Fig. 5).

Almudévar, Serizel, Ortega, "Angular Distance Distribution Loss for Audio Classification", 2024: for
each pair of classes, the mean cosine distance between their clips and its coefficient of variation
(CV = standard deviation / mean). A good embedding has a dark diagonal in the mean map (tight
classes), a bright, even off-diagonal (classes far apart, all equally), and a uniformly low CV map
(equidistance). :func:`geometry_figure` draws both maps for one or several models, with colour scales
shared across models so they compare at a glance; :func:`summaries_figure` draws the four summaries.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from workbench.evaluation.geometry import Geometry
from workbench.viz.figures import MARGIN, color_of

ANNOTATE_UP_TO = 15
"""Cells carry their value as text up to this many classes (more would be unreadable)."""


def _shared_range(matrices: list[np.ndarray]) -> tuple[float, float]:
    """The finite value range over every matrix (NaN cells, e.g. single-clip classes, are left out)."""
    values = np.concatenate([matrix[np.isfinite(matrix)] for matrix in matrices])
    if values.size == 0:
        return 0.0, 1.0
    low, high = float(values.min()), float(values.max())
    return (low, high) if high > low else (low, low + 1e-6)


def geometry_figure(
    geometries: Mapping[str, Geometry] | Geometry,
    title: str | None = None,
    digits: int = 2,
) -> go.Figure:
    """Heatmaps of the mean cosine distance (left) and its CV (right) for every pair of classes.

    With several geometries (e.g. one per loss), a dropdown picks the one shown, and each map keeps
    one colour range for all of them, so switching shows real differences rather than a rescaled
    palette. Rows are the first class of a pair, columns the second; NaN cells (a class with one
    clip has no within-class pair) are left blank.

    Args:
        geometries: a :class:`Geometry`, or name -> geometry (drawn in that order; all with the same classes).
        title: figure title (the selected name is appended when there are several).
        digits: decimals of the values written in the cells (only up to :data:`ANNOTATE_UP_TO` classes).

    Returns:
        A figure with two heatmap traces per geometry (mean, then CV); only the first pair is visible.

    Raises:
        ValueError: no geometries, or geometries over different classes.
    """
    if isinstance(geometries, Geometry):
        geometries = {"": geometries}
    if not geometries:
        raise ValueError("geometry_figure needs at least one Geometry")
    names = list(geometries)
    classes = geometries[names[0]].classes
    for name in names[1:]:
        if geometries[name].classes != classes:
            raise ValueError(
                f"every geometry must cover the same classes to share axes; {name!r} has "
                f"{list(geometries[name].classes)}, {names[0]!r} has {list(classes)}"
            )
    labels = [str(name) for name in classes]
    mean_range = _shared_range([geometries[name].mean for name in names])
    cv_range = _shared_range([geometries[name].cv for name in names])
    annotate = len(labels) <= ANNOTATE_UP_TO
    figure = make_subplots(rows=1, cols=2, subplot_titles=("mean cosine distance", "coefficient of variation"),
                           horizontal_spacing=0.16)  # fmt: skip
    for position, name in enumerate(names):
        geometry = geometries[name]
        for column, (matrix, (low, high), colorscale, colorbar_x) in enumerate(
            ((geometry.mean, mean_range, "Viridis", 0.42), (geometry.cv, cv_range, "Magma", 1.0)), start=1
        ):
            figure.add_trace(
                go.Heatmap(
                    z=matrix, x=labels, y=labels, zmin=low, zmax=high, colorscale=colorscale,
                    colorbar={"x": colorbar_x, "len": 0.9, "thickness": 12},
                    text=np.round(matrix, digits) if annotate else None,
                    texttemplate="%{text}" if annotate else None,
                    hovertemplate="%{y} / %{x}: %{z:.3f}<extra>" + (str(name) or "geometry") + "</extra>",
                    name=str(name), visible=position == 0,
                ),
                row=1, col=column,
            )  # fmt: skip
    figure.update_yaxes(autorange="reversed")
    figure.update_xaxes(title_text="class")
    figure.update_yaxes(title_text="class", col=1)
    figure.update_layout(title=_title(title, names[0]), margin={**MARGIN, "b": 80}, height=460)
    if len(names) > 1:
        buttons = []
        for position, name in enumerate(names):
            visible = [trace_position // 2 == position for trace_position in range(2 * len(names))]
            buttons.append({"label": str(name), "method": "update",
                            "args": [{"visible": visible}, {"title": {"text": _title(title, name)}}]})  # fmt: skip
        figure.update_layout(updatemenus=[{"buttons": buttons, "direction": "down", "x": 0.0, "y": 1.18,
                                           "xanchor": "left", "showactive": True}])  # fmt: skip
    return figure


def _title(title: str | None, name: str) -> str | None:
    if not name:
        return title
    return f"{title}: {name}" if title else str(name)


SUMMARY_LABELS = {
    "intra-class clustering": "intra-class clustering (lower = tighter)",
    "intra-class equidistance": "intra-class CV (lower = more equidistant)",
    "inter-class separation": "inter-class separation (higher = further apart)",
    "inter-class equidistance": "inter-class CV (lower = more equidistant)",
    "inter-class hierarchy": "spread of per-pair means (CV; what σ_n targets)",
}


def summaries_figure(summaries: Mapping[str, Mapping[str, float]], title: str | None = None) -> go.Figure:
    """Bars of the geometry summaries (one panel each), one bar per model.

    Args:
        summaries: name -> :meth:`Geometry.summaries` (or any mapping with its four keys).
        title: figure title.

    Raises:
        ValueError: no summaries, or one lacking a key.
    """
    if not summaries:
        raise ValueError("summaries_figure needs at least one model's summaries")
    keys = list(SUMMARY_LABELS)
    for name, values in summaries.items():
        if missing := [key for key in keys if key not in values]:
            raise ValueError(f"summaries of {name!r} lack {missing}")
    names = [str(name) for name in summaries]
    figure = make_subplots(rows=1, cols=len(keys), subplot_titles=[SUMMARY_LABELS[key] for key in keys],
                           horizontal_spacing=0.06)  # fmt: skip
    for column, key in enumerate(keys, start=1):
        figure.add_trace(
            go.Bar(
                x=names, y=[summaries[name][key] for name in summaries],
                marker_color=[color_of(position) for position in range(len(names))],
                hovertemplate="%{x}: %{y:.3f}<extra></extra>", showlegend=False, name=key,
            ),
            row=1, col=column,
        )  # fmt: skip
    figure.update_annotations(font_size=11)
    figure.update_xaxes(title_text="model")
    figure.update_yaxes(title_text="value", col=1)
    figure.update_layout(title=title, margin={**MARGIN, "b": 110}, height=380)
    return figure
