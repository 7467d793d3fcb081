"""The resampler against a reference tone sweep: pass band flat, stop band rejected, shapes kept."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from workbench.audio import resample

ORIG, NEW = 44_100, 16_000
NYQUIST = NEW / 2


def _tone_level_db(frequency: float, orig: int = ORIG, new: int = NEW, seconds: float = 1.0) -> float:
    """Level (dB re. the input tone) of ``frequency`` after resampling, measured at the aliased
    frequency when it lies above the new Nyquist (that is where aliasing would put it)."""
    time = np.arange(int(orig * seconds)) / orig
    tone = torch.from_numpy(np.sin(2 * np.pi * frequency * time)).float()
    out = resample(tone[None], orig, new)[0].double().numpy()
    out = out[len(out) // 4 : -len(out) // 4]  # away from the edges' transients
    window = np.hanning(len(out))
    spectrum = np.abs(np.fft.rfft(out * window)) / (window.sum() / 2)
    frequencies = np.fft.rfftfreq(len(out), 1 / new)
    at = frequency if frequency <= new / 2 else new - frequency  # alias of a tone above Nyquist
    bin_index = int(np.argmin(np.abs(frequencies - at)))
    peak = spectrum[max(0, bin_index - 3) : bin_index + 4].max()
    return float(20 * np.log10(max(peak, 1e-12)))


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.8, 0.9])
def test_pass_band_is_flat_to_nine_tenths_of_the_new_nyquist(fraction: float) -> None:
    assert abs(_tone_level_db(fraction * NYQUIST)) <= 0.5


@pytest.mark.parametrize("over", [1.1, 1.2, 1.5])
def test_tones_above_the_new_nyquist_do_not_alias(over: float) -> None:
    assert _tone_level_db(over * NYQUIST) < -60.0


def test_upsampling_keeps_the_band_and_adds_nothing_above_it() -> None:
    assert abs(_tone_level_db(0.9 * 8000, orig=16_000, new=32_000)) <= 0.5


def test_shapes_dtype_and_device_are_kept() -> None:
    waveform = torch.randn(2, 3, ORIG // 10)
    out = resample(waveform, ORIG, NEW)
    assert out.shape == (2, 3, NEW // 10) and out.dtype == torch.float32
    np.testing.assert_allclose(out[1, 2].numpy(), resample(waveform[1, 2], ORIG, NEW).numpy(), atol=1e-6)
    assert resample(waveform.double(), ORIG, NEW).dtype == torch.float64


def test_bad_rates_are_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        resample(torch.zeros(1, 100), 0, 16_000)
