"""Mel-scale band-split of an STFT: band edges, and split then merge giving the spectrogram back."""

import math

import pytest
import torch

from workbench.audio.bandsplit import BandSplit, hz_to_mel, mel_band_edges, mel_to_hz
from workbench.audio.frontends import ISTFT, STFT


def test_edges_cover_every_bin_once_and_widen_with_frequency():
    edges = mel_band_edges(513, 64, 16000)
    assert len(edges) == 65 and edges[0] == 0 and edges[-1] == 513
    widths = [high - low for low, high in zip(edges[:-1], edges[1:])]
    assert min(widths) >= 1 and sum(widths) == 513
    assert widths[-1] > 5 * widths[0]  # mel spacing: high bands are many bins wide
    # Unconstrained edges sit at the mel-spaced frequencies: band 40's lower edge
    frequency = mel_to_hz(hz_to_mel(8000) * 40 / 64)
    assert abs(edges[40] - frequency / 8000 * 512) <= 1


def test_more_bands_than_bins_is_refused():
    with pytest.raises(ValueError, match="cannot split 33 frequency bins into 64 bands"):
        BandSplit(n_fft=64, n_bands=64)


@pytest.mark.parametrize("dtype", [torch.complex64, torch.float32])
def test_split_then_merge_reconstructs_the_spectrum(dtype):
    torch.manual_seed(0)
    bands = BandSplit(n_fft=1024, sample_rate=16000, n_bands=64)
    spectrum = torch.randn(3, 513, 11, dtype=dtype)
    split = bands.split(spectrum)
    assert split.shape == (3, 64, bands.max_width, 11)
    assert torch.equal(bands.merge(split), spectrum)
    # Padding entries are zero, and band k holds exactly its bins.
    assert torch.count_nonzero(split[:, ~bands.valid]) == 0
    low, high = bands.edges[10], bands.edges[11]
    assert torch.equal(split[:, 10, : high - low], spectrum[:, low:high])


def test_stft_band_split_istft_round_trip():
    torch.manual_seed(1)
    waveform = torch.randn(2, 16000) * 0.1
    stft, istft, bands = STFT(1024, 320), ISTFT(1024, 320), BandSplit()
    restored = istft(bands.merge(bands.split(stft(waveform))), length=waveform.shape[-1])
    assert torch.allclose(restored, waveform, atol=1e-5)


def test_wrong_shapes_are_named():
    bands = BandSplit()
    with pytest.raises(ValueError, match=r"expects \(\.\.\., 513, frames\)"):
        bands.split(torch.zeros(2, 512, 4))
    with pytest.raises(ValueError, match=f"expects \\(\\.\\.\\., 64, {bands.max_width}, frames\\)"):
        bands.merge(torch.zeros(2, 63, bands.max_width, 4))
    assert math.isclose(mel_to_hz(hz_to_mel(1234.5)), 1234.5)
