"""The raw-waveform ASC network of Jung et al.'s Table 1: sizes, pre-emphasis, Encoder contract, errors."""

from __future__ import annotations

import pytest
import torch

from workbench.errors import AudioError
from workbench.models.asc_raw import PreEmphasis, RawASCConfig, RawASCNet, ResidualBlock


def small_config(**overrides) -> RawASCConfig:
    # 8 filters and five blocks keep the forward passes in milliseconds.
    return RawASCConfig.small(filters=8, n_blocks=5, input_samples=12000, n_scenes=5, **overrides)


@pytest.fixture(scope="module")
def model() -> RawASCNet:
    torch.manual_seed(0)
    return RawASCNet(small_config()).eval()


def test_paper_sizes_on_the_meta_device():
    """479,999 stereo samples -> 39,999 frames after the strided conv -> 18 after seven pools of 3."""
    config = RawASCConfig()
    assert config.frames(479_999) == 18 and config.min_samples == 12 + 12 * (3**7 - 1)
    with torch.device("meta"):  # shapes only, no arithmetic (the input check needs values, so it is skipped)
        net = RawASCNet(config)
        features = net.trunk.strided_conv(net.trunk.pre_emphasis(torch.zeros(2, 2, 479_999)))
        frames = [features.shape]
        for block in net.trunk.blocks:
            features = block(features)
            frames.append(features.shape)
        code = net.code(net.trunk.pool(features))
        logits = net.classifier(code)
    assert frames[0] == (2, 128, 39_999)
    assert [shape[-1] for shape in frames[1:]] == [13333, 4444, 1481, 493, 164, 54, 18]
    assert code.shape == (2, 64) and logits.shape == (2, 10)
    assert net.code.in_features == 256  # global average and global max pooling, concatenated


def test_pre_emphasis_matches_a_loop():
    waveform = torch.randn(2, 3, 50, generator=torch.Generator().manual_seed(0))
    expected = waveform.clone()
    for t in range(1, 50):
        expected[..., t] = waveform[..., t] - 0.97 * waveform[..., t - 1]
    torch.testing.assert_close(PreEmphasis(0.97)(waveform), expected)
    assert torch.equal(PreEmphasis(0.0)(waveform), waveform)


def test_residual_block_adds_its_input_before_the_last_activation_and_pools():
    torch.manual_seed(0)
    block = ResidualBlock(4, pool_size=3).eval()
    features = torch.randn(2, 4, 30)
    hidden = block.activation(block.bn1(block.conv1(features)))
    expected = torch.nn.functional.max_pool1d(block.activation(block.bn2(block.conv2(hidden)) + features), 3)
    torch.testing.assert_close(block(features), expected)
    assert block(features).shape == (2, 4, 10)


def test_encoder_contract_and_shapes(model):
    waveform = 0.1 * torch.randn(3, 2, 12000, generator=torch.Generator().manual_seed(1))
    code = model.embed(waveform)
    assert code.shape == (3, model.embedding_dim) == (3, 64)
    torch.testing.assert_close(model.classifier(code), model.scene_logits(waveform))
    layers = model.layers(waveform)
    assert list(layers) == ["strided_conv", *(f"block{index}" for index in range(1, 6)), "code"]
    assert layers["strided_conv"].shape == (3, 8, 1000) and layers["block5"].shape == (3, 8, model.config.frames(12000))
    torch.testing.assert_close(layers["code"], code)
    pooled = torch.cat([layers["block5"].mean(-1), layers["block5"].amax(-1)], dim=1)
    torch.testing.assert_close(model.code(pooled), code)


def test_mono_input_is_copied_to_both_channels(model):
    mono = 0.1 * torch.randn(2, 12000, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(model(mono), model(torch.stack([mono, mono], dim=1)))


def test_any_length_from_the_minimum_works_and_shorter_input_is_refused(model):
    minimum = model.config.min_samples
    assert model(torch.zeros(1, 2, minimum)).shape == (1, 64)
    expected = rf"needs at least {minimum} samples \(0\.18 s at 16000 Hz\) for its 5 pooling blocks, got {minimum - 1}"
    with pytest.raises(AudioError, match=expected):
        model(torch.zeros(1, 2, minimum - 1))
    with pytest.raises(AudioError, match=r"expects \(batch, 2, samples\) at 16000 Hz .* got shape \(1, 3, 12000\)"):
        model(torch.zeros(1, 3, 12000))
    with pytest.raises(AudioError, match="NaN or Inf"):
        model(torch.full((1, 2, 12000), float("nan")))


def test_config_errors_name_the_field_and_the_minimum():
    expected = r"input_samples=20000 is too short: 7 blocks .* need at least 26244 samples \(1\.64 s at 16000 Hz\)"
    with pytest.raises(ValueError, match=expected):
        RawASCConfig.small(input_samples=20000)
    with pytest.raises(ValueError, match="RawASCConfig.filters must be a positive integer"):
        RawASCConfig(filters=0)
    with pytest.raises(ValueError, match=r"pre_emphasis must be in \[0, 1\)"):
        RawASCConfig(pre_emphasis=1.0)
