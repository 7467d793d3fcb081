"""PANNs CNN14: the AudioSet tagger of Kong et al., with its official log-mel front-end inside.

Kong, Cao, Iqbal, Wang, Wang and Plumbley, "PANNs: Large-Scale Pretrained Audio Neural Networks for
Audio Pattern Recognition", IEEE/ACM TASLP 2020; official code ``qiuqiangkong/audioset_tagging_cnn``
(``pytorch/models.py``: ``Cnn14`` and ``Cnn14_16k``). Six VGG-like blocks (two 3x3 conv-BN-ReLU, then
2x2 average pooling; the sixth block pools 1x1) over a log-mel spectrogram whose mel bins are first
normalised by ``bn0``; mean over frequency, max + mean over time, ``fc1`` + ReLU (the 2048-d
embedding) and ``fc_audioset`` (527 AudioSet logits).

Submodule names are the official ones (``bn0``, ``conv_block1..6.{conv1,conv2,bn1,bn2}``, ``fc1``,
``fc_audioset``), so the Zenodo checkpoints (``ckpt["model"]``) load strictly once the converter has
dropped the official front-end's frozen tensors (``spectrogram_extractor.*``, ``logmel_extractor.*``),
which it first compares with ours: a checkpoint made for the other sample rate is refused instead of
loading silently (both variants have identical network shapes).

Registered weights (Zenodo record 3987831, CC BY 4.0). The record publishes only md5s
(``541141fa2ee191a88f24a3219fff024e`` for the 32 kHz file, ``362fc5ff18f1d6ad2f6d464b45893f2c`` for the
16 kHz one, as quoted by code that downloads them); the 32 kHz file is checked against the sha256 and
size in ``workbench.models.registry.PUBLISHED_CHECKSUMS`` (where they come from is said there), and the
16 kHz file, for which no sha256 could be found, loads "unverified":

| name | file | front-end |
| --- | --- | --- |
| ``panns-cnn14-32k`` | ``Cnn14_mAP=0.431.pth`` | 32 kHz, window 1024, hop 320, 64 mels 50-14000 Hz |
| ``panns-cnn14-16k`` | ``Cnn14_16k_mAP=0.438.pth`` | 16 kHz, window 512, hop 160, 64 mels 50-8000 Hz |

Both front-ends: periodic Hann window of ``window_size`` samples, reflect-padded centred frames, power
spectrum, librosa's Slaney-scale Slaney-normalised mel filters, ``10 * log10(max(mel, 1e-10))`` (ref
1.0, no top_db clipping).

Layer taps (``layers``): ``block1``..``block6`` are the blocks' pooled outputs, returned as
``(batch, channels, mel_bins, frames)`` (the workbench's frequency-before-time layout; the network itself
runs on the official ``(batch, channels, frames, mel_bins)``), and ``fc1`` is the embedding
``(batch, 2048)``.

This module is one network's architecture (CNN14) kept in one file on purpose, as nanoGPT's ``model.py``
is, so that it reads top to bottom against the paper and the official code.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torchaudio
from torch import nn
from torch.nn import functional as F

from workbench.audio.frontends import STFT
from workbench.data.download import RemoteFile
from workbench.errors import AudioError, CheckpointError
from workbench.models.base import Encoder, numbered_tag_names
from workbench.models.registry import PretrainedSpec, register_pretrained, rename_prefix, unwrap
from workbench.typing import SampleRate

EXTRACTOR_PREFIXES = ("spectrogram_extractor.", "logmel_extractor.")
"""Key prefixes of the official front-end's frozen tensors in PANNs checkpoints."""

_POOLED_BLOCKS = 5
"""Blocks 1-5 halve time and frequency; block 6 keeps them."""


