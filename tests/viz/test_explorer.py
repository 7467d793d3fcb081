"""Audio widgets and the embedding explorer: WAV bytes of the right clip, click routing across traces."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
import soundfile

from workbench.viz.explorer import EmbeddingExplorer, explore
from workbench.viz.widgets import audio_html, audio_widget

SAMPLE_RATE = 8000


def decode(wav: bytes) -> tuple[np.ndarray, int]:
    assert wav[:4] == b"RIFF" and wav[8:12] == b"WAVE"
    samples, rate = soundfile.read(io.BytesIO(wav), dtype="float32")
    return samples, rate


def clip(index: int) -> tuple[np.ndarray, int]:
    """Clip ``index``: a tone whose length and pitch depend on the index, so clips are told apart."""
    length = 400 + 40 * index
    time = np.arange(length) / SAMPLE_RATE
    return (0.5 * np.sin(2 * np.pi * (300 + 100 * index) * time)).astype(np.float32)[None], SAMPLE_RATE


@pytest.fixture
def explorer() -> EmbeddingExplorer:
    rng = np.random.default_rng(0)
    labels = np.array([2, 0, 1, 0, 2, 1, 1, 0, 2, 0])
    return EmbeddingExplorer(rng.normal(size=(10, 2)), labels, ["dog", "rain", "siren"], clip)


def test_audio_widget_holds_wav_bytes_and_does_not_autoplay():
    waveform, rate = clip(3)
    widget = audio_widget(waveform, rate)
    assert widget.format == "wav" and widget.autoplay is False and widget.loop is False
    samples, decoded_rate = decode(widget.value)
    assert decoded_rate == rate
    np.testing.assert_allclose(samples, waveform[0], atol=1 / 32768)
    assert audio_widget().value == b""
    with pytest.raises(ValueError, match="needs the sample_rate"):
        audio_widget(waveform)


def test_audio_html_embeds_the_clip():
    waveform, rate = clip(1)
    player = audio_html(waveform, rate)
    assert player.mimetype == "audio/wav"
    payload = player._repr_html_().split("base64,")[1].split('"')[0]
    samples, _ = decode(base64.b64decode(payload))
    assert len(samples) == waveform.shape[-1]


def test_select_loads_the_clip_and_redraws_the_spectrogram(explorer):
    before = np.asarray(explorer.spectrogram.figure.data[0].z)
    explorer.select(7)
    samples, rate = decode(explorer.audio.value)
    assert rate == SAMPLE_RATE and len(samples) == clip(7)[0].shape[-1]
    np.testing.assert_allclose(samples, clip(7)[0][0], atol=1 / 32768)
    z = np.asarray(explorer.spectrogram.figure.data[0].z)
    assert z.shape[0] == 64 and z.shape != before.shape
    frames_before = z.shape[1]
    explorer.select(2)
    assert np.asarray(explorer.spectrogram.figure.data[0].z).shape[1] < frames_before  # clip 2 is shorter
    assert explorer.selected == 2 and "siren" not in explorer.info.value and "rain" in explorer.info.value
    marker = explorer.scatter.figure.data[-1]
    assert (marker.x[0], marker.y[0]) == tuple(explorer.points[2])


def click(explorer: EmbeddingExplorer, trace_index: int, point_index: int) -> None:
    """What the browser sends when a point is clicked (the PlotlyView front end's message)."""
    customdata = explorer.scatter.figure.data[trace_index].customdata
    message = {"type": "click", "trace": trace_index, "point": point_index,
               "customdata": int(customdata[point_index]) if len(customdata) else None}  # fmt: skip
    explorer.scatter._handle_custom_msg(message, [])


def test_clicks_route_trace_and_point_to_the_dataset_row(explorer):
    labels = explorer.labels
    class_traces = explorer.scatter.figure.data[:-1]
    assert [trace.name for trace in class_traces] == ["dog", "rain", "siren"]
    for trace_index, trace in enumerate(class_traces):
        rows = np.flatnonzero(labels == trace_index)  # one trace per class, rows in dataset order
        for point_index, row in enumerate(rows):
            click(explorer, trace_index, point_index)
            assert explorer.selected == row
            assert len(decode(explorer.audio.value)[0]) == clip(row)[0].shape[-1]
    click(explorer, len(explorer.scatter.figure.data) - 1, 0)  # the ring around the selection
    assert explorer.selected == rows[-1]


def test_a_failing_loader_is_reported_in_the_info_line_on_click():
    def broken(index):
        raise FileNotFoundError(f"clip {index} is missing")

    explorer = EmbeddingExplorer(np.zeros((3, 2)), [0, 1, 0], ["a", "b"], broken)
    click(explorer, 1, 0)
    assert "could not load clip 1" in explorer.info.value and "missing" in explorer.info.value
    with pytest.raises(IndexError, match=r"clip index 5 is outside \[0, 3\)"):
        explorer.select(5)


def test_explore_projects_then_builds_a_displayable_widget():
    rng = np.random.default_rng(1)
    features = rng.normal(size=(12, 6))
    explorer = explore(features, np.arange(12) % 3, ["a", "b", "c"], clip, method="pca")
    assert explorer.points.shape == (12, 2)
    assert explorer.widget.children[0] is explorer.scatter
    assert "application/vnd.jupyter.widget-view+json" in explorer._repr_mimebundle_()
