"""CaRE-SEP: a query-based separator whose Swin-UNET encoder also makes the query embedding.

Wang et al., "Consistent and Relevant: Rethink the Query Embedding in General Sound Separation"
(CaRE-SEP, ICASSP 2024). Query-based separators such as ST-SED-SEP (Chen et al., "Zero-shot Audio Source
Separation through Query-based Learning from Weakly-labeled Data", AAAI 2022) take the query embedding
from a separate, frozen classifier (HTS-AT); CaRE-SEP argues that the query then does not match the
separator's own features, and makes both with one encoder: the same Swin blocks that encode the
mixture encode the query clips, initialised from a classification-pretrained encoder and trained with
the separation loss flowing into the query.

The network, on the mixture's STFT (window 1024, hop 320 at 16 kHz):

1. **band-split**: the 513 bins are grouped into 64 mel-spaced sub-bands
   (:class:`~workbench.audio.bandsplit.BandSplit`); :class:`BandEncoder` compresses each band's
   magnitudes to ``band_channels`` features, giving an image ``(band_channels, 64, frames)``, and
   :class:`BandNorm` batch-normalises every band's features, as HTS-AT's ``bn0`` normalises every mel
   bin before its patch embedding (the encoder is HTS-AT-initialised, Sec. 3);
2. **shared encoder**: a 4x4 patch embedding to width ``D``, then three groups of Swin Transformer
   blocks (window and shifted-window attention, timm's ``SwinTransformerBlock``), each ending in patch
   merging (timm's ``PatchMerging``: half the resolution, twice the width), to ``8D``;
3. **connector**: Swin blocks at ``8D``; average pooling gives the **query embedding** ``(8D,)``, and a
   token-semantic CNN head (HTS-AT's: a convolution over the whole frequency axis and a few frames ->
   class logits per frame, averaged over time) gives the **tagging** logits;
4. **decoder**: symmetric Swin blocks with 2x patch-expand layers, the encoder's features of each
   resolution concatenated as skip connections, and a final 4x patch-up back to ``(64, frames)``;
   :class:`BandMaskHead` maps every band back to a mask over its bins, the mask multiplies the
   mixture's STFT, and the inverse STFT gives the waveform.

**Query conditioning**: when separating, a linear layer per Swin block maps the query embedding to that
block's width and adds it to the block's input feature map (encoder, connector and decoder blocks).
Making a query (:meth:`CaReSep.embed_query`) runs the encoder and connector without conditioning.

A model built with ``separator=False`` is the classifier alone (band-split, encoder, connector,
tagging head; no decoder, no conditioning): the CLS pretraining, and ST-SED-SEP's frozen query
network. :func:`init_from_classifier` copies its weights into a separator.

Configs: :meth:`CaReSepConfig.tiny` (seconds per epoch on a CPU), :meth:`CaReSepConfig.paper`
(``D = 96``, HTS-AT's depths and heads, query 768) and :meth:`CaReSepConfig.paper_large` (``D = 256``,
query 2048). No official checkpoint is published; nothing is downloaded.

This module is one network's architecture (CaRE-SEP) kept in one file on purpose, as nanoGPT's
``model.py`` is, so that it reads top to bottom against the paper.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

import torch
from timm.models.swin_transformer import PatchMerging, SwinTransformerBlock
from torch import nn

from workbench.audio.bandsplit import BandSplit
from workbench.audio.frontends import ISTFT, STFT
from workbench.errors import AudioError, CheckpointError
from workbench.models.base import Encoder, head_tag_names
from workbench.typing import SampleRate

LEVELS = 4
"""Resolutions of the U: the patch grid and three merges (widths D, 2D, 4D, 8D)."""
_UNBOUNDED_FRAMES = 1 << 16
"""The time extent timm's blocks are built for: larger than any clip, so windows are never clipped in
time and clips of any length work (attention masks are computed per input, ``dynamic_mask``)."""
INPUT_NORMS = ("band", "none")
"""What :class:`CaReSepConfig` ``input_norm`` may be."""


@dataclass(frozen=True)
class CaReSepConfig:
    """Sizes of a CaRE-SEP network.

    Args:
        sample_rate: rate of the waveforms in Hz.
        n_fft: STFT size (window length); hop_length: STFT hop.
        n_bands: mel-scale sub-bands (the image height; divisible by ``patch_size * 8``).
        band_channels: features per band after :class:`BandEncoder`.
        embed_dim: latent width ``D``; the query embedding has ``8 D`` dimensions.
        depths: Swin blocks in each of the three encoder groups.
        connector_depth: Swin blocks of the connector.
        decoder_depths: Swin blocks per decoder level, deepest first (default: ``depths`` reversed).
        num_heads: attention heads at widths ``D, 2D, 4D, 8D``.
        window_size: attention window (tokens per side; clipped to the frequency extent).
        mlp_ratio: hidden width of the blocks' MLPs over their width.
        patch_size: side of the patch embedding and of the final patch-up.
        n_classes: classes of the tagging head.
        ts_kernel: frames the token-semantic head's convolution spans.
        magnitude_power: the band encoder compresses magnitudes as ``|X| ** magnitude_power``.
        input_norm: ``"band"``: batch norm per band and feature of the band image before the patch
            embedding (HTS-AT's ``bn0`` over mel bins); ``"none"``: the raw band image (the Swin blocks then
            see bands whose scales differ tenfold, and the classifier barely learns: kept to measure that).
        separator: build the decoder and the query conditioning (False: the classifier alone).
        condition_dim: width of the queries the separator is conditioned on (None: its own ``8 D``; another
            network's width when that network makes the query, e.g. row G's 2048-d ST-SED query).
    """

    sample_rate: SampleRate = 16000
    n_fft: int = 1024
    hop_length: int = 320
    n_bands: int = 64
    band_channels: int = 16
    embed_dim: int = 96
    depths: tuple[int, int, int] = (2, 2, 6)
    connector_depth: int = 2
    decoder_depths: tuple[int, int, int] | None = None
    num_heads: tuple[int, int, int, int] = (4, 8, 16, 32)
    window_size: int = 8
    mlp_ratio: float = 4.0
    patch_size: int = 4
    n_classes: int = 10
    ts_kernel: int = 3
    magnitude_power: float = 0.3
    input_norm: str = "band"
    separator: bool = True
    condition_dim: int | None = None

    def __post_init__(self) -> None:
        for name in ("depths", "num_heads"):
            object.__setattr__(self, name, tuple(int(value) for value in getattr(self, name)))
        if self.decoder_depths is not None:
            object.__setattr__(self, "decoder_depths", tuple(int(value) for value in self.decoder_depths))
        if len(self.depths) != 3 or (self.decoder_depths is not None and len(self.decoder_depths) != 3):
            raise ValueError(f"depths and decoder_depths need three groups, got {self.depths}, {self.decoder_depths}")
        if len(self.num_heads) != LEVELS:
            raise ValueError(f"num_heads needs one count per width D, 2D, 4D, 8D, got {self.num_heads}")
        for level, heads in enumerate(self.num_heads):
            if (self.embed_dim << level) % heads:
                raise ValueError(
                    f"width {self.embed_dim << level} (level {level}) is not divisible by num_heads[{level}]={heads}"
                )
        if self.n_bands % (self.patch_size * 8):
            raise ValueError(
                f"n_bands={self.n_bands} must be divisible by patch_size * 8 = {self.patch_size * 8} "
                f"(the patch embedding and three merges)"
            )
        if self.input_norm not in INPUT_NORMS:
            raise ValueError(f"input_norm must be one of {INPUT_NORMS}, got {self.input_norm!r}")
        if min(self.embed_dim, self.band_channels, self.window_size, self.n_classes, self.ts_kernel) < 1:
            raise ValueError("embed_dim, band_channels, window_size, n_classes and ts_kernel must be positive")

    @property
    def query_dim(self) -> int:
        return 8 * self.embed_dim

    @property
    def query_input_dim(self) -> int:
        """Width of the queries :meth:`CaReSep.separate` takes."""
        return self.condition_dim if self.condition_dim is not None else self.query_dim

    @property
    def frame_multiple(self) -> int:
        """Frames are zero-padded to a multiple of this (the patch size times the three merges)."""
        return self.patch_size * 8

    @property
    def resolved_decoder_depths(self) -> tuple[int, int, int]:
        return self.decoder_depths if self.decoder_depths is not None else tuple(reversed(self.depths))

    def replace(self, **changes) -> CaReSepConfig:
        return dataclasses.replace(self, **changes)

    @classmethod
    def tiny(cls, n_classes: int = 10, **changes) -> CaReSepConfig:
        """A few hundred thousand parameters: trains in seconds per epoch on a CPU."""
        return cls(
            band_channels=8, embed_dim=16, depths=(1, 1, 1), connector_depth=1, num_heads=(1, 2, 2, 4),
            window_size=4, mlp_ratio=2.0, n_classes=n_classes, **changes,
        )  # fmt: skip

    @classmethod
    def paper(cls, n_classes: int = 527, **changes) -> CaReSepConfig:
        """``D = 96`` (query 768) with HTS-AT's depths (2, 2, 6 | 2) and heads (4, 8, 16, 32), window 8."""
        return cls(embed_dim=96, n_classes=n_classes, **changes)

    @classmethod
    def paper_large(cls, n_classes: int = 527, **changes) -> CaReSepConfig:
        """``D = 256`` (query 2048), heads (8, 16, 32, 64)."""
        return cls(embed_dim=256, num_heads=(8, 16, 32, 64), n_classes=n_classes, **changes)


