"""BgKnown items: the mixture, its SNR, the 100/50/0 % references, the datasets and the y_diff tables."""

import numpy as np
import pytest
import torch
from evaluation_helpers import CountingEncoder

from workbench import data
from workbench.data.synthetic import BackgroundDataset, SyntheticDataset
from workbench.errors import AudioError, UnknownNameError
from workbench.evaluation.bgknown import BgKnownBuilder, bgknown_embeddings, difference, overlap_name
from workbench.evaluation.embeddings import extract_embeddings

CLIP = 8000  # 0.5 s at 16 kHz


@pytest.fixture(scope="module")
def builder() -> BgKnownBuilder:
    foregrounds = SyntheticDataset(seed=0, task="event", n_clips=10, duration=0.5)
    backgrounds = BackgroundDataset(seed=0, n_clips=3, duration=2.0)
    return BgKnownBuilder(foregrounds, backgrounds, seed=3)


def test_mixture_is_foreground_plus_background_at_the_drawn_snr(builder):
    for index in range(len(builder)):
        item = builder.item(index)
        foreground = builder.foregrounds[index][0][0]
        torch.testing.assert_close(item.foreground, foreground)
        torch.testing.assert_close(item.mixture, item.foreground + item.background)
        snr = 10 * np.log10(float(item.foreground.pow(2).mean()) / float(item.background.pow(2).mean()))
        assert 0.0 <= item.snr_db <= 3.0 and snr == pytest.approx(item.snr_db, abs=1e-3)
        assert item.label == builder.foregrounds.targets()[index]


def test_references_overlap_the_background_crop_by_100_50_and_0_percent(builder):
    item = builder.item(4)
    background = builder.backgrounds[item.background_index]
    gain = float(item.background.norm() / background[item.start : item.start + CLIP].norm())
    crop = gain * background[item.start : item.start + 2 * CLIP]  # the crop and the stretch after it
    torch.testing.assert_close(item.references[1.0], item.background)
    torch.testing.assert_close(item.references[0.5], crop[CLIP // 2 : CLIP // 2 + CLIP])
    torch.testing.assert_close(item.references[0.5][: CLIP // 2], item.background[CLIP // 2 :])
    torch.testing.assert_close(item.references[0.0], crop[CLIP:])  # starts where the mixture's crop ends


def test_items_are_deterministic_and_views_carry_the_foregrounds_labels(builder):
    again = BgKnownBuilder(builder.foregrounds, BackgroundDataset(seed=0, n_clips=3, duration=2.0), seed=3)
    assert torch.equal(again.item(7).mixture, builder.item(7).mixture)
    other_seed = BgKnownBuilder(builder.foregrounds, BackgroundDataset(seed=0, n_clips=3, duration=2.0), seed=4)
    assert not torch.equal(other_seed.item(7).mixture, builder.item(7).mixture)
    view = builder.view("diff-50")
    waveform, label, meta = view[2]
    assert waveform.shape == (1, CLIP) and torch.equal(waveform[0], builder.item(2).references[0.5])
    assert label == builder.foregrounds.targets()[2] and meta["id"].endswith("-diff-50")
    assert [view.fold_of(i) for i in range(10)] == [builder.foregrounds.fold_of(i) for i in range(10)]
    assert overlap_name(0.5) == "diff-50" and builder.parts()[3:] == ["diff-100", "diff-50", "diff-0"]
    with pytest.raises(UnknownNameError, match="unknown BgKnown part 'reference'"):
        builder.view("reference")


def test_tables_are_differences_of_the_embedded_parts(builder):
    encoder = CountingEncoder(sample_rate=16000)
    tables = bgknown_embeddings(encoder, builder, batch_size=4)
    # The one-pass tables agree with embedding each part's dataset on its own.
    mixture = extract_embeddings(encoder, builder.view("mixture"), cache=False, progress=False)
    reference = extract_embeddings(encoder, builder.view("diff-0"), cache=False, progress=False)
    assert sorted(tables) == ["diff-0", "diff-100", "diff-50", "mix"]
    np.testing.assert_allclose(tables["mix"].features, mixture.features, atol=1e-6)
    np.testing.assert_allclose(tables["diff-0"].features, mixture.features - reference.features, atol=1e-6)
    assert np.array_equal(tables["diff-0"].folds, mixture.folds)
    assert np.array_equal(tables["diff-0"].splits, mixture.splits)
    assert np.array_equal(tables["mix"].targets, mixture.targets)
    with pytest.raises(ValueError, match="targets differ"):
        difference(mixture, type(mixture)(**{**vars(mixture), "targets": (mixture.targets + 1) % 10}))


def test_bad_inputs_are_named():
    foregrounds = SyntheticDataset(seed=0, task="event", n_clips=4, duration=1.0)
    short = BgKnownBuilder(foregrounds, BackgroundDataset(seed=0, n_clips=1, duration=1.5))
    with pytest.raises(AudioError, match="needs at least 32000 .*for the 0 % reference"):
        short.item(0)
    with pytest.raises(ValueError, match="single-label foregrounds"):
        BgKnownBuilder(data.get("synthetic-separation", n_clips=2), BackgroundDataset(seed=0, n_clips=1))
    with pytest.raises(ValueError, match="low <= high"):
        BgKnownBuilder(foregrounds, BackgroundDataset(seed=0, n_clips=1), snr_db=(3.0, 0.0))


@pytest.mark.shared
def test_real_esc10_clips_over_synthetic_backgrounds(shared_dir):
    """ESC-10's 5-s recordings (44.1 kHz originals, 16 kHz copies) over 10-s backgrounds."""
    esc10 = data.get("esc10", root=shared_dir / "data")
    builder = BgKnownBuilder(esc10, BackgroundDataset(seed=0, n_clips=2, duration=10.0), seed=0)
    item = builder.item(0)
    assert item.mixture.shape == (5 * esc10.sample_rate,) and builder.sample_rate == esc10.sample_rate
    torch.testing.assert_close(item.mixture, item.foreground + item.background)
    assert esc10.classes[item.label] in esc10.classes
