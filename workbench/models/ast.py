"""AST: the Audio Spectrogram Transformer, a ViT over overlapping patches of a Kaldi fbank.

Gong, Chung, Glass, "AST: Audio Spectrogram Transformer", Interspeech 2021; official code
github.com/YuanGongND/ast. The paper configuration is a DeiT-Base (distilled) transformer: 768
wide, 12 blocks of 12 heads, 16x16 patches taken every 10 bins and 10 frames of a 128-bin Kaldi
fbank of 1024 frames (10.24 s at 16 kHz), a [CLS] and a distillation token, and
``mlp_head = LayerNorm + Linear`` on the mean of those two tokens after the final norm.

Checkpoints it loads (registered at import):

- ``"ast-audioset"``: the official ``audioset_10_10_0.4593.pth`` (AudioSet, 0.459 mAP). Its keys
  are ``module.v.*`` (the timm ViT) and ``module.mlp_head.{0,1}.*``; our modules carry the same
  names without the ``module.v.`` / ``module.`` prefixes, so :func:`convert_official_state_dict`
  only strips them (and drops the unused ImageNet heads ``head``/``head_dist``).
- ``"ast-audioset-hf"``: the same weights as Hugging Face ``MIT/ast-finetuned-audioset-10-10-0.4593``
  (``audio_spectrogram_transformer.*``, separate query/key/value), mapped by
  :func:`convert_huggingface_state_dict`.

Other input lengths (e.g. 5 s ESC-50 clips, 512 frames) use the AudioSet weights after
:meth:`AudioSpectrogramTransformer.set_input_frames`, which crops or interpolates the positional
embedding's patch grid as the official code does (:func:`resize_position_embedding`).

The ``tiny`` configuration (64 wide, 2 blocks of 2 heads, 1 s input) trains in seconds on a CPU
core; the notebook defaults and the tests use it.

This module is one network's architecture (AST) kept in one file on purpose, as nanoGPT's ``model.py``
is, so that it reads top to bottom against the paper and the official code.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from workbench.audio.frontends import KaldiFbank
from workbench.data.download import RemoteFile
from workbench.errors import MissingFileError
from workbench.models.base import Encoder, numbered_tag_names
from workbench.models.registry import PretrainedSpec, StateDict, register_pretrained
from workbench.typing import SampleRate

AUDIOSET_MEAN = -4.2677393
AUDIOSET_STD = 4.5689974
"""AudioSet fbank statistics of the official recipe; the input is ``(fbank - mean) / (2 * std)``."""

AUDIOSET_CLASSES = 527


@dataclass(frozen=True)
class ASTConfig:
    """Architecture and front-end of an AST; the defaults are the paper's AudioSet model.

    Args:
        sample_rate: rate of the input waveforms (the fbank is computed at this rate).
        n_mels: fbank bins (the spectrogram's height).
        target_frames: fbank frames every clip is padded or cropped to (1024 = 10.24 s).
        patch_size: side of the square patches.
        frequency_stride, time_stride: patch hop along bins and frames (10: 6 bins of overlap).
        width: token dimension (and embedding dimension).
        depth: transformer blocks.
        heads: attention heads per block (``width`` must be a multiple).
        mlp_ratio: hidden width of each block's MLP, relative to ``width``.
        num_classes: outputs of ``mlp_head`` (527 AudioSet classes).
        norm_mean, norm_std: fbank statistics; the input is ``(fbank - mean) / (2 * std)``.
    """

    sample_rate: SampleRate = 16000
    n_mels: int = 128
    target_frames: int = 1024
    patch_size: int = 16
    frequency_stride: int = 10
    time_stride: int = 10
    width: int = 768
    depth: int = 12
    heads: int = 12
    mlp_ratio: float = 4.0
    num_classes: int = AUDIOSET_CLASSES
    norm_mean: float = AUDIOSET_MEAN
    norm_std: float = AUDIOSET_STD

    def __post_init__(self) -> None:
        for name in ("sample_rate", "n_mels", "target_frames", "patch_size", "frequency_stride", "time_stride",
                     "width", "depth", "heads", "num_classes"):  # fmt: skip
            if getattr(self, name) < 1:
                raise ValueError(f"ASTConfig.{name} must be a positive integer, got {getattr(self, name)!r}")
        if self.width % self.heads:
            raise ValueError(f"ASTConfig.width ({self.width}) must be a multiple of heads ({self.heads})")
        if min(self.n_mels, self.target_frames) < self.patch_size:
            raise ValueError(
                f"ASTConfig: n_mels ({self.n_mels}) and target_frames ({self.target_frames}) must be at least "
                f"patch_size ({self.patch_size})"
            )
        if not self.norm_std > 0:
            raise ValueError(f"ASTConfig.norm_std must be positive, got {self.norm_std!r}")

    @classmethod
    def tiny(cls, **overrides: Any) -> ASTConfig:
        """64 wide, 2 blocks of 2 heads, 1 s clips (100 frames): for CPU tests and notebook defaults."""
        return cls(**{"width": 64, "depth": 2, "heads": 2, "target_frames": 100, **overrides})

    @property
    def patch_grid(self) -> tuple[int, int]:
        """``(frequency patches, time patches)``: (12, 101) for the paper configuration."""
        return (
            (self.n_mels - self.patch_size) // self.frequency_stride + 1,
            (self.target_frames - self.patch_size) // self.time_stride + 1,
        )

    @property
    def num_tokens(self) -> int:
        """Tokens per clip: the patches plus [CLS] and the distillation token."""
        frequency_patches, time_patches = self.patch_grid
        return frequency_patches * time_patches + 2


class PatchEmbed(nn.Module):
    """Overlapping 16x16 patches of the spectrogram, each projected to a token (one strided conv).

    Shape:
        fbank ``(batch, n_mels, frames)`` -> tokens ``(batch, frequency_patches * time_patches, width)``,
        frequency-major (the order of the positional embedding's ``(F, T)`` grid).
    """

    def __init__(self, config: ASTConfig):
        super().__init__()
        self.proj = nn.Conv2d(
            1, config.width, kernel_size=config.patch_size, stride=(config.frequency_stride, config.time_stride)
        )

    def forward(self, fbank: torch.Tensor) -> torch.Tensor:
        return self.proj(fbank.unsqueeze(1)).flatten(2).transpose(1, 2)  # (B, F*T, width)


class Attention(nn.Module):
    """Multi-head self-attention with one fused ``qkv`` projection (rows: all queries, keys, values)."""

    def __init__(self, width: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        batch, length, width = tokens.shape
        qkv = self.qkv(tokens).reshape(batch, length, 3, self.heads, width // self.heads)
        query, key, value = qkv.permute(2, 0, 3, 1, 4)  # each (B, heads, N, head_dim)
        attended = F.scaled_dot_product_attention(query, key, value)  # softmax(q k^T / sqrt(head_dim)) v
        return self.proj(attended.transpose(1, 2).reshape(batch, length, width))


class MLP(nn.Module):
    """Two linear layers with an exact (erf) GELU between them, applied to every token."""

    def __init__(self, width: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(width, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, width)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(tokens)))


class Block(nn.Module):
    """Pre-norm transformer block (timm's ViT ``Block``): attention and MLP, each residual."""

    def __init__(self, config: ASTConfig):
        super().__init__()
        # timm's ViT LayerNorms use eps=1e-6, as the official weights were trained (Hugging Face's port uses 1e-12).
        self.norm1 = nn.LayerNorm(config.width, eps=1e-6)
        self.attn = Attention(config.width, config.heads)
        self.norm2 = nn.LayerNorm(config.width, eps=1e-6)
        self.mlp = MLP(config.width, int(config.width * config.mlp_ratio))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        tokens = tokens + self.attn(self.norm1(tokens))
        return tokens + self.mlp(self.norm2(tokens))


def _head(width: int, num_classes: int) -> nn.Sequential:
    # The official head's LayerNorm has PyTorch's default eps (1e-5), unlike the trunk's.
    return nn.Sequential(nn.LayerNorm(width), nn.Linear(width, num_classes))


def resize_position_embedding(
    position_embedding: torch.Tensor, source_grid: tuple[int, int], target_grid: tuple[int, int]
) -> torch.Tensor:
    """Adapt a positional embedding to another patch grid, as the official AST code does.

    The two leading tokens ([CLS], distillation) are kept. The patch part is seen as a
    ``(width, F, T)`` image and changed along time first, then frequency: an axis that shrinks
    is cropped around its middle (from ``S // 2 - s // 2``), one that grows is bilinearly
    interpolated (``align_corners=False``). For the AudioSet checkpoint, fewer frames than 1024
    crop the middle of its 101 time positions and more frames stretch them.

    Shape:
        position_embedding: ``(1, 2 + F * T, width)`` -> ``(1, 2 + F' * T', width)``.

    Raises:
        ValueError: the embedding does not hold ``2 + F * T`` tokens.
    """
    (source_frequency, source_time), (target_frequency, target_time) = source_grid, target_grid
    if position_embedding.ndim != 3 or position_embedding.shape[1] != 2 + source_frequency * source_time:
        raise ValueError(
            f"expected a positional embedding (1, {2 + source_frequency * source_time}, width) for a "
            f"{source_frequency}x{source_time} patch grid, got {tuple(position_embedding.shape)}"
        )
    width = position_embedding.shape[2]
    special, patches = position_embedding[:, :2], position_embedding[:, 2:]
    grid = patches.transpose(1, 2).reshape(1, width, source_frequency, source_time)  # (1, width, F, T)
    if target_time <= source_time:
        start = source_time // 2 - target_time // 2
        grid = grid[:, :, :, start : start + target_time]
    else:
        grid = F.interpolate(grid, size=(source_frequency, target_time), mode="bilinear", align_corners=False)
    if target_frequency <= source_frequency:
        start = source_frequency // 2 - target_frequency // 2
        grid = grid[:, :, start : start + target_frequency, :]
    else:
        grid = F.interpolate(grid, size=(target_frequency, target_time), mode="bilinear", align_corners=False)
    patches = grid.reshape(1, width, target_frequency * target_time).transpose(1, 2)
    return torch.cat([special, patches], dim=1)


def default_tag_names(num_classes: int) -> list[str]:
    """AudioSet display names for a 527-way head (numbered if the packaged list is missing); numbers otherwise."""
    if num_classes == AUDIOSET_CLASSES:
        from workbench.data.audioset import audioset_labels

        try:
            return audioset_labels()
        except MissingFileError:
            return list(numbered_tag_names(num_classes))
    return list(numbered_tag_names(num_classes))


class AudioSpectrogramTransformer(Encoder):
    """AST over its own Kaldi fbank front-end; embedding = mean of [CLS] and distillation tokens.

    The embedding is the mean of the two special tokens after the final LayerNorm (``norm``), the
    input of ``mlp_head`` in the official model; ``tag_logits`` applies ``mlp_head`` to it. Layers
    ``"block1"`` .. ``"blockN"`` are each block's output tokens ``(batch, tokens, width)``, the two
    special tokens first, then the patches frequency-major; the final norm is not applied to them.

    Args:
        config: architecture and front-end (default: the paper's AudioSet model).

    Shape:
        waveform: ``(batch, samples)`` at 16 kHz; every clip is padded or cropped to
        ``config.target_frames`` fbank frames. Embedding: ``(batch, width)``; ``tag_logits``:
        ``(batch, num_classes)``.
    """

    def __init__(self, config: ASTConfig | None = None):
        super().__init__()
        self.config = config = config or ASTConfig()
        self.sample_rate = config.sample_rate
        self.embedding_dim = config.width
        self.frontend = KaldiFbank(
            sample_rate=config.sample_rate,
            n_mels=config.n_mels,
            frame_length_ms=25.0,
            frame_shift_ms=10.0,
            window_type="hanning",
            dither=0.0,
            htk_compat=True,
            target_frames=config.target_frames,
            remove_dc=True,
        )
        self.patch_embed = PatchEmbed(config)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, config.width))
        self.dist_token = nn.Parameter(torch.zeros(1, 1, config.width))
        self.pos_embed = nn.Parameter(torch.zeros(1, config.num_tokens, config.width))
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.depth))
        self.norm = nn.LayerNorm(config.width, eps=1e-6)
        self.mlp_head = _head(config.width, config.num_classes)
        self.tag_names = default_tag_names(config.num_classes)
        self.apply(_initialise)
        for parameter in (self.cls_token, self.dist_token, self.pos_embed):
            nn.init.trunc_normal_(parameter, std=0.02)

    def layer_modules(self) -> dict[str, nn.Module]:
        return {f"block{index + 1}": block for index, block in enumerate(self.blocks)}

    @property
    def fusion_layers(self) -> list[str]:
        """The blocks Niizumi et al. evaluate (EUSIPCO 2022, Sec. IV-A3: layers 2 to 12 of AST, each as
        its 768-d [CLS] token): block 2 to the last one; every block of a model with fewer than three, so
        that a tiny model still has a middle and a late layer to fuse."""
        names = list(self.layer_modules())
        return names[1:] if len(names) > 2 else names

    def fbank(self, waveform: torch.Tensor) -> torch.Tensor:
        """``(batch, samples)`` -> normalised fbank ``(batch, n_mels, target_frames)``.

        The statistics are constants of the config, not buffers: the official checkpoints do not
        hold them, and they must load strictly.
        """
        return (self.frontend(waveform) - self.config.norm_mean) / (2 * self.config.norm_std)

    def tokens_from_fbank(self, fbank: torch.Tensor) -> torch.Tensor:
        """Normalised (possibly augmented) fbank ``(B, n_mels, target_frames)`` -> tokens ``(B, N, width)``
        after the final norm."""
        expected = (self.config.n_mels, self.config.target_frames)
        if fbank.ndim != 3 or tuple(fbank.shape[1:]) != expected:
            raise ValueError(
                f"AudioSpectrogramTransformer expects an fbank (batch, {expected[0]}, {expected[1]}), got "
                f"{tuple(fbank.shape)}; for another number of frames call set_input_frames(frames) first"
            )
        patches = self.patch_embed(fbank)  # (B, F*T, width)
        special = torch.cat([self.cls_token, self.dist_token], dim=1).expand(len(fbank), -1, -1)  # (B, 2, width)
        tokens = torch.cat([special, patches], dim=1) + self.pos_embed  # (B, N, width)
        for block in self.blocks:
            tokens = block(tokens)
        return self.norm(tokens)

    def forward_fbank(self, fbank: torch.Tensor) -> torch.Tensor:
        """Embed an already computed fbank ``(B, n_mels, target_frames)`` -> ``(B, width)``."""
        tokens = self.tokens_from_fbank(fbank)
        return (tokens[:, 0] + tokens[:, 1]) / 2

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        return self.forward_fbank(self.fbank(waveform))

    def spectrogram(self, waveform: torch.Tensor) -> torch.Tensor:
        """The :class:`Encoder` spectrogram path: :meth:`fbank`, ``(batch, n_mels, target_frames)``."""
        return self.fbank(waveform)

    def forward_spectrogram(self, spectrogram: torch.Tensor) -> torch.Tensor:
        """The :class:`Encoder` spectrogram path: :meth:`forward_fbank`."""
        return self.forward_fbank(spectrogram)

    def logits_from_fbank(self, fbank: torch.Tensor) -> torch.Tensor:
        """``mlp_head`` on the embedding of an fbank: ``(B, n_mels, target_frames)`` -> ``(B, num_classes)``."""
        return self.mlp_head(self.forward_fbank(fbank))

    def tag_logits(self, waveform: torch.Tensor) -> torch.Tensor:
        """Waveforms ``(batch, samples)`` -> ``mlp_head`` logits ``(batch, num_classes)`` (sigmoid for AudioSet)."""
        return self.mlp_head(self.embed(waveform))

    @torch.no_grad()
    def set_input_frames(self, frames: int) -> AudioSpectrogramTransformer:
        """Take clips of ``frames`` fbank frames from now on, adapting the positional embedding in place.

        The embedding is cropped or interpolated as in the official code
        (:func:`resize_position_embedding`), so AudioSet weights fine-tune on shorter clips
        (ESC-50: 512 frames) or longer ones. Returns the model itself.
        """
        new_config = dataclasses.replace(self.config, target_frames=frames)  # validates frames
        resized = resize_position_embedding(self.pos_embed.data, self.config.patch_grid, new_config.patch_grid)
        self.pos_embed = nn.Parameter(resized.contiguous(), requires_grad=self.pos_embed.requires_grad)
        self.frontend.target_frames = frames
        self.config = new_config
        return self

    def reset_head(self, num_classes: int, tag_names: list[str] | None = None) -> AudioSpectrogramTransformer:
        """Replace ``mlp_head`` by a freshly initialised one with ``num_classes`` outputs (for fine-tuning)."""
        if tag_names is not None and len(tag_names) != num_classes:
            raise ValueError(f"reset_head: {len(tag_names)} tag names for {num_classes} classes")
        self.config = dataclasses.replace(self.config, num_classes=num_classes)
        self.mlp_head = _head(self.config.width, num_classes).to(self.pos_embed.device, self.pos_embed.dtype)
        self.mlp_head.apply(_initialise)
        self.tag_names = list(tag_names) if tag_names is not None else default_tag_names(num_classes)
        return self