# --------------------------------------------------------------------------------------------------
# Band-split input and output


class BandEncoder(nn.Module):
    """Compress each band's bins to ``channels`` features: a separate linear map per band.

    Computed as a grouped 1x1 convolution (one group per band); the parameters keep the per-band
    layout ``weight: (n_bands, max_width, channels)``, ``bias: (n_bands, channels)``.

    Shape:
        bands: ``(batch, n_bands, max_width, frames)`` real (compressed magnitudes, zero-padded).
        output: ``(batch, channels, n_bands, frames)``.
    """

    def __init__(self, band_split: BandSplit, channels: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(band_split.n_bands, band_split.max_width, channels))
        self.bias = nn.Parameter(torch.zeros(band_split.n_bands, channels))
        for band, width in enumerate(band_split.widths):  # fan-in is the band's own width
            nn.init.uniform_(self.weight.data[band, :width], -(width**-0.5), width**-0.5)
        with torch.no_grad():
            self.weight[~band_split.valid] = 0.0

    def forward(self, bands: torch.Tensor) -> torch.Tensor:
        # One grouped 1x1 convolution over the bands' bins (group k = band k) reads the split's memory
        # as it lies, (B, K*W, T), where an einsum would first copy it into a batched-matmul layout.
        n_bands, width, channels = self.weight.shape
        batch, frames = bands.shape[0], bands.shape[-1]
        kernel = self.weight.transpose(1, 2).reshape(n_bands * channels, width, 1)  # (K*C, W, 1), group-major
        features = nn.functional.conv1d(
            bands.reshape(batch, n_bands * width, frames), kernel, self.bias.reshape(-1), groups=n_bands
        )  # (B, K*C, T)
        return features.view(batch, n_bands, channels, frames).transpose(1, 2)  # (B, C, K, T)


