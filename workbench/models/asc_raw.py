"""The raw-waveform acoustic scene classifier of Jung et al.'s Table 1.

Jung, Shim, Kim, Kim and Yu, "Acoustic Scene Classification using Audio Tagging", Interspeech 2020
(arXiv:2003.09164). No official checkpoint is published; the network is trained from scratch.

Stereo raw waveform (479,999 samples at 48 kHz in the paper, i.e. a 10-s DCASE 2019 clip) ->
pre-emphasis -> strided convolution (filter length 12, stride 12, 128 filters) -> batch norm ->
LeakyReLU -> seven residual blocks (conv 3 - BN - LeakyReLU - conv 3 - BN - LeakyReLU - max-pool 3,
128 filters) -> global average and global max pooling over time, concatenated -> a fully connected
layer to the 64-d **code** -> a fully connected layer to the scene classes.

Modules:

- :class:`RawASCConfig`: every size above, with the input length a parameter and
  :meth:`RawASCConfig.small` for CPU-sized experiments (fewer filters, same topology);
- :class:`PreEmphasis`, :class:`ResidualBlock`;
- :class:`RawWaveformTrunk`: waveform -> feature map ``(batch, filters, frames)`` and its pooled
  statistics; the tag-fusion models of :mod:`workbench.models.tag_fusion` reuse it;
- :class:`RawASCNet`: the baseline network, an :class:`~workbench.models.base.Encoder` whose embedding
  is the code.

Choices the paper leaves open, stated here: the LeakyReLU slope is 0.3 (Keras' default); the skip
connection of a residual block is added after its second batch norm, before the second LeakyReLU
(ResNet v1 order); the code is the fully connected layer's output before any activation (what an SVM
back-end reads), and the classifier sees it through a LeakyReLU.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from workbench.errors import AudioError
from workbench.models.base import Encoder
from workbench.typing import SampleRate


@dataclass(frozen=True)
class RawASCConfig:
    """Sizes of the raw-waveform ASC network (defaults: the paper's Table 1 on DCASE 2019 task 1a).

    Args:
        sample_rate: rate of the input waveforms in Hz.
        input_samples: samples per clip the data pipeline crops or pads to (479,999 in the paper);
            the network itself takes any length of at least :attr:`min_samples`.
        channels: input channels (2: stereo).
        pre_emphasis: coefficient of the first-order pre-emphasis filter ``x[t] - k x[t-1]``; 0 disables it.
        filters: filters of the strided convolution and of every residual block.
        first_kernel: filter length of the strided convolution.
        first_stride: its stride.
        n_blocks: residual blocks.
        pool_size: max-pooling size (and stride) at the end of each block.
        code_dim: size of the code (the hidden layer before the output layer).
        n_scenes: scene classes.
        negative_slope: slope of every LeakyReLU for negative inputs.

    Raises:
        ValueError: a size that is not positive, or an ``input_samples`` too short to leave one frame
            after every block (the message gives the minimum).
    """

    sample_rate: SampleRate = 48000
    input_samples: int = 479_999
    channels: int = 2
    pre_emphasis: float = 0.97
    filters: int = 128
    first_kernel: int = 12
    first_stride: int = 12
    n_blocks: int = 7
    pool_size: int = 3
    code_dim: int = 64
    n_scenes: int = 10
    negative_slope: float = 0.3

    def __post_init__(self) -> None:
        for name in ("sample_rate", "input_samples", "channels", "filters", "first_kernel", "first_stride",
                     "n_blocks", "pool_size", "code_dim", "n_scenes"):  # fmt: skip
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"RawASCConfig.{name} must be a positive integer, got {value!r}")
        if not 0.0 <= self.pre_emphasis < 1.0:
            raise ValueError(f"RawASCConfig.pre_emphasis must be in [0, 1), got {self.pre_emphasis!r}")
        if self.input_samples < self.min_samples:
            raise ValueError(
                f"RawASCConfig.input_samples={self.input_samples} is too short: {self.n_blocks} blocks with "
                f"max-pooling {self.pool_size} after a stride-{self.first_stride} convolution need at least "
                f"{self.min_samples} samples ({self.min_samples / self.sample_rate:.2f} s at {self.sample_rate} Hz)"
            )

    @property
    def min_samples(self) -> int:
        """The shortest input that leaves one frame after the last block."""
        return self.first_kernel + self.first_stride * (self.pool_size**self.n_blocks - 1)

    def frames(self, n_samples: int) -> int:
        """Frames of the last block's feature map for an input of ``n_samples`` samples."""
        frames = (n_samples - self.first_kernel) // self.first_stride + 1
        for _ in range(self.n_blocks):
            frames //= self.pool_size
        return frames

    @classmethod
    def small(cls, **overrides: Any) -> RawASCConfig:
        """The same topology at CPU scale: 16 kHz, 2-s clips, 16 filters (override any field)."""
        values: dict[str, Any] = {"sample_rate": 16000, "input_samples": 32000, "filters": 16}
        return cls(**{**values, **overrides})

    def replace(self, **changes: Any) -> RawASCConfig:
        return dataclasses.replace(self, **changes)


class PreEmphasis(nn.Module):
    """First-order high-pass ``y[t] = x[t] - coefficient * x[t - 1]`` along time (``y[0] = x[0]``).

    Shape:
        waveform: ``(..., samples)``; output: the same.
    """

    def __init__(self, coefficient: float = 0.97):
        super().__init__()
        self.coefficient = float(coefficient)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        if self.coefficient == 0.0:
            return waveform
        return torch.cat([waveform[..., :1], waveform[..., 1:] - self.coefficient * waveform[..., :-1]], dim=-1)

    def extra_repr(self) -> str:
        return f"coefficient={self.coefficient}"


class ResidualBlock(nn.Module):
    """conv 3 - BN - LeakyReLU - conv 3 - BN - (+ input) - LeakyReLU - max-pool, same width in and out.

    Shape:
        input: ``(batch, filters, frames)``; output: ``(batch, filters, frames // pool_size)``.
    """

    def __init__(self, filters: int, pool_size: int = 3, negative_slope: float = 0.3):
        super().__init__()
        self.conv1 = nn.Conv1d(filters, filters, kernel_size=3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm1d(filters)
        self.conv2 = nn.Conv1d(filters, filters, kernel_size=3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm1d(filters)
        self.activation = nn.LeakyReLU(negative_slope)
        self.pool = nn.MaxPool1d(pool_size)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        hidden = self.activation(self.bn1(self.conv1(features)))
        hidden = self.bn2(self.conv2(hidden))
        return self.pool(self.activation(hidden + features))


class RawWaveformTrunk(nn.Module):
    """Pre-emphasis, the strided convolution and the residual blocks: waveform -> feature map.

    Args:
        config: the sizes.

    Shape:
        waveform: ``(batch, channels, samples)``, ``samples >= config.min_samples``.
        :meth:`forward`: ``(batch, filters, config.frames(samples))``.
        :meth:`pool`: ``(batch, 2 * filters)``, the time average then the time maximum of each filter.
    """

    def __init__(self, config: RawASCConfig):
        super().__init__()
        self.config = config
        self.pre_emphasis = PreEmphasis(config.pre_emphasis)
        self.strided_conv = nn.Sequential(
            nn.Conv1d(config.channels, config.filters, config.first_kernel, stride=config.first_stride, bias=False),
            nn.BatchNorm1d(config.filters),
            nn.LeakyReLU(config.negative_slope),
        )
        self.blocks = nn.ModuleList(
            ResidualBlock(config.filters, config.pool_size, config.negative_slope) for _ in range(config.n_blocks)
        )

    def check_input(self, waveform: torch.Tensor) -> torch.Tensor:
        """``(batch, channels, samples)`` as is; ``(batch, samples)`` or ``(samples,)`` copied to every channel.

        Raises:
            AudioError: another shape, another channel count, NaN/Inf, or fewer than ``min_samples`` samples.
        """
        config = self.config
        if waveform.ndim == 1:
            waveform = waveform.unsqueeze(0)
        if waveform.ndim == 2:
            waveform = waveform.unsqueeze(1).expand(-1, config.channels, -1)
        if waveform.ndim != 3 or waveform.shape[1] != config.channels:
            raise AudioError(
                f"the raw-waveform ASC network expects (batch, {config.channels}, samples) at "
                f"{config.sample_rate} Hz (or mono (batch, samples)), got shape {tuple(waveform.shape)}"
            )
        if waveform.shape[-1] < config.min_samples:
            raise AudioError(
                f"the raw-waveform ASC network needs at least {config.min_samples} samples "
                f"({config.min_samples / config.sample_rate:.2f} s at {config.sample_rate} Hz) for its "
                f"{config.n_blocks} pooling blocks, got {waveform.shape[-1]}"
            )
        # The sum is finite unless a sample is NaN/Inf (or it overflows, which the full check then clears):
        # 0.1 ms against 13 ms for a batch of 32 2-s stereo clips, a tenth of a training step on one thread.
        if not torch.isfinite(waveform.detach().sum()) and not torch.isfinite(waveform).all():
            raise AudioError("the raw-waveform ASC network got a waveform with NaN or Inf samples")
        return waveform

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        features = self.strided_conv(self.pre_emphasis(self.check_input(waveform)))  # (B, f, frames)
        for block in self.blocks:
            features = block(features)
        return features

    @staticmethod
    def pool(feature_map: torch.Tensor) -> torch.Tensor:
        """Global average and global max over time, concatenated: ``(B, f, T) -> (B, 2f)``."""
        return torch.cat([feature_map.mean(dim=-1), feature_map.amax(dim=-1)], dim=1)


class RawASCNet(Encoder):
    """The baseline of the paper: trunk, pooled statistics, 64-d code, scene logits.

    As an :class:`~workbench.models.base.Encoder`, :meth:`embed` returns the code; the layers are
    ``"strided_conv"``, ``"block1"`` .. ``"block<n>"`` and ``"code"``.

    Args:
        config: the sizes (default: the paper's).

    Shape:
        waveform: ``(batch, channels, samples)`` (or mono ``(batch, samples)``, copied to every channel).
        ``forward`` / :meth:`embed`: ``(batch, code_dim)``.
        :meth:`scene_logits`: ``(batch, n_scenes)``.
    """

    def __init__(self, config: RawASCConfig | None = None):
        super().__init__()
        self.config = config = config or RawASCConfig()
        self.sample_rate = config.sample_rate
        self.embedding_dim = config.code_dim
        self.trunk = RawWaveformTrunk(config)
        self.code = nn.Linear(2 * config.filters, config.code_dim)
        self.classifier = nn.Sequential(
            nn.LeakyReLU(config.negative_slope), nn.Linear(config.code_dim, config.n_scenes)
        )

    def layer_modules(self) -> dict[str, nn.Module]:
        blocks = {f"block{index + 1}": block for index, block in enumerate(self.trunk.blocks)}
        return {"strided_conv": self.trunk.strided_conv, **blocks, "code": self.code}

    def check_waveform(self, waveform: torch.Tensor) -> torch.Tensor:
        return self.trunk.check_input(waveform)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        return self.code(self.trunk.pool(self.trunk(waveform)))

    def scene_logits(self, waveform: torch.Tensor) -> torch.Tensor:
        """Unnormalised scene scores ``(batch, n_scenes)``."""
        return self.classifier(self(waveform))
