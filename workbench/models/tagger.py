"""An audio tagger: a ResNet on 128-bin log-mel spectrograms with a sigmoid multi-label head.

The tagging system of Jung et al., "Acoustic Scene Classification using Audio Tagging", Interspeech
2020 (arXiv:2003.09164), which they train on FSDKaggle2019 with binary cross-entropy, SpecAugment and
mixup; its sigmoid outputs, the **tag vector**, feed the scene classifier
(:mod:`workbench.models.tag_fusion`). No checkpoint is published; train it with :class:`TaggingStep`
(any pretrained tagger with ``tag_logits`` can stand in, e.g. ``load_pretrained("efficientat-mn04")``).

Log-mel (:class:`~workbench.audio.LogMelSpectrogram`, 128 bins) -> per-bin batch norm (learned input
normalisation) -> SpecAugment (training only) -> a 3x3 stem convolution -> stages of two-convolution
residual blocks (the first block of each stage after the first halves both axes) -> mean over
frequency, then mean plus max over time -> dropout -> a linear layer to the tag logits.

Interface (:class:`~workbench.models.base.Encoder`): ``embed`` / ``forward`` return the pooled
``(batch, channels[-1])`` embedding; :meth:`ResNetTagger.tag_logits` the logits, ``tag_names`` their
names; ``forward(waveform, output="logits")`` gives the logits through ``forward`` (what a
``DistributedDataParallel`` wrapper needs during training).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn

from workbench.audio.augment import SpecAugment, mixup_targets, mixup_waveforms, sample_mixup_lambda
from workbench.audio.frontends import LogMelSpectrogram
from workbench.audio.io import resample
from workbench.models.base import Encoder
from workbench.typing import SampleRate


@dataclass(frozen=True)
class TaggerConfig:
    """Front-end, widths and augmentation of the ResNet tagger.

    Args:
        sample_rate: rate of the input waveforms (Hz).
        n_mels: mel bands (128 in the paper).
        n_fft, hop_length: STFT size and hop (samples).
        f_min, f_max: filterbank edges (Hz); ``f_max`` at most ``sample_rate / 2``.
        channels: output channels of each stage; every stage after the first halves frequency and time.
        blocks_per_stage: residual blocks per stage.
        stem_stride: stride of the stem convolution (2 halves the spectrogram once more, for CPU budgets).
        n_tags: tag classes.
        tag_names: their names (default ``tag_0 ...``).
        dropout: before the output layer.
        freq_mask, time_mask: SpecAugment mask widths in bins / frames (0 disables), two masks each.

    Raises:
        ValueError: a size that is not positive, or tag names that do not match ``n_tags``.
    """

    sample_rate: SampleRate = 44100
    n_mels: int = 128
    n_fft: int = 2048
    hop_length: int = 882
    f_min: float = 20.0
    f_max: float = 22050.0
    channels: tuple[int, ...] = (64, 128, 256, 512)
    blocks_per_stage: int = 2
    stem_stride: int = 1
    n_tags: int = 80
    tag_names: tuple[str, ...] = ()
    dropout: float = 0.3
    freq_mask: int = 16
    time_mask: int = 20

    def __post_init__(self) -> None:
        object.__setattr__(self, "channels", tuple(self.channels))
        object.__setattr__(self, "tag_names", tuple(self.tag_names))
        for name in ("sample_rate", "n_mels", "n_fft", "hop_length", "blocks_per_stage", "stem_stride", "n_tags"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"TaggerConfig.{name} must be a positive integer, got {value!r}")
        if not self.channels or any(width < 1 for width in self.channels):
            raise ValueError(f"TaggerConfig.channels must be positive widths, got {self.channels!r}")
        if self.tag_names and len(self.tag_names) != self.n_tags:
            raise ValueError(f"TaggerConfig has {len(self.tag_names)} tag names for n_tags={self.n_tags}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"TaggerConfig.dropout must be in [0, 1), got {self.dropout!r}")

    @classmethod
    def small(cls, **overrides: Any) -> TaggerConfig:
        """A CPU-sized tagger at 16 kHz: 20-ms hop, a stride-2 stem, stages of 16, 32 and 64 channels."""
        values: dict[str, Any] = {
            "sample_rate": 16000, "n_fft": 1024, "hop_length": 320, "f_max": 8000.0,
            "channels": (16, 32, 64), "blocks_per_stage": 1, "stem_stride": 2, "time_mask": 10,
        }  # fmt: skip
        return cls(**{**values, **overrides})

    @classmethod
    def paper_size(cls, **overrides: Any) -> TaggerConfig:
        """A tagger of the paper's size: "ResNet architecture with approximately 44 million trainable
        parameters" (Jung et al., Sec. 4.2, after Akiyama and Sato's DCASE 2019 task 2 winner). Four
        stages of two basic blocks, 128 to 1024 channels (44.8M parameters with 80 tags), on 128-bin
        log-mel of 44.1-kHz audio (FSDKaggle2019's rate) with a 20-ms hop, SpecAugment and dropout.
        Its block layout is a stand-in of that size: the paper points to [14] for the architecture's details.
        """
        values: dict[str, Any] = {
            "sample_rate": 44100, "n_fft": 2048, "hop_length": 882, "f_max": 22050.0,
            "channels": (128, 256, 512, 1024), "blocks_per_stage": 2, "stem_stride": 1,
        }  # fmt: skip
        return cls(**{**values, **overrides})

    def replace(self, **changes: Any) -> TaggerConfig:
        return dataclasses.replace(self, **changes)


def count_parameters(module: nn.Module) -> int:
    """Trainable parameters of a module."""
    return sum(parameter.numel() for parameter in module.parameters() if parameter.requires_grad)


class BasicBlock2d(nn.Module):
    """Two 3x3 convolutions with batch norm and ReLU, and a projected shortcut when the shape changes."""

    def __init__(self, channels_in: int, channels_out: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channels_in, channels_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels_out)
        self.conv2 = nn.Conv2d(channels_out, channels_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels_out)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or channels_in != channels_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(channels_in, channels_out, 1, stride=stride, bias=False), nn.BatchNorm2d(channels_out)
            )

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        hidden = torch.relu(self.bn1(self.conv1(features)))
        return torch.relu(self.bn2(self.conv2(hidden)) + self.shortcut(features))


class ResNetTagger(Encoder):
    """ResNet over 128-bin log-mel with a multi-label (sigmoid) head.

    Args:
        config: see :class:`TaggerConfig`.

    Shape:
        waveform: ``(batch, samples)`` at ``config.sample_rate`` (mono).
        ``forward`` / :meth:`embed`: ``(batch, channels[-1])``; :meth:`tag_logits`: ``(batch, n_tags)``.
        :meth:`log_mel`: ``(batch, n_mels, frames)``.
    """

    def __init__(self, config: TaggerConfig | None = None):
        super().__init__()
        self.config = config = config or TaggerConfig()
        self.sample_rate = config.sample_rate
        self.embedding_dim = config.channels[-1]
        self.tag_names: Sequence[str] = config.tag_names or tuple(f"tag_{index}" for index in range(config.n_tags))
        self.frontend = LogMelSpectrogram(
            sample_rate=config.sample_rate, n_fft=config.n_fft, win_length=config.n_fft,
            hop_length=config.hop_length, n_mels=config.n_mels, f_min=config.f_min, f_max=config.f_max,
        )  # fmt: skip
        self.input_norm = nn.BatchNorm1d(config.n_mels)
        self.spec_augment = SpecAugment(config.freq_mask, config.time_mask, n_freq_masks=2, n_time_masks=2)
        stem_width = config.channels[0]
        self.stem = nn.Sequential(
            nn.Conv2d(1, stem_width, 3, stride=config.stem_stride, padding=1, bias=False),
            nn.BatchNorm2d(stem_width),
            nn.ReLU(),
        )
        stages = []
        width_in = stem_width
        for stage, width in enumerate(config.channels):
            blocks = [
                BasicBlock2d(width_in if block == 0 else width, width, 2 if stage > 0 and block == 0 else 1)
                for block in range(config.blocks_per_stage)
            ]
            stages.append(nn.Sequential(*blocks))
            width_in = width
        self.stages = nn.ModuleList(stages)
        self.head = nn.Sequential(nn.Dropout(config.dropout), nn.Linear(config.channels[-1], config.n_tags))

    def layer_modules(self) -> dict[str, nn.Module]:
        return {"stem": self.stem, **{f"stage{index + 1}": stage for index, stage in enumerate(self.stages)}}

    def log_mel(self, waveform: torch.Tensor) -> torch.Tensor:
        """Normalised log-mel ``(batch, n_mels, frames)`` (SpecAugment-masked in training mode)."""
        return self.spec_augment(self.input_norm(self.frontend(waveform)))

    def forward(self, waveform: torch.Tensor, output: Literal["embedding", "logits"] = "embedding") -> torch.Tensor:
        features = self.stem(self.log_mel(waveform).unsqueeze(1))  # (B, C, mels, frames)
        for stage in self.stages:
            features = stage(features)
        over_time = features.mean(dim=2)  # (B, C, frames)
        embedding = over_time.mean(dim=-1) + over_time.amax(dim=-1)  # (B, C)
        if output == "logits":
            return self.head(embedding)
        if output != "embedding":
            raise ValueError(f"output must be 'embedding' or 'logits', got {output!r}")
        return embedding

    def tag_logits(self, waveform: torch.Tensor) -> torch.Tensor:
        """Tag logits ``(batch, n_tags)``; a sigmoid gives each tag's probability (the tag vector)."""
        return self(self.check_waveform(waveform), output="logits")


@dataclass
class TaggingStep:
    """``step_fn`` for :class:`workbench.train.Trainer`: binary cross-entropy with mixup.

    Mixup (Zhang et al., ICLR 2018) mixes each batch with a shuffled copy of itself, waveforms and
    multi-hot targets with the same ``lam ~ Beta(mixup_alpha, mixup_alpha)``; SpecAugment lives in the
    model (active in training mode). Batches are ``(waveforms, targets, ...)`` with waveforms
    ``(B, samples)`` or ``(B, channels, samples)`` (averaged to mono) and targets ``(B, n_tags)``
    multi-hot.

    With ``weighted``, batches are ``(waveforms, targets, weights, ...)``: each clip's BCE (its mean over
    tags) is multiplied by its weight ``(B,)`` before the batch mean, e.g. 1 for FSDKaggle2019's curated
    clips and less for its noisy ones; a mixed clip takes the same mix of its two clips' weights.

    Args:
        mixup_alpha: Beta parameter; 0 turns mixup off.
        generator: draws ``lam`` and the partners (None: torch's global generator, which the
            trainer seeds).
        weighted: the batch's third item is per-clip loss weights.

    Returns (when called):
        ``(loss, {"mixup_lambda": lam})``: the BCE of the mixed batch against its mixed targets, and
        the mixing weight drawn for it.
    """

    mixup_alpha: float = 0.4
    generator: torch.Generator | None = None
    weighted: bool = False

    def __call__(self, model: nn.Module, batch: Sequence[Any]) -> tuple[torch.Tensor, dict[str, float]]:
        waveforms, targets = batch[0], batch[1].float()
        weights = batch[2].to(targets) if self.weighted else None
        if waveforms.ndim == 3:
            waveforms = waveforms.mean(dim=1)  # (B, samples)
        lam = 1.0
        if self.mixup_alpha > 0:
            lam = sample_mixup_lambda(self.mixup_alpha, self.generator)
            partner = torch.randperm(len(waveforms), generator=self.generator).to(waveforms.device)
            waveforms = mixup_waveforms(waveforms, waveforms[partner], lam)
            targets = mixup_targets(targets, targets[partner], lam)
            if weights is not None:
                weights = lam * weights + (1 - lam) * weights[partner]
        logits = model(waveforms, output="logits")
        if weights is None:
            return nn.functional.binary_cross_entropy_with_logits(logits, targets), {"mixup_lambda": lam}
        per_clip = nn.functional.binary_cross_entropy_with_logits(logits, targets, reduction="none").mean(dim=1)
        return (weights * per_clip).mean(), {"mixup_lambda": lam}


@torch.no_grad()
def predict_tags(
    tagger: nn.Module, waveforms: torch.Tensor, batch_size: int = 64, sample_rate: SampleRate | None = None
) -> torch.Tensor:
    """Tag vectors (sigmoid probabilities) of a stack of clips from any model with ``tag_logits``.

    Args:
        tagger: a :class:`ResNetTagger`, an EfficientAT model, or anything with ``tag_logits`` and
            ``sample_rate``; put in eval mode here (and restored after).
        waveforms: ``(N, samples)`` or ``(N, channels, samples)`` (averaged to mono), on any device:
            each batch is moved to the tagger's.
        batch_size: clips per forward pass.
        sample_rate: the waveforms' rate; resampled to the tagger's when it differs (None: already at it).

    Returns:
        ``(N, n_tags)`` float32 probabilities on the CPU.
    """
    was_training = tagger.training
    tagger.eval()
    device = next(tagger.parameters()).device
    try:
        outputs = []
        for start in range(0, len(waveforms), batch_size):
            chunk = waveforms[start : start + batch_size].to(device)
            if chunk.ndim == 3:
                chunk = chunk.mean(dim=1)
            if sample_rate is not None:
                chunk = resample(chunk, sample_rate, tagger.sample_rate)
            outputs.append(torch.sigmoid(tagger.tag_logits(chunk)).float().cpu())
        return torch.cat(outputs) if outputs else torch.zeros(0, len(getattr(tagger, "tag_names", ())))
    finally:
        tagger.train(was_training)
