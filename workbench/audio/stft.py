"""The complex short-time Fourier transform and its inverse as front-ends (:class:`STFT`, :class:`ISTFT`).

:class:`STFT` keeps a waveform's channels, ``(batch, channels, n_freq, frames)``, so :class:`ISTFT`
can invert them; see :mod:`workbench.audio.frontends` for the conventions every front-end follows.
"""

from __future__ import annotations

import torch
from torch import nn

from workbench.audio.framing import WINDOWS, Framing, as_batch, check_length, check_positive, complex_stft


class _ShortTimeFourier(Framing, nn.Module):
    """What :class:`STFT` and :class:`ISTFT` share: their parameters and the analysis window."""

    def __init__(
        self,
        n_fft: int = 1024,
        hop_length: int = 320,
        win_length: int | None = None,
        window: str = "hann",
        center: bool = True,
    ):
        super().__init__()
        check_positive(n_fft=n_fft, hop_length=hop_length)
        resolved_win_length = n_fft if win_length is None else win_length
        if not 0 < resolved_win_length <= n_fft:
            raise ValueError(f"win_length must be in [1, n_fft={n_fft}], got {win_length}")
        if window not in WINDOWS:
            raise ValueError(f"window must be one of {sorted(WINDOWS)}, got {window!r}")
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.win_length = win_length
        self.window = window
        self.center = center
        self.register_buffer("window_samples", WINDOWS[window](resolved_win_length), persistent=False)

    @property
    def n_freq(self) -> int:
        return self.n_fft // 2 + 1


class STFT(_ShortTimeFourier):
    """Complex short-time Fourier transform (one-sided, unnormalised) on :func:`torch.stft`.

    Args:
        n_fft: FFT size; ``n_freq = n_fft // 2 + 1`` bins.
        hop_length: samples between frames.
        win_length: window length (None: ``n_fft``); shorter windows are zero-padded to ``n_fft``.
        window: ``"hann"`` (periodic), ``"hamming"``, ``"blackman"`` or ``"rectangular"``.
        center: reflect-pad ``n_fft // 2`` samples at both ends so :class:`ISTFT` inverts exactly.

    Shape:
        waveform: ``(batch, samples)``, ``(samples,)`` (batch of 1) or ``(batch, channels, samples)``.
        output: complex64 ``(batch, n_freq, frames)``, or ``(batch, channels, n_freq, frames)``.

    Raises:
        AudioError: a waveform of another shape, or shorter than :attr:`min_samples`.
    """

    @property
    def n_bins(self) -> int:
        return self.n_freq


    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        waveform = as_batch(waveform, type(self).__name__, keep_channels=True)  # (B, [C,] samples)
        check_length(waveform, self.min_samples, type(self).__name__)
        leading = waveform.shape[:-1]
        with torch.autocast(device_type=waveform.device.type, enabled=False):
            spectrum = complex_stft(
                waveform.reshape(-1, waveform.shape[-1]), self.n_fft, self.hop_length, self.window_samples, self.center
            )  # (B*C, n_freq, frames)
        return spectrum.reshape(*leading, *spectrum.shape[-2:])


class ISTFT(_ShortTimeFourier):
    """Inverse of :class:`STFT` with the same parameters (overlap-add, :func:`torch.istft`).

    Args: as :class:`STFT`.

    Shape:
        spectrum: complex ``(batch, n_freq, frames)``, ``(batch, channels, n_freq, frames)`` or
        ``(n_freq, frames)`` (batch of 1).
        output: float32 ``(batch, samples)`` or ``(batch, channels, samples)``; pass ``length`` (the
        original number of samples) to get the input length back exactly.

    Raises:
        ValueError: a real tensor, or a number of frequency bins other than ``n_fft // 2 + 1``.
    """

    def forward(self, spectrum: torch.Tensor, length: int | None = None) -> torch.Tensor:
        if not spectrum.is_complex():
            raise ValueError(f"ISTFT expects a complex spectrum, got dtype {spectrum.dtype}")
        if spectrum.ndim == 2:
            spectrum = spectrum.unsqueeze(0)
        if spectrum.ndim not in (3, 4) or spectrum.shape[-2] != self.n_freq:
            raise ValueError(
                f"ISTFT(n_fft={self.n_fft}) expects a spectrum (batch, [channels,] {self.n_freq}, frames), "
                f"got shape {tuple(spectrum.shape)}"
            )
        leading = spectrum.shape[:-2]
        with torch.autocast(device_type=spectrum.device.type, enabled=False):
            waveform = torch.istft(
                spectrum.reshape(-1, *spectrum.shape[-2:]).to(torch.complex64),
                n_fft=self.n_fft,
                hop_length=self.hop_length,
                win_length=self.window_samples.shape[0],
                window=self.window_samples,
                center=self.center,
                normalized=False,
                onesided=True,
                length=length,
            )  # (B*C, samples)
        return waveform.reshape(*leading, waveform.shape[-1])