@dataclass(frozen=True)
class Cnn14Config:
    """CNN14 hyper-parameters; the defaults are the official 32 kHz model (``Cnn14_mAP=0.431.pth``).

    Args:
        sample_rate: rate of the input waveforms in Hz.
        window_size: STFT size and Hann window length in samples.
        hop_size: samples between frames.
        n_mels: mel bins (``bn0`` normalises each of them).
        f_min: lowest mel filter edge in Hz.
        f_max: highest mel filter edge in Hz.
        channels: output channels of the six conv blocks.
        embedding_dim: width of ``fc1`` (the embedding).
        n_classes: outputs of ``fc_audioset``; 527 is AudioSet and names the tags after its classes.
    """

    sample_rate: SampleRate = 32000
    window_size: int = 1024
    hop_size: int = 320
    n_mels: int = 64
    f_min: float = 50.0
    f_max: float = 14000.0
    channels: tuple[int, int, int, int, int, int] = (64, 128, 256, 512, 1024, 2048)
    embedding_dim: int = 2048
    n_classes: int = 527

    def __post_init__(self) -> None:
        if len(self.channels) != 6:
            raise ValueError(f"CNN14 has six conv blocks; channels must list 6 widths, got {self.channels}")

    @classmethod
    def for_16khz(cls, **overrides: Any) -> Cnn14Config:
        """The official 16 kHz model (``Cnn14_16k``): window 512, hop 160, 64 mels from 50 to 8000 Hz."""
        return cls(**{"sample_rate": 16000, "window_size": 512, "hop_size": 160, "f_max": 8000.0, **overrides})

    @classmethod
    def tiny(cls, **overrides: Any) -> Cnn14Config:
        """Same front-end and depth, 32x fewer channels: builds and runs in milliseconds on a CPU."""
        return cls(**{"channels": (2, 4, 8, 16, 32, 64), "embedding_dim": 64, **overrides})


class PannsLogMel(nn.Module):
    """The log-mel front-end of PANNs, written with torch/torchaudio to match torchlibrosa's output.

    Power spectrogram of a reflect-padded, centred STFT with a periodic Hann window; librosa's mel
    filterbank (Slaney mel scale, Slaney area normalisation: ``torchaudio.functional.melscale_fbanks(
    norm="slaney", mel_scale="slaney")``); ``10 * log10(max(mel, amin)) - 10 * log10(max(amin, ref))``.

    Args:
        sample_rate: rate of the input waveforms in Hz.
        n_fft: FFT size and window length in samples.
        hop_length: samples between frames.
        n_mels: mel bins.
        f_min: lowest filter edge in Hz.
        f_max: highest filter edge in Hz.
        amin: floor of the mel power before the log.
        ref: reference power of 0 dB.

    Shape:
        waveform: ``(batch, samples)`` or ``(samples,)`` -> ``(batch, n_mels, frames)`` with
        ``frames = 1 + samples // hop_length``.

    Raises:
        AudioError: a waveform of another shape, or a clip shorter than ``n_fft // 2 + 1`` samples
            (reflect padding needs more).
    """

    def __init__(
        self,
        sample_rate: SampleRate = 32000,
        n_fft: int = 1024,
        hop_length: int = 320,
        n_mels: int = 64,
        f_min: float = 50.0,
        f_max: float = 14000.0,
        amin: float = 1e-10,
        ref: float = 1.0,
    ):
        super().__init__()
        if not 0.0 <= f_min < f_max <= sample_rate / 2:
            raise ValueError(
                f"need 0 <= f_min < f_max <= sample_rate / 2, got f_min={f_min}, f_max={f_max}, "
                f"sample_rate={sample_rate}"
            )
        self.sample_rate = sample_rate
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.n_mels = n_mels
        self.f_min = f_min
        self.f_max = f_max
        self.amin = amin
        self.ref = ref
        self.stft = STFT(n_fft=n_fft, hop_length=hop_length, window="hann", center=True)
        filters = torchaudio.functional.melscale_fbanks(
            n_fft // 2 + 1, f_min, f_max, n_mels, sample_rate, norm="slaney", mel_scale="slaney"
        )  # (n_freq, n_mels), librosa.filters.mel(...).T
        # Rebuilt from the arguments, so it stays out of the state_dict.
        self.register_buffer("mel_filters", filters, persistent=False)

    @property
    def n_bins(self) -> int:
        return self.n_mels

    @property
    def min_samples(self) -> int:
        return self.stft.min_samples

    def num_frames(self, n_samples: int) -> int:
        return self.stft.num_frames(n_samples)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        if waveform.ndim not in (1, 2):
            raise AudioError(
                f"PannsLogMel expects a waveform of shape (batch, samples) or (samples,), "
                f"got {tuple(waveform.shape)}"
            )
        spectrum = self.stft(waveform)  # (B, n_freq, frames) complex
        with torch.autocast(device_type=spectrum.device.type, enabled=False):
            power = spectrum.real**2 + spectrum.imag**2
            mel = torch.einsum("bft,fm->bmt", power, self.mel_filters)  # (B, n_mels, frames)
            decibels = 10.0 * torch.log10(torch.clamp(mel, min=self.amin))
            return decibels - 10.0 * math.log10(max(self.amin, self.ref))


