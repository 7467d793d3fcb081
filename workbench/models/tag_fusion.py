"""Tag-vector fusion: the raw-waveform ASC network told which sound events a tagger hears.

Jung et al., "Acoustic Scene Classification using Audio Tagging", Interspeech 2020 (arXiv:2003.09164).
A frozen audio tagger turns each clip into a **tag vector** (per-event probabilities); the scene
classifier of :mod:`workbench.models.asc_raw` takes it as a second input in one of these ways
(:data:`VARIANTS`):

- ``"baseline"``: no tags; exactly :class:`~workbench.models.asc_raw.RawASCNet` (same state_dict keys).
- ``"codecat"`` (a): the tag vector is concatenated to the code; the output layer (and the SVM
  back-end) read ``[code; tags]``.
- ``"concat"`` (b): the tag vector is concatenated to the pooled feature map; ``layers_after`` fully
  connected layers turn ``[pooled; tags]`` into the code.
- ``"transform_concat"`` (c): ``layers_before`` fully connected layers transform the tag vector first,
  then as (b).
- ``"attention"`` (d): multi-head attention over the filters of the last block's feature map,
  Eq. 1-2 (:class:`FilterAttention`): ``attention_layers`` hidden layers and a projection turn the tag
  vector into ``f`` scores (``f`` filters), split into ``heads`` groups with a softmax within each,
  and the feature map is multiplied by that map at every time step.
- ``"combined"`` (e): (d) together with one of (a)-(c) (``combined_concat``), the tag vector's hidden
  transform either shared by both branches or separate (``shared_transform``).

The attention map depends on the tag vector only, so it says which filters each kind of clip
(e.g. each scene) emphasises; :meth:`TagFusionASC.attention_map` returns it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn

from workbench.errors import UnknownNameError
from workbench.models.asc_raw import RawASCConfig, RawWaveformTrunk

VARIANTS: tuple[str, ...] = ("baseline", "codecat", "concat", "transform_concat", "attention", "combined")
"""Fusion variants, in the paper's order (baseline, then (a) to (e))."""
CONCAT_VARIANTS: tuple[str, ...] = ("codecat", "concat", "transform_concat")
"""The concatenation variants (a)-(c), any of which ``"combined"`` pairs with the attention (d)."""
PAPER_LETTER = {"baseline": "-", "codecat": "a", "concat": "b", "transform_concat": "c", "attention": "d",
                "combined": "e"}  # fmt: skip
"""Each variant's letter in the paper's description."""

Variant = Literal["baseline", "codecat", "concat", "transform_concat", "attention", "combined"]


@dataclass(frozen=True)
class FusionConfig:
    """How the tag vector enters the ASC network.

    Args:
        variant: one of :data:`VARIANTS`.
        n_tags: length of the tag vector (0 only for ``"baseline"``).
        layers_before: (c) fully connected layers on the tag vector before the concatenation (>= 0; 0
            concatenates the raw tag vector, as (b), which is Table 5's shared transform of 0 layers).
        layers_after: (b), (c) fully connected layers from the concatenation to the code (>= 1; the
            last one outputs the code).
        hidden_dim: width of the hidden fully connected layers.
        heads: (d) attention heads; must divide the trunk's filters.
        attention_layers: (d) hidden fully connected layers before the projection to the ``f``
            attention scores (0: the projection alone).
        combined_concat: (e) which of (a)-(c) joins the attention.
        shared_transform: (e) with (c): the attention's hidden layers are the tag transform of (c)
            (then ``attention_layers`` must equal ``layers_before``); False gives each branch its own.
        scale_attention: multiply the map by the head size ``f / heads``, so that a uniform map is the
            identity. The paper's Eq. 2 without it differs by this constant, which the following
            linear layer absorbs; with it, training starts where the baseline does.

    Raises:
        ValueError / UnknownNameError: a variant or setting that does not exist or does not fit the others.
    """

    variant: Variant = "baseline"
    n_tags: int = 0
    layers_before: int = 1
    layers_after: int = 1
    hidden_dim: int = 64
    heads: int = 4
    attention_layers: int = 1
    combined_concat: Literal["codecat", "concat", "transform_concat"] = "codecat"
    shared_transform: bool = False
    scale_attention: bool = True

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise UnknownNameError("tag-fusion variant", str(self.variant), VARIANTS)
        if self.combined_concat not in CONCAT_VARIANTS:
            raise UnknownNameError("concatenation of the combined variant", str(self.combined_concat), CONCAT_VARIANTS)
        for name, minimum in (("n_tags", 0), ("layers_before", 0), ("layers_after", 1), ("hidden_dim", 1),
                              ("heads", 1), ("attention_layers", 0)):  # fmt: skip
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise ValueError(f"FusionConfig.{name} must be an integer >= {minimum}, got {value!r}")
        if self.variant != "baseline" and self.n_tags < 1:
            raise ValueError(f"the {self.variant!r} fusion needs tag vectors: set n_tags to their length")
        if self.shared_transform and self.uses_attention and self.concatenation == "transform_concat":
            if self.attention_layers != self.layers_before:
                raise ValueError(
                    f"shared_transform=True makes the attention's hidden layers the tag transform of (c), so "
                    f"attention_layers ({self.attention_layers}) must equal layers_before ({self.layers_before})"
                )
        elif self.shared_transform and self.variant == "combined":
            raise ValueError(
                f"shared_transform=True needs a tag transform to share: set combined_concat='transform_concat' "
                f"(got {self.combined_concat!r})"
            )

    @property
    def uses_attention(self) -> bool:
        return self.variant in ("attention", "combined")

    @property
    def concatenation(self) -> str | None:
        """Which of (a)-(c) this variant uses, or None (baseline, attention)."""
        if self.variant in CONCAT_VARIANTS:
            return self.variant
        return self.combined_concat if self.variant == "combined" else None

    def replace(self, **changes: Any) -> FusionConfig:
        return dataclasses.replace(self, **changes)

    def canonical(self) -> FusionConfig:
        """The same model with every setting this variant ignores at its default, so that two configs
        build the same network exactly when their canonical forms are equal."""
        used: set[str] = {"variant"}
        if self.variant != "baseline":
            used.add("n_tags")
        concatenation = self.concatenation
        if concatenation in ("concat", "transform_concat"):
            used |= {"layers_after"} | ({"hidden_dim"} if self.layers_after > 1 else set())
        if concatenation == "transform_concat":
            used |= {"layers_before"} | ({"hidden_dim"} if self.layers_before else set())
        if self.uses_attention:
            used |= {"heads", "attention_layers", "scale_attention"}
            used |= {"hidden_dim"} if self.attention_layers else set()
        if self.variant == "combined":
            used |= {"combined_concat"} | ({"shared_transform"} if concatenation == "transform_concat" else set())
        defaults = FusionConfig()
        return FusionConfig(**{
            field.name: getattr(self if field.name in used else defaults, field.name)
            for field in dataclasses.fields(self)
        })


