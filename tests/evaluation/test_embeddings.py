"""Embedding extraction: equivalence with per-clip embedding, batching, resampling and the disk cache."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from evaluation_helpers import CountingEncoder, ToneDataset

from workbench.audio.io import resample
from workbench.data.records import Subset
from workbench.evaluation.embeddings import Embeddings, cache_key, extract_embeddings


def _reference(encoder: CountingEncoder, dataset: ToneDataset) -> np.ndarray:
    """Each clip embedded alone, mono, at the encoder's rate: what batching must reproduce."""
    rows = []
    with torch.no_grad():
        for index in range(len(dataset)):
            waveform, _, _ = dataset[index]
            mono = resample(waveform.mean(dim=0), dataset.sample_rate, encoder.sample_rate)
            rows.append(encoder(mono.unsqueeze(0))[0].numpy())
    return np.stack(rows)


def test_matches_per_clip_embedding_and_copies_metadata(encoder, dataset, tmp_path):
    embeddings = extract_embeddings(encoder, dataset, batch_size=4, cache_dir=tmp_path, progress=False)
    np.testing.assert_allclose(embeddings.features, _reference(encoder, dataset), rtol=1e-5, atol=1e-6)
    assert embeddings.features.dtype == np.float32 and embeddings.features.shape == (9, 3)
    assert embeddings.targets.tolist() == [index % 3 for index in range(9)]
    assert embeddings.ids.tolist() == [f"tone-{index}" for index in range(9)]
    assert embeddings.folds.tolist() == [1, 1, 1, 2, 2, 2, 3, 3, 3]
    assert embeddings.splits is None
    assert embeddings.classes == ("low", "mid", "high")


def test_batches_hold_equal_lengths_up_to_batch_size(encoder, tmp_path):
    dataset = ToneDataset(lengths=[800, 800, 800, 600, 600, 800, 800])
    embeddings = extract_embeddings(encoder, dataset, batch_size=2, cache=False, progress=False)
    shapes = encoder.input_shapes[:]
    assert shapes == [(2, 800), (1, 800), (2, 600), (2, 800)]
    np.testing.assert_allclose(embeddings.features, _reference(encoder, dataset), rtol=1e-5, atol=1e-6)


def test_stereo_clips_are_mixed_down(encoder):
    stereo = ToneDataset(channels=2)
    embeddings = extract_embeddings(encoder, stereo, cache=False, progress=False)
    np.testing.assert_allclose(embeddings.features, _reference(encoder, stereo), rtol=1e-5, atol=1e-6)


def test_resamples_when_rates_differ(encoder):
    dataset = ToneDataset(lengths=[1600] * 3, sample_rate=16_000)
    embeddings = extract_embeddings(encoder, dataset, cache=False, progress=False)
    assert encoder.input_shapes[0] == (3, 800)  # 1600 samples at 16 kHz -> 800 at the encoder's 8 kHz
    np.testing.assert_allclose(embeddings.features, _reference(encoder, dataset), rtol=1e-5, atol=1e-6)


def test_second_call_reads_the_cache_without_running_the_encoder(encoder, dataset, tmp_path):
    first = extract_embeddings(encoder, dataset, cache_dir=tmp_path, progress=False)
    calls, reads = encoder.calls, dataset.reads
    second = extract_embeddings(encoder, dataset, cache_dir=tmp_path, progress=False)
    assert encoder.calls == calls
    assert dataset.reads == reads  # ids come from the records: the key needs no audio
    assert (tmp_path / "embeddings" / f"{cache_key(encoder, dataset)}.npz").is_file()
    np.testing.assert_array_equal(first.features, second.features)
    np.testing.assert_array_equal(first.targets, second.targets)
    np.testing.assert_array_equal(first.folds, second.folds)
    assert second.ids.tolist() == first.ids.tolist() and second.classes == first.classes


def test_changed_weights_give_a_new_key_and_fresh_embeddings(encoder, dataset, tmp_path):
    before = extract_embeddings(encoder, dataset, cache_dir=tmp_path, progress=False)
    key = cache_key(encoder, dataset)
    with torch.no_grad():
        encoder.projection.bias.add_(1.0)
    assert cache_key(encoder, dataset) != key
    calls = encoder.calls
    after = extract_embeddings(encoder, dataset, cache_dir=tmp_path, progress=False)
    assert encoder.calls > calls
    np.testing.assert_allclose(after.features, before.features + 1.0, rtol=1e-5, atol=1e-5)


