"""Eq. 1-3 of Niizumi et al.: temporal max pooling, per-frame fusion, mean + max clip pooling."""

from __future__ import annotations

import math

import pytest
import torch

from workbench.errors import UnknownNameError
from workbench.features import default_n_frames, fuse, fuse_pooled, pool_clip, temporal_maxpool, time_frames


def brute_force_maxpool(layer_output: torch.Tensor, n_frames: int) -> torch.Tensor:
    """Eq. 1 with plain loops: flatten (C, F) channel-major, max over each adaptive time window."""
    if layer_output.ndim == 3:  # (B, T, D) -> (B, D, 1, T): frames are the D "channels", one bin each
        layer_output = layer_output.transpose(1, 2).unsqueeze(2)
    batch, channels, bins, frames = layer_output.shape
    out = torch.empty(batch, channels * bins, n_frames, dtype=layer_output.dtype)
    for b in range(batch):
        for c in range(channels):
            for f in range(bins):
                for t in range(n_frames):
                    start = math.floor(t * frames / n_frames)
                    end = math.ceil((t + 1) * frames / n_frames)
                    out[b, c * bins + f, t] = max(layer_output[b, c, f, i].item() for i in range(start, end))
    return out


@pytest.mark.parametrize("frames, n_frames", [(10, 3), (7, 7), (16, 4), (3, 8), (1, 5), (9, 1)])
def test_temporal_maxpool_of_feature_maps_matches_the_loop(frames, n_frames):
    layer = torch.randn(2, 3, 4, frames, generator=torch.Generator().manual_seed(frames))
    pooled = temporal_maxpool(layer, n_frames)
    assert pooled.shape == (2, 3 * 4, n_frames)
    torch.testing.assert_close(pooled, brute_force_maxpool(layer, n_frames), rtol=0, atol=0)


@pytest.mark.parametrize("frames, n_frames", [(12, 5), (4, 6)])
def test_temporal_maxpool_of_tokens_matches_the_loop(frames, n_frames):
    tokens = torch.randn(3, frames, 7, generator=torch.Generator().manual_seed(1))
    pooled = temporal_maxpool(tokens, n_frames)
    assert pooled.shape == (3, 7, n_frames)
    torch.testing.assert_close(pooled, brute_force_maxpool(tokens, n_frames), rtol=0, atol=0)


@pytest.mark.parametrize(
    "shape, n_frames",
    [
        ((8, 8, 64, 50), 4),  # mn04's first blocks: 50 frames to 4 (windows of 13 and 12, overlapping)
        ((3, 5, 7, 13), 4), ((2, 4, 3, 7), 4), ((2, 6, 2, 4), 4),  # 13 and 7 not divisible; 4 to itself
        ((2, 3, 5, 24), 6), ((2, 3, 5, 24), 8),  # divisible: disjoint windows
        ((2, 3, 2, 3), 8), ((1, 2, 2, 1), 5),  # more output frames than input frames
        ((2, 4, 3, 101), 40), ((2, 4, 3, 50), 33), ((1, 2, 3, 20), 45),  # many windows (the gathered path)
        ((2, 17, 9), 4), ((2, 23, 9), 23), ((2, 60, 9), 12), ((2, 101, 9), 34),  # tokens (B, T, D)
    ],
)
def test_temporal_maxpool_equals_adaptive_max_pooling(shape, n_frames):
    """The pooling without argmax bookkeeping gives exactly ``adaptive_max_pool1d``'s values, NaN included."""
    generator = torch.Generator().manual_seed(sum(shape) + n_frames)
    layer = torch.randn(*shape, generator=generator)
    layer[0].view(-1)[:: 7] = float("nan")  # every 7th value of the first clip: NaN must win its window
    if len(shape) == 4:
        sequence = layer.reshape(shape[0], shape[1] * shape[2], shape[3])
    else:
        sequence = layer.transpose(1, 2)
    expected = torch.nn.functional.adaptive_max_pool1d(sequence, n_frames)
    pooled = temporal_maxpool(layer, n_frames)
    assert pooled.shape == expected.shape
    torch.testing.assert_close(pooled, expected, rtol=0, atol=0, equal_nan=True)
    assert pooled[0].isnan().any() and not pooled[1:].isnan().any()
    # Non-contiguous feature maps (channels-last; CNN14's (B, C, T, F) memory seen as (B, C, F, T)) pool
    # to the same values.
    if len(shape) == 4:
        channels_last = layer.contiguous(memory_format=torch.channels_last)
        time_before_frequency = layer.transpose(2, 3).contiguous().transpose(2, 3)
        for strided in (channels_last, time_before_frequency):
            pooled = temporal_maxpool(strided, n_frames)
            torch.testing.assert_close(pooled, expected, rtol=0, atol=0, equal_nan=True)


def _strides_that_matter(tensor: torch.Tensor) -> tuple[int, ...]:
    return tuple(stride for size, stride in zip(tensor.shape, tensor.stride()) if size > 1)


