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
    background = builder.background(item.pool, item.background_index)[0]
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


# ------------------------------------------------------------------------------------------------
# Disjoint pools, one background per item, and the paper's protocol

from workbench.data.synthetic import LongBackgroundDataset  # noqa: E402
from workbench.evaluation.bgknown import (  # noqa: E402
    BgKnownProtocol,
    BgKnownScores,
    compare_bgknown,
    compare_bgknown_items,
    probe_bgknown,
    protocol_rows,
)
from workbench.evaluation.embeddings import Embeddings  # noqa: E402
from workbench.evaluation.linear import train_linear  # noqa: E402


@pytest.fixture(scope="module")
def pooled_builder() -> BgKnownBuilder:
    foregrounds = SyntheticDataset(seed=0, task="event", n_clips=20, duration=0.25)
    pools = {pool: LongBackgroundDataset(seed=0, pool=pool, n_clips=12, duration=0.6) for pool in ("train", "test")}
    return BgKnownBuilder(foregrounds, pools, seed=1, per_item=True)


def test_each_item_has_its_own_background_from_its_folds_pool(pooled_builder):
    items = [pooled_builder.item(index) for index in range(len(pooled_builder))]
    folds = [pooled_builder.foregrounds.fold_of(index) for index in range(len(pooled_builder))]
    assert [item.pool for item in items] == ["test" if fold in (4, 5) else "train" for fold in folds]
    backgrounds = [item.background_id for item in items]
    assert len(set(backgrounds)) == len(items)  # drawn for one item only
    train = {item.background_group for item in items if item.pool == "train"}
    test = {item.background_group for item in items if item.pool == "test"}
    assert train and test and not train & test
    sources = pooled_builder.background_sources()
    assert not sources["train"] & sources["test"]
    assert pooled_builder.view("mixture")[0][2]["recording"] == items[0].background_group


def test_references_share_exactly_their_overlap_with_the_mixtures_background(pooled_builder):
    for index in range(len(pooled_builder)):
        item = pooled_builder.item(index)
        background = pooled_builder.background(item.pool, item.background_index)[0]
        length = item.background.shape[-1]
        gain = float(item.background.norm() / background[item.start : item.start + length].norm())
        for overlap, reference in item.references.items():
            shift = round((1 - overlap) * length)
            torch.testing.assert_close(reference, gain * background[item.start + shift : item.start + shift + length])
            shared = len(set(range(item.start, item.start + length)) & set(range(item.start + shift, item.start + shift + length)))
            assert shared == round(overlap * length)


def test_per_item_pools_must_be_large_enough_and_have_both_keys():
    foregrounds = SyntheticDataset(seed=0, task="event", n_clips=20, duration=0.25)
    small = {pool: LongBackgroundDataset(pool=pool, n_clips=3, duration=0.6) for pool in ("train", "test")}
    with pytest.raises(ValueError, match=r"the '(train|test)' pool has 3 backgrounds for (12|8) items"):
        BgKnownBuilder(foregrounds, small, per_item=True)
    with pytest.raises(ValueError, match="keys 'train' and 'test'"):
        BgKnownBuilder(foregrounds, {"dev": small["train"]})


def _blobs(n: int, seed: int, dim: int = 20, noise: float = 2.5):
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 4
    centres = np.random.default_rng(99).normal(size=(4, dim))
    return (centres[labels] + noise * rng.normal(size=(n, dim))).astype(np.float32), labels


def test_probe_stops_on_the_validation_loss_and_keeps_its_best_epoch():
    train_x, train_y = _blobs(40, 0)
    valid_x, valid_y = _blobs(60, 1)
    protocol = BgKnownProtocol(max_epochs=200, patience=5, lr=0.05, batch_size=8)
    config = protocol.config()
    assert (config.monitor, config.lr, config.batch_size, config.patience) == ("loss", 0.05, 8, 5)
    model, _ = train_linear(train_x, train_y, valid_x, valid_y, config, seed=0, n_classes=4)
    losses = np.asarray([epoch["valid_loss"] for epoch in model.history])
    assert model.best_epoch == int(np.argmin(losses))  # the lowest validation LOSS, not accuracy
    assert len(losses) == model.best_epoch + protocol.patience + 1 < protocol.max_epochs  # stopped early
    with torch.no_grad():
        restored = torch.nn.functional.cross_entropy(model(torch.from_numpy(valid_x)), torch.from_numpy(valid_y))
    assert float(restored) == pytest.approx(losses.min(), rel=1e-5)
    with pytest.raises(ValueError, match=r"must lie in \[0, 3\)"):
        train_linear(train_x, train_y, valid_x, valid_y, config, n_classes=3)


def _table(features, labels, folds):
    return Embeddings(features=features, targets=labels, ids=np.asarray([f"item{i}" for i in range(len(labels))]),
                      classes=tuple("abcd"), folds=folds)  # fmt: skip