def frontend_for(config: Cnn14Config) -> PannsLogMel:
    """The front-end of a CNN14 built from ``config``."""
    return PannsLogMel(
        sample_rate=config.sample_rate,
        n_fft=config.window_size,
        hop_length=config.hop_size,
        n_mels=config.n_mels,
        f_min=config.f_min,
        f_max=config.f_max,
    )


def official_extractor_tensors(frontend: PannsLogMel) -> dict[str, torch.Tensor]:
    """The frozen front-end tensors an official checkpoint holds for ``frontend``'s settings.

    torchlibrosa implements the STFT as two Conv1d layers whose kernels are the windowed DFT basis
    (real part ``w[n] cos(2 pi k n / N)``, imaginary part ``-w[n] sin(2 pi k n / N)``) and stores the mel
    filterbank as ``melW`` ``(n_freq, n_mels)``; these are the values our front-end uses implicitly.

    Returns:
        ``{"spectrogram_extractor.stft.conv_real.weight": (n_freq, 1, n_fft), "...conv_imag.weight": ...,
        "logmel_extractor.melW": (n_freq, n_mels)}``, float32.
    """
    n_fft = frontend.n_fft
    window = torch.hann_window(n_fft, periodic=True, dtype=torch.float64)
    frequency = torch.arange(n_fft // 2 + 1, dtype=torch.float64)[:, None]
    sample = torch.arange(n_fft, dtype=torch.float64)[None, :]
    # (k * n) mod N keeps the phase argument small, so float64 cos/sin are exact to ~1e-16.
    phase = 2 * torch.pi * torch.remainder(frequency * sample, n_fft) / n_fft  # (n_freq, n_fft)
    return {
        "spectrogram_extractor.stft.conv_real.weight": (window * torch.cos(phase)).float().unsqueeze(1),
        "spectrogram_extractor.stft.conv_imag.weight": (-window * torch.sin(phase)).float().unsqueeze(1),
        "logmel_extractor.melW": frontend.mel_filters.float().clone(),
    }


class ConvBlock(nn.Module):
    """Two 3x3 conv-BN-ReLU layers without conv bias, then average pooling (the official ``ConvBlock``).

    Shape:
        ``(batch, in_channels, frames, mel_bins)`` -> ``(batch, out_channels, frames / p, mel_bins / p)``
        for a pool size ``p``.
    """

    def __init__(self, in_channels: int, out_channels: int, pool_size: tuple[int, int] = (2, 2)):
        super().__init__()
        self.pool_size = pool_size
        self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False)
        self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.bn2 = nn.BatchNorm2d(out_channels)
        # The official initialisation (Xavier-uniform convs, BN at identity), which matters for
        # randomly initialised baselines in layer-wise studies.
        nn.init.xavier_uniform_(self.conv1.weight)
        nn.init.xavier_uniform_(self.conv2.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        return F.avg_pool2d(x, kernel_size=self.pool_size)


class Cnn14(Encoder):
    """PANNs CNN14 over its own log-mel front-end: waveforms in, 2048-d embeddings and AudioSet logits out.

    Args:
        config: hyper-parameters; ``Cnn14Config()`` (32 kHz) or ``Cnn14Config.for_16khz()`` for the
            official checkpoints, ``Cnn14Config.tiny()`` for tests.

    Shape:
        waveform ``(batch, samples)`` at ``config.sample_rate`` -> embedding ``(batch, embedding_dim)``;
        :meth:`tag_logits` -> ``(batch, n_classes)`` (apply a sigmoid for the official
        ``clipwise_output``). Clips need at least :attr:`min_samples` samples (32 frames, since five
        blocks halve the time axis).

    Training mode applies the official dropout (0.2 after each block, 0.5 before ``fc1``); the
    official SpecAugment and mixup belong to the training recipe, not to the model.
    """

    def __init__(self, config: Cnn14Config | None = None):
        super().__init__()
        self.config = config = config or Cnn14Config()
        self.sample_rate = config.sample_rate
        self.embedding_dim = config.embedding_dim
        self.tag_names = _tag_names(config.n_classes)
        self.frontend = frontend_for(config)
        self.bn0 = nn.BatchNorm2d(config.n_mels)
        widths = (1, *config.channels)
        for index in range(6):
            pool_size = (2, 2) if index < _POOLED_BLOCKS else (1, 1)
            block = ConvBlock(widths[index], widths[index + 1], pool_size=pool_size)
            setattr(self, f"conv_block{index + 1}", block)  # the official names
        self.fc1 = nn.Linear(config.channels[-1], config.embedding_dim)
        self.fc1_activation = nn.ReLU()  # parameter-free, so a tap can see the embedding
        self.fc_audioset = nn.Linear(config.embedding_dim, config.n_classes)
        for linear in (self.fc1, self.fc_audioset):
            nn.init.xavier_uniform_(linear.weight)
            nn.init.zeros_(linear.bias)

    @property
    def blocks(self) -> list[ConvBlock]:
        return [getattr(self, f"conv_block{index}") for index in range(1, 7)]

    @property
    def min_samples(self) -> int:
        """Shortest clip: one that gives ``2**5`` frames, so the fifth pooling still has a frame."""
        frames = 2**_POOLED_BLOCKS
        return max((frames - 1) * self.config.hop_size, self.frontend.min_samples)

    def layer_modules(self) -> dict[str, nn.Module]:
        taps: dict[str, nn.Module] = {f"block{index}": block for index, block in enumerate(self.blocks, start=1)}
        taps["fc1"] = self.fc1_activation
        return taps

    def layers(self, waveform: torch.Tensor, names: Sequence[str] | None = None) -> dict[str, torch.Tensor]:
        """Tapped outputs from one forward pass: ``blockN`` as ``(batch, channels, mel_bins, frames)``,
        ``fc1`` as ``(batch, embedding_dim)``."""
        outputs = super().layers(waveform, names)
        # The network runs on (B, C, frames, mel); every workbench feature expects frequency before time.
        return {name: out.transpose(2, 3) if out.ndim == 4 else out for name, out in outputs.items()}

    def log_mel(self, waveform: torch.Tensor) -> torch.Tensor:
        """``(batch, samples)`` -> log-mel ``(batch, n_mels, frames)`` in dB (before ``bn0``).

        Raises:
            AudioError: clips shorter than :attr:`min_samples`.
        """
        if waveform.shape[-1] < self.min_samples:
            raise AudioError(
                f"CNN14 needs at least {self.min_samples} samples ({self.min_samples / self.sample_rate:.3f} s "
                f"at {self.sample_rate} Hz) per clip, got {waveform.shape[-1]}; pad the clip"
            )
        return self.frontend(waveform)

    def forward_log_mel(self, log_mel: torch.Tensor) -> torch.Tensor:
        """Encode a log-mel ``(batch, n_mels, frames)`` (e.g. augmented) -> ``(batch, embedding_dim)``."""
        x = log_mel.transpose(1, 2).unsqueeze(1)  # (B, 1, T, F): the official layout
        x = self.bn0(x.transpose(1, 3)).transpose(1, 3)  # bn0 normalises each mel bin
        for block in self.blocks:
            x = F.dropout(block(x), p=0.2, training=self.training)  # (B, C, T', F')
        x = x.mean(dim=3)  # (B, C, T')
        x = x.max(dim=2).values + x.mean(dim=2)  # (B, C)
        x = F.dropout(x, p=0.5, training=self.training)
        return self.fc1_activation(self.fc1(x))  # (B, embedding_dim)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        return self.forward_log_mel(self.log_mel(waveform))

    def tag_logits(self, waveform: torch.Tensor) -> torch.Tensor:
        """Waveforms ``(batch, samples)`` -> AudioSet logits ``(batch, n_classes)`` (pre-sigmoid)."""
        return self.fc_audioset(self.embed(waveform))


def _tag_names(n_classes: int) -> tuple[str, ...]:
    """AudioSet display names when the head has AudioSet's classes, else ``"class 0"``, ``"class 1"``, ..."""
    numbered = numbered_tag_names(n_classes)
    try:
        from workbench.data.audioset import audioset_labels
    except ImportError:  # the label list module is optional for this model
        return numbered
    labels = audioset_labels()
    return tuple(labels) if len(labels) == n_classes else numbered


def _matches(official: torch.Tensor, ours: torch.Tensor) -> bool:
    if official.shape != ours.shape:
        return False
    # Relative to the largest value: the filterbank and DFT kernels were computed in float64 by
    # librosa/numpy and stored in float32, ours by torch; a wrong setting differs by O(1).
    tolerance = 1e-4 * float(ours.abs().max())
    return bool(torch.allclose(official.float(), ours, rtol=0.0, atol=tolerance))


def official_converter(config: Cnn14Config) -> Callable[[Any], dict[str, torch.Tensor]]:
    """Map an official PANNs checkpoint onto :class:`Cnn14` built from ``config``.

    Unwraps ``ckpt["model"]``, strips a ``module.`` (DataParallel) prefix, and drops the frozen
    front-end tensors (``spectrogram_extractor.*``, ``logmel_extractor.*``) after checking that the
    ones it knows equal our front-end's (:func:`official_extractor_tensors`).

    Raises:
        CheckpointError: an extractor tensor differs from ours (a checkpoint for another sample
            rate or front-end); the message names the key and the expected settings.
    """
    strip_data_parallel = rename_prefix("module.")

    def convert(checkpoint: Any) -> dict[str, torch.Tensor]:
        state = strip_data_parallel(unwrap("model", "state_dict")(checkpoint))
        extractor_keys = [key for key in state if key.startswith(EXTRACTOR_PREFIXES)]
        # Built per call, not per registration: a few MB that only a load needs.
        expected = official_extractor_tensors(frontend_for(config)) if extractor_keys else {}
        for key in extractor_keys:
            official = state.pop(key)
            if key in expected and not (
                isinstance(official, torch.Tensor) and _matches(official, expected[key])
            ):
                shape = tuple(official.shape) if isinstance(official, torch.Tensor) else type(official).__name__
                raise CheckpointError(
                    f"the checkpoint's front-end tensor {key} {shape} does not match this model's front-end "
                    f"({config.sample_rate} Hz, window {config.window_size}, hop {config.hop_size}, "
                    f"{config.n_mels} mels {config.f_min:g}-{config.f_max:g} Hz; expected shape "
                    f"{tuple(expected[key].shape)}). Is it the checkpoint of the other sample rate? "
                    f"Load it under the matching name (panns-cnn14-32k or panns-cnn14-16k)."
                )
        return state

    return convert


_ZENODO = "https://zenodo.org/record/3987831/files/"
_FRONTEND = (
    "log-mel {rate} kHz: periodic Hann STFT {window}/{hop} (reflect-centred), power, 64 Slaney mels "
    "{low}-{high} Hz, 10*log10(max(x, 1e-10)); bn0 inside the model"
)


def _register_official(name: str, config: Cnn14Config, filename: str, mean_average_precision: str) -> None:
    register_pretrained(
        PretrainedSpec(
            name=name,
            description=(
                f"PANNs CNN14 AudioSet tagger (mAP {mean_average_precision}), {config.sample_rate // 1000} kHz; "
                f"Kong et al., TASLP 2020"
            ),
            # register_pretrained fills in the sha256 and size where registry.PUBLISHED_CHECKSUMS has them
            # (the 32 kHz file); Zenodo publishes only md5s (see the module docstring).
            remote=RemoteFile(
                url=_ZENODO + filename.replace("=", "%3D") + "?download=1", sha256=None, filename=filename
            ),
            build=lambda: Cnn14(config),
            convert=official_converter(config),
            frontend=_FRONTEND.format(
                rate=config.sample_rate // 1000,
                window=config.window_size,
                hop=config.hop_size,
                low=int(config.f_min),
                high=int(config.f_max),
            ),
            licence="CC BY 4.0 (Zenodo record 3987831)",
        )
    )


_register_official("panns-cnn14-32k", Cnn14Config(), "Cnn14_mAP=0.431.pth", "0.431")
_register_official("panns-cnn14-16k", Cnn14Config.for_16khz(), "Cnn14_16k_mAP=0.438.pth", "0.438")

__all__ = [
    "Cnn14",
    "Cnn14Config",
    "ConvBlock",
    "PannsLogMel",
    "frontend_for",
    "official_converter",
    "official_extractor_tensors",
]