@pytest.mark.parametrize("frames, n_frames", [(13, 4), (12, 12), (24, 6), (12, 5), (50, 7), (101, 40), (3, 8), (1, 4)])
def test_clip_vectors_are_bit_identical_to_those_of_adaptive_max_pooling(frames, n_frames):
    """Same values in the same memory layout as ``adaptive_max_pool1d``, so Eq. 3's mean adds the frames
    in the same order: tokens (time-major output), feature maps in several layouts, a batch of one."""
    generator = torch.Generator().manual_seed(frames * 100 + n_frames)
    maps = torch.randn(2, 3, 5, frames, generator=generator) * 100
    tokens = torch.randn(2, frames, 24, generator=generator) * 100
    layers = {
        "tokens": (tokens, tokens.transpose(1, 2)),
        "tokens, batch of one": (tokens[:1], tokens[:1].transpose(1, 2)),
        "sliced tokens": (tokens[:, :, ::2], tokens[:, :, ::2].transpose(1, 2)),
        "maps": (maps, maps.reshape(2, 15, frames)),
        "channels-last maps": (cl := maps.contiguous(memory_format=torch.channels_last), cl.reshape(2, 15, frames)),
        "time-before-frequency maps": (tf := maps.transpose(2, 3).contiguous().transpose(2, 3), tf.reshape(2, 15, frames)),
    }  # fmt: skip
    for name, (layer, sequence) in layers.items():
        expected = torch.nn.functional.adaptive_max_pool1d(sequence, n_frames)
        pooled = temporal_maxpool(layer, n_frames)
        assert torch.equal(pooled, expected), name
        assert _strides_that_matter(pooled) == _strides_that_matter(expected), name
        assert torch.equal(pool_clip(pooled), pool_clip(expected)), name


def test_temporal_maxpool_repeats_vectors_without_time_axis():
    vectors = torch.tensor([[1.0, -2.0], [3.0, 4.0]])
    pooled = temporal_maxpool(vectors, 3)
    assert pooled.shape == (2, 2, 3)
    assert torch.equal(pooled, torch.tensor([[[1.0] * 3, [-2.0] * 3], [[3.0] * 3, [4.0] * 3]]))


def test_temporal_maxpool_keeps_the_frequency_structure_channel_major():
    # Channel c, bin f holds 10 * c + f at every frame: the flattened feature c * F + f must hold it.
    channels, bins = 3, 4
    values = (10 * torch.arange(channels)[:, None] + torch.arange(bins)[None, :]).float()
    layer = values[None, :, :, None].expand(1, channels, bins, 6)
    assert torch.equal(temporal_maxpool(layer, 2)[0, :, 0], values.flatten())


def test_fuse_concatenates_layers_frame_by_frame():
    conv = torch.arange(8.0).reshape(1, 1, 2, 4)  # one channel, two bins, four frames
    vector = torch.tensor([[5.0, 6.0]])  # no time axis
    fused = fuse({"conv": conv, "clip": vector, "unused": torch.zeros(1, 3)}, ["conv", "clip"], n_frames=2)
    expected = torch.tensor([[[1.0, 3.0], [5.0, 7.0], [5.0, 5.0], [6.0, 6.0]]])
    assert torch.equal(fused, expected)


def test_pool_clip_is_mean_plus_max_over_time():
    frames = torch.tensor([[[1.0, 3.0, 2.0], [-1.0, -4.0, -1.0]]])
    assert torch.equal(pool_clip(frames), torch.tensor([[2.0 + 3.0, -2.0 + -1.0]]))


def test_pooling_fused_frames_equals_fusing_pooled_layers():
    generator = torch.Generator().manual_seed(3)
    layers = {
        "early": torch.randn(2, 4, 8, 20, generator=generator),
        "tokens": torch.randn(2, 9, 5, generator=generator),
        "clip": torch.randn(2, 6, generator=generator),
    }
    names = ["tokens", "early", "clip"]
    pooled = {name: pool_clip(temporal_maxpool(layer, 5)) for name, layer in layers.items()}
    torch.testing.assert_close(pool_clip(fuse(layers, names, 5)), fuse_pooled(pooled, names))
    assert fuse_pooled(pooled, names).shape == (2, 5 + 32 + 6)


def test_default_n_frames_is_the_coarsest_time_axis():
    layers = {"a": torch.zeros(1, 2, 3, 40), "b": torch.zeros(1, 7, 4), "c": torch.zeros(1, 5)}
    assert [time_frames(layer) for layer in layers.values()] == [40, 7, None]
    assert default_n_frames(layers) == 7
    assert default_n_frames({"c": torch.zeros(1, 5)}) == 1


def test_errors_say_what_was_expected():
    with pytest.raises(ValueError, match=r"temporal_maxpool expects .* got shape \(1, 2, 3, 4, 5\)"):
        temporal_maxpool(torch.zeros(1, 2, 3, 4, 5), 2)
    with pytest.raises(ValueError, match="n_frames must be at least 1, got 0"):
        temporal_maxpool(torch.zeros(1, 2, 3), 0)
    layers = {"block1": torch.zeros(1, 2, 3, 4), "block2": torch.zeros(2, 2, 3, 4)}
    with pytest.raises(UnknownNameError, match=r"unknown layer 'block9'; valid: block1, block2"):
        fuse(layers, ["block9"], 2)
    with pytest.raises(ValueError, match="names is empty"):
        fuse(layers, [], 2)
    with pytest.raises(TypeError, match="sequence of layer names, got the string 'block1'"):
        fuse(layers, "block1", 2)
    with pytest.raises(ValueError, match="different batch sizes"):
        fuse(layers, ["block1", "block2"], 2)
    with pytest.raises(ValueError, match=r"pool_clip expects frame vectors \(batch, dim, time\)"):
        pool_clip(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="different numbers of clips"):
        fuse_pooled({"a": torch.zeros(2, 3), "b": torch.zeros(3, 3)}, ["a", "b"])
