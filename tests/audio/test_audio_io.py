"""workbench.audio.io: round trips through every format, channels, resampling, and each error contract."""

from __future__ import annotations

import math
import warnings
from io import BytesIO

import numpy as np
import pytest
import soundfile
import torch

from workbench.audio import check_waveform, load, resample, save, wav_bytes
from workbench.errors import AudioError, MissingFileError

PCM_16_STEP = 1 / 32768


def test_wav_float_round_trip_is_exact(tmp_path, generator):
    waveform = torch.rand(2, 1000, generator=generator) * 2 - 1
    path = save(tmp_path / "clip.wav", waveform, 16000, subtype="FLOAT")
    loaded, rate = load(path, mono=False)
    assert rate == 16000
    assert loaded.dtype == torch.float32
    torch.testing.assert_close(loaded, waveform, rtol=0, atol=0)


@pytest.mark.parametrize("suffix", [".wav", ".flac"])
def test_pcm_16_round_trip_is_within_one_quantisation_step(tmp_path, generator, suffix):
    waveform = torch.rand(1, 4000, generator=generator) * 1.8 - 0.9
    loaded, rate = load(save(tmp_path / f"clip{suffix}", waveform, 22050), mono=False)
    assert rate == 22050
    assert soundfile.info(str(tmp_path / f"clip{suffix}")).subtype == "PCM_16"
    assert loaded.shape == waveform.shape
    assert (loaded - waveform).abs().max() <= PCM_16_STEP


def test_ogg_vorbis_round_trip_keeps_length_and_most_of_the_signal(tmp_path, sine):
    waveform = sine(440.0, 16000, 16000)
    loaded, rate = load(save(tmp_path / "clip.ogg", waveform, 16000))
    assert rate == 16000
    assert soundfile.info(str(tmp_path / "clip.ogg")).subtype == "VORBIS"
    assert loaded.shape == (1, 16000)
    error = loaded[0] - waveform
    signal_to_error_db = 10 * math.log10(float((waveform**2).sum() / (error**2).sum()))
    assert signal_to_error_db > 25  # lossy, but the tone survives


def test_mono_averages_channels_and_mono_false_keeps_them(tmp_path, generator):
    stereo = torch.rand(2, 800, generator=generator) - 0.5
    path = save(tmp_path / "stereo.wav", stereo, 8000, subtype="FLOAT")
    mono, _ = load(path)
    both, _ = load(path, mono=False)
    assert mono.shape == (1, 800) and both.shape == (2, 800)
    torch.testing.assert_close(both, stereo, rtol=0, atol=0)
    torch.testing.assert_close(mono, stereo.mean(dim=0, keepdim=True))


@pytest.mark.parametrize(
    ("file_rate", "new_rate", "expected_samples"),
    [(16000, 8000, 8000), (16000, 32000, 32000), (16000, 44100, 44100), (44100, 16000, 16000), (8000, 8000, 8000)],
)
def test_resampling_on_load_gives_the_new_length_and_the_same_tone(
    tmp_path, sine, file_rate, new_rate, expected_samples
):
    path = save(tmp_path / "tone.wav", sine(300.0, file_rate, file_rate), file_rate, subtype="FLOAT")
    loaded, rate = load(path, sample_rate=new_rate)
    assert rate == new_rate
    assert loaded.shape == (1, expected_samples)  # one second at the new rate
    # Away from the edges (where the sinc filter sees zeros beyond the clip) the tone is unchanged.
    interior = slice(new_rate // 10, -new_rate // 10)
    expected = sine(300.0, new_rate, new_rate)
    assert (loaded[0, interior] - expected[interior]).abs().max() < 2e-3


def test_resample_is_a_no_op_at_equal_rates(generator):
    waveform = torch.randn(1, 100, generator=generator)
    assert resample(waveform, 16000, 16000) is waveform


def test_missing_file_error_names_the_file(tmp_path):
    path = tmp_path / "nowhere.wav"
    with pytest.raises(MissingFileError, match="audio file not found: .*nowhere.wav"):
        load(path)


def test_unreadable_file_error_names_the_file(tmp_path):
    path = tmp_path / "noise.wav"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 2000, dtype=np.uint8).tobytes())
    with pytest.raises(AudioError, match=r"noise\.wav: unreadable audio file"):
        load(path)


def test_empty_file_error_names_the_file(tmp_path):
    path = tmp_path / "empty.wav"
    soundfile.write(str(path), np.zeros((0, 1), np.float32), 16000)  # a valid header, zero samples
    with pytest.raises(AudioError, match=r"empty\.wav: the audio is empty \(0 samples\)"):
        load(path)


def test_nan_samples_error_names_the_file_and_counts_them(tmp_path):
    data = np.zeros(100, np.float32)
    data[[3, 50]] = np.nan
    path = tmp_path / "nan.wav"
    soundfile.write(str(path), data, 16000, subtype="FLOAT")  # save() refuses NaN, so write it directly
    with pytest.raises(AudioError, match=r"nan\.wav: 2 samples are NaN or Inf"):
        load(path)


def test_too_short_raises_unless_padded(tmp_path, generator):
    waveform = torch.rand(1, 8000, generator=generator) - 0.5
    path = save(tmp_path / "short.wav", waveform, 16000, subtype="FLOAT")
    with pytest.raises(AudioError, match=r"short\.wav: 0\.500 s is shorter than the 1\.000 s needed; pass pad=True"):
        load(path, min_duration=1.0)
    padded, _ = load(path, min_duration=1.0, pad=True)
    assert padded.shape == (1, 16000)
    torch.testing.assert_close(padded[:, :8000], waveform, rtol=0, atol=0)
    assert not padded[:, 8000:].any()