class BandNorm(nn.Module):
    """Batch norm of every (feature, band) row of the band image, over the batch and the frames.

    HTS-AT applies batch norm to each mel bin of its log-mel input (``bn0``) before the patch embedding;
    the band image's rows are our mel bins. Without it the compressed magnitudes reach the patch embedding
    with per-band scales that differ about tenfold, around zero mean, and the classifier learns little (0.12
    train accuracy on the recipe's Init source, against 0.9 with it).

    Shape: ``(batch, channels, n_bands, frames)`` -> the same.
    """

    def __init__(self, channels: int, n_bands: int):
        super().__init__()
        self.norm = nn.BatchNorm1d(channels * n_bands)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        batch, channels, n_bands, frames = image.shape
        return self.norm(image.reshape(batch, channels * n_bands, frames)).view(batch, channels, n_bands, frames)


class BandMaskHead(nn.Module):
    """Map ``channels`` features per band back to one value per bin of that band (a per-band linear map).

    Computed as a grouped 1x1 convolution (one group per band); the parameters keep the per-band
    layout ``weight: (n_bands, channels, max_width)``, ``bias: (n_bands, max_width)``.

    Shape:
        features: ``(batch, channels, n_bands, frames)``.
        output: ``(batch, n_bands, max_width, frames)`` (padded entries are dropped by ``BandSplit.merge``).
    """

    def __init__(self, band_split: BandSplit, channels: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(band_split.n_bands, channels, band_split.max_width))
        self.bias = nn.Parameter(torch.zeros(band_split.n_bands, band_split.max_width))
        nn.init.uniform_(self.weight, -(channels**-0.5), channels**-0.5)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        # The grouped 1x1 convolution writes (B, K*W, T), the layout BandSplit.merge reads without a copy.
        n_bands, channels, width = self.weight.shape
        batch, frames = features.shape[0], features.shape[-1]
        grouped = features.transpose(1, 2).reshape(batch, n_bands * channels, frames)  # (B, K*C, T)
        kernel = self.weight.transpose(1, 2).reshape(n_bands * width, channels, 1)  # (K*W, C, 1)
        masks = nn.functional.conv1d(grouped, kernel, self.bias.reshape(-1), groups=n_bands)  # (B, K*W, T)
        return masks.view(batch, n_bands, width, frames)


