"""ST-SED-SEP: a separate HTS-AT-style classifier makes the query; a CNN (ResUNet-style) separator uses it.

Chen et al., "Zero-shot Audio Source Separation through Query-based Learning from Weakly-labeled Data"
(AAAI 2022; code: RetroCirce/Zero_Shot_Audio_Source_Separation, ``models/asp_model.py`` and
``models/htsat.py``), the baseline of CaRE-SEP (Wang et al., ICASSP 2024, Table 1 and Table 2 row A,
"2048-d ST-SED-SEP"). Two networks of different architectures:

1. :class:`StSedQueryNet`, the **query network**: an HTS-AT-style audio classifier (Chen et al., ICASSP
   2022) on a log-mel spectrogram: batch-normalised mel bins, a 4x4 patch embedding, four groups of Swin
   Transformer blocks (window and shifted-window attention, timm's ``SwinTransformerBlock``) with patch
   merging between them, a token-semantic CNN head for tagging, and the average-pooled last feature map
   as the query embedding ``(8 D,)`` (2048-d for ``D = 256``, the paper's "2048-d ST-SED").
2. :class:`ResUNetSeparator`, the **separator**: a convolutional U-Net on the mixture's STFT magnitude
   (batch-normalised frequency bins, encoder blocks of two 3x3 convolutions with a residual shortcut and
   2x2 average pooling, a centre block as wide as the query, decoder blocks of a stride-2 transposed
   convolution, the skip connection concatenated and a residual block); a sigmoid mask on the magnitude,
   the mixture's phase and the inverse STFT give the waveform.

**Query injection** (as ``asp_model.py`` does): every convolution of the separator is followed by a
linear map of the query to that layer's channels, added as a per-channel bias after the activation; so
the query conditions every block of the encoder, centre and decoder. The residual shortcuts are ours
(the official separator is a plain spectrogram U-Net; "ResUNet" is the family of Kong et al.'s
separators it comes from).

Configs: :meth:`StSedConfig.tiny` / :meth:`ResUNetConfig.tiny` (CPU, the query as wide as the tiny
CaRE-SEP's, 128), :meth:`StSedConfig.paper` (HTS-AT's ``D = 96``, depths 2, 2, 6, 2, heads 4, 8, 16,
32: query 768), :meth:`StSedConfig.paper_large` (``D = 256``: query 2048) and
:meth:`ResUNetConfig.paper` (the official six levels, 32 to 1024 channels, centre 2048). No checkpoint is
published for these sizes on this STFT; nothing is downloaded.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from timm.models.swin_transformer import PatchMerging, SwinTransformerBlock
from torch import nn

from workbench.audio.frontends import ISTFT, STFT, LogMelSpectrogram
from workbench.errors import AudioError
from workbench.models.base import Encoder, head_tag_names
from workbench.typing import SampleRate

_UNBOUNDED_FRAMES = 1 << 16
"""Time extent the Swin blocks are built for (masks are computed per input): any clip length works."""


# --------------------------------------------------------------------------------------------------
# The query network (HTS-AT style)


@dataclass(frozen=True)
class StSedConfig:
    """Sizes of the HTS-AT-style query network.

    Args:
        sample_rate: rate of the waveforms in Hz; n_fft, hop_length: the mel front-end's STFT.
        n_mels: mel bins (the image height; divisible by ``patch_size * 8``).
        embed_dim: width ``D``; the query has ``8 D`` dimensions.
        depths: Swin blocks in each of the four groups (the last one at width ``8 D``).
        num_heads: attention heads per group.
        window_size: attention window (tokens per side).
        mlp_ratio: hidden width of the blocks' MLPs over their width.
        patch_size: side of the patch embedding.
        n_classes: classes of the tagging head.
        ts_kernel: frames the token-semantic head's convolution spans.
    """

    sample_rate: SampleRate = 16000
    n_fft: int = 1024
    hop_length: int = 320
    n_mels: int = 64
    embed_dim: int = 96
    depths: tuple[int, int, int, int] = (2, 2, 6, 2)
    num_heads: tuple[int, int, int, int] = (4, 8, 16, 32)
    window_size: int = 8
    mlp_ratio: float = 4.0
    patch_size: int = 4
    n_classes: int = 527
    ts_kernel: int = 3

    def __post_init__(self) -> None:
        for name in ("depths", "num_heads"):
            object.__setattr__(self, name, tuple(int(value) for value in getattr(self, name)))
        if len(self.depths) != 4 or len(self.num_heads) != 4:
            raise ValueError(f"depths and num_heads need four groups, got {self.depths} and {self.num_heads}")
        for level, heads in enumerate(self.num_heads):
            if (self.embed_dim << level) % heads:
                raise ValueError(f"width {self.embed_dim << level} is not divisible by num_heads[{level}]={heads}")
        if self.n_mels % (self.patch_size * 8):
            raise ValueError(f"n_mels={self.n_mels} must be divisible by patch_size * 8 = {self.patch_size * 8}")
        if min(self.embed_dim, self.window_size, self.n_classes, self.ts_kernel, min(self.depths)) < 1:
            raise ValueError("embed_dim, window_size, n_classes, ts_kernel and every depth must be positive")

    @property
    def query_dim(self) -> int:
        return 8 * self.embed_dim

    def replace(self, **changes) -> StSedConfig:
        return dataclasses.replace(self, **changes)

    @classmethod
    def tiny(cls, n_classes: int = 10, **changes) -> StSedConfig:
        """``D = 16`` (query 128, as wide as the tiny CaRE-SEP's), one block per group: CPU scale."""
        return cls(embed_dim=16, depths=(1, 1, 1, 1), num_heads=(1, 2, 2, 4), window_size=4, mlp_ratio=2.0,
                   n_classes=n_classes, **changes)  # fmt: skip

    @classmethod
    def paper(cls, n_classes: int = 527, **changes) -> StSedConfig:
        """HTS-AT's sizes: ``D = 96``, depths (2, 2, 6, 2), heads (4, 8, 16, 32): query 768."""
        return cls(n_classes=n_classes, **changes)

    @classmethod
    def paper_large(cls, n_classes: int = 527, **changes) -> StSedConfig:
        """``D = 256``, heads (8, 16, 32, 64): the 2048-d query of Table 1's "2048-d ST-SED-SEP"."""
        return cls(embed_dim=256, num_heads=(8, 16, 32, 64), n_classes=n_classes, **changes)


class MelPatchEmbed(nn.Module):
    """Log-mel image ``(batch, n_mels, frames)`` -> tokens ``(batch, n_mels / p, frames / p, D)``.

    HTS-AT normalises each mel bin with batch norm before the patch convolution.
    """

    def __init__(self, n_mels: int, dim: int, patch_size: int):
        super().__init__()
        self.bin_norm = nn.BatchNorm1d(n_mels)
        self.proj = nn.Conv2d(1, dim, kernel_size=patch_size, stride=patch_size)
        self.norm = nn.LayerNorm(dim)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        return self.norm(self.proj(self.bin_norm(mel)[:, None]).permute(0, 2, 3, 1))


class StSedQueryNet(Encoder):
    """The HTS-AT-style classifier that makes ST-SED-SEP's query.

    ``forward`` / :meth:`embed_query` give the query ``(batch, 8D)`` (average pooling of the last group's
    normalised tokens), :meth:`tag_logits` the token-semantic head's clip logits.

    Shape:
        waveforms: ``(batch, samples)`` at ``config.sample_rate``, at least ``n_fft // 2 + 1`` samples.
    """

    def __init__(self, config: StSedConfig, class_names: tuple[str, ...] = ()):
        super().__init__()
        self.config = config
        self.sample_rate = config.sample_rate
        self.embedding_dim = config.query_dim
        self.tag_names = head_tag_names(class_names, config.n_classes)
        self.mel = LogMelSpectrogram(config.sample_rate, config.n_fft, config.n_fft, config.hop_length,
                                     config.n_mels, f_min=50.0, f_max=config.sample_rate / 2)  # fmt: skip
        self.patch_embed = MelPatchEmbed(config.n_mels, config.embed_dim, config.patch_size)
        widths = [config.embed_dim << level for level in range(4)]
        extents = [config.n_mels // config.patch_size >> level for level in range(4)]
        self.groups = nn.ModuleList(
            nn.ModuleList(
                SwinTransformerBlock(
                    widths[level], input_resolution=(extents[level], _UNBOUNDED_FRAMES),
                    num_heads=config.num_heads[level], window_size=config.window_size,
                    shift_size=config.window_size // 2 if index % 2 else 0, mlp_ratio=config.mlp_ratio,
                    dynamic_mask=True,
                )
                for index in range(config.depths[level])
            )
            for level in range(4)
        )  # fmt: skip
        self.merges = nn.ModuleList(PatchMerging(widths[level], widths[level + 1]) for level in range(3))
        self.norm = nn.LayerNorm(widths[3])
        self.tagging_head = nn.Conv2d(widths[3], config.n_classes, kernel_size=(extents[3], config.ts_kernel),
                                      padding=(0, config.ts_kernel // 2))  # fmt: skip

    def _tokens(self, waveform: torch.Tensor) -> torch.Tensor:
        waveform = self.check_waveform(waveform)
        if waveform.shape[-1] < self.config.n_fft // 2 + 1:
            raise AudioError(
                f"StSedQueryNet needs at least {self.config.n_fft // 2 + 1} samples per clip, got {waveform.shape[-1]}"
            )
        mel = self.mel(waveform)  # (B, M, T)
        multiple = self.config.patch_size * 8
        mel = nn.functional.pad(mel, (0, -mel.shape[-1] % multiple), value=float(mel.min()))
        tokens = self.patch_embed(mel)  # (B, M/4, T/4, D)
        for level, group in enumerate(self.groups):
            for block in group:
                tokens = block(tokens)
            if level < 3:
                tokens = self.merges[level](tokens)
        return self.norm(tokens)  # (B, M/32, T/32, 8D)

    def query_and_tags(self, waveform: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Query ``(batch, 8D)`` and clip tagging logits ``(batch, n_classes)`` from one pass."""
        tokens = self._tokens(waveform)
        logits = self.tagging_head(tokens.permute(0, 3, 1, 2)).squeeze(2).mean(dim=-1)
        return tokens.mean(dim=(1, 2)), logits

    def embed_query(self, waveform: torch.Tensor) -> torch.Tensor:
        return self._tokens(waveform).mean(dim=(1, 2))

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        return self.embed_query(waveform)

    def tag_logits(self, waveform: torch.Tensor) -> torch.Tensor:
        return self.query_and_tags(waveform)[1]

    def layer_modules(self) -> dict[str, nn.Module]:
        return {f"group{level + 1}": group for level, group in enumerate(self.groups)}


# --------------------------------------------------------------------------------------------------
# The separator (ResUNet style, query added after every convolution)


@dataclass(frozen=True)
class ResUNetConfig:
    """Sizes of the CNN separator.

    Args:
        sample_rate, n_fft, hop_length: the STFT (the frequency axis is cropped to ``n_fft // 2`` bins,
            a multiple of ``2 ** len(channels)``).
        channels: output channels of the encoder blocks (one 2x2 pooling each); the decoder mirrors them.
        query_dim: width of the query; the centre block is as wide (the official model: 2048 and 2048).
        momentum: batch-norm momentum (the official 0.01).
    """

    sample_rate: SampleRate = 16000
    n_fft: int = 1024
    hop_length: int = 320
    channels: tuple[int, ...] = (32, 64, 128, 256, 512, 1024)
    query_dim: int = 2048
    momentum: float = 0.01

    def __post_init__(self) -> None:
        object.__setattr__(self, "channels", tuple(int(value) for value in self.channels))
        if not self.channels or min(self.channels) < 1 or self.query_dim < 1:
            raise ValueError(f"channels and query_dim must be positive, got {self.channels}, {self.query_dim}")
        if (self.n_fft // 2) % (1 << len(self.channels)):
            raise ValueError(
                f"n_fft // 2 = {self.n_fft // 2} frequency bins must be divisible by 2 ** {len(self.channels)} "
                f"(one pooling per encoder block); use fewer channels entries or another n_fft"
            )

    def replace(self, **changes) -> ResUNetConfig:
        return dataclasses.replace(self, **changes)

    @classmethod
    def tiny(cls, query_dim: int = 128, **changes) -> ResUNetConfig:
        """Four levels of 8 to 64 channels: CPU scale."""
        return cls(channels=(8, 16, 32, 64), query_dim=query_dim, **changes)

    @classmethod
    def paper(cls, query_dim: int = 2048, **changes) -> ResUNetConfig:
        """The official six levels (32 to 1024 channels) and a centre as wide as the 2048-d query."""
        return cls(query_dim=query_dim, **changes)


class ConditionedResBlock(nn.Module):
    """Two 3x3 convolutions (batch norm, ReLU), each followed by the query's per-channel bias; a 1x1
    (or identity) residual shortcut.

    Shape: ``(batch, in, T, F)``, query ``(batch, query_dim)`` -> ``(batch, out, T, F)``.
    """

    def __init__(self, in_channels: int, out_channels: int, query_dim: int, momentum: float):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels, momentum=momentum)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels, momentum=momentum)
        self.query1 = nn.Linear(query_dim, out_channels)
        self.query2 = nn.Linear(query_dim, out_channels)
        self.shortcut = nn.Conv2d(in_channels, out_channels, 1) if in_channels != out_channels else nn.Identity()

    def forward(self, features: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
        hidden = torch.relu(self.bn1(self.conv1(features))) + self.query1(query)[:, :, None, None]
        hidden = torch.relu(self.bn2(self.conv2(hidden))) + self.query2(query)[:, :, None, None]
        return hidden + self.shortcut(features)


class UpBlock(nn.Module):
    """2x up-sampling by a stride-2 transposed convolution (plus the query's bias), the skip connection
    concatenated, then a :class:`ConditionedResBlock`."""

    def __init__(self, in_channels: int, out_channels: int, query_dim: int, momentum: float):
        super().__init__()
        self.up = nn.ConvTranspose2d(in_channels, out_channels, kernel_size=2, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(out_channels, momentum=momentum)
        self.query = nn.Linear(query_dim, out_channels)
        self.block = ConditionedResBlock(2 * out_channels, out_channels, query_dim, momentum)

    def forward(self, features: torch.Tensor, skip: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
        up = torch.relu(self.bn(self.up(features))) + self.query(query)[:, :, None, None]
        return self.block(torch.cat([up, skip], dim=1), query)


class ResUNetSeparator(nn.Module):
    """The query-conditioned CNN separator of ST-SED-SEP (see the module docstring).

    ``separate(mixture, query, return_features=False)`` as :meth:`CaReSep.separate
    <workbench.models.care_sep.CaReSep.separate>`: the separation features are the centre block's output,
    average-pooled ``(batch, query_dim)``.
    """

    def __init__(self, config: ResUNetConfig):
        super().__init__()
        self.config = config
        self.sample_rate = config.sample_rate
        self.stft = STFT(config.n_fft, config.hop_length)
        self.istft = ISTFT(config.n_fft, config.hop_length)
        n_bins = config.n_fft // 2
        self.bin_norm = nn.BatchNorm2d(n_bins, momentum=config.momentum)
        widths = (1, *config.channels)
        self.encoder = nn.ModuleList(
            ConditionedResBlock(widths[level], widths[level + 1], config.query_dim, config.momentum)
            for level in range(len(config.channels))
        )
        self.centre = ConditionedResBlock(config.channels[-1], config.query_dim, config.query_dim, config.momentum)
        ups = (config.query_dim, *reversed(config.channels))
        self.decoder = nn.ModuleList(
            UpBlock(ups[level], ups[level + 1], config.query_dim, config.momentum) for level in range(len(config.channels))
        )
        self.mask = nn.Conv2d(config.channels[0], 1, kernel_size=1)

    def separate(
        self, mixture: torch.Tensor, query: torch.Tensor, return_features: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """The source of ``mixture (batch, samples)`` that ``query (batch, query_dim)`` asks for.

        Raises:
            AudioError: waveforms of another shape or too short; ValueError: a query of the wrong shape.
        """
        if mixture.ndim == 1:
            mixture = mixture[None]
        if mixture.ndim != 2 or mixture.shape[-1] < self.stft.min_samples:
            raise AudioError(
                f"ResUNetSeparator expects mixtures (batch, samples >= {self.stft.min_samples}), got {tuple(mixture.shape)}"
            )
        if query.shape != (mixture.shape[0], self.config.query_dim):
            raise ValueError(f"query must be (batch={mixture.shape[0]}, {self.config.query_dim}), got {tuple(query.shape)}")
        spectrum = self.stft(mixture)  # (B, F, T) complex
        magnitude = spectrum.abs()
        frames = magnitude.shape[-1]
        multiple = 1 << len(self.config.channels)
        # Drop the Nyquist bin (n_fft // 2 bins divide by the poolings), batch-normalise every bin.
        image = self.bin_norm(magnitude[:, :-1, :, None])[..., 0].transpose(1, 2)  # (B, T, F-1)
        image = nn.functional.pad(image, (0, 0, 0, -frames % multiple))[:, None]  # (B, 1, T', F-1)
        skips = []
        features = image
        for block in self.encoder:
            features = block(features, query)
            skips.append(features)
            features = nn.functional.avg_pool2d(features, 2)
        centre = self.centre(features, query)  # (B, query_dim, T'/2^L, F'/2^L)
        features = centre
        for up, skip in zip(self.decoder, reversed(skips)):
            features = up(features, skip, query)
        mask = torch.sigmoid(self.mask(features))[:, 0, :frames].transpose(1, 2)  # (B, F-1, T)
        mask = nn.functional.pad(mask, (0, 0, 0, 1), value=1.0)  # the Nyquist bin passes
        estimate = self.istft(spectrum * mask, length=mixture.shape[-1])
        if return_features:
            return estimate, centre.mean(dim=(2, 3))
        return estimate