def test_key_depends_on_rate_targets_and_clips_not_on_instances(encoder):
    key = cache_key(encoder, ToneDataset())
    assert cache_key(encoder, ToneDataset()) == key
    assert cache_key(encoder, ToneDataset(label_offset=1)) != key
    assert cache_key(encoder, ToneDataset(lengths=(800,) * 8)) != key
    assert cache_key(CountingEncoder(sample_rate=16_000), ToneDataset()) != cache_key(
        CountingEncoder(sample_rate=8000), ToneDataset()
    )


def test_subset_and_datasets_without_records_are_keyed_by_their_ids(encoder, tmp_path):
    plain = ToneDataset(with_records=False)
    assert cache_key(encoder, plain) == cache_key(encoder, ToneDataset())  # ids read from the items
    subset = Subset(ToneDataset(), [4, 2, 7])
    embeddings = extract_embeddings(encoder, subset, cache_dir=tmp_path, progress=False)
    assert embeddings.ids.tolist() == ["tone-4", "tone-2", "tone-7"]
    assert cache_key(encoder, subset) != cache_key(encoder, Subset(ToneDataset(), [4, 2, 8]))


def test_multilabel_targets_are_multi_hot_rows(encoder):
    embeddings = extract_embeddings(encoder, ToneDataset(multilabel=True), cache=False, progress=False)
    assert embeddings.target_kind == "multilabel"
    assert embeddings.targets.shape == (9, 3) and embeddings.targets.dtype == np.float32
    np.testing.assert_array_equal(embeddings.targets.sum(axis=1), np.full(9, 2.0))


def test_encoder_mode_is_restored(encoder, dataset):
    encoder.train()
    extract_embeddings(encoder, dataset, cache=False, progress=False)
    assert encoder.training


def test_unreadable_cache_is_recomputed_with_a_warning(encoder, dataset, tmp_path):
    path = tmp_path / "embeddings" / f"{cache_key(encoder, dataset)}.npz"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not an npz file")
    with pytest.warns(UserWarning, match="unreadable embedding cache"):
        embeddings = extract_embeddings(encoder, dataset, cache_dir=tmp_path, progress=False)
    assert len(embeddings) == 9
    assert Embeddings.load(path).features.shape == (9, 3)


def test_waveform_targets_are_refused(encoder, dataset):
    dataset.target_kind = "waveform"
    with pytest.raises(ValueError, match="waveform targets .* need class or multi-label targets"):
        extract_embeddings(encoder, dataset, cache=False, progress=False)


def test_wrong_embedding_shape_is_reported(dataset):
    class FlatEncoder(CountingEncoder):
        def forward(self, waveform):
            return super().forward(waveform).reshape(-1)

    with pytest.raises(ValueError, match=r"FlatEncoder.embed must return \(batch, dim\)"):
        extract_embeddings(FlatEncoder(), dataset, cache=False, progress=False)


def test_embeddings_round_trip_and_validation(tmp_path):
    table = Embeddings(
        features=np.arange(12, dtype=np.float64).reshape(4, 3),
        targets=[0, 1, 1, 0],
        ids=["a", "b", "c", "d"],
        classes=("no", "yes"),
        splits=["train", "train", "valid", "test"],
    )
    loaded = Embeddings.load(table.save(tmp_path / "table.npz"))
    assert loaded.features.dtype == np.float32
    np.testing.assert_array_equal(loaded.features, table.features)
    assert loaded.splits.tolist() == ["train", "train", "valid", "test"] and loaded.folds is None
    part = loaded.subset([3, 0])
    assert part.ids.tolist() == ["d", "a"] and part.targets.tolist() == [0, 0]
    with pytest.raises(ValueError, match="targets has 3 rows but features has 4"):
        Embeddings(features=np.zeros((4, 2)), targets=[0, 1, 0], ids=list("abcd"), classes=())


def test_extracted_embeddings_feed_a_fold_wise_linear_evaluation(encoder, tmp_path):
    from workbench.evaluation.linear import LinearEvalConfig, linear_evaluation

    dataset = ToneDataset(lengths=(800,) * 60)
    embeddings = extract_embeddings(encoder, dataset, cache_dir=tmp_path, progress=False)
    config = LinearEvalConfig(lr=5e-2, batch_size=16, max_epochs=40, patience=10)
    result = linear_evaluation(embeddings, seeds=(0,), config=config)
    assert result.protocol == "official" and set(result.per_fold) == {"fold 1", "fold 2", "fold 3"}
    assert result.classes == ("low", "mid", "high")
    assert result.mean >= 0.9  # the tones' loudness differs by class, which the encoder's statistics see
