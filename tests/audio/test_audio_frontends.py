"""Front-ends: equal to their reference computations, documented shapes, round trips, fingerprints."""

from __future__ import annotations

import pytest
import torch
import torchaudio.compliance.kaldi
import torchaudio.functional
import torchaudio.transforms
from torch import nn

from workbench.audio import (
    ISTFT,
    STFT,
    KaldiFbank,
    LogMelSpectrogram,
    Normalizer,
    frontend_fingerprint,
    frontend_sample_rate,
    load,
)
from workbench.errors import AudioError


def test_kaldi_fbank_equals_a_direct_call_as_ast_makes_it(generator):
    clips = torch.rand(2, 16000, generator=generator) * 0.6 - 0.2  # a DC offset that remove_dc takes out
    features = KaldiFbank()(clips)
    assert features.shape == (2, 128, 98)
    for clip, clip_features in zip(clips, features):
        reference = torchaudio.compliance.kaldi.fbank(
            (clip - clip.mean()).unsqueeze(0), htk_compat=True, sample_frequency=16000, use_energy=False,
            window_type="hanning", num_mel_bins=128, dither=0.0, frame_shift=10,
        )  # (frames, bins), AST's own call
        torch.testing.assert_close(clip_features, reference.T, rtol=0, atol=0)


def test_kaldi_fbank_equals_a_direct_call_as_beats_makes_it(generator):
    clip = torch.rand(12000, generator=generator) - 0.5
    frontend = KaldiFbank(waveform_scale=2**15, remove_dc=False, window_type="povey", htk_compat=False)
    reference = torchaudio.compliance.kaldi.fbank(
        clip.unsqueeze(0) * 2**15, num_mel_bins=128, sample_frequency=16000, frame_length=25, frame_shift=10
    )
    torch.testing.assert_close(frontend(clip)[0], reference.T, rtol=0, atol=0)


def test_kaldi_fbank_target_frames_pads_with_zeros_or_crops_like_ast(generator):
    clip = torch.rand(1, 8000, generator=generator) - 0.5  # 48 frames
    full = KaldiFbank()(clip)
    padded = KaldiFbank(target_frames=60)(clip)
    cropped = KaldiFbank(target_frames=30)(clip)
    assert full.shape == (1, 128, 48) and padded.shape == (1, 128, 60) and cropped.shape == (1, 128, 30)
    torch.testing.assert_close(padded[..., :48], full, rtol=0, atol=0)
    assert not padded[..., 48:].any()
    torch.testing.assert_close(cropped, full[..., :30], rtol=0, atol=0)


def test_kaldi_fbank_energy_adds_one_bin(generator):
    frontend = KaldiFbank(n_mels=40, use_energy=True)
    assert frontend.n_bins == 41
    assert frontend(torch.rand(1, 4000, generator=generator)).shape == (1, 41, frontend.num_frames(4000))


def test_log_mel_equals_a_hand_computation_from_stft_and_mel_filterbank(generator):
    waveform = torch.rand(3, 8000, generator=generator, dtype=torch.float64) - 0.5
    frontend = LogMelSpectrogram()
    power = torch.stft(
        waveform, n_fft=1024, hop_length=160, win_length=1024, window=torch.hann_window(1024, dtype=torch.float64),
        center=True, pad_mode="reflect", return_complex=True,
    ).abs() ** 2  # (B, 513, frames)
    filterbank = torchaudio.functional.melscale_fbanks(
        n_freqs=513, f_min=60.0, f_max=7800.0, n_mels=64, sample_rate=16000, norm=None, mel_scale="htk"
    ).double()  # (513, 64)
    expected = torch.log(torch.einsum("fm,bft->bmt", filterbank, power) + torch.finfo(torch.float32).eps)
    features = frontend(waveform)
    assert features.dtype == torch.float32 and features.shape == (3, 64, 51)
    torch.testing.assert_close(features.double(), expected, rtol=1e-4, atol=1e-4)


TORCHAUDIO_CONFIGS = [
    {},  # BYOL-A's defaults
    {"n_fft": 512, "win_length": 400, "hop_length": 160, "n_mels": 40, "f_min": 0.0, "f_max": 8000.0},
    {"n_fft": 1024, "win_length": 800, "hop_length": 320, "n_mels": 128, "sample_rate": 32000, "f_max": 15000.0},
    {"power": 1.0},
    {"center": False, "n_mels": 96, "f_min": 20.0, "f_max": 4000.0, "hop_length": 100},
    {"n_fft": 256, "win_length": 256, "hop_length": 64, "n_mels": 24, "power": 1.5, "center": False},
]


