"""Plotly figures and ipywidgets views for notebooks; they take results and arrays and never train."""

from workbench.viz.explorer import EmbeddingExplorer, explore
from workbench.viz.figures import (
    confusion_figure,
    curve_figure,
    gallery_figure,
    linear_eval_figure,
    save_figure,
    scatter_figure,
    spectrogram_figure,
    waveform_figure,
)
from workbench.viz.plotly_view import PlotlyView
from workbench.viz.widgets import audio_html, audio_widget, class_player, set_audio

__all__ = [
    "EmbeddingExplorer",
    "PlotlyView",
    "audio_html",
    "audio_widget",
    "class_player",
    "confusion_figure",
    "curve_figure",
    "explore",
    "gallery_figure",
    "linear_eval_figure",
    "save_figure",
    "scatter_figure",
    "set_audio",
    "spectrogram_figure",
    "waveform_figure",
]