def _initialise(module: nn.Module) -> None:
    """timm's ViT initialisation: truncated normal (std 0.02) weights, zero biases, unit LayerNorms."""
    if isinstance(module, (nn.Linear, nn.Conv2d)):
        nn.init.trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


# --------------------------------------------------------------------------------------------------
# Checkpoint conversion

_OFFICIAL_UNUSED = ("module.v.head.", "module.v.head_dist.")
"""The timm DeiT's ImageNet classifiers, saved in the official checkpoints but never used by AST."""


def convert_official_state_dict(checkpoint: Mapping[str, torch.Tensor]) -> StateDict:
    """Official AST checkpoint (``module.v.*``, ``module.mlp_head.*``) -> our names.

    Strips the ``module.v.`` and ``module.`` prefixes and drops ``module.v.head.*`` /
    ``module.v.head_dist.*``. A ``{"state_dict": ...}`` or ``{"model": ...}`` wrapper is unwrapped.

    Raises:
        TypeError: the checkpoint is not a mapping of tensor names.
    """
    if isinstance(checkpoint, Mapping):
        for wrapper in ("state_dict", "model"):
            if isinstance(checkpoint.get(wrapper), Mapping):
                checkpoint = checkpoint[wrapper]
    if not isinstance(checkpoint, Mapping):
        raise TypeError(f"expected a state_dict (a mapping of tensor names), got a {type(checkpoint).__name__}")
    state = {}
    for key, value in checkpoint.items():
        if key.startswith(_OFFICIAL_UNUSED):
            continue
        for prefix in ("module.v.", "module."):
            if key.startswith(prefix):
                key = key[len(prefix) :]
                break
        state[key] = value
    return state


