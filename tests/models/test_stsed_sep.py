"""ST-SED-SEP's networks: the HTS-AT-style query network and the query-conditioned ResUNet-style separator."""

from __future__ import annotations

import pytest
import torch

from workbench.errors import AudioError
from workbench.models.care_sep import CaReSep, CaReSepConfig
from workbench.models.stsed_sep import (
    ConditionedResBlock,
    ResUNetConfig,
    ResUNetSeparator,
    StSedConfig,
    StSedQueryNet,
)


@pytest.fixture(scope="module")
def networks() -> tuple[StSedQueryNet, ResUNetSeparator]:
    torch.manual_seed(0)
    query_net = StSedQueryNet(StSedConfig.tiny(n_classes=5)).eval()
    separator = ResUNetSeparator(ResUNetConfig(n_fft=512, channels=(4, 8), query_dim=128)).eval()
    return query_net, separator


@pytest.mark.parametrize("samples", [8000, 7321])
def test_shapes(networks, samples):
    query_net, separator = networks
    clips = torch.randn(3, samples) * 0.1
    with torch.no_grad():
        query, logits = query_net.query_and_tags(clips)
        estimate, features = separator.separate(clips, query, return_features=True)
    assert query.shape == (3, 128) and logits.shape == (3, 5) and query_net.embedding_dim == 128
    assert torch.allclose(query, query_net.embed_query(clips), atol=1e-6)
    assert torch.allclose(logits, query_net.tag_logits(clips), atol=1e-6)
    assert estimate.shape == (3, samples) and features.shape == (3, 128)
    assert torch.isfinite(estimate).all()


def test_paper_sizes_match_the_papers_queries():
    assert StSedConfig.paper_large().query_dim == 2048  # "2048-d ST-SED-SEP" (Table 1 and 2)
    assert StSedConfig.paper().query_dim == 768 and StSedConfig.paper().depths == (2, 2, 6, 2)
    config = ResUNetConfig.paper()
    assert config.channels == (32, 64, 128, 256, 512, 1024) and config.query_dim == 2048


def test_the_query_conditions_every_block(networks):
    """Each convolution block adds a linear map of the query per channel: another query, another output."""
    _, separator = networks
    block = ConditionedResBlock(2, 3, query_dim=4, momentum=0.01).eval()
    features, query = torch.randn(1, 2, 5, 6), torch.randn(1, 4)
    with torch.no_grad():
        hidden = torch.relu(block.bn1(block.conv1(features))) + block.query1(query)[:, :, None, None]
        hidden = torch.relu(block.bn2(block.conv2(hidden))) + block.query2(query)[:, :, None, None]
        assert torch.allclose(block(features, query), hidden + block.shortcut(features), atol=1e-6)
    conditioned = [module for module in separator.modules() if isinstance(module, ConditionedResBlock)]
    assert len(conditioned) == 2 + 1 + 2  # encoder, centre, decoder
    mixture = torch.randn(2, 8000) * 0.1
    with torch.no_grad():
        one = separator.separate(mixture, torch.zeros(2, 128))
        two = separator.separate(mixture, torch.ones(2, 128))
    assert not torch.allclose(one, two)


def test_a_full_mask_returns_the_mixture():
    """With the mask's logits saturated, the separator passes the mixture through (STFT round trip)."""
    separator = ResUNetSeparator(ResUNetConfig(n_fft=512, channels=(4,), query_dim=8)).eval()
    with torch.no_grad():
        separator.mask.weight.zero_()
        separator.mask.bias.fill_(50.0)
        mixture = torch.randn(2, 4000) * 0.1
        assert torch.allclose(separator.separate(mixture, torch.zeros(2, 8)), mixture, atol=1e-4)


def test_query_network_is_not_the_care_sep_encoder(networks):
    query_net, _ = networks
    care = CaReSep(CaReSepConfig.tiny(n_classes=5))
    assert not isinstance(query_net, CaReSep)
    assert hasattr(query_net, "mel") and not hasattr(query_net, "band_split")  # mel input, no band-split
    # A CaRE-SEP separator can take another network's query width (row G).
    separator = CaReSep(CaReSepConfig.tiny(n_classes=5, condition_dim=2048))
    with torch.no_grad():
        estimate = separator.separate(torch.randn(1, 8000) * 0.1, torch.zeros(1, 2048))
    assert estimate.shape == (1, 8000) and care.config.query_input_dim == 128


def test_errors_are_named(networks):
    query_net, separator = networks
    with pytest.raises(ValueError, match=r"query must be \(batch=1, 128\), got \(1, 64\)"):
        separator.separate(torch.randn(1, 8000), torch.zeros(1, 64))
    with pytest.raises(AudioError, match="samples >= 257"):
        separator.separate(torch.randn(1, 100), torch.zeros(1, 128))
    with pytest.raises(AudioError, match="at least 513 samples"):
        query_net.embed_query(torch.randn(1, 100))
    with pytest.raises(ValueError, match="n_fft // 2 = 256 frequency bins must be divisible by 2 \\*\\* 9"):
        ResUNetConfig(n_fft=512, channels=(1,) * 9)
    with pytest.raises(ValueError, match="n_mels=60 must be divisible by patch_size \\* 8 = 32"):
        StSedConfig(n_mels=60)
