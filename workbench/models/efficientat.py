"""EfficientAT MobileNetV3 (``mn``): a small AudioSet tagger distilled from a transformer ensemble.

Schmid, Koutini and Widmer, "Efficient Large-Scale Audio Tagging via Transformer-to-CNN Knowledge
Distillation", ICASSP 2023; official code and weights: https://github.com/fschmid56/EfficientAT.

A MobileNetV3-Large body (Howard et al., ICCV 2019; ReLU/Hardswish inverted residual blocks, five
stride-2 stages) scaled by a width multiplier, with the squeeze-excitation layers of the release
(channel-wise, sigmoid gate) and its MLP head (global average pool -> Linear -> Hardswish -> Dropout
-> Linear to 527 AudioSet logits), over the release's own log-mel front-end. Submodule names follow
the official ``models/mn/model.py`` (``features.<i>.block.<j>``, ``conc_se_layers``,
``classifier.{2,5}``), so the released state_dicts load with ``load_state_dict(strict=True)`` and no
renaming. The registered checkpoint is ``mn04_as_mAP_432.pt`` (width 0.4, 0.99 M parameters, mAP
0.432 on AudioSet), name ``"efficientat-mn04"``.

Interface (:class:`~workbench.models.base.Encoder`):

- ``embed`` / ``forward``: the 384-d global average of the last ``features`` block, what the official
  ``MN.forward`` returns as its second output (``features``), i.e. the input of the classifier MLP;
- ``tag_logits``: the 527 AudioSet logits (pre-sigmoid), ``tag_names`` their display names;
- ``layer_names``: ``"block1"`` .. ``"block17"``, the outputs ``(batch, channels, mel_bins, frames)``
  of the 17 ``features`` modules (the stem conv, 15 inverted residual blocks, the final 1x1 conv).

This module is one network's architecture (EfficientAT's MobileNetV3) kept in one file on purpose, as
nanoGPT's ``model.py`` is, so that it reads top to bottom against the paper and the official code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torchaudio.compliance.kaldi
from torch import nn

from workbench.data.audioset import N_CLASSES as AUDIOSET_CLASSES
from workbench.data.audioset import audioset_labels
from workbench.data.download import RemoteFile
from workbench.errors import AudioError
from workbench.models.base import Encoder
from workbench.models.registry import PretrainedSpec, register_pretrained
from workbench.typing import SampleRate

# --------------------------------------------------------------------------------------------------
# Configuration


@dataclass(frozen=True)
class BlockSetting:
    """One row of MobileNetV3-Large's Table 2, before the width multiplier is applied.

    ``activation`` is ``"relu"`` or ``"hardswish"``; ``use_se`` adds squeeze-excitation after the
    depthwise convolution.
    """

    input_channels: int
    kernel: int
    expanded_channels: int
    out_channels: int
    use_se: bool
    activation: str
    stride: int


MOBILENET_V3_LARGE: tuple[BlockSetting, ...] = (
    BlockSetting(16, 3, 16, 16, False, "relu", 1),
    BlockSetting(16, 3, 64, 24, False, "relu", 2),
    BlockSetting(24, 3, 72, 24, False, "relu", 1),
    BlockSetting(24, 5, 72, 40, True, "relu", 2),
    BlockSetting(40, 5, 120, 40, True, "relu", 1),
    BlockSetting(40, 5, 120, 40, True, "relu", 1),
    BlockSetting(40, 3, 240, 80, False, "hardswish", 2),
    BlockSetting(80, 3, 200, 80, False, "hardswish", 1),
    BlockSetting(80, 3, 184, 80, False, "hardswish", 1),
    BlockSetting(80, 3, 184, 80, False, "hardswish", 1),
    BlockSetting(80, 3, 480, 112, True, "hardswish", 1),
    BlockSetting(112, 3, 672, 112, True, "hardswish", 1),
    BlockSetting(112, 5, 672, 160, True, "hardswish", 2),
    BlockSetting(160, 5, 960, 160, True, "hardswish", 1),
    BlockSetting(160, 5, 960, 160, True, "hardswish", 1),
)
"""The 15 inverted residual blocks, as the EfficientAT release uses them (all strides 2 by default)."""


@dataclass(frozen=True)
class EfficientATConfig:
    """Architecture and front-end of an EfficientAT MobileNet; the defaults are ``mn04_as``.

    Args:
        width_mult: scales every channel count (0.4 for mn04, 1.0 for mn10, ...), rounded to
            multiples of 8 as the release does.
        n_classes: logits of the head (527 AudioSet classes).
        head_channels: hidden width of the MLP head before the width multiplier (1280).
        dropout: dropout of the MLP head (inactive in eval mode).
        se_reduction: squeeze-excitation bottleneck ratio.
        sample_rate, n_fft, win_length, hop_length, n_mels, f_min, f_max: the front-end, see
            :class:`EfficientATFrontend`.
    """

    width_mult: float = 0.4
    n_classes: int = AUDIOSET_CLASSES
    head_channels: int = 1280
    dropout: float = 0.2
    se_reduction: int = 4
    blocks: tuple[BlockSetting, ...] = MOBILENET_V3_LARGE
    sample_rate: SampleRate = 32000
    n_fft: int = 1024
    win_length: int = 800
    hop_length: int = 320
    n_mels: int = 128
    f_min: float = 0.0
    f_max: float = 15000.0


def make_divisible(value: float, divisor: int = 8) -> int:
    """Round a scaled channel count to the nearest multiple of ``divisor``, never losing more than 10 %.

    The rule of the TensorFlow MobileNet code that the EfficientAT widths follow; the checkpoint
    shapes depend on it (e.g. ``24 * 0.4 = 9.6`` becomes 16, not 8).
    """
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


# --------------------------------------------------------------------------------------------------
# Front-end


class EfficientATFrontend(nn.Module):
    """The log-mel front-end of the EfficientAT release in eval mode (its ``AugmentMelSTFT``).

    1. pre-emphasis ``y[n] = x[n + 1] - preemphasis * x[n]`` (a valid convolution with
       ``[-preemphasis, 1]``, so one sample shorter);
    2. power spectrum of a centred, reflect-padded STFT (``n_fft`` points, a *symmetric* Hann window of
       ``win_length`` samples zero-padded to ``n_fft``, hop ``hop_length``);
    3. ``n_mels`` triangular Kaldi mel filters between ``f_min`` and ``f_max``
       (``torchaudio.compliance.kaldi.get_mel_banks``; they cover the ``n_fft // 2`` bins below
       Nyquist, and the Nyquist bin gets weight 0);
    4. ``(log(mel + log_offset) + norm_offset) / norm_scale``, the release's fixed normalisation.

    The release samples ``f_min``/``f_max`` at random when training; in eval mode (what the
    weights are used with) they are 0 and ``sample_rate / 2 - 1000`` = 15 kHz.

    Args:
        sample_rate: rate of the input waveforms in Hz.
        n_fft: FFT size.
        win_length: Hann window length (``<= n_fft``).
        hop_length: samples between frames.
        n_mels: mel bands.
        f_min, f_max: lowest and highest filter edges in Hz (``0 <= f_min < f_max <= sample_rate / 2``).
        preemphasis: pre-emphasis coefficient.
        log_offset: added to the mel energies before the log.
        norm_offset, norm_scale: ``(log_mel + norm_offset) / norm_scale``.

    Shape:
        waveform: ``(batch, samples)`` or ``(samples,)`` -> ``(batch, n_mels, frames)`` float32 with
        ``frames = 1 + (samples - 1) // hop_length``.

    Raises:
        AudioError: a waveform of another shape, or shorter than :attr:`min_samples`.
    """

    def __init__(
        self,
        sample_rate: SampleRate = 32000,
        n_fft: int = 1024,
        win_length: int = 800,
        hop_length: int = 320,
        n_mels: int = 128,
        f_min: float = 0.0,
        f_max: float = 15000.0,
        preemphasis: float = 0.97,
        log_offset: float = 1e-5,
        norm_offset: float = 4.5,
        norm_scale: float = 5.0,
    ):
        super().__init__()
        if not 0 < win_length <= n_fft:
            raise ValueError(f"win_length must be in [1, n_fft={n_fft}], got {win_length}")
        if not 0.0 <= f_min < f_max <= sample_rate / 2:
            raise ValueError(
                f"need 0 <= f_min < f_max <= sample_rate / 2, got f_min={f_min}, f_max={f_max}, "
                f"sample_rate={sample_rate}"
            )
        if hop_length < 1 or n_mels < 1 or norm_scale == 0:
            raise ValueError(f"hop_length and n_mels must be positive and norm_scale non-zero, got "
                             f"{hop_length}, {n_mels}, {norm_scale}")
        self.sample_rate = sample_rate
        self.n_fft = n_fft
        self.win_length = win_length
        self.hop_length = hop_length
        self.n_mels = n_mels
        self.f_min = f_min
        self.f_max = f_max
        self.preemphasis = preemphasis
        self.log_offset = log_offset
        self.norm_offset = norm_offset
        self.norm_scale = norm_scale
        mel_banks, _ = torchaudio.compliance.kaldi.get_mel_banks(
            n_mels, n_fft, float(sample_rate), float(f_min), float(f_max),
            vtln_low=100.0, vtln_high=-500.0, vtln_warp_factor=1.0,
        )  # (n_mels, n_fft // 2): no weight for the Nyquist bin
        mel_banks = nn.functional.pad(mel_banks, (0, 1))  # (n_mels, n_fft // 2 + 1)
        # Derived from the arguments, so kept out of the state_dict (the release has none either).
        self.register_buffer("mel_banks", mel_banks, persistent=False)
        self.register_buffer("window", torch.hann_window(win_length, periodic=False), persistent=False)
        self.register_buffer("preemphasis_kernel", torch.tensor([[[-preemphasis, 1.0]]]), persistent=False)

    @property
    def n_bins(self) -> int:
        return self.n_mels

    @property
    def min_samples(self) -> int:
        """Shortest clip: reflect padding of ``n_fft // 2`` needs more samples after pre-emphasis."""
        return self.n_fft // 2 + 2

    def num_frames(self, n_samples: int) -> int:
        return 1 + (n_samples - 1) // self.hop_length

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        if waveform.ndim == 1:
            waveform = waveform.unsqueeze(0)
        if waveform.ndim != 2:
            raise AudioError(f"EfficientATFrontend expects (batch, samples), got shape {tuple(waveform.shape)}")
        if waveform.shape[-1] < self.min_samples:
            raise AudioError(
                f"EfficientATFrontend needs at least {self.min_samples} samples per clip "
                f"({self.min_samples / self.sample_rate * 1000:.1f} ms at {self.sample_rate} Hz), got "
                f"{waveform.shape[-1]}; pad the clip (workbench.audio.load(..., min_duration=..., pad=True))"
            )
        with torch.autocast(device_type=waveform.device.type, enabled=False):
            emphasised = nn.functional.conv1d(waveform.float().unsqueeze(1), self.preemphasis_kernel)
            spectrum = torch.stft(
                emphasised.squeeze(1),
                n_fft=self.n_fft,
                hop_length=self.hop_length,
                win_length=self.win_length,
                window=self.window,
                center=True,
                pad_mode="reflect",
                normalized=False,
                onesided=True,
                return_complex=True,
            )  # (B, n_fft // 2 + 1, frames)
            power = spectrum.real.square() + spectrum.imag.square()
            mel = torch.matmul(self.mel_banks, power)  # (B, n_mels, frames)
            return (torch.log(mel + self.log_offset) + self.norm_offset) / self.norm_scale


