"""The CaRE-SEP classifier's input path: band norm (HTS-AT's bn0), and that the Init classifier learns."""

import pytest
import torch
from torch import nn

from workbench.data.synthetic.views import SyntheticDataset
from workbench.models.care_sep import BandNorm, CaReSep, CaReSepConfig, classifier_config

N_CLASSES = 8


def test_band_norm_standardises_every_feature_of_every_band_over_batch_and_frames():
    torch.manual_seed(0)
    norm = BandNorm(channels=3, n_bands=4).train()
    image = torch.randn(5, 3, 4, 7) * torch.arange(1.0, 13.0).reshape(1, 3, 4, 1) + 2.0  # (B, C, K, T)
    out = norm(image)
    expected = torch.empty_like(image)
    for channel in range(3):  # brute force: each (feature, band) row over the batch and the frames
        for band in range(4):
            values = image[:, channel, band, :]
            mean, variance = values.mean(), values.var(unbiased=False)
            expected[:, channel, band, :] = (values - mean) / torch.sqrt(variance + norm.norm.eps)
    assert torch.allclose(out, expected, atol=1e-5)
    assert torch.allclose(norm.norm.running_mean.reshape(3, 4), 0.1 * image.mean(dim=(0, 3)), atol=1e-5)


def test_the_band_image_reaches_the_patch_embedding_standardised_per_band():
    torch.manual_seed(0)
    model = CaReSep(classifier_config(CaReSepConfig.tiny(n_classes=N_CLASSES))).train()
    clips = torch.randn(6, 8000) * torch.linspace(0.01, 1.0, 6)[:, None]
    spectrum = model.stft(clips)
    image = model.band_image(spectrum)[..., : spectrum.shape[-1]]  # (B, C, K, T) without the frame padding
    assert torch.allclose(image.mean(dim=(0, 3)), torch.zeros(()), atol=1e-4)
    assert torch.allclose(image.std(dim=(0, 3), unbiased=False), torch.ones(()), atol=1e-2)
    assert (model.band_image(spectrum)[..., spectrum.shape[-1] :] == 0).all()  # padding stays zero
    raw = CaReSep(classifier_config(CaReSepConfig.tiny(n_classes=N_CLASSES, input_norm="none")))
    assert raw.band_norm is None and "band_norm.norm.weight" not in raw.state_dict()
    with pytest.raises(ValueError, match=r"input_norm must be one of \('band', 'none'\), got 'layer'"):
        CaReSepConfig(input_norm="layer")


def _train_classifier(input_norm: str, clips: torch.Tensor, labels: torch.Tensor, epochs: int = 5) -> CaReSep:
    torch.manual_seed(0)
    model = CaReSep(classifier_config(CaReSepConfig.tiny(n_classes=N_CLASSES, input_norm=input_norm)))
    optimiser = torch.optim.AdamW(model.parameters(), lr=2e-3)
    generator = torch.Generator().manual_seed(0)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(labels), generator=generator)
        for start in range(0, len(order), 16):
            batch = order[start : start + 16]
            loss = nn.functional.cross_entropy(model.tag_logits(clips[batch]), labels[batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    return model.eval()


def _accuracy(model: CaReSep, clips: torch.Tensor, labels: torch.Tensor) -> float:
    return float((model.tag_logits(clips).argmax(dim=-1) == labels).float().mean())


def test_the_init_classifier_learns_the_synthetic_classes_well_above_chance():
    source = SyntheticDataset(seed=0, task="event", n_clips=144, duration=0.5, n_event_classes=N_CLASSES)
    clips = torch.stack([source[index][0][0] for index in range(len(source))])
    labels = torch.tensor([int(source[index][1]) for index in range(len(source))])
    train, held_out = slice(0, 96), slice(96, None)
    normalised = _train_classifier("band", clips[train], labels[train])
    # Without the band norm the same network and training stay near chance: the norm is what fixes it.
    raw = _train_classifier("none", clips[train], labels[train])
    with torch.no_grad():
        assert _accuracy(normalised, clips[train], labels[train]) > 0.9  # chance: 1/8
        assert _accuracy(normalised, clips[held_out], labels[held_out]) > 0.3
        assert _accuracy(raw, clips[train], labels[train]) < 0.4

def test_a_separator_with_band_norm_trains_and_separates():
    torch.manual_seed(0)
    model = CaReSep(CaReSepConfig.tiny(n_classes=N_CLASSES)).train()
    mixture, clip = torch.randn(2, 8000) * 0.05, torch.randn(2, 8000) * 0.05
    estimate = model.separate(mixture, model.embed_query(clip))
    estimate.pow(2).mean().backward()
    assert estimate.shape == mixture.shape and torch.isfinite(estimate).all()
    assert model.band_norm.norm.weight.grad.abs().sum() > 0  # the norm trains with the separation loss
    with torch.no_grad():
        assert torch.isfinite(model.eval().separate(mixture[:1], model.embed_query(clip[:1]))).all()
