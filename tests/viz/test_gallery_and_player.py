"""Class gallery, class player and figure saving."""

import numpy as np
import pytest

from workbench import viz


def _tones(sample_rate=16000):
    time = np.arange(sample_rate // 2) / sample_rate
    return {name: 0.3 * np.sin(2 * np.pi * f * time).astype(np.float32) for name, f in (("low", 200), ("high", 3000))}


def test_gallery_has_one_panel_per_clip():
    figure = viz.gallery_figure(_tones(), 16000, columns=5)
    assert [trace.type for trace in figure.data] == ["heatmap", "heatmap"]
    assert [annotation.text for annotation in figure.layout.annotations] == ["low", "high"]
    assert figure.layout.xaxis.title.text == "time (s)" and figure.layout.yaxis.title.text == "mel band"
    # The higher tone's energy sits in a higher mel bin.
    peaks = [int(np.asarray(trace.z).mean(axis=1).argmax()) for trace in figure.data]
    assert peaks[1] > peaks[0]


def test_class_player_switches_clip_and_spectrogram():
    clips = _tones()
    player = viz.class_player(clips, 16000)
    chooser, audio = player.children[0].children
    spectrogram = player.children[1]
    first_audio, first_z = audio.value, np.asarray(spectrogram.figure.data[0].z)
    assert first_audio[:4] == b"RIFF"
    chooser.value = "high"
    assert audio.value != first_audio and audio.value[:4] == b"RIFF"
    assert not np.array_equal(np.asarray(spectrogram.figure.data[0].z), first_z)
    assert spectrogram.figure.layout.title.text == "high"
    with pytest.raises(ValueError, match="at least one clip"):
        viz.class_player({}, 16000)


def test_save_figure_writes_html_into_the_run_directory(tmp_path):
    path = viz.save_figure(viz.gallery_figure(_tones(), 16000), tmp_path, "gallery")
    assert path == tmp_path / "figures" / "gallery.html"
    page = path.read_text()
    assert "<html>" in page and not list((tmp_path / "figures").glob(".*"))
    # plotly.js comes from a file beside the page (offline), written once per folder, never from a CDN.
    from plotly.offline import get_plotlyjs_version

    script = tmp_path / "figures" / f"plotly-{get_plotlyjs_version()}.min.js"
    assert f'src="{script.name}"' in page and "cdn.plot.ly" not in page and script.stat().st_size > 1_000_000
    written = script.stat().st_mtime_ns
    viz.save_figure(viz.gallery_figure(_tones(), 16000), tmp_path, "again")
    assert script.stat().st_mtime_ns == written and len(list((tmp_path / "figures").glob("*.js"))) == 1
