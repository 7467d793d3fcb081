"""BEATs: a transformer over 16x16 patches of a Kaldi filterbank, loadable from the official checkpoints.

Chen et al., "BEATs: Audio Pre-Training with Acoustic Tokenizers", ICML 2023
(https://github.com/microsoft/unilm/tree/master/beats). Submodule names follow the official
``BEATs.py``/``backbone.py``, so the ``"model"`` entry of an official checkpoint loads with
``load_state_dict(strict=True)`` unchanged. Two official files are registered:

- ``beats-iter3-plus``: ``BEATs_iter3_plus_AS2M.pt``, self-supervised on AudioSet-2M (third
  iteration, iter3+ tokenizer);
- ``beats-iter3-plus-as2m-cpt2``: ``BEATs_iter3_plus_AS2M_finetuned_on_AS2M_cpt2.pt``, the same
  fine-tuned on AudioSet-2M (527-class tagging head).

An official checkpoint is ``{"cfg": dict, "model": state_dict}`` (fine-tuned ones add
``"label_dict"``: index -> AudioSet MID). The registry builds its model without seeing the file, so
each registered entry is built from the published iter3+ configuration (:meth:`BEATsConfig.iter3_plus`)
and its ``convert`` checks that the file's ``cfg`` agrees on every field that shapes the network,
raising :class:`~workbench.errors.CheckpointError` naming the first field that differs. Any other
official BEATs file (iter1-3, AS20K) loads with :func:`load_official_checkpoint`, which builds the
config from the file's own ``cfg``.

Front-end (official ``BEATs.preprocess``): the 16 kHz waveform is scaled by ``2**15``, turned into a
128-bin Kaldi filterbank (25 ms povey windows every 10 ms, no dither, per-frame DC removal,
pre-emphasis 0.97, torchaudio's Kaldi defaults) and normalised as ``(fbank - 15.41663) / (2 * 6.55582)``.
The filterbank is ``(frames, 128)`` with time as the image height; a 16x16 convolution makes a grid
of ``frames // 16`` x 8 patches, flattened time-major into ``N`` tokens.

The embedding (:meth:`BEATs.forward`) is the mean over all tokens of the encoder's output, i.e. of
the last layer's features for the iter3+ (post-LayerNorm) configuration; every transformer layer's
output ``(batch, N, dim)`` is a tap (``layer1`` .. ``layerN``). Fine-tuned models also give
:meth:`BEATs.tag_logits`, the tagging head's logits averaged over tokens as the official code does
(the official ``extract_features`` returns their sigmoid; apply it yourself).

Deviations from the official code, all outside the pretrained function:

- ``encoder_layerdrop`` (random layer skipping while training) is not implemented: it would leave
  layer taps empty. ``layer_wise_gradient_decay_ratio`` is.
- Padding masks map onto tokens exactly (a token is padding when any sample under it is), so a
  padded clip with its mask gives the same embedding as the clip without padding; the official
  code maps a sample mask onto tokens by reshaping, which only approximately follows the patch grid.
- Attention is computed as ``softmax(q k^T / sqrt(d) + bias)``; the official code subtracts the row
  maximum with a factor 32 first (a float16 trick), which is the same function.

Weights: the official README links each file as a OneDrive share page (not a direct download). Both
files are checked against the sha256 and size in ``workbench.models.registry.PUBLISHED_CHECKSUMS``
(which says where each value comes from). The earlier Azure links stopped working in 2024
(microsoft/unilm#1492) and users report the OneDrive ones failing at times (microsoft/unilm#1671).
Download the file by hand and put it at ``workbench.models.registry.weights_path(name)``, or pass
``path=`` to ``load_pretrained``. The ``tiny`` configuration (2 layers, width 64) trains in seconds on a CPU.

This module is one network's architecture (BEATs) kept in one file on purpose, as nanoGPT's ``model.py``
is, so that it reads top to bottom against the paper and the official code.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from workbench.audio.frontends import KaldiFbank
from workbench.audio.normalize import Normalizer
from workbench.data.download import RemoteFile
from workbench.errors import AudioError, CheckpointError
from workbench.models.base import Encoder
from workbench.models.registry import (
    PretrainedSpec,
    load_state_dict_strict,
    read_checkpoint,
    register_pretrained,
)
from workbench.typing import SampleRate

SAMPLE_RATE: SampleRate = 16000
N_MELS = 128
FRAME_LENGTH_MS = 25.0
FRAME_SHIFT_MS = 10.0
WAVEFORM_SCALE = 2.0**15
_ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    # The official "gelu" evaluates in float32 whatever the input dtype.
    "gelu": lambda x: F.gelu(x.float()).type_as(x),
    "gelu_accurate": lambda x: F.gelu(x, approximate="tanh"),
    "relu": F.relu,
}


@dataclass(frozen=True)
class BEATsConfig:
    """Hyper-parameters of BEATs under the official ``BEATsConfig`` names; defaults are iter3+'s.

    The defaults are the ``cfg`` of the official iter3+ checkpoints (differing from the official
    class's own defaults, e.g. ``max_distance`` 800 not 1280, ``deep_norm`` on). ``fbank_mean``,
    ``fbank_std`` (the official ``extract_features`` arguments) and ``tag_names`` are ours.

    Args:
        input_patch_size: side of the square patches of the filterbank (16).
        embed_dim: channels of the patch embedding.
        conv_bias: whether the patch embedding has a bias.
        encoder_layers: transformer layers.
        encoder_embed_dim: transformer width (``post_extract_proj`` maps ``embed_dim`` to it when they differ).
        encoder_ffn_embed_dim: hidden width of each feed-forward block.
        encoder_attention_heads: attention heads (must divide ``encoder_embed_dim``).
        activation_fn: ``"gelu"``, ``"gelu_accurate"`` or ``"relu"``.
        layer_norm_first: pre-LayerNorm layers (then a final ``encoder.layer_norm``); else post-LN.
        deep_norm: DeepNet residual scaling ``(2 * layers) ** 0.25`` in post-LN layers.
        dropout: dropout after attention and feed-forward blocks and on the encoder input.
        attention_dropout: dropout on attention probabilities.
        activation_dropout: dropout after the feed-forward activation.
        dropout_input: dropout on the projected patch features.
        layer_wise_gradient_decay_ratio: gradients are multiplied by this before every layer while
            fine-tuning (forward unchanged), so earlier layers learn more slowly.
        conv_pos: kernel of the convolutional positional embedding.
        conv_pos_groups: groups of that convolution.
        relative_position_embedding: add a bucketed relative position bias to attention.
        num_buckets: buckets of that bias (half per direction).
        max_distance: distance at which the logarithmic buckets end.
        gru_rel_pos: gate the relative bias with the query (gated relative position bias).
        finetuned_model: has a tagging head (``predictor``).
        predictor_dropout: dropout before the tagging head.
        predictor_class: classes of the tagging head.
        fbank_mean: mean subtracted from the filterbank.
        fbank_std: the filterbank is divided by ``2 * fbank_std``.
        tag_names: names of the tagging head's classes (empty when unknown).
    """

    input_patch_size: int = 16
    embed_dim: int = 512
    conv_bias: bool = False
    encoder_layers: int = 12
    encoder_embed_dim: int = 768
    encoder_ffn_embed_dim: int = 3072
    encoder_attention_heads: int = 12
    activation_fn: str = "gelu"
    layer_norm_first: bool = False
    deep_norm: bool = True
    dropout: float = 0.0
    attention_dropout: float = 0.0
    activation_dropout: float = 0.0
    dropout_input: float = 0.0
    layer_wise_gradient_decay_ratio: float = 0.6
    conv_pos: int = 128
    conv_pos_groups: int = 16
    relative_position_embedding: bool = True
    num_buckets: int = 320
    max_distance: int = 800
    gru_rel_pos: bool = True
    finetuned_model: bool = False
    predictor_dropout: float = 0.0
    predictor_class: int = 527
    fbank_mean: float = 15.41663
    fbank_std: float = 6.55582
    tag_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("input_patch_size", "embed_dim", "encoder_layers", "encoder_embed_dim",
                     "encoder_ffn_embed_dim", "encoder_attention_heads", "conv_pos", "conv_pos_groups",
                     "predictor_class"):
            if getattr(self, name) < 1:
                raise ValueError(f"BEATsConfig.{name} must be a positive integer, got {getattr(self, name)}")
        if self.encoder_embed_dim % self.encoder_attention_heads:
            raise ValueError(
                f"encoder_embed_dim ({self.encoder_embed_dim}) must be divisible by "
                f"encoder_attention_heads ({self.encoder_attention_heads})"
            )
        if self.encoder_embed_dim % self.conv_pos_groups:
            raise ValueError(
                f"encoder_embed_dim ({self.encoder_embed_dim}) must be divisible by conv_pos_groups "
                f"({self.conv_pos_groups})"
            )
        if self.deep_norm and self.layer_norm_first:
            raise ValueError("deep_norm applies to post-LayerNorm layers; it cannot be combined with layer_norm_first")
        if self.activation_fn not in _ACTIVATIONS:
            raise ValueError(f"activation_fn must be one of {sorted(_ACTIVATIONS)}, got {self.activation_fn!r}")
        if self.relative_position_embedding and not 2 <= self.num_buckets // 4 < self.max_distance:
            raise ValueError(
                f"relative position buckets need num_buckets >= 8 and max_distance > num_buckets / 4, got "
                f"num_buckets={self.num_buckets}, max_distance={self.max_distance}"
            )
        if self.fbank_std <= 0:
            raise ValueError(f"fbank_std must be positive, got {self.fbank_std}")
        if self.tag_names and len(self.tag_names) != self.predictor_class:
            raise ValueError(f"{len(self.tag_names)} tag_names for a head of predictor_class={self.predictor_class}")

    @classmethod
    def iter3_plus(cls, finetuned: bool = False) -> BEATsConfig:
        """The configuration of the official iter3+ checkpoints (fine-tuned: with the 527-class head)."""
        return cls(finetuned_model=finetuned)

    @classmethod
    def tiny(cls, **overrides: Any) -> BEATsConfig:
        """A small BEATs for CPU tests and notebook defaults: 2 layers, width 64, 2 heads."""
        small = {
            "embed_dim": 32,  # differs from the width, so post_extract_proj exists as in iter3+
            "encoder_layers": 2,
            "encoder_embed_dim": 64,
            "encoder_ffn_embed_dim": 128,
            "encoder_attention_heads": 2,
            "conv_pos": 16,
            "conv_pos_groups": 4,
            "num_buckets": 32,
            "max_distance": 64,
            "layer_wise_gradient_decay_ratio": 1.0,
        }
        return cls(**{**small, **overrides})

    @classmethod
    def from_official(cls, cfg: Mapping[str, Any], **overrides: Any) -> BEATsConfig:
        """The config of an official checkpoint's ``cfg`` dict.

        Fields absent from ``cfg`` take the official ``BEATsConfig`` class defaults (as the official
        loader does); entries this module does not model (``encoder_layerdrop``, anything newer)
        are ignored.

        Raises:
            CheckpointError: ``cfg`` is not a dict.
            ValueError: the values describe a network this module cannot build.
        """
        if not isinstance(cfg, Mapping):
            raise CheckpointError(f"a BEATs checkpoint's 'cfg' must be a dict, got {type(cfg).__name__}")
        known = {field.name: field for field in dataclasses.fields(cls)}
        values: dict[str, Any] = dict(_OFFICIAL_CLASS_DEFAULTS)
        for name, value in cfg.items():
            if name in _OFFICIAL_FIELDS:
                values[name] = _as_field_type(known[name], value)
        return cls(**{**values, **overrides})

    def to_official(self) -> dict[str, Any]:
        """The official ``cfg`` dict of this config (to save checkpoints the official code reads)."""
        return {name: getattr(self, name) for name in _OFFICIAL_FIELDS}


# The official BEATsConfig class defaults, for fields a checkpoint's cfg leaves out.
_OFFICIAL_CLASS_DEFAULTS: dict[str, Any] = {
    "input_patch_size": -1, "embed_dim": 512, "conv_bias": False, "encoder_layers": 12,
    "encoder_embed_dim": 768, "encoder_ffn_embed_dim": 3072, "encoder_attention_heads": 12,
    "activation_fn": "gelu", "layer_wise_gradient_decay_ratio": 1.0, "layer_norm_first": False,
    "deep_norm": False, "dropout": 0.1, "attention_dropout": 0.1, "activation_dropout": 0.0,
    "dropout_input": 0.0, "conv_pos": 128, "conv_pos_groups": 16, "relative_position_embedding": False,
    "num_buckets": 320, "max_distance": 1280, "gru_rel_pos": False, "finetuned_model": False,
    "predictor_dropout": 0.1, "predictor_class": 527,
}  # fmt: skip
_OFFICIAL_FIELDS = tuple(_OFFICIAL_CLASS_DEFAULTS)

ARCHITECTURE_FIELDS = (
    "input_patch_size", "embed_dim", "conv_bias", "encoder_layers", "encoder_embed_dim",
    "encoder_ffn_embed_dim", "encoder_attention_heads", "activation_fn", "layer_norm_first", "deep_norm",
    "conv_pos", "conv_pos_groups", "relative_position_embedding", "num_buckets", "max_distance",
    "gru_rel_pos", "finetuned_model", "predictor_class",
)  # fmt: skip
"""Config fields that change the network's parameters or its function (dropouts do neither)."""


def _as_field_type(field: dataclasses.Field, value: Any) -> Any:
    """A cfg value as the field's type: ints for float fields, 0/1 for bool ones (older cfgs use them)."""
    kind = {"int": int, "float": float, "bool": bool, "str": str}[str(field.type)]
    if kind is bool and value in (0, 1) and not isinstance(value, float):
        return bool(value)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
        return value
    raise ValueError(f"cfg[{field.name!r}] must be a {kind.__name__}, got {value!r}")


# --------------------------------------------------------------------------------------------------
# Building blocks


class _ScaleGradient(torch.autograd.Function):
    """Identity forward; multiplies the gradient by ``scale`` on the way back."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, scale: float) -> torch.Tensor:  # type: ignore[override]
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        return grad * ctx.scale, None


class WeightNormConv1d(nn.Module):
    """Grouped 1-D convolution with a weight-normalised kernel, ``weight = g * v / ||v||``.

    The norm is taken over the output and input channels for every kernel tap, which is what
    ``torch.nn.utils.weight_norm(conv, dim=2)`` does in the official code; the parameters carry that
    function's names (``weight_g (1, 1, kernel)``, ``weight_v (channels, channels / groups, kernel)``,
    ``bias``) so official checkpoints load as they are.

    Shape:
        x: ``(batch, channels, length)`` -> ``(batch, channels, length + 1 - kernel % 2)`` (padding ``kernel // 2``).
    """

    def __init__(self, channels: int, kernel_size: int, groups: int):
        super().__init__()
        self.padding = kernel_size // 2
        self.groups = groups
        # As the official initialisation: N(0, 4 / (kernel * channels)) before normalisation.
        std = math.sqrt(4.0 / (kernel_size * channels))
        direction = torch.randn(channels, channels // groups, kernel_size) * std
        self.weight_v = nn.Parameter(direction)
        self.weight_g = nn.Parameter(self._norm(direction.detach()))
        self.bias = nn.Parameter(torch.zeros(channels))

    @staticmethod
    def _norm(direction: torch.Tensor) -> torch.Tensor:
        return torch.linalg.vector_norm(direction, dim=(0, 1), keepdim=True)  # (1, 1, kernel)

    def effective_weight(self) -> torch.Tensor:
        return self.weight_v * (self.weight_g / self._norm(self.weight_v))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv1d(x, self.effective_weight(), self.bias, padding=self.padding, groups=self.groups)


class _DropLastStep(nn.Module):
    """Remove the extra step an even kernel with padding ``kernel // 2`` adds (official ``SamePad``)."""

    def __init__(self, kernel_size: int):
        super().__init__()
        self.remove = 1 if kernel_size % 2 == 0 else 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[..., : x.shape[-1] - self.remove]


def relative_position_bucket(relative_positions: torch.Tensor, num_buckets: int, max_distance: int) -> torch.Tensor:
    """T5-style bidirectional buckets of ``key - query`` offsets, as the official BEATs computes them.

    Half the buckets are for positive offsets. In each half, distances below a quarter of
    ``num_buckets`` get a bucket each; longer ones share logarithmically wider buckets up to
    ``max_distance``, beyond which they share the last one.

    Shape:
        relative_positions: any integer tensor -> bucket indices of the same shape in ``[0, num_buckets)``.
    """
    half = num_buckets // 2
    buckets = (relative_positions > 0).to(torch.long) * half
    distance = relative_positions.abs()
    max_exact = half // 2
    is_small = distance < max_exact
    # Clamped so that log never sees 0; the clamped values are the small ones, taken from `distance`.
    logarithmic = max_exact + (
        torch.log(distance.clamp(min=max_exact).float() / max_exact)
        / math.log(max_distance / max_exact)
        * (half - max_exact)
    ).to(torch.long)
    logarithmic = logarithmic.clamp(max=half - 1)
    return buckets + torch.where(is_small, distance, logarithmic)


class MultiheadSelfAttention(nn.Module):
    """Self-attention with BEATs' gated relative position bias (official ``MultiheadAttention``).

    ``softmax(q k^T / sqrt(head_dim) + gate(q) * bias)`` per head, where ``bias`` comes from a
    table of ``num_buckets`` learned values per head (:func:`relative_position_bucket`) and, with
    ``gru_rel_pos``, ``gate(q) = a * (b * grep_a - 1) + 2`` with ``a, b`` two sigmoids of a linear
    map of each query (the gated relative position bias of WavLM, which BEATs reuses).

    Args:
        embed_dim: width.
        num_heads: heads.
        dropout: dropout on attention probabilities.
        has_relative_attention_bias: own the bias table (layer 0; the encoder shares it with the others).
        num_buckets, max_distance: as :func:`relative_position_bucket`.
        gru_rel_pos: gate the bias with the query.

    Shape:
        x: ``(batch, tokens, embed_dim)``; position_bias ``(heads, tokens, tokens)``;
        key_padding_mask ``(batch, tokens)`` True where padding -> ``(batch, tokens, embed_dim)``.
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        has_relative_attention_bias: bool = False,
        num_buckets: int = 320,
        max_distance: int = 800,
        gru_rel_pos: bool = False,
    ):
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = embed_dim // num_heads
        self.dropout = dropout
        self.num_buckets = num_buckets
        self.max_distance = max_distance
        self.gru_rel_pos = gru_rel_pos
        if has_relative_attention_bias:
            self.relative_attention_bias = nn.Embedding(num_buckets, num_heads)
        self.k_proj = nn.Linear(embed_dim, embed_dim)
        self.v_proj = nn.Linear(embed_dim, embed_dim)
        self.q_proj = nn.Linear(embed_dim, embed_dim)
        self.out_proj = nn.Linear(embed_dim, embed_dim)
        if gru_rel_pos:
            self.grep_linear = nn.Linear(self.head_dim, 8)
            self.grep_a = nn.Parameter(torch.ones(1, num_heads, 1, 1))

    def position_bias(self, length: int) -> torch.Tensor:
        """The ungated relative position bias ``(heads, length, length)`` for ``length`` tokens."""
        positions = torch.arange(length, device=self.relative_attention_bias.weight.device)
        buckets = relative_position_bucket(positions[None, :] - positions[:, None], self.num_buckets, self.max_distance)
        return self.relative_attention_bias(buckets).permute(2, 0, 1)  # (H, query, key)

    def forward(
        self,
        x: torch.Tensor,
        position_bias: torch.Tensor | None = None,
        key_padding_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        batch, length, width = x.shape

        def heads(projected: torch.Tensor) -> torch.Tensor:
            return projected.view(batch, length, self.num_heads, self.head_dim).transpose(1, 2)  # (B, H, N, d)

        q, k, v = heads(self.q_proj(x)), heads(self.k_proj(x)), heads(self.v_proj(x))
        bias = None
        if position_bias is not None:
            bias = position_bias.unsqueeze(0)  # (1, H, N, N)
            if self.gru_rel_pos:
                # Two gates per query from the unscaled query: sums of 4 outputs each, then sigmoids.
                gates = torch.sigmoid(self.grep_linear(q).view(batch, self.num_heads, length, 2, 4).sum(-1))
                gate_a, gate_b = gates.chunk(2, dim=-1)  # (B, H, N, 1) each
                bias = (gate_a * (gate_b * self.grep_a - 1.0) + 2.0) * bias  # (B, H, N, N)
        if key_padding_mask is not None:
            padding = torch.zeros(batch, 1, 1, length, dtype=q.dtype, device=q.device)
            padding = padding.masked_fill(key_padding_mask[:, None, None, :], float("-inf"))  # (B, 1, 1, N)
            bias = padding if bias is None else bias + padding
        attended = F.scaled_dot_product_attention(
            q, k, v,
            attn_mask=None if bias is None else bias.to(q.dtype),
            dropout_p=self.dropout if self.training else 0.0,
        )  # (B, H, N, d)  # fmt: skip
        return self.out_proj(attended.transpose(1, 2).reshape(batch, length, width))


class TransformerLayer(nn.Module):
    """One encoder layer: self-attention and a feed-forward block, post- or pre-LayerNorm
    (official ``TransformerSentenceEncoderLayer``).

    Post-LN (iter3+): ``x = LN(alpha * x + attn(x)); x = LN(alpha * x + ffn(x))`` with DeepNet's
    ``alpha = (2 * layers) ** 0.25`` when ``deep_norm`` (else 1). Pre-LN: ``x = x + attn(LN(x));
    x = x + ffn(LN(x))``.

    Shape:
        x: ``(batch, tokens, dim)`` -> ``(batch, tokens, dim)``.
    """

    def __init__(self, config: BEATsConfig, has_relative_attention_bias: bool):
        super().__init__()
        width = config.encoder_embed_dim
        self.layer_norm_first = config.layer_norm_first
        self.residual_scale = (2.0 * config.encoder_layers) ** 0.25 if config.deep_norm else 1.0
        self.activation = _ACTIVATIONS[config.activation_fn]
        self.self_attn = MultiheadSelfAttention(
            width,
            config.encoder_attention_heads,
            dropout=config.attention_dropout,
            has_relative_attention_bias=has_relative_attention_bias,
            num_buckets=config.num_buckets,
            max_distance=config.max_distance,
            gru_rel_pos=config.gru_rel_pos,
        )
        self.dropout1 = nn.Dropout(config.dropout)
        self.dropout2 = nn.Dropout(config.activation_dropout)
        self.dropout3 = nn.Dropout(config.dropout)
        self.self_attn_layer_norm = nn.LayerNorm(width)
        self.fc1 = nn.Linear(width, config.encoder_ffn_embed_dim)
        self.fc2 = nn.Linear(config.encoder_ffn_embed_dim, width)
        self.final_layer_norm = nn.LayerNorm(width)

    def feed_forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout3(self.fc2(self.dropout2(self.activation(self.fc1(x)))))

    def forward(
        self,
        x: torch.Tensor,
        position_bias: torch.Tensor | None = None,
        key_padding_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if self.layer_norm_first:
            x = x + self.dropout1(self.self_attn(self.self_attn_layer_norm(x), position_bias, key_padding_mask))
            return x + self.feed_forward(self.final_layer_norm(x))
        attended = self.dropout1(self.self_attn(x, position_bias, key_padding_mask))
        x = self.self_attn_layer_norm(x * self.residual_scale + attended)
        return self.final_layer_norm(x * self.residual_scale + self.feed_forward(x))


class TransformerEncoder(nn.Module):
    """Convolutional positional embedding, then the layers (official ``TransformerEncoder``).

    The relative position table lives in layer 0 and is the same module in every layer, as in the
    official model (so a state_dict lists it once per layer, with equal values).

    Shape:
        x: ``(batch, tokens, dim)``; padding_mask ``(batch, tokens)`` True where padding -> ``(batch, tokens, dim)``.
    """

    def __init__(self, config: BEATsConfig):
        super().__init__()
        width = config.encoder_embed_dim
        self.layer_norm_first = config.layer_norm_first
        self.gradient_ratio = config.layer_wise_gradient_decay_ratio
        self.dropout = nn.Dropout(config.dropout)
        self.pos_conv = nn.Sequential(
            WeightNormConv1d(width, config.conv_pos, config.conv_pos_groups),
            _DropLastStep(config.conv_pos),
            nn.GELU(),
        )
        self.layers = nn.ModuleList(
            TransformerLayer(config, has_relative_attention_bias=config.relative_position_embedding and index == 0)
            for index in range(config.encoder_layers)
        )
        self.relative_position_embedding = config.relative_position_embedding
        if config.relative_position_embedding:
            for layer in self.layers[1:]:
                layer.self_attn.relative_attention_bias = self.layers[0].self_attn.relative_attention_bias
        self.layer_norm = nn.LayerNorm(width)
        self._initialise(config)

    def _initialise(self, config: BEATsConfig) -> None:
        """BERT initialisation (N(0, 0.02), zero biases), then DeepNet's scaled Xavier for deep_norm."""
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)
        if config.deep_norm:
            beta = (8.0 * config.encoder_layers) ** -0.25
            for layer in self.layers:
                attention = layer.self_attn
                for linear, gain in ((attention.k_proj, 1.0), (attention.v_proj, beta), (attention.q_proj, 1.0),
                                     (attention.out_proj, beta), (layer.fc1, beta), (layer.fc2, beta)):
                    nn.init.xavier_normal_(linear.weight, gain=gain)

    def forward(self, x: torch.Tensor, padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        if padding_mask is not None:
            # Padding must not leak into valid tokens through the positional convolution.
            x = x.masked_fill(padding_mask.unsqueeze(-1), 0.0)
        x = x + self.pos_conv(x.transpose(1, 2)).transpose(1, 2)
        if not self.layer_norm_first:
            x = self.layer_norm(x)
        x = self.dropout(x)
        position_bias = self.layers[0].self_attn.position_bias(x.shape[1]) if self.relative_position_embedding else None
        for layer in self.layers:
            if self.gradient_ratio != 1.0 and torch.is_grad_enabled():
                x = _ScaleGradient.apply(x, self.gradient_ratio)
            x = layer(x, position_bias, padding_mask)
        return self.layer_norm(x) if self.layer_norm_first else x


def _constant_normalizer(mean: float, std: float) -> Normalizer:
    """A Normalizer whose statistics stay out of the state_dict: they are constants of the published
    model, and the official state_dict (which has no such entries) must load strictly."""
    normalizer = Normalizer(mean, std)
    for name, buffer in list(normalizer.named_buffers()):
        normalizer.register_buffer(name, buffer, persistent=False)
    return normalizer


# --------------------------------------------------------------------------------------------------
# The model


class BEATs(Encoder):
    """BEATs over its own Kaldi filterbank front-end; waveforms at 16 kHz in, embeddings out.

    Args:
        config: the hyper-parameters (default: iter3+).

    Shape:
        waveform: ``(batch, samples)`` at 16 kHz, at least :attr:`min_samples` long.
        :meth:`forward`: ``(batch, encoder_embed_dim)``, the mean over tokens of the encoder output.
        :meth:`token_features`: ``(batch, N, encoder_embed_dim)`` with ``N = (frames // 16) * 8``.
        :meth:`tag_logits`: ``(batch, predictor_class)``.
        padding_mask (optional everywhere): ``(batch, samples)`` bool, True at padded samples.
    """

    sample_rate = SAMPLE_RATE
    spectrogram_time_first = True  # the official filterbank is (frames, bins): time is the image height

    def __init__(self, config: BEATsConfig | None = None):
        super().__init__()
        self.config = config = config or BEATsConfig()
        self.embedding_dim = config.encoder_embed_dim
        self.tag_names = config.tag_names
        self.fbank = KaldiFbank(
            sample_rate=SAMPLE_RATE,
            n_mels=N_MELS,
            frame_length_ms=FRAME_LENGTH_MS,
            frame_shift_ms=FRAME_SHIFT_MS,
            window_type="povey",
            dither=0.0,
            htk_compat=False,
            waveform_scale=WAVEFORM_SCALE,
            remove_dc=False,
        )
        self.normalizer = _constant_normalizer(config.fbank_mean, 2.0 * config.fbank_std)
        patch = config.input_patch_size
        self.patch_embedding = nn.Conv2d(1, config.embed_dim, kernel_size=patch, stride=patch, bias=config.conv_bias)
        self.layer_norm = nn.LayerNorm(config.embed_dim)
        self.post_extract_proj = (
            nn.Linear(config.embed_dim, config.encoder_embed_dim)
            if config.embed_dim != config.encoder_embed_dim
            else None
        )
        self.dropout_input = nn.Dropout(config.dropout_input)
        self.encoder = TransformerEncoder(config)
        if config.finetuned_model:
            self.predictor_dropout = nn.Dropout(config.predictor_dropout)
            self.predictor = nn.Linear(config.encoder_embed_dim, config.predictor_class)
        else:
            self.predictor = None

    @property
    def min_samples(self) -> int:
        """Shortest clip with one patch: ``input_patch_size`` filterbank frames."""
        shift = int(SAMPLE_RATE * FRAME_SHIFT_MS * 0.001)
        return self.fbank.min_samples + (self.config.input_patch_size - 1) * shift

    def layer_modules(self) -> dict[str, nn.Module]:
        return {f"layer{index + 1}": layer for index, layer in enumerate(self.encoder.layers)}

    def fbank_features(self, waveform: torch.Tensor) -> torch.Tensor:
        """The normalised filterbank ``(batch, frames, 128)``, time first (official ``preprocess``).

        Raises:
            AudioError: a waveform of another shape, or shorter than :attr:`min_samples`.
        """
        waveform = self.check_waveform(waveform)
        if waveform.shape[-1] < self.min_samples:
            raise AudioError(
                f"BEATs needs at least {self.min_samples} samples ({self.min_samples / SAMPLE_RATE:.3f} s at "
                f"{SAMPLE_RATE} Hz) per clip for one {self.config.input_patch_size}-frame patch, got "
                f"{waveform.shape[-1]}; pad the clip"
            )
        return self.normalizer(self.fbank(waveform)).transpose(1, 2)  # (B, frames, 128)

    def token_padding_mask(self, padding_mask: torch.Tensor, n_frames: int) -> torch.Tensor:
        """Sample mask ``(batch, samples)`` -> token mask ``(batch, N)``: a token is padding when any
        sample under it is, so only tokens made entirely of real audio count."""
        window, shift = self.fbank.min_samples, int(SAMPLE_RATE * FRAME_SHIFT_MS * 0.001)
        frames = padding_mask.unfold(1, window, shift).any(dim=-1)[:, :n_frames]  # (B, frames)
        patch = self.config.input_patch_size
        n_time = n_frames // patch
        time_patches = frames[:, : n_time * patch].reshape(-1, n_time, patch).any(dim=-1)  # (B, T')
        return time_patches.repeat_interleave(N_MELS // patch, dim=1)  # (B, T' * F'), time-major like the tokens

    def encode_fbank(self, fbank: torch.Tensor, padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Token features from a normalised filterbank (e.g. after SpecAugment).

        Args:
            fbank: ``(batch, frames, 128)`` from :meth:`fbank_features`.
            padding_mask: token mask ``(batch, N)`` (True = padding) from :meth:`token_padding_mask`.

        Returns:
            ``(batch, N, encoder_embed_dim)``.
        """
        patches = self.patch_embedding(fbank.unsqueeze(1))  # (B, C, T', F')
        tokens = self.layer_norm(patches.flatten(2).transpose(1, 2))  # (B, T' * F', C), time-major
        if self.post_extract_proj is not None:
            tokens = self.post_extract_proj(tokens)
        return self.encoder(self.dropout_input(tokens), padding_mask)

    def token_features(
        self, waveform: torch.Tensor, padding_mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Token features ``(batch, N, dim)`` and their padding mask ``(batch, N)`` (None without one).

        Raises:
            AudioError: bad waveform, too short, a mask of another shape, or a clip with no token
                made entirely of real audio.
        """
        waveform = self.check_waveform(waveform)
        if padding_mask is not None:
            if padding_mask.ndim == 1:
                padding_mask = padding_mask.unsqueeze(0)
            if padding_mask.shape != waveform.shape or padding_mask.dtype != torch.bool:
                raise AudioError(
                    f"padding_mask must be a bool tensor of the waveform's shape {tuple(waveform.shape)} "
                    f"(True at padded samples), got {padding_mask.dtype} {tuple(padding_mask.shape)}"
                )
        fbank = self.fbank_features(waveform)
        token_mask = None
        if padding_mask is not None:
            token_mask = self.token_padding_mask(padding_mask.to(fbank.device), fbank.shape[1])
            empty = token_mask.all(dim=1).nonzero().flatten().tolist()
            if empty:
                raise AudioError(
                    f"clips {empty} have fewer than {self.min_samples} unpadded samples, so no BEATs patch "
                    f"is made of real audio only"
                )
        return self.encode_fbank(fbank, token_mask), token_mask

    @staticmethod
    def _mean_over_tokens(values: torch.Tensor, token_mask: torch.Tensor | None) -> torch.Tensor:
        if token_mask is None:
            return values.mean(dim=1)
        keep = (~token_mask).unsqueeze(-1).to(values.dtype)  # (B, N, 1)
        return (values * keep).sum(dim=1) / keep.sum(dim=1)

    def forward(self, waveform: torch.Tensor, padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        tokens, token_mask = self.token_features(waveform, padding_mask)
        return self._mean_over_tokens(tokens, token_mask)  # (B, D)

    def spectrogram(self, waveform: torch.Tensor) -> torch.Tensor:
        """The :class:`Encoder` spectrogram path: :meth:`fbank_features`, ``(batch, frames, 128)``."""
        return self.fbank_features(waveform)

    def forward_spectrogram(self, spectrogram: torch.Tensor) -> torch.Tensor:
        """The :class:`Encoder` spectrogram path: the mean over tokens of :meth:`encode_fbank` (no padding)."""
        return self._mean_over_tokens(self.encode_fbank(spectrogram), None)

    def tag_logits(self, waveform: torch.Tensor, padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Logits of the fine-tuned tagging head, averaged over tokens (sigmoid gives probabilities).

        Raises:
            ValueError: the model has no tagging head (``finetuned_model=False``).
        """
        if self.predictor is None:
            raise ValueError(
                "this BEATs has no tagging head (finetuned_model=False); load a fine-tuned checkpoint, "
                "e.g. load_pretrained('beats-iter3-plus-as2m-cpt2')"
            )
        tokens, token_mask = self.token_features(waveform, padding_mask)
        logits = self.predictor(self.predictor_dropout(tokens))  # (B, N, classes)
        return self._mean_over_tokens(logits, token_mask)


# --------------------------------------------------------------------------------------------------
# Official checkpoints


def _official_parts(checkpoint: Any, source: str) -> tuple[Mapping[str, Any], Mapping[str, torch.Tensor]]:
    if not (isinstance(checkpoint, Mapping) and isinstance(checkpoint.get("cfg"), Mapping)
            and isinstance(checkpoint.get("model"), Mapping)):  # fmt: skip
        found = sorted(map(str, checkpoint)) if isinstance(checkpoint, Mapping) else type(checkpoint).__name__
        raise CheckpointError(
            f"{source} is not an official BEATs checkpoint (a dict with 'cfg' (dict) and 'model' "
            f"(state_dict)); found {found}"
        )
    return checkpoint["cfg"], checkpoint["model"]


def _check_shared_position_table(state: Mapping[str, torch.Tensor], source: str) -> None:
    """The official model shares one relative position table across layers; its copies must agree."""
    key = "encoder.layers.{}.self_attn.relative_attention_bias.weight"
    first = state.get(key.format(0))
    if not isinstance(first, torch.Tensor):
        return
    index = 1
    while isinstance(copy := state.get(key.format(index)), torch.Tensor):
        if copy.shape != first.shape or not torch.equal(copy, first):
            raise CheckpointError(
                f"in {source}, {key.format(index)} differs from layer 0's; BEATs shares one relative "
                f"position table across layers, so this is not an official BEATs state_dict"
            )
        index += 1


def official_checkpoint_converter(expected: BEATsConfig) -> Callable[[Any], dict[str, torch.Tensor]]:
    """A registry ``convert`` for official BEATs files whose model is built from ``expected``.

    The returned function checks that the file's ``cfg`` agrees with ``expected`` on every field of
    :data:`ARCHITECTURE_FIELDS` (``predictor_class`` only for fine-tuned models) and returns its
    ``"model"`` state_dict unchanged.

    Raises (from the returned function):
        CheckpointError: not ``{"cfg", "model"}``; a ``cfg`` field that differs (named, with both
            values); relative position table copies that differ between layers.
    """

    def convert(checkpoint: Any) -> dict[str, torch.Tensor]:
        cfg, state = _official_parts(checkpoint, "the checkpoint")
        found = BEATsConfig.from_official(cfg)
        # Without a tagging head the number of classes describes nothing.
        compared = [name for name in ARCHITECTURE_FIELDS if expected.finetuned_model or name != "predictor_class"]
        for name in compared:
            if getattr(found, name) != getattr(expected, name):
                raise CheckpointError(
                    f"the checkpoint's cfg has {name}={getattr(found, name)!r} where this model has "
                    f"{getattr(expected, name)!r}: it is another BEATs variant; load it with "
                    f"workbench.models.beats.load_official_checkpoint(path)"
                )
        _check_shared_position_table(state, "the checkpoint")
        return dict(state)

    return convert


def _tag_names(label_dict: Any, config: BEATsConfig, source: str) -> tuple[str, ...]:
    """``label_dict`` (index -> AudioSet MID) as names in logit order."""
    if not isinstance(label_dict, Mapping) or set(label_dict) != set(range(config.predictor_class)):
        raise CheckpointError(
            f"{source}: 'label_dict' must map each index 0..{config.predictor_class - 1} of the tagging head "
            f"to a label"
        )
    return tuple(str(label_dict[index]) for index in range(config.predictor_class))


def load_official_checkpoint(path: str | os.PathLike, **overrides: Any) -> BEATs:
    """Any official BEATs checkpoint file, its config taken from the file's own ``cfg``.

    Args:
        path: an official ``.pt`` file (``{"cfg", "model"}``, plus ``"label_dict"`` when fine-tuned).
        overrides: config fields to change (e.g. ``dropout=0.1`` for fine-tuning).

    Returns:
        The model in eval mode; fine-tuned files set :attr:`BEATs.tag_names` to the AudioSet MIDs
        of their ``label_dict``.

    Raises:
        MissingFileError: no such file.
        CheckpointError: unreadable, not the official layout, a ``cfg`` this module cannot build,
            or a state_dict that does not fit it.
    """
    checkpoint = read_checkpoint(path)
    source = str(path)
    cfg, state = _official_parts(checkpoint, source)
    try:
        config = BEATsConfig.from_official(cfg, **overrides)
    except CheckpointError:
        raise
    except (ValueError, TypeError) as error:
        raise CheckpointError(f"{source}: its cfg does not describe a BEATs this module builds ({error})") from error
    if config.finetuned_model and "label_dict" in checkpoint and "tag_names" not in overrides:
        config = dataclasses.replace(config, tag_names=_tag_names(checkpoint["label_dict"], config, source))
    _check_shared_position_table(state, source)
    model = BEATs(config)
    load_state_dict_strict(model, state, source=source)
    return model.eval()


_README = "https://github.com/microsoft/unilm/tree/master/beats"
_FRONTEND = "Kaldi fbank 128 bins, 25/10 ms, 16 kHz, waveform * 2**15, (fbank - 15.41663) / (2 * 6.55582)"


def _register(name: str, description: str, url: str, filename: str, config: BEATsConfig) -> None:
    register_pretrained(
        PretrainedSpec(
            name=name,
            description=description,
            # register_pretrained fills in the sha256 and size from registry.PUBLISHED_CHECKSUMS.
            remote=RemoteFile(url=url, sha256=None, filename=filename),
            build=lambda: BEATs(config),
            convert=official_checkpoint_converter(config),
            frontend=_FRONTEND,
            licence=f"MIT (microsoft/unilm, {_README})",
        )
    )


_register(
    "beats-iter3-plus",
    "BEATs iter3+ (Chen et al., ICML 2023), self-supervised on AudioSet-2M; 12 layers, 768-d",
    "https://1drv.ms/u/s!AqeByhGUtINrgcpke6_lRSZEKD5j2Q?e=A3FpOf",
    "BEATs_iter3_plus_AS2M.pt",
    BEATsConfig.iter3_plus(),
)
_register(
    "beats-iter3-plus-as2m-cpt2",
    "BEATs iter3+ (Chen et al., ICML 2023) fine-tuned on AudioSet-2M (cpt2), 527-class tagging head",
    "https://1drv.ms/u/s!AqeByhGUtINrgcpj8ujXH1YUtxooEg?e=E9Ncea",
    "BEATs_iter3_plus_AS2M_finetuned_on_AS2M_cpt2.pt",
    BEATsConfig.iter3_plus(finetuned=True),
)
