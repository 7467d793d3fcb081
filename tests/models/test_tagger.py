"""The ResNet tagger, its BCE + mixup training step, tag prediction, and the real mn04 tagger on ESC-10."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch

from workbench.audio.augment import sample_mixup_lambda
from workbench.audio.io import load, resample
from workbench.errors import AudioError
from workbench.evaluation.svm import SVMConfig, svm_backend
from workbench.models.registry import load_pretrained
from workbench.models.tagger import ResNetTagger, TaggerConfig, TaggingStep, count_parameters, predict_tags

N_TAGS = 6


@pytest.fixture(scope="module")
def tagger() -> ResNetTagger:
    torch.manual_seed(0)
    return ResNetTagger(TaggerConfig.small(n_tags=N_TAGS, channels=(4, 8), tag_names=tuple("abcdef"))).eval()


def clips(count: int, samples: int = 8000, seed: int = 0) -> torch.Tensor:
    return 0.1 * torch.randn(count, samples, generator=torch.Generator().manual_seed(seed))


def test_shapes_names_and_the_encoder_contract(tagger):
    audio = clips(3)
    assert tagger.log_mel(audio).shape == (3, 128, 8000 // 320 + 1)
    embedding = tagger.embed(audio)
    assert embedding.shape == (3, tagger.embedding_dim) == (3, 8)
    logits = tagger.tag_logits(audio)
    assert logits.shape == (3, N_TAGS) and list(tagger.tag_names) == list("abcdef")
    torch.testing.assert_close(tagger.head(embedding), logits)  # dropout is off in eval mode
    torch.testing.assert_close(tagger(audio, output="logits"), logits)
    assert list(tagger.layers(audio)) == ["stem", "stage1", "stage2"]
    with pytest.raises(ValueError, match="output must be 'embedding' or 'logits', got 'tags'"):
        tagger(audio, output="tags")
    with pytest.raises(AudioError, match=r"expects waveforms of shape \(batch, samples\)"):
        tagger.tag_logits(torch.zeros(1, 1, 1, 8000))


def test_spec_augment_masks_only_in_training():
    torch.manual_seed(0)
    model = ResNetTagger(TaggerConfig.small(n_tags=N_TAGS, channels=(4,), freq_mask=40, time_mask=10))
    audio = clips(2)
    model.eval()
    assert torch.equal(model.log_mel(audio), model.log_mel(audio))
    model.train()
    assert (model.log_mel(audio) == 0).float().mean() > 0.05  # masked cells are zero (the normalised mean)


def test_tagging_step_is_bce_on_mixed_clips_and_targets(tagger):
    audio = clips(4)
    targets = torch.tensor([[1, 0, 0, 0, 0, 1], [0, 1, 0, 0, 0, 0], [0, 0, 1, 1, 0, 0], [0, 0, 0, 0, 1, 0]]).float()
    loss, metrics = TaggingStep(mixup_alpha=0.4, generator=torch.Generator().manual_seed(3))(tagger, (audio, targets))
    # The same draws by hand: lambda first, then the partner permutation.
    generator = torch.Generator().manual_seed(3)
    lam = sample_mixup_lambda(0.4, generator)
    partner = torch.randperm(4, generator=generator)
    mixed = lam * audio + (1 - lam) * audio[partner]
    mixed_targets = lam * targets + (1 - lam) * targets[partner]
    probabilities = torch.sigmoid(tagger.tag_logits(mixed))
    expected = -(mixed_targets * probabilities.log() + (1 - mixed_targets) * (1 - probabilities).log()).mean()
    torch.testing.assert_close(loss, expected)
    assert metrics == {"mixup_lambda": lam}
    # Without mixup: plain BCE; stereo clips are averaged to mono first.
    plain, _ = TaggingStep(mixup_alpha=0.0)(tagger, (torch.stack([audio, audio], dim=1), targets))
    expected_plain = torch.nn.functional.binary_cross_entropy_with_logits(tagger.tag_logits(audio), targets)
    torch.testing.assert_close(plain, expected_plain)


def test_weighted_tagging_step_scales_each_clips_loss(tagger):
    """Per-clip weights (FSDKaggle2019's noisy clips below 1): each clip's BCE times its weight, and a
    mixed clip takes the same mix of its two clips' weights."""
    audio = clips(4)
    targets = torch.tensor([[1, 0, 0, 0, 0, 1], [0, 1, 0, 0, 0, 0], [0, 0, 1, 1, 0, 0], [0, 0, 0, 0, 1, 0]]).float()
    weights = torch.tensor([1.0, 0.5, 1.0, 0.0])
    loss, _ = TaggingStep(mixup_alpha=0.0, weighted=True)(tagger, (audio, targets, weights))
    per_clip = torch.nn.functional.binary_cross_entropy_with_logits(
        tagger.tag_logits(audio), targets, reduction="none").mean(dim=1)  # fmt: skip
    torch.testing.assert_close(loss, (weights * per_clip).mean())
    unweighted, _ = TaggingStep(mixup_alpha=0.0)(tagger, (audio, targets))
    torch.testing.assert_close(TaggingStep(mixup_alpha=0.0, weighted=True)(tagger, (audio, targets, torch.ones(4)))[0],
                               unweighted)  # fmt: skip
    mixed, _ = TaggingStep(mixup_alpha=0.4, generator=torch.Generator().manual_seed(5), weighted=True)(
        tagger, (audio, targets, weights))  # fmt: skip
    generator = torch.Generator().manual_seed(5)
    lam = sample_mixup_lambda(0.4, generator)
    partner = torch.randperm(4, generator=generator)
    mixed_per_clip = torch.nn.functional.binary_cross_entropy_with_logits(
        tagger.tag_logits(lam * audio + (1 - lam) * audio[partner]), lam * targets + (1 - lam) * targets[partner],
        reduction="none").mean(dim=1)  # fmt: skip
    torch.testing.assert_close(mixed, ((lam * weights + (1 - lam) * weights[partner]) * mixed_per_clip).mean())


def test_the_paper_size_tagger_has_about_44_million_parameters():
    """Sec. 4.2: "ResNet architecture with approximately 44 million trainable parameters"."""
    config = TaggerConfig.paper_size()
    assert config.channels == (128, 256, 512, 1024) and config.blocks_per_stage == 2 and config.n_mels == 128
    assert count_parameters(ResNetTagger(config)) == 44_732_624


def test_a_few_steps_learn_which_tone_is_present():
    """Two tags, a 500 Hz and a 2 kHz tone, each present or not: training separates them."""
    torch.manual_seed(0)
    model = ResNetTagger(TaggerConfig.small(n_tags=2, channels=(8,), freq_mask=0, time_mask=0, dropout=0.0))
    time = torch.arange(4000) / 16000
    targets = torch.tensor([[a, b] for a in (0.0, 1.0) for b in (0.0, 1.0)] * 4)
    phases = torch.rand(len(targets), 2, generator=torch.Generator().manual_seed(1)) * 6.28
    audio = 0.01 * torch.randn(len(targets), 4000, generator=torch.Generator().manual_seed(2))
    audio += 0.1 * targets[:, :1] * torch.sin(2 * torch.pi * 500 * time + phases[:, :1])
    audio += 0.1 * targets[:, 1:] * torch.sin(2 * torch.pi * 2000 * time + phases[:, 1:])
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    step = TaggingStep(mixup_alpha=0.0)
    for _ in range(40):
        loss, _ = step(model, (audio, targets))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    probabilities = predict_tags(model, audio)
    assert ((probabilities > 0.5).float() == targets).all(), probabilities


def test_predict_tags_batches_resamples_and_restores_the_mode(tagger):
    audio = clips(5, samples=16000)  # at 32 kHz: resampled to the tagger's 16 kHz
    tagger.train()
    tags = predict_tags(tagger, audio, batch_size=2, sample_rate=32000)
    assert tagger.training  # the caller's mode is restored
    tagger.eval()
    expected = torch.sigmoid(tagger.tag_logits(resample(audio, 32000, 16000)))
    torch.testing.assert_close(tags, expected)
    assert ((tags > 0) & (tags < 1)).all() and tags.shape == (5, N_TAGS)
    torch.testing.assert_close(predict_tags(tagger, torch.stack([audio, audio], 1), sample_rate=32000), tags)


def test_config_errors():
    with pytest.raises(ValueError, match="TaggerConfig has 2 tag names for n_tags=3"):
        TaggerConfig.small(n_tags=3, tag_names=("a", "b"))
    with pytest.raises(ValueError, match="TaggerConfig.n_mels must be a positive integer"):
        TaggerConfig(n_mels=0)


@pytest.mark.shared
def test_the_real_mn04_tagger_makes_informative_tag_vectors_of_esc10_clips(shared_dir: Path):
    """mn04's 527 AudioSet tags of the real ESC-10 clips (16 kHz, resampled as the recipe does): valid
    probabilities, the clearest classes' mean vector tops on the right tag, and an SVM on the tag vectors
    alone tells the ten classes apart."""
    weights = shared_dir / "weights" / "efficientat-mn04" / "mn04_as_mAP_432.pt"
    root = shared_dir / "data" / "esc10"
    if not weights.is_file() or not (root / "meta" / "esc50.csv").is_file():
        pytest.skip(f"needs {weights} and the ESC-10 clips in {root}")
    model = load_pretrained("efficientat-mn04", path=weights)
    with (root / "meta" / "esc50.csv").open(newline="") as file:
        rows = list(csv.DictReader(file))
    audio = torch.cat([load(root / "audio" / row["filename"])[0] for row in rows])  # (83, 80000) at 16 kHz
    tags = predict_tags(model, audio, batch_size=32, sample_rate=16000).numpy()
    assert tags.shape == (83, 527) and ((tags > 0) & (tags < 1)).all()
    categories = np.array([row["category"] for row in rows])
    for category, expected in (("dog", "Dog"), ("rooster", "Chicken, rooster"), ("rain", "Rain")):
        mean_vector = tags[categories == category].mean(axis=0)
        top = [model.tag_names[index] for index in np.argsort(-mean_vector)[:3]]
        assert expected in top, f"{category}: {top}"
    # Fold 4 holds 80 clips (8 per class): train on the first four of each class, test on the rest.
    names = sorted(set(categories))
    labels = np.array([names.index(category) for category in categories])
    rank = np.array([(categories[: index + 1] == categories[index]).sum() for index in range(len(rows))])
    train, test = rank <= 4, rank > 4
    result = svm_backend(np.log(tags[train]), labels[train], np.log(tags[test]), labels[test], SVMConfig())
    assert result.accuracy >= 0.75, result.accuracy
