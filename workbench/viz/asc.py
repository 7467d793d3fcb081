"""Figures and a player for the ASC-with-tagging recipe (:mod:`workbench.recipes.asc_tagging`).

- :func:`fusion_scores_figure`: test accuracy of every fusion variant through both back-ends;
- :func:`grid_heatmap_figure`: an ablation grid (heads x layers, layers before x after, ...);
- :func:`attention_maps_figure`: the filter attention, head by head, averaged over each scene;
- :func:`tag_bars_figure`: one clip's tag vector as bars, true tags marked where known;
- :func:`tag_player`: pick a test clip, hear it, see its tag vector.

They take arrays or the recipe's result objects (read by attribute) and never train.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import ipywidgets
import numpy as np
import plotly.graph_objects as go
import torch

from workbench.typing import SampleRate
from workbench.viz.figures import MARGIN, color_of
from workbench.viz.plotly_view import PlotlyView
from workbench.viz.widgets import audio_widget, set_audio


def fusion_scores_figure(scores: Mapping[str, Any], names: Sequence[str], title: str | None = None) -> go.Figure:
    """Grouped bars: each model's mean test accuracy over seeds, softmax head and SVM back-end.

    Args:
        scores: name -> an object with ``label``, ``accuracy`` and ``svm_accuracy`` (per-seed lists),
            e.g. :class:`workbench.recipes.asc_tagging.ModelScore`.
        names: the models to draw, in order.
        title: figure title.

    The error bars span the lowest to the highest seed.
    """
    labels = [scores[name].label for name in names]
    figure = go.Figure()
    for position, (backend, attribute) in enumerate((("softmax head", "accuracy"), ("SVM back-end", "svm_accuracy"))):
        values = [np.asarray(getattr(scores[name], attribute), dtype=np.float64) for name in names]
        means = np.array([value.mean() for value in values])
        figure.add_trace(go.Bar(
            x=labels, y=means, name=backend, marker_color=color_of(position),
            error_y={"type": "data", "symmetric": False,
                     "array": [value.max() - mean for value, mean in zip(values, means, strict=True)],
                     "arrayminus": [mean - value.min() for value, mean in zip(values, means, strict=True)]},
            hovertemplate="%{x}: %{y:.3f}<extra>" + backend + "</extra>",
        ))  # fmt: skip
    figure.update_layout(barmode="group", title=title, xaxis_title="model", yaxis_title="test accuracy (0-1)", yaxis_range=[0, 1],
                         margin=MARGIN)  # fmt: skip
    return figure


def grid_heatmap_figure(grid: Any, title: str | None = None) -> go.Figure:
    """Heatmap of an ablation grid's mean accuracy, the value written in every cell.

    Args:
        grid: an object with ``rows``, ``columns``, ``accuracy`` ``(rows, columns)`` and ``axes``
            (row title, column title), e.g. :class:`workbench.recipes.asc_tagging.GridResult`.
        title: figure title.
    """
    accuracy = np.asarray(grid.accuracy, dtype=np.float64)
    if accuracy.shape != (len(grid.rows), len(grid.columns)):
        raise ValueError(f"grid accuracy has shape {accuracy.shape}, expected ({len(grid.rows)}, {len(grid.columns)})")
    row_title, column_title = grid.axes
    figure = go.Figure(go.Heatmap(
        z=accuracy, x=[str(column) for column in grid.columns], y=[str(row) for row in grid.rows],
        text=np.round(accuracy, 3), texttemplate="%{text}", colorscale="Viridis",
        colorbar={"title": {"text": "accuracy"}},
        hovertemplate=f"{row_title} %{{y}}<br>{column_title} %{{x}}<br>accuracy %{{z:.3f}}<extra></extra>",
    ))  # fmt: skip
    figure.update_layout(title=title, xaxis_title=column_title, yaxis_title=row_title, xaxis_type="category",
                         yaxis_type="category", margin=MARGIN)  # fmt: skip
    return figure


def attention_maps_figure(maps: np.ndarray, scene_names: Sequence[str], title: str | None = None) -> go.Figure:
    """One heatmap per scene of the attention weights, heads down, filters within a head across.

    Args:
        maps: ``(scenes, heads, filters_per_head)``; each head's row sums to 1.
        scene_names: names in scene order.
        title: figure title.
    """
    from plotly.subplots import make_subplots

    maps = np.asarray(maps, dtype=np.float64)
    if maps.ndim != 3 or maps.shape[0] != len(scene_names):
        raise ValueError(f"maps must be (scenes={len(scene_names)}, heads, filters per head), got {maps.shape}")
    n_scenes, heads, per_head = maps.shape
    figure = make_subplots(rows=n_scenes, cols=1, subplot_titles=list(scene_names), shared_xaxes=True,
                           vertical_spacing=min(0.08, 0.5 / max(1, n_scenes)))  # fmt: skip
    for scene in range(n_scenes):
        figure.add_trace(
            go.Heatmap(z=maps[scene], x=np.arange(per_head), y=[f"head {head + 1}" for head in range(heads)],
                       coloraxis="coloraxis",
                       hovertemplate="%{y}, filter %{x}: %{z:.3f}<extra>" + str(scene_names[scene]) + "</extra>"),
            row=scene + 1, col=1,
        )  # fmt: skip
    figure.update_layout(title=title, coloraxis={"colorscale": "Magma", "colorbar": {"title": {"text": "weight"}}},
                         height=max(300, 40 * heads * n_scenes + 60 * n_scenes), margin=MARGIN)  # fmt: skip
    figure.update_xaxes(title_text="filter within head", row=n_scenes, col=1)
    return figure


def tag_bars_figure(
    tag_vector: np.ndarray | torch.Tensor,
    tag_names: Sequence[str],
    true_tags: np.ndarray | None = None,
    top_k: int = 20,
    title: str | None = None,
) -> go.Figure:
    """A clip's tag vector as horizontal bars, the ``top_k`` most probable tags, highest on top.

    Args:
        tag_vector: ``(n_tags,)`` probabilities.
        tag_names: names in tag order.
        true_tags: ``(n_tags,)`` multi-hot truth, where known: present tags are coloured differently.
        top_k: bars to draw (all tags when there are fewer).
        title: figure title.
    """
    vector = np.asarray(tag_vector, dtype=np.float64).ravel()
    if vector.shape != (len(tag_names),):
        raise ValueError(f"tag_vector has {vector.size} values for {len(tag_names)} tag names")
    order = np.argsort(-vector, kind="stable")[: max(1, top_k)][::-1]  # highest last = on top
    present = np.asarray(true_tags, dtype=bool).ravel() if true_tags is not None else np.zeros(vector.size, bool)
    colors = [color_of(1) if present[index] else color_of(0) for index in order]
    figure = go.Figure(go.Bar(
        x=vector[order], y=[str(tag_names[index]) for index in order], orientation="h", marker_color=colors,
        hovertemplate="%{y}: %{x:.3f}<extra></extra>",
    ))  # fmt: skip
    if true_tags is not None:
        title = (title + " - " if title else "") + "orange: events present in the clip"
    figure.update_layout(title=title, xaxis_title="tag probability", xaxis_range=[0, 1],
                         height=max(250, 22 * len(order) + 80), margin={**MARGIN, "l": 160})  # fmt: skip
    return figure


def tag_player(
    load_clip: Callable[[int], tuple[torch.Tensor | np.ndarray, SampleRate]],
    tag_vectors: np.ndarray,
    tag_names: Sequence[str],
    labels: Sequence[str],
    true_tags: np.ndarray | None = None,
    top_k: int = 15,
    start: int = 0,
) -> ipywidgets.VBox:
    """Pick a clip from a dropdown, hear it and see its tag vector as bars.

    Args:
        load_clip: position -> ``(waveform, sample_rate)`` of the clip whose tags are ``tag_vectors[position]``.
        tag_vectors: ``(clips, n_tags)``.
        tag_names: tag names.
        labels: one label per clip for the dropdown (e.g. ``"12: park"``).
        true_tags: ``(clips, n_tags)`` multi-hot truth, where known.
        top_k: bars per clip.
        start: the position shown first (clipped to the clips there are).
    """
    if len(labels) != len(tag_vectors) or not len(labels):
        raise ValueError(f"tag_player needs one label per clip, got {len(labels)} labels for {len(tag_vectors)} clips")
    start = min(max(0, int(start)), len(labels) - 1)
    chooser = ipywidgets.Dropdown(options=[(label, position) for position, label in enumerate(labels)], value=start,
                                  description="clip")  # fmt: skip

    def bars(position: int) -> go.Figure:
        truth = true_tags[position] if true_tags is not None else None
        return tag_bars_figure(tag_vectors[position], tag_names, truth, top_k, title=labels[position])

    waveform, sample_rate = load_clip(start)
    player = audio_widget(waveform, sample_rate)
    figure = PlotlyView(bars(start))

    def show(change: Mapping[str, Any]) -> None:
        position = change["new"]
        set_audio(player, *load_clip(position))
        fresh = bars(position)
        figure.figure = fresh

    chooser.observe(show, names="value")
    return ipywidgets.VBox([ipywidgets.HBox([chooser, player]), figure])