@pytest.mark.parametrize("parameters", TORCHAUDIO_CONFIGS, ids=lambda parameters: str(sorted(parameters.items())))
def test_log_mel_equals_torchaudio_mel_spectrogram(generator, parameters):
    frontend = LogMelSpectrogram(**parameters)
    reference = torchaudio.transforms.MelSpectrogram(
        sample_rate=frontend.sample_rate, n_fft=frontend.n_fft, win_length=frontend.win_length,
        hop_length=frontend.hop_length, f_min=frontend.f_min, f_max=frontend.f_max, n_mels=frontend.n_mels,
        power=frontend.power, center=frontend.center, pad_mode="reflect", norm=None, mel_scale="htk",
    )
    waveform = (torch.rand(3, 9000, generator=generator) - 0.5) * torch.tensor([[1.0], [0.01], [0.3]])
    expected_power = reference(waveform)  # (B, n_mels, frames)
    power = frontend.power_mel(waveform)
    assert power.shape == expected_power.shape == (3, frontend.n_mels, frontend.num_frames(9000))
    # Float32 rounding of two summation orders: relative to each value (powers reach 1e3 here).
    torch.testing.assert_close(power, expected_power, rtol=1e-5, atol=1e-5)
    log_mel = frontend(waveform)
    assert (log_mel - torch.log(expected_power + frontend.log_offset)).abs().max() <= 1e-5


def test_log_mel_gradient_equals_torchaudio_gradient(generator):
    """The in-place fast path is skipped under autograd, so gradients reach the waveform unchanged."""
    frontend = LogMelSpectrogram(n_fft=512, win_length=512, n_mels=32)
    reference = torchaudio.transforms.MelSpectrogram(
        sample_rate=16000, n_fft=512, win_length=512, hop_length=160, f_min=60.0, f_max=7800.0, n_mels=32,
        norm=None, mel_scale="htk",
    )
    waveform = torch.rand(2, 4000, generator=generator) - 0.5
    ours, theirs = waveform.clone().requires_grad_(True), waveform.clone().requires_grad_(True)
    frontend(ours).sum().backward()
    torch.log(reference(theirs) + frontend.log_offset).sum().backward()
    torch.testing.assert_close(ours.grad, theirs.grad, rtol=1e-4, atol=1e-4)


def test_log_mel_of_silence_is_the_log_of_the_offset():
    features = LogMelSpectrogram(log_offset=1e-6)(torch.zeros(1, 4000))
    torch.testing.assert_close(features, torch.full_like(features, torch.log(torch.tensor(1e-6)).item()))


@pytest.mark.parametrize("frontend", [LogMelSpectrogram(), KaldiFbank()], ids=lambda module: type(module).__name__)
def test_one_clip_and_multichannel_inputs_follow_the_documented_layout(frontend, generator):
    stereo = torch.rand(2, 2, 6000, generator=generator) - 0.5  # (batch, channels, samples)
    features = frontend(stereo)
    assert features.shape == (2, frontend.n_bins, frontend.num_frames(6000))
    torch.testing.assert_close(features, frontend(stereo.mean(dim=1)), rtol=0, atol=0)  # averaged to mono
    one_clip = frontend(stereo[0, 0])
    assert one_clip.shape == (1, frontend.n_bins, frontend.num_frames(6000))


@pytest.mark.parametrize(
    "frontend", [LogMelSpectrogram(), KaldiFbank(), STFT()], ids=lambda module: type(module).__name__
)
def test_too_short_and_wrongly_shaped_waveforms_raise_clear_errors(frontend):
    name = type(frontend).__name__
    with pytest.raises(AudioError, match=rf"{name} needs at least {frontend.min_samples} samples per clip"):
        frontend(torch.zeros(2, frontend.min_samples - 1))
    frontend(torch.zeros(2, frontend.min_samples))  # the documented minimum works
    with pytest.raises(AudioError, match=rf"{name} expects a waveform of shape \(samples,\), \(batch, samples\)"):
        frontend(torch.zeros(1, 1, 1, 2000))


def test_front_ends_keep_nothing_in_their_state_dict():
    for frontend in (LogMelSpectrogram(), KaldiFbank(), STFT(), ISTFT()):
        assert frontend.state_dict() == {}


