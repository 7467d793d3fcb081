"""Tag-vector fusion (a)-(e): shapes, the attention of Eq. 1-2 against a loop reference, equivalences, errors."""

from __future__ import annotations

import math

import pytest
import torch

from workbench.errors import UnknownNameError
from workbench.models.asc_raw import RawASCConfig, RawASCNet
from workbench.models.tag_fusion import VARIANTS, FilterAttention, FusionConfig, TagFusionASC, TagTransform

N_TAGS, N_SCENES, BATCH = 7, 5, 3
CONFIG = RawASCConfig.small(filters=8, n_blocks=4, input_samples=4000, n_scenes=N_SCENES)
"""Four blocks over 4000 samples leave four frames, so "every time step" has several steps."""


def inputs(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return 0.1 * torch.randn(BATCH, 2, 4000, generator=generator), torch.rand(BATCH, N_TAGS, generator=generator)


def build(variant: str, **settings) -> TagFusionASC:
    torch.manual_seed(0)
    n_tags = 0 if variant == "baseline" else N_TAGS
    return TagFusionASC(CONFIG, FusionConfig(variant, n_tags=n_tags, heads=2, **settings)).eval()


FUSIONS = [
    ("baseline", {}, 64),
    ("codecat", {}, 64 + N_TAGS),
    ("concat", {"layers_after": 1}, 64),
    ("concat", {"layers_after": 3}, 64),
    ("transform_concat", {"layers_before": 2, "layers_after": 2}, 64),
    ("attention", {"attention_layers": 0}, 64),
    ("attention", {"attention_layers": 3}, 64),
    ("combined", {"combined_concat": "codecat"}, 64 + N_TAGS),
    ("combined", {"combined_concat": "concat"}, 64),
    ("combined", {"combined_concat": "transform_concat", "shared_transform": True}, 64),
    ("combined", {"combined_concat": "transform_concat", "shared_transform": False, "attention_layers": 2}, 64),
    # Table 5's shared transform of 0 layers (the raw tag vector feeds both), Table 4's asymmetric layers.
    ("combined", {"combined_concat": "transform_concat", "shared_transform": True, "layers_before": 0,
                  "attention_layers": 0}, 64),
    ("combined", {"combined_concat": "transform_concat", "shared_transform": False, "layers_before": 3,
                  "attention_layers": 4}, 64),
    ("transform_concat", {"layers_before": 0}, 64),
]


@pytest.mark.parametrize(("variant", "settings", "backend_dim"), FUSIONS)
def test_shapes_of_each_fusion(variant, settings, backend_dim):
    model = build(variant, **settings)
    waveform, tags = inputs()
    assert model(waveform, tags).shape == (BATCH, N_SCENES)
    assert model.backend_features(waveform, tags).shape == (BATCH, backend_dim) and model.backend_dim == backend_dim
    if model.attention is not None:
        assert model.attention_map(tags).shape == (BATCH, 2, CONFIG.filters // 2)
    # Every parameter gets a gradient: no branch is left out of the forward pass.
    model.train()
    model(waveform, tags).logsumexp(dim=1).sum().backward()
    assert all(parameter.grad is not None for parameter in model.parameters())


@pytest.mark.parametrize("variant", VARIANTS[1:])
def test_the_tags_change_the_output_of_every_fusion_but_not_the_baseline(variant):
    model = build(variant)
    waveform, tags = inputs()
    assert not torch.allclose(model(waveform, tags), model(waveform, 1.0 - tags))
    baseline = build("baseline")
    assert torch.equal(baseline(waveform, tags), baseline(waveform, None))


def test_the_baseline_is_the_table_1_network():
    torch.manual_seed(1)
    reference = RawASCNet(CONFIG).eval()
    fused = TagFusionASC(CONFIG, FusionConfig("baseline"))
    fused.load_state_dict(reference.state_dict(), strict=True)  # the same keys and shapes
    waveform, _ = inputs()
    torch.testing.assert_close(fused.eval()(waveform), reference.scene_logits(waveform))
    torch.testing.assert_close(fused.backend_features(waveform), reference.embed(waveform))


def reference_attention(attention: FilterAttention, tags: torch.Tensor, feature_map: torch.Tensor) -> torch.Tensor:
    """Eq. 1-2 with plain loops: a softmax over each head's slice of the scores, every frame weighted alike."""
    scores = attention.projection(attention.transform(tags))
    per_head = attention.filters // attention.heads
    output = torch.empty_like(feature_map)
    for clip in range(feature_map.shape[0]):
        for head in range(attention.heads):
            chunk = scores[clip, head * per_head : (head + 1) * per_head]
            weights = [math.exp(value) for value in chunk.tolist()]
            for offset, weight in enumerate(weights):
                gain = weight / sum(weights) * (per_head if attention.scale else 1.0)
                filter_index = head * per_head + offset
                for frame in range(feature_map.shape[2]):
                    output[clip, filter_index, frame] = feature_map[clip, filter_index, frame] * gain
    return output


@pytest.mark.parametrize(("heads", "scale"), [(1, True), (2, False), (4, True), (8, True)])
def test_attention_sums_to_one_per_head_is_constant_over_time_and_matches_eq_1_2(heads, scale):
    torch.manual_seed(heads)
    attention = FilterAttention(TagTransform(N_TAGS, 16, 1), filters=8, heads=heads, scale=scale)
    tags = torch.rand(BATCH, N_TAGS)
    maps = attention.head_maps(tags)
    assert maps.shape == (BATCH, heads, 8 // heads) and (maps > 0).all()
    torch.testing.assert_close(maps.sum(dim=-1), torch.ones(BATCH, heads))
    feature_map = torch.rand(BATCH, 8, 6) + 0.5
    weighted = attention.apply(feature_map, attention(tags))
    gains = weighted / feature_map  # (B, f, frames): the same gain at every frame
    torch.testing.assert_close(gains, gains[:, :, :1].expand_as(gains))
    torch.testing.assert_close(weighted, reference_attention(attention, tags, feature_map))


def test_the_model_applies_the_attention_to_the_last_feature_map():
    model = build("attention")
    waveform, tags = inputs()
    feature_map = model.trunk(waveform)
    assert feature_map.shape[-1] == CONFIG.frames(4000) == 4
    weighted = model.attention.apply(feature_map, model.attention(tags))
    torch.testing.assert_close(model.backend_features(waveform, tags), model.code(model.trunk.pool(weighted)))


def test_a_uniform_map_with_scaling_is_the_identity():
    attention = FilterAttention(TagTransform(N_TAGS, 16, 0), filters=8, heads=2, scale=True)
    feature_map = torch.randn(BATCH, 8, 5)
    torch.testing.assert_close(attention.apply(feature_map, torch.full((BATCH, 8), 0.25)), feature_map)


def test_shared_and_separate_transforms():
    shared = build("combined", combined_concat="transform_concat", shared_transform=True)
    separate = build("combined", combined_concat="transform_concat", shared_transform=False)
    assert shared.attention.transform is shared.tag_transform
    assert separate.attention.transform is not separate.tag_transform
    count = lambda model: sum(parameter.numel() for parameter in model.parameters())  # noqa: E731
    assert count(separate) - count(shared) == sum(p.numel() for p in separate.attention.transform.parameters())


def test_a_shared_transform_of_zero_layers_feeds_the_raw_tags_to_both_branches():
    model = build("combined", combined_concat="transform_concat", shared_transform=True, layers_before=0,
                  attention_layers=0)  # fmt: skip
    assert model.attention.transform is model.tag_transform and len(model.tag_transform.layers) == 0
    assert model.code[0].in_features == 2 * CONFIG.filters + N_TAGS  # [pooled; raw tags]
    assert model.attention.projection.in_features == N_TAGS
    # Zero layers before the concatenation is variant (b): the same network, the same keys.
    torch.manual_seed(0)
    concat = TagFusionASC(CONFIG, FusionConfig("concat", n_tags=N_TAGS))
    transform = TagFusionASC(CONFIG, FusionConfig("transform_concat", n_tags=N_TAGS, layers_before=0))
    transform.load_state_dict(concat.state_dict(), strict=True)
    waveform, tags = inputs()
    torch.testing.assert_close(transform.eval()(waveform, tags), concat.eval()(waveform, tags))


def test_canonical_configs_identify_equal_networks():
    # Settings a variant ignores do not make it another model.
    assert FusionConfig("attention", n_tags=7, layers_before=3).canonical() == FusionConfig("attention", n_tags=7)
    assert FusionConfig("codecat", n_tags=7, heads=8).canonical() == FusionConfig("codecat", n_tags=7).canonical()
    assert FusionConfig("attention", n_tags=7, heads=8).canonical() != FusionConfig("attention", n_tags=7)
    assert FusionConfig("baseline", n_tags=7).canonical().n_tags == 0


def test_errors_name_what_is_wrong():
    model = build("codecat")
    waveform, tags = inputs()
    with pytest.raises(ValueError, match=r"the 'codecat' fusion needs tag vectors of shape \(3, 7\), got \(3, 6\)"):
        model(waveform, tags[:, :6])
    with pytest.raises(ValueError, match=r"needs tag vectors of shape \(3, 7\), got None"):
        model(waveform)
    with pytest.raises(ValueError, match="the 'codecat' fusion has no attention map"):
        model.attention_map(tags)
    with pytest.raises(ValueError, match=r"attention heads \(3\) must divide the number of filters \(8\)"):
        TagFusionASC(CONFIG, FusionConfig("attention", n_tags=N_TAGS, heads=3))
    with pytest.raises(UnknownNameError, match="unknown tag-fusion variant 'late'; valid: attention, baseline"):
        FusionConfig("late", n_tags=N_TAGS)
    with pytest.raises(ValueError, match="attention_layers \\(2\\) must equal layers_before \\(1\\)"):
        FusionConfig("combined", n_tags=N_TAGS, combined_concat="transform_concat", shared_transform=True,
                     attention_layers=2)  # fmt: skip
    with pytest.raises(ValueError, match="needs a tag transform to share: set combined_concat='transform_concat'"):
        FusionConfig("combined", n_tags=N_TAGS, shared_transform=True)
    with pytest.raises(ValueError, match="the 'attention' fusion needs tag vectors: set n_tags"):
        FusionConfig("attention")