# --------------------------------------------------------------------------------------------------
# Building blocks


_ACTIVATIONS = {"relu": nn.ReLU, "hardswish": nn.Hardswish}


class ConvNormActivation(nn.Sequential):
    """Conv2d (no bias) -> BatchNorm2d (eps 1e-3) -> optional activation; children ``0``, ``1``, ``2``.

    The padding keeps the size for stride 1 (``(kernel - 1) // 2``); ``groups = channels`` makes the
    depthwise convolution. Eval-mode BatchNorm uses the checkpoint's running statistics.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel: int = 1,
        stride: int = 1,
        groups: int = 1,
        activation: str | None = None,
    ):
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, out_channels, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
            nn.BatchNorm2d(out_channels, eps=0.001, momentum=0.01),
        ]
        if activation is not None:
            layers.append(_ACTIVATIONS[activation]())
        super().__init__(*layers)


class SqueezeExcitation(nn.Module):
    """Channel squeeze-excitation (Hu et al., CVPR 2018) as in the release: mean over frequency and
    time -> Linear -> ReLU -> Linear -> sigmoid gate per channel (a sigmoid, where torchvision's
    MobileNetV3 uses a hard sigmoid).

    Shape:
        ``(batch, channels, freq, time)`` -> the same.
    """

    def __init__(self, channels: int, squeeze_channels: int):
        super().__init__()
        self.fc1 = nn.Linear(channels, squeeze_channels)
        self.fc2 = nn.Linear(squeeze_channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        squeezed = x.mean(dim=(2, 3))  # (B, C)
        gate = torch.sigmoid(self.fc2(torch.relu(self.fc1(squeezed))))  # (B, C)
        return x * gate[:, :, None, None]


class ConcurrentSqueezeExcitation(nn.Module):
    """The release's container of squeeze-excitation layers, holding the channel one.

    The official block can run SE over channels, frequency and time concurrently and take the
    element-wise max; the AudioSet models use the channel dimension only (``se_dims="c"``), so the
    list holds one layer. The container is kept for its name in the checkpoint keys
    (``block.2.conc_se_layers.0.fc1.weight``).
    """

    def __init__(self, channels: int, reduction: int):
        super().__init__()
        self.conc_se_layers = nn.ModuleList([SqueezeExcitation(channels, make_divisible(channels // reduction))])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conc_se_layers[0](x)


class InvertedResidual(nn.Module):
    """MobileNetV3 block: 1x1 expand (skipped when it would not widen) -> depthwise kxk (stride) ->
    optional squeeze-excitation -> 1x1 linear projection, plus the input when shapes allow.

    Shape:
        ``(batch, in_channels, freq, time)`` -> ``(batch, out_channels, ceil(freq / stride), ceil(time / stride))``.
    """

    def __init__(self, setting: BlockSetting, width_mult: float, se_reduction: int):
        super().__init__()
        in_channels = make_divisible(setting.input_channels * width_mult)
        expanded = make_divisible(setting.expanded_channels * width_mult)
        self.out_channels = make_divisible(setting.out_channels * width_mult)
        self.use_residual = setting.stride == 1 and in_channels == self.out_channels
        layers: list[nn.Module] = []
        if expanded != in_channels:
            layers.append(ConvNormActivation(in_channels, expanded, activation=setting.activation))
        layers.append(
            ConvNormActivation(expanded, expanded, setting.kernel, setting.stride, groups=expanded,
                               activation=setting.activation)
        )
        if setting.use_se:
            layers.append(ConcurrentSqueezeExcitation(expanded, se_reduction))
        layers.append(ConvNormActivation(expanded, self.out_channels))
        self.block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.block(x)
        return out + x if self.use_residual else out


# --------------------------------------------------------------------------------------------------
# The model


class EfficientATMobileNet(Encoder):
    """EfficientAT MobileNetV3 over its own front-end: 32 kHz waveforms in, embeddings and AudioSet logits out.

    Args:
        config: architecture and front-end (default: mn04).

    Shape:
        waveform: ``(batch, samples)`` at 32 kHz, at least :attr:`EfficientATFrontend.min_samples`.
        :meth:`embed` / ``forward``: ``(batch, embedding_dim)``, ``embedding_dim = 6 * last block width``
        (384 for mn04).
        :meth:`tag_logits`: ``(batch, n_classes)``.
        :meth:`layers`: ``"block<i>"`` -> ``(batch, channels_i, mel_bins_i, frames_i)``; the stride-2
        stages halve (rounding up) both axes, so ``block17`` has ``ceil(128 / 32) = 4`` mel bins and
        ``ceil(frames / 32)`` frames.
    """

    def __init__(self, config: EfficientATConfig | None = None):
        super().__init__()
        self.config = config = config or EfficientATConfig()
        self.sample_rate = config.sample_rate
        self.frontend = EfficientATFrontend(
            sample_rate=config.sample_rate, n_fft=config.n_fft, win_length=config.win_length,
            hop_length=config.hop_length, n_mels=config.n_mels, f_min=config.f_min, f_max=config.f_max,
        )
        width = config.width_mult
        stem_channels = make_divisible(config.blocks[0].input_channels * width)
        last_block_channels = make_divisible(config.blocks[-1].out_channels * width)
        self.embedding_dim = 6 * last_block_channels  # MobileNetV3's final 1x1 conv widens 6x
        self.features = nn.Sequential(
            ConvNormActivation(1, stem_channels, kernel=3, stride=2, activation="hardswish"),
            *(InvertedResidual(setting, width, config.se_reduction) for setting in config.blocks),
            ConvNormActivation(last_block_channels, self.embedding_dim, activation="hardswish"),
        )
        # Indices 2 and 5 hold the weights, as in the release's "mlp" head.
        self.classifier = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(start_dim=1),
            nn.Linear(self.embedding_dim, make_divisible(config.head_channels * width)),
            nn.Hardswish(),
            nn.Dropout(p=config.dropout),
            nn.Linear(make_divisible(config.head_channels * width), config.n_classes),
        )
        self.tag_names: Sequence[str] = (
            audioset_labels() if config.n_classes == AUDIOSET_CLASSES
            else [f"class_{index}" for index in range(config.n_classes)]
        )

    def layer_modules(self) -> dict[str, nn.Module]:
        return {f"block{index + 1}": module for index, module in enumerate(self.features)}

    def log_mel(self, waveform: torch.Tensor) -> torch.Tensor:
        """``(batch, samples)`` at 32 kHz -> normalised log-mel ``(batch, n_mels, frames)``."""
        return self.frontend(waveform)

    def feature_map(self, waveform: torch.Tensor) -> torch.Tensor:
        """Output of the last ``features`` block, ``(batch, embedding_dim, mel_bins, frames)``."""
        return self.features(self.log_mel(waveform).unsqueeze(1))

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        """The official pre-classifier embedding: the feature map averaged over frequency and time."""
        return self.feature_map(waveform).mean(dim=(2, 3))  # (B, embedding_dim)

    def tag_logits(self, waveform: torch.Tensor) -> torch.Tensor:
        """AudioSet logits ``(batch, n_classes)`` (apply a sigmoid for per-class probabilities)."""
        return self.classifier(self.feature_map(self.check_waveform(waveform)))


# --------------------------------------------------------------------------------------------------
# Pretrained weights

RELEASE_URL = "https://github.com/fschmid56/EfficientAT/releases/download/v0.0.1/"

register_pretrained(
    PretrainedSpec(
        name="efficientat-mn04",
        description=(
            "EfficientAT MobileNetV3 mn04 (width 0.4, 0.99 M parameters), AudioSet mAP 0.432; "
            "Schmid et al., ICASSP 2023"
        ),
        # The release page publishes no checksum; this sha256 is that of the released file
        # (mn04_as_mAP_432.pt, 4066513 bytes), measured on the copy in ../shared/weights.
        remote=RemoteFile(
            url=RELEASE_URL + "mn04_as_mAP_432.pt",
            sha256="899a8c6217063f6941793102a2780b3dd788ab11fce468d9cf5f0577c453321c",
            filename="mn04_as_mAP_432.pt",
            size_bytes=4066513,
        ),
        build=lambda: EfficientATMobileNet(EfficientATConfig()),
        frontend=(
            "32 kHz; pre-emphasis 0.97; STFT 1024 points, symmetric Hann 800, hop 320, centred (reflect); "
            "power; 128 Kaldi mel bands 0-15 kHz; (log(x + 1e-5) + 4.5) / 5"
        ),
        licence="MIT",
    )
)