_HF_BASE = "audio_spectrogram_transformer."
_HF_LAYER = re.compile(r"audio_spectrogram_transformer\.encoder\.layer\.(\d+)\.(.+)")
_HF_RENAMES = {
    "embeddings.cls_token": "cls_token",
    "embeddings.distillation_token": "dist_token",
    "embeddings.position_embeddings": "pos_embed",
    "embeddings.patch_embeddings.projection.weight": "patch_embed.proj.weight",
    "embeddings.patch_embeddings.projection.bias": "patch_embed.proj.bias",
    "layernorm.weight": "norm.weight",
    "layernorm.bias": "norm.bias",
}
_HF_HEAD_RENAMES = {
    "classifier.layernorm.weight": "mlp_head.0.weight",
    "classifier.layernorm.bias": "mlp_head.0.bias",
    "classifier.dense.weight": "mlp_head.1.weight",
    "classifier.dense.bias": "mlp_head.1.bias",
}
_HF_BLOCK_RENAMES = {
    "layernorm_before": "norm1",
    "attention.output.dense": "attn.proj",
    "layernorm_after": "norm2",
    "intermediate.dense": "mlp.fc1",
    "output.dense": "mlp.fc2",
}
_HF_QKV = ("attention.attention.query", "attention.attention.key", "attention.attention.value")