def test_min_duration_that_is_inexact_in_floating_point_accepts_the_exact_length():
    # 1.1 * 48000 == 52800.00000000001; rounding up naively would ask for 52801 samples.
    waveform = torch.zeros(1, 52800)
    assert check_waveform(waveform, 48000, min_duration=1.1) is waveform


def test_check_waveform_rejects_other_shapes():
    with pytest.raises(AudioError, match=r"mine: expected \(channels, samples\), got shape \(10,\)"):
        check_waveform(torch.zeros(10), 16000, source="mine")


def test_save_leaves_no_temporary_file(tmp_path, generator):
    save(tmp_path / "clip.flac", torch.rand(1, 100, generator=generator) - 0.5, 16000)
    save(tmp_path / "clip.flac", torch.rand(1, 200, generator=generator) - 0.5, 16000)  # overwrite
    assert [path.name for path in tmp_path.iterdir()] == ["clip.flac"]
    assert soundfile.info(str(tmp_path / "clip.flac")).frames == 200


def test_failure_mid_write_keeps_the_old_file(tmp_path, monkeypatch, generator):
    path = save(tmp_path / "clip.wav", torch.full((1, 100), 0.25), 16000, subtype="FLOAT")
    real_write = soundfile.write

    def write_half_then_fail(file, data, *args, **kwargs):
        real_write(file, data[: len(data) // 2], *args, **kwargs)
        raise OSError("disk full")

    monkeypatch.setattr(soundfile, "write", write_half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        save(path, torch.rand(1, 5000, generator=generator), 16000, subtype="FLOAT")
    monkeypatch.undo()
    assert [entry.name for entry in tmp_path.iterdir()] == ["clip.wav"]
    old, _ = load(path)
    torch.testing.assert_close(old, torch.full((1, 100), 0.25), rtol=0, atol=0)


def test_save_errors_name_the_file(tmp_path):
    with pytest.raises(AudioError, match=r"clip\.xyz: cannot write audio with suffix '\.xyz'; use one of .*\.wav"):
        save(tmp_path / "clip.xyz", torch.zeros(1, 10), 16000)
    with pytest.raises(AudioError, match=r"bad\.wav: refusing to write a waveform with NaN or Inf"):
        save(tmp_path / "bad.wav", torch.tensor([[0.0, float("nan")]]), 16000)
    with pytest.raises(AudioError, match=r"cube\.wav: expected a non-empty waveform \(channels, samples\)"):
        save(tmp_path / "cube.wav", torch.zeros(1, 2, 10), 16000)
    with pytest.raises(AudioError, match=r"clip\.flac: could not write FLAC audio"):
        save(tmp_path / "clip.flac", torch.zeros(1, 10), 16000, subtype="FLOAT")  # FLAC is integer-only
    assert list(tmp_path.iterdir()) == []


def test_wav_bytes_decode_to_the_waveform_and_peak_normalise_loud_audio(generator):
    quiet = torch.rand(1, 300, generator=generator) - 0.5
    decoded, rate = soundfile.read(BytesIO(wav_bytes(quiet, 8000)), dtype="float32")
    assert rate == 8000
    assert np.abs(decoded - quiet[0].numpy()).max() <= PCM_16_STEP
    loud = torch.tensor([0.0, 2.0, -4.0])
    decoded, _ = soundfile.read(BytesIO(wav_bytes(loud, 8000)), dtype="float32")
    np.testing.assert_allclose(decoded, [0.0, 0.5, -1.0], atol=PCM_16_STEP)


@pytest.mark.shared
def test_real_esc10_clip_loads_at_16_khz_and_resamples_to_32_khz(esc10_clip):
    waveform, rate = load(esc10_clip)
    assert rate == 16000 and waveform.shape == (1, 80000)  # 5.0 s
    assert waveform.dtype == torch.float32
    assert 0.01 < float(waveform.abs().max()) <= 1.0  # a real, non-silent recording in range
    upsampled, rate = load(esc10_clip, sample_rate=32000)
    assert rate == 32000 and upsampled.shape == (1, 160000)
    torch.testing.assert_close(upsampled, resample(waveform, 16000, 32000))


# --- strict inputs (issue 13) ------------------------------------------------------------------------


def test_truncated_wav_is_an_error_naming_the_file_and_the_frame_counts(tmp_path):
    whole = tmp_path / "whole.wav"
    noise = np.random.default_rng(0).uniform(-0.5, 0.5, 16000).astype(np.float32)
    save(whole, noise, 16000, subtype="PCM_16")
    truncated = tmp_path / "truncated.wav"
    truncated.write_bytes(whole.read_bytes()[: 44 + 7989 * 2])  # header still says 16000 frames
    assert load(whole)[0].shape == (1, 16000)
    with pytest.raises(AudioError, match=r"truncated\.wav: truncated audio file: its header declares 16000 "
                                         r"sample frames but it holds 7989"):
        load(truncated)


def test_float_audio_out_of_range_is_kept_and_warned_about_once_per_file(tmp_path):
    loud = np.linspace(-25.0, 25.0, 800, dtype=np.float32)
    path = tmp_path / "loud.wav"
    save(path, loud, 8000, subtype="FLOAT")
    with pytest.warns(UserWarning, match=r"loud\.wav: \d+ samples lie outside \[-1, 1\] \(peak 25\); they are kept"):
        waveform, _ = load(path)
    np.testing.assert_array_equal(waveform[0].numpy(), loud)  # kept as stored, not clipped
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a second read of the same file is silent
        load(path)
    quiet = tmp_path / "quiet.wav"
    save(quiet, loud / 25, 8000, subtype="FLOAT")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load(quiet)
