"""An interactive embedding explorer: click a point, hear the clip and see its spectrogram.

The scatter of projected embeddings is a :class:`~workbench.viz.plotly_view.PlotlyView` (one trace per
class); beside it sit an ``ipywidgets.Audio`` player and a spectrogram view. Clicking a point loads that
clip through a caller-given ``clip_loader``, so the explorer needs no dataset type and never holds all
audio in memory. Everything shown (selection ring, spectrogram, player) is kernel-side state, so a
reloaded page or a reopened notebook shows the current selection and keeps answering clicks.
:meth:`EmbeddingExplorer.select` does what a click does, for tests and headless notebooks.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence

import ipywidgets
import numpy as np
import plotly.graph_objects as go
import torch

from workbench.evaluation.projection import project
from workbench.typing import SampleRate
from workbench.viz.figures import MARGIN, db_range, log_mel, scatter_figure
from workbench.viz.plotly_view import PlotlyView
from workbench.viz.widgets import audio_widget, duration_text, set_audio

ClipLoader = Callable[[int], tuple[torch.Tensor | np.ndarray, SampleRate]]
"""``index -> (waveform, sample_rate)`` for the clip of row ``index`` of the points."""


class EmbeddingExplorer:
    """Scatter of 2-D embedding points wired to an audio player and a spectrogram.

    Args:
        points: ``(N, 2)`` projected embeddings.
        labels: ``(N,)`` class indices into ``class_names``.
        class_names: names in label order (legend entries).
        clip_loader: ``index -> (waveform, sample_rate)``; called once per selection.
        title: title of the scatter.
        hover_text: ``N`` strings shown on hover (e.g. clip ids).

    Attributes:
        scatter: the scatter :class:`PlotlyView`; its last trace marks the selected point.
        audio: the ``ipywidgets.Audio`` player.
        spectrogram: the spectrogram :class:`PlotlyView` (one heatmap trace).
        info: an ``ipywidgets.HTML`` line naming the selected clip (or a loading error).
        selected: row of the selected clip, None before the first selection.
    """

    def __init__(
        self,
        points: np.ndarray,
        labels: Sequence[int] | np.ndarray,
        class_names: Sequence[str],
        clip_loader: ClipLoader,
        title: str = "Embeddings (click a point to listen)",
        hover_text: Sequence[str] | None = None,
    ):
        self.points = np.asarray(points, dtype=np.float64)
        self.labels = np.asarray(labels)
        self.class_names = [str(name) for name in class_names]
        self.clip_loader = clip_loader
        self.hover_text = hover_text
        self.selected: int | None = None

        figure = scatter_figure(self.points, self.labels, self.class_names, hover_text, title)
        figure.update_layout(height=520, clickmode="event", margin={**MARGIN, "r": 10})
        figure.add_trace(
            go.Scatter(
                x=[], y=[], mode="markers", name="selected", showlegend=False, customdata=[],
                marker={"size": 16, "color": "rgba(0,0,0,0)", "line": {"width": 2, "color": "black"}},
                hoverinfo="skip",
            )
        )  # fmt: skip
        self.scatter = PlotlyView(figure, layout=ipywidgets.Layout(flex="3 1 0", min_width="0"))
        self.scatter.on_click(self._on_click)

        self.audio = audio_widget()
        # Stretched to the column rather than width 100 %: widgets have a 2-px margin on each side, so a
        # 100 % player is 4 px wider than its column and gives the explorer a horizontal scrollbar.
        self.audio.layout = ipywidgets.Layout(width="auto", align_self="stretch")
        spectrogram = go.Figure(
            go.Heatmap(x=[], y=[], z=[], colorscale="Viridis", colorbar={"title": {"text": "dB"}})
        )
        spectrogram.update_layout(
            height=340, title="log-mel spectrogram", xaxis_title="time (s)", yaxis_title="mel band",
            margin={"l": 55, "r": 10, "t": 40, "b": 45},
        )
        self.spectrogram = PlotlyView(spectrogram)
        self.info = ipywidgets.HTML("Click a point to hear its clip.")
        side = ipywidgets.VBox(
            [self.info, self.audio, self.spectrogram], layout=ipywidgets.Layout(flex="2 1 0", min_width="0")
        )
        self._container = ipywidgets.HBox([self.scatter, side], layout=ipywidgets.Layout(width="auto"))

    @property
    def widget(self) -> ipywidgets.Box:
        """The whole explorer as one ipywidgets container (display it, or nest it in a layout)."""
        return self._container

    def _repr_mimebundle_(self, **kwargs):
        # A bare `explorer` at the end of a cell shows the widget.
        return self._container._repr_mimebundle_(**kwargs)

    def select(self, index: int) -> None:
        """Load clip ``index``: set the player's WAV bytes, redraw the spectrogram, mark the point.

        Raises:
            IndexError: ``index`` outside ``[0, N)``.
        """
        index = int(index)
        if not 0 <= index < len(self.points):
            raise IndexError(f"clip index {index} is outside [0, {len(self.points)})")
        waveform, sample_rate = self.clip_loader(index)
        set_audio(self.audio, waveform, sample_rate)
        times, decibels = log_mel(waveform, sample_rate)
        name = self.class_names[int(self.labels[index])]
        label = self.hover_text[index] if self.hover_text is not None else f"clip {index}"
        with self.spectrogram.batch_update() as figure:
            heatmap = figure.data[0]
            heatmap.x, heatmap.y, heatmap.z = times, np.arange(decibels.shape[0]), decibels
            heatmap.zmin, heatmap.zmax = db_range(decibels)  # from the clip: clips reach +25 dB
            figure.layout.title.text = f"{label} ({name})"
        with self.scatter.batch_update() as figure:
            marker = figure.data[-1]
            marker.x, marker.y, marker.customdata = [self.points[index, 0]], [self.points[index, 1]], [index]
        self.info.value = f"<b>{html.escape(label)}</b>: {html.escape(name)}, {duration_text(waveform, sample_rate)}"
        self.selected = index

    def index_of(self, trace: int, point: int) -> int:
        """The row of ``points`` drawn as point ``point`` of trace ``trace`` (traces group rows by class)."""
        return int(np.asarray(self.scatter.figure.data[trace].customdata)[point])

    def _on_click(self, trace: int, point: int, customdata) -> None:
        # Every trace carries each point's row as customdata (the selection ring too).
        try:
            index = int(customdata) if customdata is not None else self.index_of(trace, point)
        except (TypeError, ValueError, IndexError):
            return
        try:
            self.select(index)
        except Exception as error:  # noqa: BLE001 - a click callback has nowhere to raise to; show it
            self.info.value = f"<b>could not load clip {index}</b>: {html.escape(str(error))}"


def explore(
    features: np.ndarray,
    labels: Sequence[int] | np.ndarray,
    class_names: Sequence[str],
    clip_loader: ClipLoader,
    method: str = "pca",
    seed: int = 0,
    **explorer_options,
) -> EmbeddingExplorer:
    """Project ``(N, D)`` embeddings with ``method`` (see :func:`~workbench.evaluation.projection.project`)
    and open an :class:`EmbeddingExplorer` on them; ``explorer_options`` go to its constructor."""
    points = project(features, method=method, seed=seed)
    return EmbeddingExplorer(points, labels, class_names, clip_loader, **explorer_options)