def test_protocol_trains_on_folds_1_to_3_and_pairs_encoders_on_the_same_test_items():
    features, labels = _blobs(100, 2, noise=0.3)
    folds = np.arange(100) % 5 + 1
    protocol = BgKnownProtocol(max_epochs=30, patience=5)
    train, test = protocol_rows(_table(features, labels, folds), protocol)
    assert set(folds[train]) == {1, 2, 3} and set(folds[test]) == {4, 5}
    good = probe_bgknown(_table(features, labels, folds), protocol)
    noisy, _ = _blobs(100, 3, noise=20.0)
    bad = probe_bgknown(_table(noisy, labels, folds), protocol)
    assert good.correct.shape == (3, 40) and np.array_equal(good.ids, bad.ids)
    fixed = compare_bgknown_items(good, bad)  # these two fixed encoders: one pair per shared test item
    assert fixed.n == 40 and fixed.unit == "test items of fixed models"
    assert fixed.effect == pytest.approx(good.correct.mean() - bad.correct.mean())
    assert fixed.verdict == "holds" and fixed.ci_low > 0
    method = compare_bgknown(good, bad)  # as a claim about training methods: ONE pre-training run per side
    assert method.n == 1 and method.unit == "pre-training runs" and method.verdict == "inconclusive"
    assert "3 probe seeds x 40 test items" in method.nested
    shuffled = BgKnownScores(bad.ids[::-1], bad.correct, bad.accuracy, bad.epochs, bad.best_epochs)
    with pytest.raises(ValueError, match="not scored on the same test items"):
        compare_bgknown(good, shuffled)
    with pytest.raises(ValueError, match="BgKnown protocol splits by fold"):
        probe_bgknown(_table(features, labels, None), protocol)
    with pytest.raises(ValueError, match="both training and test folds"):
        BgKnownProtocol(train_folds=(1, 2, 4))


@pytest.mark.shared
def test_recorded_backgrounds_with_crops_of_half_a_5s_clip(shared_dir):
    """Real ESC-10 foregrounds over the real background pools: each crop is 2.5 s, half a 5-s recording,
    so the 0 % reference fits; test-fold items never meet a training recording."""
    from workbench.evaluation.bgknown import recorded_background_pools

    esc10 = data.get("esc10", root=shared_dir / "data")
    pools = recorded_background_pools(shared_dir / "data", n_babble=2, sample_rate=esc10.sample_rate)
    builder = BgKnownBuilder(esc10, pools, seed=0, clip_seconds=2.5)
    indices = range(0, len(esc10), 7)
    items = [builder.item(index) for index in indices]
    assert all(item.mixture.shape == (int(2.5 * esc10.sample_rate),) for item in items)
    assert [item.pool for item in items] == ["test" if esc10.fold_of(i) in (4, 5) else "train" for i in indices]
    train = {item.background_group for item in items if item.pool == "train"}
    test = {item.background_group for item in items if item.pool == "test"}
    assert test and not train & test and not builder.background_sources()["train"] & builder.background_sources()["test"]


def test_silent_stretches_of_a_recording_are_not_cropped():
    from workbench.data.records import AudioDataset

    class HalfSilent(AudioDataset):
        sample_rate = 16000

        def __len__(self):
            return 1

        def __getitem__(self, index):
            noise = torch.randn(16000, generator=torch.Generator().manual_seed(0))
            return torch.cat([torch.zeros(16000), noise])[None], 0, {"id": "half-silent"}

    foregrounds = SyntheticDataset(seed=0, task="event", n_clips=12, duration=0.25)
    builder = BgKnownBuilder(foregrounds, HalfSilent(), seed=0)
    for index in range(12):
        item = builder.item(index)
        assert float(item.background.pow(2).mean()) > 0 and item.start > 16000 - 4000 - 1
        torch.testing.assert_close(item.mixture, item.foreground + item.background)


def test_compare_bgknown_counts_pre_training_runs():
    """0.60 vs 0.50 on 800 items from one pre-training run per side is inconclusive; three consistent
    runs per side decide; two runs that disagree do not."""
    generator = np.random.default_rng(0)
    ids = np.asarray([f"item{i}" for i in range(800)])

    def scores(share: float) -> BgKnownScores:
        correct = generator.random((3, 800)) < share
        return BgKnownScores(ids, correct, correct.mean(axis=1), (10, 10, 10), (5, 5, 5))

    assert compare_bgknown(scores(0.60), scores(0.50)).verdict == "inconclusive"
    consistent = compare_bgknown([scores(0.60), scores(0.61), scores(0.60)], [scores(0.50)] * 3)
    assert consistent.n == 3 and consistent.verdict == "holds"
    disagree = compare_bgknown([scores(0.60), scores(0.45)], [scores(0.50), scores(0.50)])
    assert disagree.n == 2 and disagree.verdict == "inconclusive"
    with pytest.raises(ValueError, match="as many runs"):
        compare_bgknown([scores(0.6)], [scores(0.5), scores(0.5)])
