"""Layer views and the one-pass per-layer clip vectors (plus the usual embedding) of LayerVectorEncoder."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from workbench.errors import UnknownNameError
from workbench.features import LayerFeatures, pool_clip, temporal_maxpool
from workbench.features.views import (
    EMBEDDING,
    LayerVectorEncoder,
    clip_vectors,
    cls_distillation_view,
    cls_view,
    frames_view,
    paper_layers,
    resolve_view,
)
from workbench.models.zoo import build_encoder


def test_token_views_pick_the_special_tokens():
    tokens = torch.randn(3, 7, 5)
    assert torch.equal(cls_view("block1", tokens), tokens[:, 0])
    expected = torch.stack([(tokens[b, 0] + tokens[b, 1]) / 2 for b in range(3)])
    torch.testing.assert_close(cls_distillation_view("block1", tokens), expected)
    feature_map = torch.randn(2, 3, 4, 5)
    assert frames_view("block1", feature_map) is feature_map


@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (2, 8), (2, 1, 8)])
def test_token_views_reject_other_layouts_naming_the_layer(shape):
    with pytest.raises(ValueError, match=r"layer 'conv3': a token view needs \(batch, tokens, width\) with at least 2"):
        cls_distillation_view("conv3", torch.zeros(shape))


def test_auto_view_is_the_papers_cls_token_for_ast_only():
    assert resolve_view(build_encoder("ast-tiny"), "auto") == "cls"
    assert resolve_view(build_encoder("ast-tiny"), "cls-dist") == "cls-dist"
    assert resolve_view(build_encoder("cnn14-tiny"), "auto") == "frames"
    assert resolve_view(build_encoder("ast-tiny"), "cls") == "cls"
    with pytest.raises(UnknownNameError, match="unknown layer view 'mean'; valid: auto, cls, cls-dist, frames"):
        resolve_view(build_encoder("cnn14-tiny"), "mean")


def test_vector_of_a_viewed_token_is_pooled_like_a_repeated_frame():
    tokens = torch.randn(2, 6, 4)
    vectors = clip_vectors({"block1": tokens}, cls_view, n_frames=3)
    torch.testing.assert_close(vectors["block1"], 2 * tokens[:, 0])  # mean + max of a repeated vector


def test_cnn_columns_equal_layer_features_and_the_usual_embedding_in_one_pass():
    encoder = build_encoder("cnn14-tiny", seed=1)
    stack = LayerVectorEncoder(encoder).eval()
    waveform = torch.randn(3, encoder.sample_rate // 2) * 0.1
    calls = []
    handle = encoder.register_forward_hook(lambda *_: calls.append(1))
    with torch.no_grad():
        columns = stack.split(stack.embed(waveform))
    handle.remove()
    assert len(calls) == 1 and list(columns) == [*encoder.layer_names, EMBEDDING]
    expected = LayerFeatures(encoder)(waveform)
    for name in encoder.layer_names:
        torch.testing.assert_close(columns[name], expected[name])
        assert stack.dims[name] == expected[name].shape[1]
    with torch.no_grad():
        torch.testing.assert_close(columns[EMBEDDING], encoder.embed(waveform))
    assert stack.embedding_dim == sum(stack.dims.values())


def test_ast_columns_are_the_cls_token_by_default_or_the_cls_distillation_mean():
    encoder = build_encoder("ast-tiny", seed=2)
    stack = LayerVectorEncoder(encoder).eval()
    distilled = LayerVectorEncoder(encoder, view="cls-dist").eval()
    waveform = torch.randn(2, encoder.sample_rate) * 0.1
    with torch.no_grad():
        columns = stack.split(stack(waveform))
        both = distilled.split(distilled(waveform))
        blocks = encoder.layers(waveform)
    for name, tokens in blocks.items():
        torch.testing.assert_close(columns[name], 2 * tokens[:, 0])  # mean + max of the repeated [CLS]
        torch.testing.assert_close(both[name], tokens[:, 0] + tokens[:, 1])  # 2 x their mean
        assert stack.dims[name] == encoder.config.width


def test_explicit_frame_count_reaches_eq1():
    encoder = build_encoder("cnn14-tiny", seed=3)
    stack = LayerVectorEncoder(encoder, ["block2"], n_frames=2).eval()
    waveform = torch.randn(1, encoder.sample_rate // 2) * 0.1
    with torch.no_grad():
        column = stack.split(stack(waveform))["block2"]
        expected = pool_clip(temporal_maxpool(encoder.layers(waveform, ["block2"])["block2"], 2))
    torch.testing.assert_close(column, expected)
    assert "n_frames=2" in repr(stack) and "view='frames'" in repr(stack)  # both reach the cache key


def test_split_is_a_view_of_numpy_rows_and_checks_the_width():
    stack = LayerVectorEncoder(build_encoder("cnn14-tiny"), ["block1", "fc1"])
    rows = np.arange(2 * stack.embedding_dim, dtype=np.float32).reshape(2, -1)
    parts = stack.split(rows)
    assert np.array_equal(np.concatenate(list(parts.values()), axis=1), rows)
    with pytest.raises(ValueError, match=rf"expected rows of {stack.embedding_dim} features \(3 columns\)"):
        stack.split(rows[:, 1:])


def test_bad_settings_are_named():
    encoder = build_encoder("cnn14-tiny")
    with pytest.raises(UnknownNameError, match="unknown layer of Cnn14 'block9'; valid: block1, block2"):
        LayerVectorEncoder(encoder, ["block9"])
    with pytest.raises(ValueError, match="n_frames must be at least 1 or None, got 0"):
        LayerVectorEncoder(encoder, n_frames=0)
    with pytest.raises(ValueError, match="layer 'block1': a token view needs"):
        LayerVectorEncoder(encoder, view="cls")


def test_paper_layer_sets():
    assert paper_layers(build_encoder("vggish-tiny")) == [
        "features.1", "features.4", "features.7", "features.9", "features.12", "features.14",
        "embeddings.1", "embeddings.3", "embeddings.5",
    ]  # ReLU layers 2, 5, 8, 10, 13, 15, 18, 20, 22 of Table I
    assert paper_layers(build_encoder("cnn14-tiny")) == [f"block{k}" for k in range(1, 7)]  # not fc1
    assert paper_layers(build_encoder("ast-tiny")) == ["block1", "block2"]  # 2 blocks: both (else 2 to the last)
    from workbench.models.ast import ASTConfig, AudioSpectrogramTransformer

    three = AudioSpectrogramTransformer(dataclasses.replace(ASTConfig.tiny(), depth=3))
    assert paper_layers(three) == ["block2", "block3"]
    mn = build_encoder("audiontt-tiny")
    assert paper_layers(mn) == list(mn.layer_names)


def test_vggish_pools_six_frames_per_example_like_separately_encoded_segments():
    encoder = build_encoder("vggish-tiny", seed=0)
    layers = paper_layers(encoder)
    stack = LayerVectorEncoder(encoder, layers).eval()
    example_hop, example_span = 96 * 160, 95 * 160 + 400  # samples between examples, samples per example
    waveform = torch.randn(2, 2 * example_hop + 240) * 0.1  # exactly two 0.96-s examples
    assert encoder.fusion_frames(waveform.shape[-1]) == 12
    with torch.no_grad():
        columns = stack.split(stack.embed(waveform))
        # The paper's recipe: encode each segment, pool it to T_o = 6 frames (Eq. 1; fc layers repeat
        # their one vector), concatenate the segments along time, then mean + max (Eq. 3).
        per_segment = [
            encoder.layers(waveform[:, start : start + example_span], layers) for start in (0, example_hop)
        ]
    layer_features = LayerFeatures(encoder, layers)(waveform)  # the same T_o outside the cached table
    for name in layers:
        torch.testing.assert_close(layer_features[name], torch.as_tensor(columns[name]))
        frames = torch.cat([temporal_maxpool(segment[name], 6) for segment in per_segment], dim=-1)
        assert frames.shape[-1] == 12
        torch.testing.assert_close(torch.as_tensor(columns[name]), pool_clip(frames), rtol=1e-5, atol=1e-5)