def test_log_mel_stays_float32_under_autocast(generator):
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        features = LogMelSpectrogram()(torch.rand(1, 4000, generator=generator))
    assert features.dtype == torch.float32
    # A model converted to half precision converts the front-end's buffers too; features stay float32.
    waveform = torch.rand(1, 4000, generator=generator)
    torch.testing.assert_close(LogMelSpectrogram().half()(waveform.half()), LogMelSpectrogram()(waveform.half().float()),
                               rtol=0, atol=1e-2)  # fmt: skip


def test_invalid_constructor_arguments_are_rejected():
    with pytest.raises(ValueError, match=r"f_max <= sample_rate / 2"):
        LogMelSpectrogram(sample_rate=8000, f_max=7800.0)
    with pytest.raises(ValueError, match=r"win_length \(2048\) must not exceed n_fft \(1024\)"):
        LogMelSpectrogram(win_length=2048)
    with pytest.raises(ValueError, match=r"window_type must be one of"):
        KaldiFbank(window_type="hann")
    with pytest.raises(ValueError, match=r"window must be one of"):
        STFT(window="kaiser")


@pytest.mark.parametrize(
    "parameters",
    [{}, {"n_fft": 512, "hop_length": 128, "win_length": 400}, {"n_fft": 256, "hop_length": 64, "window": "hamming"}],
)
def test_stft_istft_round_trip(generator, parameters):
    waveform = torch.rand(2, 3, 7001, generator=generator) * 2 - 1  # (batch, channels, samples)
    stft, istft = STFT(**parameters), ISTFT(**parameters)
    spectrum = stft(waveform)
    assert spectrum.dtype == torch.complex64
    assert spectrum.shape == (2, 3, stft.n_freq, stft.num_frames(7001))
    torch.testing.assert_close(istft(spectrum, length=7001), waveform, rtol=0, atol=1e-5)
    mono = waveform[:, 0]
    torch.testing.assert_close(istft(stft(mono), length=7001), mono, rtol=0, atol=1e-5)


def test_istft_rejects_real_and_mis_sized_spectra():
    with pytest.raises(ValueError, match="ISTFT expects a complex spectrum"):
        ISTFT()(torch.zeros(1, 513, 10))
    expected = r"expects a spectrum \(batch, \[channels,\] 513, frames\), got shape \(1, 257, 10\)"
    with pytest.raises(ValueError, match=expected):
        ISTFT()(torch.zeros(1, 257, 10, dtype=torch.complex64))


def test_fingerprint_names_the_class_and_every_parameter():
    assert frontend_fingerprint(STFT()) == "STFT(n_fft=1024,hop_length=320,win_length=None,window='hann',center=True)"
    assert frontend_fingerprint(LogMelSpectrogram()) == frontend_fingerprint(LogMelSpectrogram())
    assert frontend_fingerprint(LogMelSpectrogram()) != frontend_fingerprint(LogMelSpectrogram(n_mels=65))
    assert "target_frames=1024" in frontend_fingerprint(KaldiFbank(target_frames=1024))


def test_fingerprint_of_a_chain_hashes_the_statistics():
    def chain(mean: float) -> nn.Sequential:
        return nn.Sequential(LogMelSpectrogram(), Normalizer(mean, 2.0))

    assert frontend_fingerprint(chain(1.0)) == frontend_fingerprint(chain(1.0))
    assert frontend_fingerprint(chain(1.0)) != frontend_fingerprint(chain(1.5))
    assert frontend_fingerprint(chain(1.0)).startswith("Sequential(LogMelSpectrogram(")
    assert frontend_sample_rate(chain(1.0)) == 16000


def test_fingerprint_refuses_modules_that_hide_their_parameters():
    class Hidden(nn.Module):
        def __init__(self, scale: float):
            super().__init__()
            self._scale = scale

    with pytest.raises(ValueError, match=r"cannot fingerprint Hidden: its constructor argument 'scale'"):
        frontend_fingerprint(Hidden(2.0))


@pytest.mark.shared
def test_front_ends_on_a_real_clip(esc10_clip):
    waveform, rate = load(esc10_clip)
    log_mel = LogMelSpectrogram(sample_rate=rate)(waveform)
    fbank = KaldiFbank(sample_rate=rate, target_frames=512)(waveform)
    assert log_mel.shape == (1, 64, 501) and fbank.shape == (1, 128, 512)
    assert torch.isfinite(log_mel).all() and torch.isfinite(fbank).all()
    # A helicopter: most energy in the low bands, so the low half of the mel bands is louder.
    assert log_mel[0, :32].mean() > log_mel[0, 32:].mean()
