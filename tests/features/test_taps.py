"""Layer taps: one forward pass, windowing of long clips, and clip vectors of every layer."""

from __future__ import annotations

import pytest
import torch

from workbench.errors import AudioError, UnknownNameError
from workbench.features import (
    LayerFeatures,
    fuse,
    join_segments,
    pool_clip,
    segment_waveform,
    tap_layers,
    temporal_maxpool,
)
from workbench.models.efficientat import EfficientATMobileNet


def waveform(batch: int, samples: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(batch, samples, generator=torch.Generator().manual_seed(seed))


def test_tap_layers_without_windows_is_one_pass_of_encoder_layers(encoder):
    audio = waveform(2, 80)
    taps = tap_layers(encoder, audio, ["conv", "tokens", "pooled"])
    assert encoder.forward_calls == 1
    assert {name: tuple(value.shape) for name, value in taps.items()} == {
        "conv": (2, 3, 10, 8), "tokens": (2, 8, 6), "pooled": (2, 6)
    }
    for name in taps:  # one pass for all layers equals one pass per layer
        assert torch.equal(encoder.layers(audio, [name])[name], taps[name])


def test_windows_are_encoded_in_one_batch_and_joined_along_time(fixed_encoder):
    audio = waveform(2, 100)  # 2.5 windows of 40 samples
    taps = tap_layers(fixed_encoder, audio, segment_seconds=0.4)
    assert fixed_encoder.forward_calls == 1
    padded = torch.nn.functional.pad(audio, (0, 20))
    separately = [fixed_encoder.layers(padded[:, start : start + 40]) for start in (0, 40, 80)]
    assert torch.equal(taps["conv"], torch.cat([part["conv"] for part in separately], dim=-1))  # (2, 3, 10, 12)
    assert torch.equal(taps["tokens"], torch.cat([part["tokens"] for part in separately], dim=1))  # (2, 12, 6)
    assert torch.equal(taps["pooled"], torch.stack([part["pooled"] for part in separately], dim=1))  # (2, 3, 6)
    assert taps["conv"].shape == (2, 3, 10, 12) and taps["pooled"].shape == (2, 3, 6)


def test_the_fixed_length_encoder_refuses_other_lengths_without_windows(fixed_encoder):
    with pytest.raises(AudioError, match="takes 40 samples, got 100"):
        tap_layers(fixed_encoder, waveform(1, 100))


def test_segmenting_pads_or_drops_the_tail():
    audio = torch.arange(1.0, 11.0)[None]  # 10 samples
    padded = segment_waveform(audio, 4)
    assert padded.tolist() == [[[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 0, 0]]]
    assert segment_waveform(audio, 4, drop_remainder=True).tolist() == [[[1, 2, 3, 4], [5, 6, 7, 8]]]
    # A clip shorter than one window is padded to one window, even when the remainder is dropped.
    assert segment_waveform(audio[:, :3], 4, drop_remainder=True).tolist() == [[[1, 2, 3, 0]]]


def test_join_segments_orders_windows_within_each_clip():
    # Window w of clip b holds 10 * b + w in every element, for each layout.
    batch, windows = 2, 3
    marks = (10 * torch.arange(batch)[:, None] + torch.arange(windows)[None, :]).reshape(-1).float()
    conv = join_segments(marks[:, None, None, None].expand(-1, 1, 1, 2), batch, windows)
    assert conv[:, 0, 0].tolist() == [[0, 0, 1, 1, 2, 2], [10, 10, 11, 11, 12, 12]]
    tokens = join_segments(marks[:, None, None].expand(-1, 2, 1), batch, windows)
    assert tokens[:, :, 0].tolist() == [[0, 0, 1, 1, 2, 2], [10, 10, 11, 11, 12, 12]]
    vectors = join_segments(marks[:, None], batch, windows)
    assert vectors[:, :, 0].tolist() == [[0, 1, 2], [10, 11, 12]]


def test_layer_features_is_one_pass_and_equals_each_layer_on_its_own(encoder):
    audio = waveform(3, 120)
    features = LayerFeatures(encoder, n_frames=4)
    vectors = features(audio)
    assert encoder.forward_calls == 1
    assert {name: tuple(value.shape) for name, value in vectors.items()} == {
        "conv": (3, 30), "tokens": (3, 6), "pooled": (3, 6)
    }
    for name, vector in vectors.items():
        alone = pool_clip(temporal_maxpool(encoder.layers(audio, [name])[name], 4))
        torch.testing.assert_close(vector, alone, rtol=0, atol=0)
    # Fusing cached vectors equals pooling the fused frames (Eq. 2 then Eq. 3).
    fused_frames = fuse(encoder.layers(audio), ["conv", "tokens"], 4)
    torch.testing.assert_close(torch.cat([vectors["conv"], vectors["tokens"]], dim=1), pool_clip(fused_frames))


def test_layer_features_default_frames_are_the_coarsest_layer(encoder):
    audio = waveform(1, 70)  # 7 frames in conv and tokens: pooling to 7 frames changes nothing
    vectors = LayerFeatures(encoder, ["conv"])(audio)
    conv = encoder.layers(audio, ["conv"])["conv"].flatten(1, 2)  # (1, 30, 7)
    torch.testing.assert_close(vectors["conv"], conv.mean(-1) + conv.amax(-1))


def test_extract_handles_clips_of_different_lengths(fixed_encoder):
    features = LayerFeatures(fixed_encoder, ["conv", "pooled"], n_frames=3, segment_seconds=0.4)
    clips = [waveform(1, 40, seed=1), waveform(1, 130, seed=2)[0], waveform(2, 75, seed=3)]
    vectors = features.extract(clips, progress=False)
    assert vectors["conv"].shape == (4, 30) and vectors["pooled"].shape == (4, 6)
    last_two = features(clips[2])
    assert torch.equal(vectors["pooled"][2:], last_two["pooled"])
    assert torch.equal(vectors["conv"][1:2], features(clips[1][None])["conv"])


def test_layer_features_of_efficientat_have_channels_times_bins_dimensions():
    torch.manual_seed(0)
    model = EfficientATMobileNet().eval()
    vectors = LayerFeatures(model)(waveform(2, 16000) * 0.1)
    shapes = {name: output.shape[1] * output.shape[2] for name, output in model.layers(waveform(1, 16000)).items()}
    assert list(vectors) == [f"block{index}" for index in range(1, 18)]
    assert {name: vector.shape for name, vector in vectors.items()} == {
        name: (2, dim) for name, dim in shapes.items()
    }
    assert vectors["block17"].shape == (2, 384 * 4)


def test_errors_name_the_problem(encoder):
    with pytest.raises(ValueError, match=r"segment_seconds=0.001 is shorter than one sample at 100 Hz"):
        tap_layers(encoder, waveform(1, 50), segment_seconds=0.001)
    with pytest.raises(AudioError, match=r"tap_layers expects a waveform \(batch, samples\) at 100 Hz"):
        tap_layers(encoder, torch.zeros(1, 1, 50), segment_seconds=0.2)
    with pytest.raises(UnknownNameError, match="unknown layer 'fc'; valid: conv, pooled, tokens"):
        LayerFeatures(encoder, ["fc"])
    with pytest.raises(UnknownNameError, match="'fc'"):
        tap_layers(encoder, waveform(1, 50), ["fc"])
    with pytest.raises(ValueError, match="n_frames must be at least 1 or None, got 0"):
        LayerFeatures(encoder, n_frames=0)
    with pytest.raises(ValueError, match="extract got no waveforms"):
        LayerFeatures(encoder).extract([], progress=False)
    with pytest.raises(ValueError, match=r"cannot join a layer output of shape \(2, 1, 1, 1, 1\)"):
        join_segments(torch.zeros(2, 1, 1, 1, 1), 1, 2)


def test_the_input_check_of_taps_refuses_every_non_finite_waveform_and_accepts_overflowing_sums(encoder):
    """The check sums the waveform first; a sum that overflows must not refuse finite samples."""
    large = torch.full((2, 80), 3e38)  # every sample finite, the float32 sum is inf
    assert not torch.isfinite(large.sum())
    assert encoder.check_waveform(large) is large
    for bad in (float("nan"), float("inf"), -float("inf")):
        audio = waveform(2, 80)
        audio[1, 7] = bad
        with pytest.raises(AudioError, match="NaN or Inf"):
            encoder.layers(audio)
    mixed = waveform(2, 80)
    mixed[0, 0], mixed[1, 1] = float("inf"), -float("inf")  # their sum is NaN, still refused
    with pytest.raises(AudioError, match="NaN or Inf"):
        tap_layers(encoder, mixed)
    assert encoder.forward_calls == 0  # refused before any forward pass
