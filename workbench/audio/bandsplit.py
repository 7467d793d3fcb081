"""Mel-scale band-split of a spectrogram into sub-bands, and its exact inverse.

A one-sided STFT with ``n_fft = 1024`` has 513 frequency bins; a separator that works on an image of
64 rows needs the bins grouped into 64 sub-bands first. :class:`BandSplit` partitions the bins into
contiguous bands whose edges are equally spaced on the mel scale (HTK formula), so low bands are a
few bins wide and high bands tens of bins: the resolution follows hearing, as a mel filterbank's does,
but nothing is thrown away. Every bin belongs to exactly one band, so

- :meth:`BandSplit.split` lays the spectrogram out as ``(batch, n_bands, max_width, frames)``, each
  band's bins first and zeros after them (a band narrower than the widest one is zero-padded);
- :meth:`BandSplit.merge` gathers the valid entries back into ``(batch, n_freq, frames)``.

``merge(split(x)) == x`` exactly, for complex and real spectrograms alike. What a model learns on top
(a per-band projection of a band's bins to a fixed width, the *compression* to 64 sub-bands, and the
per-band mapping back to a mask over the band's bins) lives in the model, e.g.
:class:`workbench.models.care_sep.BandEncoder` and :class:`~workbench.models.care_sep.BandMaskHead`.

The band-split front-end of BSRNN (Luo and Yu, "Music Source Separation with Band-split RNN", 2023)
is the same idea with hand-chosen edges; CaRE-SEP (Wang et al.) compresses its STFT input to 64
mel-scale sub-bands.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from workbench.typing import SampleRate


def hz_to_mel(frequency: float) -> float:
    """The HTK mel scale: ``2595 log10(1 + f / 700)``."""
    return 2595.0 * math.log10(1.0 + frequency / 700.0)


def mel_to_hz(mel: float) -> float:
    return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)


def mel_band_edges(n_freq: int, n_bands: int, sample_rate: SampleRate) -> tuple[int, ...]:
    """Bin edges of ``n_bands`` contiguous bands over ``n_freq`` one-sided bins, mel-spaced.

    Band ``k`` holds bins ``edges[k] .. edges[k + 1] - 1``. The mel-spaced frequencies are rounded
    to bins, and bands that would be empty (the lowest ones, narrower than a bin) are widened to one
    bin, pushing the next edges up, so every band has at least one bin.

    Args:
        n_freq: bins of the one-sided spectrum, ``n_fft // 2 + 1``.
        n_bands: how many bands.
        sample_rate: the audio's rate (the top bin is at ``sample_rate / 2``).

    Returns:
        ``n_bands + 1`` strictly increasing integers from 0 to ``n_freq``.

    Raises:
        ValueError: fewer bins than bands, or a non-positive count.
    """
    if n_bands < 1 or n_freq < 1 or sample_rate <= 0:
        raise ValueError(
            f"need n_bands >= 1, n_freq >= 1 and a positive sample_rate, got {n_bands}, {n_freq}, {sample_rate}"
        )
    if n_freq < n_bands:
        raise ValueError(
            f"cannot split {n_freq} frequency bins into {n_bands} bands of at least one bin; use a larger "
            f"n_fft (n_freq = n_fft // 2 + 1) or fewer bands"
        )
    nyquist = sample_rate / 2.0
    top_mel = hz_to_mel(nyquist)
    edges = [0]
    for k in range(1, n_bands):
        frequency = mel_to_hz(top_mel * k / n_bands)
        edges.append(int(round(frequency / nyquist * (n_freq - 1))))
    edges.append(n_freq)
    for k in range(1, n_bands):  # at least one bin per band, from the bottom ...
        edges[k] = max(edges[k], edges[k - 1] + 1)
    for k in range(n_bands - 1, 0, -1):  # ... and room left for the bands above
        edges[k] = min(edges[k], edges[k + 1] - 1)
    return tuple(edges)


class BandSplit(nn.Module):
    """Split a one-sided spectrogram into mel-spaced sub-bands and merge them back (exactly).

    Args:
        n_fft: FFT size of the spectrogram (``n_freq = n_fft // 2 + 1`` bins).
        sample_rate: the audio's rate.
        n_bands: sub-bands (64 in CaRE-SEP).

    Attributes:
        edges: ``n_bands + 1`` bin edges (:func:`mel_band_edges`).
        widths: bins per band.
        max_width: the widest band's bins, the padded width of :meth:`split`'s output.

    Shape:
        split: ``(..., n_freq, frames)`` -> ``(..., n_bands, max_width, frames)`` (same dtype).
        merge: ``(..., n_bands, max_width, frames)`` -> ``(..., n_freq, frames)``.
    """

    def __init__(self, n_fft: int = 1024, sample_rate: SampleRate = 16000, n_bands: int = 64):
        super().__init__()
        self.n_fft = int(n_fft)
        self.sample_rate = int(sample_rate)
        self.n_bands = int(n_bands)
        self.n_freq = self.n_fft // 2 + 1
        self.edges = mel_band_edges(self.n_freq, self.n_bands, self.sample_rate)
        self.widths = tuple(high - low for low, high in zip(self.edges[:-1], self.edges[1:]))
        self.max_width = max(self.widths)
        index = torch.full((self.n_bands, self.max_width), self.n_freq, dtype=torch.long)  # n_freq: a zero bin
        for band, (low, width) in enumerate(zip(self.edges[:-1], self.widths)):
            index[band, :width] = torch.arange(low, low + width)
        valid = index < self.n_freq  # (K, W)
        self.register_buffer("gather_index", index.reshape(-1), persistent=False)  # (K*W,)
        self.register_buffer("valid", valid, persistent=False)  # (K, W)
        # Row-major positions of the valid entries: bands are contiguous and in order, so these are
        # bins 0 .. n_freq - 1 in order.
        self.register_buffer("valid_positions", torch.nonzero(valid.reshape(-1)).squeeze(1), persistent=False)

    def _check(self, tensor: torch.Tensor, axis_size: int, what: str, layout: str) -> None:
        if tensor.ndim < 2 or tensor.shape[-2] != axis_size:
            raise ValueError(
                f"BandSplit(n_fft={self.n_fft}, n_bands={self.n_bands}).{what} expects {layout}, got shape "
                f"{tuple(tensor.shape)}"
            )

    def split(self, spectrum: torch.Tensor) -> torch.Tensor:
        """``(..., n_freq, frames)`` -> ``(..., n_bands, max_width, frames)``, zero where a band has no bin."""
        self._check(spectrum, self.n_freq, "split", f"(..., {self.n_freq}, frames)")
        padded = torch.cat([spectrum, torch.zeros_like(spectrum[..., :1, :])], dim=-2)  # (..., F + 1, T)
        bands = padded.index_select(-2, self.gather_index)  # (..., K*W, T)
        return bands.reshape(*spectrum.shape[:-2], self.n_bands, self.max_width, spectrum.shape[-1])

    def merge(self, bands: torch.Tensor) -> torch.Tensor:
        """``(..., n_bands, max_width, frames)`` -> ``(..., n_freq, frames)``; padded entries are ignored."""
        if bands.ndim < 3 or tuple(bands.shape[-3:-1]) != (self.n_bands, self.max_width):
            raise ValueError(
                f"BandSplit.merge expects (..., {self.n_bands}, {self.max_width}, frames), got shape "
                f"{tuple(bands.shape)}"
            )
        flat = bands.reshape(*bands.shape[:-3], self.n_bands * self.max_width, bands.shape[-1])
        return flat.index_select(-2, self.valid_positions)  # (..., F, T)

    def extra_repr(self) -> str:
        return f"n_fft={self.n_fft}, sample_rate={self.sample_rate}, n_bands={self.n_bands}, max_width={self.max_width}"