def convert_huggingface_state_dict(checkpoint: Mapping[str, torch.Tensor]) -> StateDict:
    """Hugging Face ``ASTForAudioClassification`` state_dict -> our names.

    ``audio_spectrogram_transformer.embeddings.*`` become the tokens, positional and patch
    embeddings; ``encoder.layer.N.attention.attention.{query,key,value}`` are concatenated (in
    that order, as timm's fused ``qkv`` rows) into ``blocks.N.attn.qkv``; ``classifier.*`` becomes
    ``mlp_head.{0,1}``.

    Raises:
        KeyError: a key with no counterpart, or a block missing one of query/key/value.
        TypeError: the checkpoint is not a mapping of tensor names.
    """
    if not isinstance(checkpoint, Mapping):
        raise TypeError(f"expected a state_dict (a mapping of tensor names), got a {type(checkpoint).__name__}")
    state: StateDict = {}
    fused: dict[tuple[int, str], dict[str, torch.Tensor]] = {}  # (block, "weight"/"bias") -> q/k/v parts
    unknown = []
    for key, value in checkpoint.items():
        if key in _HF_HEAD_RENAMES:
            state[_HF_HEAD_RENAMES[key]] = value
        elif key.startswith(_HF_BASE) and key[len(_HF_BASE) :] in _HF_RENAMES:
            state[_HF_RENAMES[key[len(_HF_BASE) :]]] = value
        elif match := _HF_LAYER.fullmatch(key):
            block, rest = int(match.group(1)), match.group(2)
            module, _, kind = rest.rpartition(".")
            if module in _HF_QKV:
                fused.setdefault((block, kind), {})[module] = value
            elif module in _HF_BLOCK_RENAMES:
                state[f"blocks.{block}.{_HF_BLOCK_RENAMES[module]}.{kind}"] = value
            else:
                unknown.append(key)
        else:
            unknown.append(key)
    if unknown:
        raise KeyError(f"Hugging Face AST keys with no counterpart: {', '.join(unknown[:10])}")
    for (block, kind), parts in sorted(fused.items()):
        if set(parts) != set(_HF_QKV):
            missing = sorted(set(_HF_QKV) - set(parts))
            raise KeyError(f"block {block} lacks {', '.join(f'{name}.{kind}' for name in missing)}")
        state[f"blocks.{block}.attn.qkv.{kind}"] = torch.cat([parts[name] for name in _HF_QKV], dim=0)
    return state