# --------------------------------------------------------------------------------------------------
# Swin-UNET pieces (timm's blocks and merging; patch embedding, expanding and conditioning are ours)


class PatchEmbed(nn.Module):
    """Non-overlapping ``patch x patch`` patches -> width ``dim``, channels last, layer-normalised.

    Shape: ``(batch, channels, height, width)`` -> ``(batch, height / patch, width / patch, dim)``.
    """

    def __init__(self, in_channels: int, dim: int, patch_size: int):
        super().__init__()
        self.proj = nn.Conv2d(in_channels, dim, kernel_size=patch_size, stride=patch_size)
        self.norm = nn.LayerNorm(dim)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.norm(self.proj(image).permute(0, 2, 3, 1))


class PatchExpand(nn.Module):
    """Swin-Unet's patch expanding: each token becomes ``scale x scale`` tokens of width ``out_dim``.

    A linear layer to ``scale**2 * out_dim``, rearranged onto the finer grid, then layer norm. ``scale=2``
    with ``out_dim = dim / 2`` inverts a patch merging's shape; ``scale=4`` is the final patch-up.

    Shape: ``(batch, H, W, dim)`` -> ``(batch, scale H, scale W, out_dim)``.
    """

    def __init__(self, dim: int, out_dim: int, scale: int = 2):
        super().__init__()
        self.scale, self.out_dim = scale, out_dim
        self.expand = nn.Linear(dim, scale * scale * out_dim, bias=False)
        self.norm = nn.LayerNorm(out_dim)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        batch, height, width, _ = tokens.shape
        scale = self.scale
        expanded = self.expand(tokens).reshape(batch, height, width, scale, scale, self.out_dim)
        expanded = expanded.permute(0, 1, 3, 2, 4, 5).reshape(batch, height * scale, width * scale, self.out_dim)
        return self.norm(expanded)


