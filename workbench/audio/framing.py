"""What the STFT-based front-ends share: their windows, input checks, frame arithmetic and the complex STFT."""

from __future__ import annotations

import torch

from workbench.errors import AudioError


WINDOWS = {
    "hann": torch.hann_window,
    "hamming": torch.hamming_window,
    "blackman": torch.blackman_window,
    "rectangular": lambda length: torch.ones(length),
}


def as_batch(waveform: torch.Tensor, name: str, keep_channels: bool) -> torch.Tensor:
    """Bring ``(samples,)``/``(batch, samples)``/``(batch, channels, samples)`` to float32 with a batch axis.

    Channels are averaged to mono unless ``keep_channels``.
    """
    if not isinstance(waveform, torch.Tensor):
        raise TypeError(f"{name} expects a torch.Tensor waveform, got {type(waveform).__name__}")
    if waveform.ndim == 1:
        waveform = waveform.unsqueeze(0)
    elif waveform.ndim == 3 and not keep_channels:
        waveform = waveform.mean(dim=1)
    elif waveform.ndim not in (2, 3):
        raise AudioError(
            f"{name} expects a waveform of shape (samples,), (batch, samples) or "
            f"(batch, channels, samples), got shape {tuple(waveform.shape)}"
        )
    if waveform.is_complex():
        raise AudioError(f"{name} expects a real waveform, got dtype {waveform.dtype}")
    return waveform.float()


def check_length(waveform: torch.Tensor, min_samples: int, name: str) -> None:
    if waveform.shape[-1] < min_samples:
        raise AudioError(
            f"{name} needs at least {min_samples} samples per clip (the shortest clip it can frame), got "
            f"{waveform.shape[-1]}; pad the clip (e.g. workbench.audio.load(..., min_duration=..., pad=True))"
        )


def check_positive(**values: float) -> None:
    for name, value in values.items():
        if not value > 0:
            raise ValueError(f"{name} must be positive, got {value!r}")


def complex_stft(
    waveform: torch.Tensor, n_fft: int, hop_length: int, window: torch.Tensor, center: bool
) -> torch.Tensor:
    """One-sided, unnormalised complex STFT ``(B, samples) -> (B, n_fft // 2 + 1, frames)``, reflect-padded
    when ``center``; a window shorter than ``n_fft`` is zero-padded on both sides (torch's convention)."""
    return torch.stft(
        waveform, n_fft=n_fft, hop_length=hop_length, win_length=window.shape[0], window=window, center=center,
        pad_mode="reflect", normalized=False, onesided=True, return_complex=True,
    )  # fmt: skip


class Framing:
    """Frame arithmetic shared by the STFT-based front-ends (needs ``n_fft``, ``hop_length``, ``center``)."""

    n_fft: int
    hop_length: int
    center: bool

    @property
    def min_samples(self) -> int:
        """Shortest clip accepted: centred (reflect) padding needs more samples than it pads."""
        return self.n_fft // 2 + 1 if self.center else self.n_fft

    def num_frames(self, n_samples: int) -> int:
        """Frames produced for a clip of ``n_samples`` samples."""
        if self.center:
            return 1 + n_samples // self.hop_length
        return 1 + (n_samples - self.n_fft) // self.hop_length
