"""AudioNTT2020: the convolutional encoder of BYOL-A.

Niizumi et al., "BYOL for Audio: Self-Supervised Learning for General-Purpose Audio Representation",
IJCNN 2021. Three conv-BN-ReLU-maxpool blocks over a log-mel spectrogram, a two-layer MLP applied to
every frame, and max + mean pooling over time. Submodule names follow the official release
(``features.*``, ``fc.*``), so its ``AudioNTT2020-BYOLA-64x96d{512,1024,2048}.pth`` files load with
``load_state_dict(strict=True)``.

The ``tiny`` configuration (16 channels, d = 128) trains in seconds on a CPU core; it is what the
notebook defaults and the tests use.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from workbench.audio.frontends import LogMelSpectrogram
from workbench.audio.normalize import Normalizer
from workbench.models.base import Encoder
from workbench.typing import SampleRate


@dataclass(frozen=True)
class AudioNTTConfig:
    n_mels: int = 64
    embedding_dim: int = 512
    channels: int = 64
    dropout: float = 0.3
    sample_rate: SampleRate = 16000
    # Normalisation of the log-mel input; BYOL-A computes these on the pre-training data.
    norm_mean: float = 0.0
    norm_std: float = 1.0

    @classmethod
    def tiny(cls, **overrides) -> AudioNTTConfig:
        return cls(**{"channels": 16, "embedding_dim": 128, **overrides})


def _conv_block(in_channels: int, out_channels: int) -> list[nn.Module]:
    return [
        nn.Conv2d(in_channels, out_channels, 3, stride=1, padding=1),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(),
        nn.MaxPool2d(2, stride=2),
    ]


class AudioNTT2020(Encoder):
    """BYOL-A's encoder over its own log-mel front-end (16 kHz, 64 mels, hop 10 ms).

    Shape:
        waveform: ``(batch, samples)`` at 16 kHz -> embedding ``(batch, embedding_dim)``.
        :meth:`frame_embeddings`: ``(batch, frames // 8, embedding_dim)`` before temporal pooling.
    """

    def __init__(self, config: AudioNTTConfig | None = None):
        super().__init__()
        self.config = config = config or AudioNTTConfig()
        self.sample_rate = config.sample_rate
        self.embedding_dim = config.embedding_dim
        self.frontend = LogMelSpectrogram(sample_rate=config.sample_rate, n_mels=config.n_mels)
        self.normalizer = Normalizer(config.norm_mean, config.norm_std)
        width = config.channels
        self.features = nn.Sequential(
            *_conv_block(1, width), *_conv_block(width, width), *_conv_block(width, width)
        )
        self.fc = nn.Sequential(
            nn.Linear(width * (config.n_mels // 8), config.embedding_dim),
            nn.ReLU(),
            nn.Dropout(p=config.dropout),
            nn.Linear(config.embedding_dim, config.embedding_dim),
            nn.ReLU(),
        )

    def layer_modules(self) -> dict[str, nn.Module]:
        return {
            "block1": self.features[3],
            "block2": self.features[7],
            "block3": self.features[11],
            "fc": self.fc,
        }

    def encoder_state_dict(self) -> dict[str, torch.Tensor]:
        """The weights in the official layout (``features.*``, ``fc.*``), without front-end buffers."""
        return {k: v for k, v in self.state_dict().items() if k.startswith(("features.", "fc."))}

    def log_mel(self, waveform: torch.Tensor) -> torch.Tensor:
        """``(batch, samples)`` -> normalised log-mel ``(batch, n_mels, frames)``."""
        return self.normalizer(self.frontend(waveform))

    def frame_embeddings_from_log_mel(self, log_mel: torch.Tensor) -> torch.Tensor:
        """``(batch, n_mels, frames)`` -> per-frame embeddings ``(batch, frames // 8, embedding_dim)``."""
        x = self.features(log_mel.unsqueeze(1))  # (B, C, F', T')
        x = x.permute(0, 3, 2, 1)  # (B, T', F', C): the official flattening order is mel-major
        batch, frames, bins, channels = x.shape
        return self.fc(x.reshape(batch, frames, bins * channels))  # (B, T', D)

    def forward_log_mel(self, log_mel: torch.Tensor) -> torch.Tensor:
        """Encode an already computed (normalised, possibly augmented) log-mel ``(B, n_mels, frames)``."""
        frames = self.frame_embeddings_from_log_mel(log_mel)
        return frames.max(dim=1).values + frames.mean(dim=1)  # (B, D)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        return self.forward_log_mel(self.log_mel(waveform))

    def spectrogram(self, waveform: torch.Tensor) -> torch.Tensor:
        """The :class:`Encoder` spectrogram path: :meth:`log_mel`, ``(batch, n_mels, frames)``."""
        return self.log_mel(waveform)

    def forward_spectrogram(self, spectrogram: torch.Tensor) -> torch.Tensor:
        """The :class:`Encoder` spectrogram path: :meth:`forward_log_mel`."""
        return self.forward_log_mel(spectrogram)