class ConditionedBlock(nn.Module):
    """A timm Swin block, plus (in a separator) a linear map of the query added to its input feature map.

    Shape: tokens ``(batch, H, W, dim)``, query ``(batch, query_dim)`` or None -> ``(batch, H, W, dim)``.
    """

    def __init__(self, dim: int, heads: int, frequency_extent: int, shift: bool, config: CaReSepConfig):
        super().__init__()
        self.block = SwinTransformerBlock(
            dim, input_resolution=(frequency_extent, _UNBOUNDED_FRAMES), num_heads=heads,
            window_size=config.window_size, shift_size=config.window_size // 2 if shift else 0,
            mlp_ratio=config.mlp_ratio, dynamic_mask=True,
        )  # fmt: skip
        self.condition = nn.Linear(config.query_input_dim, dim) if config.separator else None

    def forward(self, tokens: torch.Tensor, query: torch.Tensor | None = None) -> torch.Tensor:
        if query is not None:
            if self.condition is None:
                raise ValueError("this network was built without query conditioning (separator=False)")
            tokens = tokens + self.condition(query)[:, None, None, :]
        return self.block(tokens)


class SwinGroup(nn.Module):
    """``depth`` conditioned Swin blocks at one resolution, alternating plain and shifted windows."""

    def __init__(self, dim: int, heads: int, depth: int, frequency_extent: int, config: CaReSepConfig):
        super().__init__()
        self.blocks = nn.ModuleList(
            ConditionedBlock(dim, heads, frequency_extent, shift=index % 2 == 1, config=config)
            for index in range(depth)
        )

    def forward(self, tokens: torch.Tensor, query: torch.Tensor | None = None) -> torch.Tensor:
        for block in self.blocks:
            tokens = block(tokens, query)
        return tokens