def fully_connected(sizes: list[int], negative_slope: float, last_activation: bool) -> nn.Sequential:
    """Linear layers between consecutive ``sizes``, a LeakyReLU after each (after the last one too
    when ``last_activation``); ``sizes`` of length 1 gives an empty (identity) stack."""
    layers: list[nn.Module] = []
    for index, (size_in, size_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(size_in, size_out))
        if last_activation or index < len(sizes) - 2:
            layers.append(nn.LeakyReLU(negative_slope))
    return nn.Sequential(*layers)


class TagTransform(nn.Module):
    """``n_layers`` fully connected layers with LeakyReLU on the tag vector (0 layers: the identity).

    Shape:
        tags: ``(batch, n_tags)``; output: ``(batch, out_dim)`` (``hidden_dim``, or ``n_tags`` for 0 layers).
    """

    def __init__(self, n_tags: int, hidden_dim: int, n_layers: int, negative_slope: float = 0.3):
        super().__init__()
        self.layers = fully_connected([n_tags] + [hidden_dim] * n_layers, negative_slope, last_activation=True)
        self.out_dim = hidden_dim if n_layers else n_tags

    def forward(self, tags: torch.Tensor) -> torch.Tensor:
        return self.layers(tags)


class FilterAttention(nn.Module):
    """Multi-head attention over the filters of a feature map, computed from a tag vector (Eq. 1-2).

    Eq. 1: ``s = W (T(tags)) + b``, ``s`` in R^f (``T``: the hidden transform), split into ``heads``
    groups of ``f / heads`` consecutive filters; ``a_h = softmax(s_h)`` within each group, so each
    head's weights are positive and sum to 1. Eq. 2: ``X'[:, t] = X[:, t] * a`` for every frame ``t``
    of the feature map ``X`` (times ``f / heads`` when ``scale``).

    Args:
        transform: the hidden layers ``T`` (a :class:`TagTransform`; may be shared with a
            concatenation branch).
        filters: ``f``, the feature map's channels.
        heads: number of heads; must divide ``filters``.
        scale: multiply by the head size (see :class:`FusionConfig`).

    Shape:
        tags: ``(batch, n_tags)``. :meth:`head_maps`: ``(batch, heads, filters // heads)``;
        :meth:`forward`: ``(batch, filters)``. :meth:`apply`: feature map ``(batch, filters, frames)`` in
        and out.

    Raises:
        ValueError: ``heads`` does not divide ``filters``.
    """

    def __init__(self, transform: TagTransform, filters: int, heads: int, scale: bool = True):
        super().__init__()
        if heads < 1 or filters % heads:
            raise ValueError(f"attention heads ({heads}) must divide the number of filters ({filters})")
        self.transform = transform
        self.projection = nn.Linear(transform.out_dim, filters)
        self.filters, self.heads, self.scale = filters, heads, scale

    def head_maps(self, tags: torch.Tensor) -> torch.Tensor:
        scores = self.projection(self.transform(tags))  # (B, f)
        return scores.view(-1, self.heads, self.filters // self.heads).softmax(dim=-1)  # (B, h, f / h)

    def forward(self, tags: torch.Tensor) -> torch.Tensor:
        return self.head_maps(tags).flatten(1)  # (B, f), head after head

    def apply(self, feature_map: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
        """Eq. 2: the feature map ``(B, f, T)`` with each filter multiplied by its weight at every frame."""
        if feature_map.shape[:2] != attention.shape:
            raise ValueError(
                f"an attention map {tuple(attention.shape)} cannot weight a feature map of shape "
                f"{tuple(feature_map.shape)}: expected (batch, filters) = {tuple(feature_map.shape[:2])}"
            )
        gains = attention * (self.filters // self.heads) if self.scale else attention
        return feature_map * gains.unsqueeze(-1)  # (B, f, T)


class TagFusionASC(nn.Module):
    """The raw-waveform ASC network with a tag vector fused in as ``fusion.variant`` says.

    Args:
        config: the ASC network's sizes (:class:`~workbench.models.asc_raw.RawASCConfig`).
        fusion: how tags enter (:class:`FusionConfig`).

    Shape:
        waveform: ``(batch, channels, samples)`` (or mono ``(batch, samples)``); tags: ``(batch, n_tags)``
        (ignored by ``"baseline"``, which also accepts None).
        ``forward``: scene logits ``(batch, n_scenes)``.
        :meth:`backend_features`: ``(batch, backend_dim)``, the code (``[code; tags]`` for (a)).
        :meth:`attention_map`: ``(batch, heads, filters // heads)``.

    Raises:
        ValueError: tags of the wrong shape, or heads that do not divide the filters.
    """

    def __init__(self, config: RawASCConfig, fusion: FusionConfig | None = None):
        super().__init__()
        self.config = config
        self.fusion = fusion = fusion or FusionConfig()
        slope = config.negative_slope
        self.trunk = RawWaveformTrunk(config)
        pooled_dim = 2 * config.filters
        concatenation = fusion.concatenation

        self.tag_transform: TagTransform | None = None
        if concatenation == "transform_concat":
            self.tag_transform = TagTransform(fusion.n_tags, fusion.hidden_dim, fusion.layers_before, slope)
        self.attention: FilterAttention | None = None
        if fusion.uses_attention:
            shared = fusion.shared_transform and self.tag_transform is not None
            transform = self.tag_transform if shared else TagTransform(
                fusion.n_tags, fusion.hidden_dim, fusion.attention_layers, slope
            )
            self.attention = FilterAttention(transform, config.filters, fusion.heads, fusion.scale_attention)

        # The layers from the pooled features (and tags) to the code.
        if concatenation in ("concat", "transform_concat"):
            tag_dim = self.tag_transform.out_dim if self.tag_transform is not None else fusion.n_tags
            sizes = [pooled_dim + tag_dim] + [fusion.hidden_dim] * (fusion.layers_after - 1) + [config.code_dim]
            self.code = fully_connected(sizes, slope, last_activation=False)
        else:  # baseline, codecat, attention: the paper's single layer (keys as in RawASCNet)
            self.code = nn.Linear(pooled_dim, config.code_dim)
        self.backend_dim = config.code_dim + (fusion.n_tags if concatenation == "codecat" else 0)
        self.classifier = nn.Sequential(nn.LeakyReLU(slope), nn.Linear(self.backend_dim, config.n_scenes))

    def _check_tags(self, tags: torch.Tensor | None, batch: int) -> torch.Tensor | None:
        if self.fusion.variant == "baseline":
            return None
        if tags is None or tags.ndim != 2 or tags.shape != (batch, self.fusion.n_tags):
            shape = None if tags is None else tuple(tags.shape)
            raise ValueError(
                f"the {self.fusion.variant!r} fusion needs tag vectors of shape ({batch}, {self.fusion.n_tags}), "
                f"got {shape}"
            )
        return tags

    def attention_map(self, tags: torch.Tensor) -> torch.Tensor:
        """The per-head attention weights ``(batch, heads, filters // heads)`` for these tag vectors.

        Raises:
            ValueError: the variant has no attention.
        """
        if self.attention is None:
            raise ValueError(f"the {self.fusion.variant!r} fusion has no attention map")
        return self.attention.head_maps(tags)

    def backend_features(self, waveform: torch.Tensor, tags: torch.Tensor | None = None) -> torch.Tensor:
        """What the SVM back-end reads: the code, or ``[code; tags]`` for Codecat (a)."""
        feature_map = self.trunk(waveform)  # (B, f, T)
        tags = self._check_tags(tags, feature_map.shape[0])
        if self.attention is not None:
            feature_map = self.attention.apply(feature_map, self.attention(tags))
        pooled = self.trunk.pool(feature_map)  # (B, 2f)
        concatenation = self.fusion.concatenation
        if concatenation == "concat":
            return self.code(torch.cat([pooled, tags], dim=1))
        if concatenation == "transform_concat":
            return self.code(torch.cat([pooled, self.tag_transform(tags)], dim=1))
        code = self.code(pooled)  # (B, code_dim)
        return torch.cat([code, tags], dim=1) if concatenation == "codecat" else code

    def forward(self, waveform: torch.Tensor, tags: torch.Tensor | None = None) -> torch.Tensor:
        return self.classifier(self.backend_features(waveform, tags))
