"""Audio players for notebooks, both fed with 16-bit WAV bytes from :func:`workbench.audio.io.wav_bytes`.

- :func:`audio_widget` is an interactive ``ipywidgets.Audio`` whose clip can be swapped later (the
  embedding explorer does that on every click);
- :func:`audio_html` is an ``IPython.display.Audio`` that embeds the clip as base64 in the notebook's
  HTML output, so it still plays in a saved or papermill-executed notebook without a kernel.

ipywidgets.Audio defaults to MP3 with autoplay and loop on; both players here are WAV, neither plays
by itself, neither loops.
"""

from __future__ import annotations

from collections.abc import Mapping

import ipywidgets
import numpy as np
import torch
from IPython.display import Audio as DisplayAudio
from ipywidgets import Audio as AudioWidget

from workbench.audio.io import wav_bytes
from workbench.typing import SampleRate
from workbench.viz.plotly_view import PlotlyView


def audio_widget(
    waveform: torch.Tensor | np.ndarray | None = None, sample_rate: SampleRate | None = None
) -> AudioWidget:
    """An ``ipywidgets.Audio`` player holding ``waveform`` (``(samples,)`` or ``(channels, samples)``);
    without a waveform, an empty player to fill later with :func:`set_audio`.

    Raises:
        ValueError: a waveform without its ``sample_rate``.
    """
    if waveform is None:
        return AudioWidget(value=b"", format="wav", autoplay=False, loop=False)
    if sample_rate is None:
        raise ValueError("audio_widget needs the sample_rate of the waveform it plays")
    return AudioWidget(value=wav_bytes(waveform, sample_rate), format="wav", autoplay=False, loop=False)


def duration_text(waveform: torch.Tensor | np.ndarray, sample_rate: SampleRate) -> str:
    """A clip's length as a player caption says it (``"0.50 s"``): the browser's own controls round down to
    whole seconds, so a half-second clip would read "0:00 / 0:00"."""
    return f"{np.shape(waveform)[-1] / sample_rate:.2f} s"


def set_audio(widget: AudioWidget, waveform: torch.Tensor | np.ndarray, sample_rate: SampleRate) -> None:
    """Replace the clip an :func:`audio_widget` plays."""
    widget.value = wav_bytes(waveform, sample_rate)


def audio_html(waveform: torch.Tensor | np.ndarray, sample_rate: SampleRate) -> DisplayAudio:
    """A static ``IPython.display.Audio`` player with the clip embedded as WAV bytes."""
    return DisplayAudio(data=wav_bytes(waveform, sample_rate), autoplay=False)


def class_player(clips: Mapping[str, torch.Tensor | np.ndarray], sample_rate: SampleRate) -> ipywidgets.VBox:
    """Pick a name from a dropdown, hear its clip and see its spectrogram (e.g. one example per class)."""
    from workbench.viz.figures import spectrogram_figure

    names = list(clips)
    if not names:
        raise ValueError("class_player needs at least one clip")
    chooser = ipywidgets.Dropdown(options=names, value=names[0], description="clip")
    player = audio_widget(clips[names[0]], sample_rate)
    duration = ipywidgets.Label(duration_text(clips[names[0]], sample_rate))
    spectrogram = PlotlyView(spectrogram_figure(clips[names[0]], sample_rate, title=names[0]))

    def show(change) -> None:
        name = change["new"]
        set_audio(player, clips[name], sample_rate)
        duration.value = duration_text(clips[name], sample_rate)
        fresh = spectrogram_figure(clips[name], sample_rate, title=name)
        spectrogram.figure = fresh

    chooser.observe(show, names="value")
    return ipywidgets.VBox([ipywidgets.HBox([chooser, player, duration]), spectrogram])