class TokenSemanticHead(nn.Module):
    """HTS-AT's token-semantic tagging head: class logits per frame, averaged over time.

    A convolution whose kernel spans the whole (merged) frequency axis and ``ts_kernel`` frames maps the
    ``8D`` feature map to one logit per class and frame; the clip's logits are their mean over frames.

    Shape: ``(batch, H, W, dim)`` -> clip logits ``(batch, n_classes)``.
    """

    def __init__(self, dim: int, frequency_extent: int, n_classes: int, kernel: int):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.conv = nn.Conv2d(dim, n_classes, kernel_size=(frequency_extent, kernel), padding=(0, kernel // 2))

    def frame_logits(self, tokens: torch.Tensor) -> torch.Tensor:
        """``(batch, n_classes, frames)`` logits per token column."""
        return self.conv(self.norm(tokens).permute(0, 3, 1, 2)).squeeze(2)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.frame_logits(tokens).mean(dim=-1)


# --------------------------------------------------------------------------------------------------
# The model


@dataclass
class Encoded:
    """What the encoder and connector make of one input.

    Attributes:
        skips: the encoder's feature maps at widths ``D, 2D, 4D`` (before each patch merging).
        bottleneck: the connector's output ``(batch, H/32, W/32, 8D)``.
        frames: the input's STFT frames before padding.
    """

    skips: list[torch.Tensor]
    bottleneck: torch.Tensor
    frames: int


class CaReSep(Encoder):
    """The CaRE-SEP Swin-UNET (or, with ``config.separator=False``, its classifier half).

    As an :class:`~workbench.models.base.Encoder`, ``forward(waveform)`` is the query embedding
    ``(batch, 8D)``, ``tag_logits`` the tagging head's logits and ``layers`` taps the three encoder
    groups and the connector.

    Args:
        config: the sizes.
        class_names: names of the tagging head's classes (``tag_names``).

    Shape:
        waveforms: ``(batch, samples)`` at ``config.sample_rate``, at least ``n_fft // 2 + 1`` samples.
    """

    def __init__(self, config: CaReSepConfig, class_names: tuple[str, ...] = ()):
        super().__init__()
        self.config = config
        self.sample_rate = config.sample_rate
        self.embedding_dim = config.query_dim
        self.tag_names = head_tag_names(class_names, config.n_classes)
        self.stft = STFT(config.n_fft, config.hop_length)
        self.istft = ISTFT(config.n_fft, config.hop_length)
        self.band_split = BandSplit(config.n_fft, config.sample_rate, config.n_bands)
        self.band_encoder = BandEncoder(self.band_split, config.band_channels)
        self.band_norm = BandNorm(config.band_channels, config.n_bands) if config.input_norm == "band" else None
        self.patch_embed = PatchEmbed(config.band_channels, config.embed_dim, config.patch_size)
        widths = [config.embed_dim << level for level in range(LEVELS)]
        extents = [config.n_bands // config.patch_size >> level for level in range(LEVELS)]
        self.encoder = nn.ModuleList(
            SwinGroup(widths[level], config.num_heads[level], config.depths[level], extents[level], config)
            for level in range(3)
        )
        self.merges = nn.ModuleList(PatchMerging(widths[level], widths[level + 1]) for level in range(3))
        self.connector = SwinGroup(widths[3], config.num_heads[3], config.connector_depth, extents[3], config)
        self.connector_norm = nn.LayerNorm(widths[3])
        self.tagging_head = TokenSemanticHead(widths[3], extents[3], config.n_classes, config.ts_kernel)
        if config.separator:
            depths = config.resolved_decoder_depths
            self.expands = nn.ModuleList(PatchExpand(widths[level + 1], widths[level]) for level in (2, 1, 0))
            self.skip_projections = nn.ModuleList(nn.Linear(2 * widths[level], widths[level]) for level in (2, 1, 0))
            self.decoder = nn.ModuleList(
                SwinGroup(widths[level], config.num_heads[level], depth, extents[level], config)
                for level, depth in zip((2, 1, 0), depths)
            )
            self.decoder_norm = nn.LayerNorm(widths[0])
            self.patch_up = PatchExpand(widths[0], widths[0], scale=config.patch_size)
            self.mask_head = BandMaskHead(self.band_split, widths[0])

    # --- front-end --------------------------------------------------------------------------------

    def _check_waveform(self, waveform: torch.Tensor) -> torch.Tensor:
        waveform = self.check_waveform(waveform)
        if waveform.shape[-1] < self.stft.min_samples:
            raise AudioError(
                f"CaReSep needs at least {self.stft.min_samples} samples per clip "
                f"({self.stft.min_samples / self.sample_rate:.3f} s at {self.sample_rate} Hz), got "
                f"{waveform.shape[-1]}; pad or use longer clips"
            )
        return waveform

    def band_image(self, spectrum: torch.Tensor) -> torch.Tensor:
        """Complex STFT ``(batch, n_freq, frames)`` -> band features ``(batch, band_channels, n_bands, padded)``."""
        magnitude = spectrum.abs().clamp_min(1e-8) ** self.config.magnitude_power  # (B, F, T)
        image = self.band_encoder(self.band_split.split(magnitude))  # (B, C, K, T)
        if self.band_norm is not None:  # before padding: the padded frames must not enter the statistics
            image = self.band_norm(image)
        missing = -image.shape[-1] % self.config.frame_multiple
        return nn.functional.pad(image, (0, missing))

    # --- encoder and query ------------------------------------------------------------------------

    def encode_spectrum(self, spectrum: torch.Tensor, query: torch.Tensor | None = None) -> Encoded:
        """Encoder and connector on a complex STFT, conditioned on ``query`` when given."""
        tokens = self.patch_embed(self.band_image(spectrum))  # (B, K/4, T/4, D)
        skips = []
        for group, merge in zip(self.encoder, self.merges):
            tokens = group(tokens, query)
            skips.append(tokens)
            tokens = merge(tokens)
        bottleneck = self.connector(tokens, query)  # (B, K/32, T/32, 8D)
        return Encoded(skips, bottleneck, spectrum.shape[-1])

    def pooled(self, bottleneck: torch.Tensor) -> torch.Tensor:
        """Average pooling of the normalised connector output -> ``(batch, 8D)``."""
        return self.connector_norm(bottleneck).mean(dim=(1, 2))

    def embed_query(self, waveform: torch.Tensor) -> torch.Tensor:
        """Query embeddings ``(batch, 8D)`` of clips of the target class (no conditioning)."""
        return self.pooled(self.encode_spectrum(self.stft(self._check_waveform(waveform))).bottleneck)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        return self.embed_query(waveform)

    def tag_logits(self, waveform: torch.Tensor) -> torch.Tensor:
        """Tagging logits ``(batch, n_classes)`` of the token-semantic head."""
        return self.tagging_head(self.encode_spectrum(self.stft(self._check_waveform(waveform))).bottleneck)

    def query_and_tags(self, waveform: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Query embeddings and tagging logits from one pass: ``(batch, 8D)``, ``(batch, n_classes)``."""
        bottleneck = self.encode_spectrum(self.stft(self._check_waveform(waveform))).bottleneck
        return self.pooled(bottleneck), self.tagging_head(bottleneck)

    def layer_modules(self) -> dict[str, nn.Module]:
        layers: dict[str, nn.Module] = {f"group{level + 1}": group for level, group in enumerate(self.encoder)}
        layers["connector"] = self.connector
        return layers

    # --- separation -------------------------------------------------------------------------------

    def separate(
        self, mixture: torch.Tensor, query: torch.Tensor, return_features: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """The source of ``mixture`` that ``query`` asks for.

        Args:
            mixture: waveforms ``(batch, samples)``.
            query: query embeddings ``(batch, 8D)`` (:meth:`embed_query`, or another network's).
            return_features: also return the separation features, the pooled connector output of the
                conditioned pass ``(batch, 8D)`` (what Figure 3 of the paper compares with the queries).

        Returns:
            The estimate ``(batch, samples)`` (and the features).

        Raises:
            ValueError: a classifier-only network, or a query of the wrong shape.
        """
        if not self.config.separator:
            raise ValueError("this CaReSep was built with separator=False (a classifier); it cannot separate")
        mixture = self._check_waveform(mixture)
        if query.shape != (mixture.shape[0], self.config.query_input_dim):
            raise ValueError(
                f"query must be (batch={mixture.shape[0]}, {self.config.query_input_dim}), got {tuple(query.shape)}"
            )
        spectrum = self.stft(mixture)  # (B, F, T) complex
        encoded = self.encode_spectrum(spectrum, query)
        tokens = encoded.bottleneck
        levels = zip(self.expands, self.skip_projections, self.decoder, reversed(encoded.skips))
        for expand, project, group, skip in levels:
            tokens = project(torch.cat([expand(tokens), skip], dim=-1))
            tokens = group(tokens, query)
        tokens = self.patch_up(self.decoder_norm(tokens))  # (B, K, T_padded, D)
        features = tokens.permute(0, 3, 1, 2)[..., : encoded.frames]  # (B, D, K, T)
        mask = torch.sigmoid(self.band_split.merge(self.mask_head(features)))  # (B, F, T)
        estimate = self.istft(spectrum * mask, length=mixture.shape[-1])
        if return_features:
            return estimate, self.pooled(encoded.bottleneck)
        return estimate


# --------------------------------------------------------------------------------------------------
# Initialisation from a classifier


def classifier_config(config: CaReSepConfig) -> CaReSepConfig:
    """The classifier half of ``config``: the same encoder, connector and head, no decoder."""
    return config.replace(separator=False, condition_dim=None)


def init_from_classifier(model: CaReSep, classifier_state: Mapping[str, torch.Tensor]) -> list[str]:
    """Copy a CLS-pretrained classifier's weights (encoder, connector, tagging head) into ``model``.

    Every tensor of the classifier must exist in ``model`` with the same shape; the model's other
    tensors (decoder, query conditioning) keep their initialisation.

    Returns:
        The names of the tensors copied.

    Raises:
        CheckpointError: a classifier tensor that ``model`` lacks or has in another shape.
    """
    own = model.state_dict()
    unknown = [name for name in classifier_state if name not in own]
    mismatched = [name for name in classifier_state if name in own and own[name].shape != classifier_state[name].shape]
    if unknown or mismatched:
        raise CheckpointError(
            f"the classifier does not fit this CaReSep: {len(unknown)} unknown tensors {unknown[:3]}, "
            f"{len(mismatched)} of another shape {mismatched[:3]}; build both from the same CaReSepConfig"
        )
    model.load_state_dict({**own, **dict(classifier_state)})
    return list(classifier_state)
