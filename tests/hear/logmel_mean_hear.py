"""A small HEAR 2021 API module written for the tests, independent of the workbench: log-mel frames
(torchaudio, 32 bands, 25 ms windows every 10 ms at 16 kHz) times a projection matrix, whose mean over
time is the scene embedding and whose frames are the timestamp embeddings.

``load_model("")`` uses the identity projection; ``load_model(path)`` reads ``{"projection": (32, 32)}``
from a ``torch.save`` file, so the tests exercise a weights file as well.
"""

from __future__ import annotations

import torch
import torchaudio
from torch import nn

N_MELS = 32
HOP = 160  # samples: 10 ms at 16 kHz


class LogMelMean(nn.Module):
    sample_rate = 16000
    scene_embedding_size = N_MELS
    timestamp_embedding_size = N_MELS

    def __init__(self, projection: torch.Tensor | None = None):
        super().__init__()
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=self.sample_rate, n_fft=400, hop_length=HOP, n_mels=N_MELS, center=True
        )
        self.projection = nn.Parameter(projection if projection is not None else torch.eye(N_MELS), requires_grad=False)

    def frames(self, audio: torch.Tensor) -> torch.Tensor:  # (n, samples) -> (n, frames, N_MELS)
        log_mel = torch.log(self.mel(audio) + 1e-6)  # (n, N_MELS, frames)
        return log_mel.transpose(1, 2) @ self.projection


def load_model(model_file_path: str = "") -> LogMelMean:
    projection = torch.load(model_file_path, weights_only=True)["projection"] if model_file_path else None
    return LogMelMean(projection).eval()


def get_timestamp_embeddings(audio: torch.Tensor, model: LogMelMean) -> tuple[torch.Tensor, torch.Tensor]:
    with torch.no_grad():
        frames = model.frames(audio)
    timestamps = torch.arange(frames.shape[1], dtype=torch.float32) * (1000.0 * HOP / model.sample_rate)
    return frames, timestamps.expand(audio.shape[0], -1)


def get_scene_embeddings(audio: torch.Tensor, model: LogMelMean) -> torch.Tensor:
    embeddings, _ = get_timestamp_embeddings(audio, model)
    return embeddings.mean(dim=1)
