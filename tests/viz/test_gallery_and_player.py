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
    chooser, audio, duration = player.children[0].children
    spectrogram = player.children[1]
    # The length is written out (the browser's controls round a short clip down to "0:00").
    assert duration.value == f"{len(clips['low']) / 16000:.2f} s"
    assert spectrogram.figure.layout.yaxis.title.text == "mel band"
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


def test_spectrogram_colour_scales_come_from_the_data_with_a_floor():
    from workbench.viz.figures import DYNAMIC_RANGE_DB, SILENCE_DB, db_range, log_mel

    loud = log_mel(np.sin(np.linspace(0, 2000, 16000)) * 8.0, 16000)[1]
    silence = log_mel(np.zeros(8000), 16000)[1]
    assert loud.max() > 10  # clips reach above 0 dB: a fixed -80..0 scale would saturate them
    low, high = db_range(loud, silence)
    assert high == loud.max() and low == high - DYNAMIC_RANGE_DB and silence.max() <= low
    # Silence alone sits at the bottom of its scale, never at the top.
    low, high = db_range(silence)
    assert silence.max() == SILENCE_DB == low and high == SILENCE_DB + DYNAMIC_RANGE_DB
    heatmap = viz.spectrogram_figure(np.sin(np.linspace(0, 2000, 16000)) * 8.0, 16000).data[0]
    assert (heatmap.zmin, heatmap.zmax) == db_range(loud)
