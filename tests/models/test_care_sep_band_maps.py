"""CaRE-SEP's per-band maps as grouped 1x1 convolutions: equal to the per-band einsum they replace.

The reference is the formulation the layers had before (one einsum over the band axis), written
out here, and a loop over bands for the smallest case; parameter names and shapes are unchanged, so
a state_dict saved by the einsum layers loads and gives the same separation.
"""

from __future__ import annotations

import io

import pytest
import torch

from workbench.audio.bandsplit import BandSplit
from workbench.models.care_sep import BandEncoder, BandMaskHead, CaReSep, CaReSepConfig


def einsum_band_encoder(layer: BandEncoder, bands: torch.Tensor) -> torch.Tensor:
    return torch.einsum("bkwt,kwc->bckt", bands, layer.weight) + layer.bias.T[None, :, :, None]


def einsum_mask_head(layer: BandMaskHead, features: torch.Tensor) -> torch.Tensor:
    return torch.einsum("bckt,kcw->bkwt", features, layer.weight) + layer.bias[None, :, :, None]


@pytest.mark.parametrize(("n_fft", "n_bands", "batch", "frames"), [(1024, 64, 1, 7), (1024, 64, 5, 33), (256, 32, 3, 12)])
def test_band_encoder_equals_the_per_band_einsum(n_fft, n_bands, batch, frames):
    torch.manual_seed(0)
    split = BandSplit(n_fft, 16000, n_bands)
    layer = BandEncoder(split, channels=6)
    with torch.no_grad():
        layer.bias.normal_()
    magnitudes = torch.rand(batch, split.n_freq, frames)
    bands = split.split(magnitudes)
    ours, reference = layer(bands), einsum_band_encoder(layer, bands)
    assert ours.shape == (batch, 6, n_bands, frames)
    torch.testing.assert_close(ours, reference, rtol=0, atol=1e-5)
    # Gradients with respect to the input and both parameters agree too.
    weights = torch.randn_like(reference)
    ours_grads = torch.autograd.grad((ours * weights).sum(), [layer.weight, layer.bias])
    reference_grads = torch.autograd.grad((reference * weights).sum(), [layer.weight, layer.bias])
    for ours_grad, reference_grad in zip(ours_grads, reference_grads):
        torch.testing.assert_close(ours_grad, reference_grad, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(("batch", "frames"), [(1, 9), (4, 20)])
def test_band_mask_head_equals_the_per_band_einsum_and_a_loop_over_bands(batch, frames):
    torch.manual_seed(1)
    split = BandSplit(1024, 16000, 64)
    layer = BandMaskHead(split, channels=12)
    with torch.no_grad():
        layer.bias.normal_()
    padded = torch.randn(batch, 64, frames + 3, 12)  # channels-last tokens, frames padded as in the separator
    features = padded.permute(0, 3, 1, 2)[..., :frames]  # (B, C, K, T), a strided view
    ours, reference = layer(features), einsum_mask_head(layer, features)
    assert ours.shape == (batch, 64, split.max_width, frames)
    torch.testing.assert_close(ours, reference, rtol=0, atol=1e-5)
    for band in (0, 31, 63):  # one band by hand: (C, W)^T @ (C, T) + bias
        by_hand = layer.weight[band].T @ features[:, :, band] + layer.bias[band][:, None]
        torch.testing.assert_close(ours[:, band], by_hand, rtol=0, atol=1e-5)
    gradient = torch.autograd.grad(ours.square().sum(), layer.weight)[0]
    reference_gradient = torch.autograd.grad(reference.square().sum(), layer.weight)[0]
    torch.testing.assert_close(gradient, reference_gradient, rtol=1e-5, atol=1e-5)


def test_a_state_dict_of_the_einsum_layers_loads_and_separates_the_same():
    torch.manual_seed(2)
    config = CaReSepConfig.tiny(n_classes=4)
    saved = CaReSep(config).eval()
    buffer = io.BytesIO()
    torch.save(saved.state_dict(), buffer)
    keys = saved.state_dict()
    assert keys["band_encoder.weight"].shape == (64, saved.band_split.max_width, config.band_channels)
    assert keys["mask_head.weight"].shape == (64, config.embed_dim, saved.band_split.max_width)
    buffer.seek(0)
    loaded = CaReSep(config).eval()
    loaded.load_state_dict(torch.load(buffer, weights_only=True), strict=True)
    mixture, query = torch.randn(2, 8000) * 0.1, torch.randn(2, config.query_dim)
    with torch.no_grad():
        estimate = loaded.separate(mixture, query)
        # The same network with the einsum formulation swapped back in.
        encoder_forward, head_forward = BandEncoder.forward, BandMaskHead.forward
        try:
            BandEncoder.forward, BandMaskHead.forward = einsum_band_encoder, einsum_mask_head
            reference = saved.separate(mixture, query)
        finally:
            BandEncoder.forward, BandMaskHead.forward = encoder_forward, head_forward
    torch.testing.assert_close(estimate, reference, rtol=0, atol=1e-5)