# --------------------------------------------------------------------------------------------------
# Pretrained weights

AUDIOSET_CHECKPOINT = RemoteFile(
    url="https://www.dropbox.com/s/ca0b1v2nlxzyeb4/audioset_10_10_0.4593.pth?dl=1",
    sha256=None,
    filename="audioset_10_10_0.4593.pth",
)
"""The official README's "Full AudioSet, 10 tstride, 10 fstride, with Weight Averaging (0.459 mAP)".
No checksum is published for it (the strict key and shape check is what verifies the file)."""

HUGGINGFACE_AUDIOSET_CHECKPOINT = RemoteFile(
    url=(
        "https://huggingface.co/MIT/ast-finetuned-audioset-10-10-0.4593/resolve/"
        "f826b80d28226b62986cc218e5cec390b1096902/pytorch_model.bin"
    ),
    sha256="9ca280ba0276a0d2243f7dd561c72b10cc7c3955a2b1f12e42e93983f24b8ca4",
    filename="MIT-ast-finetuned-audioset-10-10-0.4593.bin",
)
"""The Hugging Face conversion of the same model, pinned to a revision; the sha256 is the Hub's LFS
object id of that ``pytorch_model.bin``."""

_FRONTEND = "Kaldi fbank, 128 bins, 25 ms hanning / 10 ms, 1024 frames at 16 kHz; (x + 4.2677393) / 9.1379948"

register_pretrained(
    PretrainedSpec(
        name="ast-audioset",
        description="AST (ViT-Base, 10/10 patch strides) fine-tuned on AudioSet, 0.459 mAP; Gong et al. 2021",
        remote=AUDIOSET_CHECKPOINT,
        build=lambda: AudioSpectrogramTransformer(ASTConfig()),
        convert=convert_official_state_dict,
        frontend=_FRONTEND,
        licence="BSD-3-Clause (YuanGongND/ast)",
    )
)
register_pretrained(
    PretrainedSpec(
        name="ast-audioset-hf",
        description="the ast-audioset weights in the Hugging Face MIT/ast-finetuned-audioset-10-10-0.4593 layout",
        remote=HUGGINGFACE_AUDIOSET_CHECKPOINT,
        build=lambda: AudioSpectrogramTransformer(ASTConfig()),
        convert=convert_huggingface_state_dict,
        frontend=_FRONTEND,
        licence="BSD-3-Clause",
    )
)

__all__ = [
    "ASTConfig",
    "AudioSpectrogramTransformer",
    "convert_huggingface_state_dict",
    "convert_official_state_dict",
    "resize_position_embedding",
]
