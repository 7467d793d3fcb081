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


# --- cache keys from metadata, data that changes, clips too short (issues 13 and 18) ---------------


def _RefusingReads(dataset):
    """``dataset``, whose items raise once its ``refuse`` is set (a cache hit must read nothing)."""
    original = type(dataset)

    def getitem(self, index):
        if self.refuse:
            raise AssertionError(f"clip {index} was read or rendered on a cache hit")
        return original.__getitem__(self, index)

    dataset.__class__ = type(original.__name__, (original,), {"__getitem__": getitem})
    dataset.refuse = False
    return dataset


@pytest.mark.parametrize("view", ["synthetic", "synthetic-scenes", "subset"])
def test_a_cache_hit_renders_no_clip(encoder, tmp_path, view):
    import workbench.data as data
    from workbench.data.synthetic.views import SceneDataset, SyntheticDataset

    if view == "synthetic":
        dataset = _RefusingReads(SyntheticDataset(seed=3, n_clips=6, duration=0.1))
    elif view == "synthetic-scenes":
        dataset = _RefusingReads(SceneDataset(seed=3, n_clips=4, duration=0.2))
    else:
        parent = _RefusingReads(SyntheticDataset(seed=3, task="word", n_clips=12, duration=0.1))
        dataset = data.Subset(parent, [5, 1, 7])
    first = extract_embeddings(encoder, dataset, cache_dir=tmp_path, progress=False)
    (parent if view == "subset" else dataset).refuse = True
    again = extract_embeddings(encoder, dataset, cache_dir=tmp_path, progress=False)
    np.testing.assert_array_equal(first.features, again.features)
    assert again.ids.tolist() == first.ids.tolist()


def test_a_torch_subset_maps_its_indices_to_the_parents_ids():
    from workbench.data.synthetic.views import SyntheticDataset
    from workbench.evaluation.embeddings import _clip_ids

    parent = _RefusingReads(SyntheticDataset(seed=1, n_clips=10, duration=0.1))
    parent.refuse = True
    subset = torch.utils.data.Subset(parent, [9, 0, 4])
    assert _clip_ids(subset) == ["synthetic-event-seed1-000009", "synthetic-event-seed1-000000",
                                 "synthetic-event-seed1-000004"]  # fmt: skip


def test_synthetic_parameters_that_shape_the_clips_change_the_key(encoder):
    from workbench.data.synthetic.views import SyntheticDataset

    base = cache_key(encoder, SyntheticDataset(seed=0, n_clips=6, duration=0.1))
    assert cache_key(encoder, SyntheticDataset(seed=0, n_clips=6, duration=0.1)) == base
    assert cache_key(encoder, SyntheticDataset(seed=0, n_clips=6, duration=0.2)) != base
    assert cache_key(encoder, SyntheticDataset(seed=0, n_clips=6, duration=0.1, n_event_classes=8)) != base


def test_overwritten_audio_gives_new_embeddings(encoder, tmp_path):
    import os

    from workbench.audio.io import save
    from workbench.data.folder import FolderDataset

    folder = tmp_path / "clips"
    time = np.arange(800) / 8000
    for index in range(3):
        path = folder / f"clip{index}.wav"
        save(path, (0.5 * np.sin(2 * np.pi * 300 * (index + 1) * time)).astype(np.float32), 8000)
        os.utime(path, ns=(1_577_836_800_000_000_000,) * 2)  # copied long ago
    (tmp_path / "labels.csv").write_text("filename,label\nclip0.wav,a\nclip1.wav,b\nclip2.wav,a\n")
    before = extract_embeddings(encoder, FolderDataset(folder, tmp_path / "labels.csv"), cache_dir=tmp_path,
                                progress=False)  # fmt: skip
    for index in range(3):  # every clip overwritten: same names, same length, other (quieter) audio
        save(folder / f"clip{index}.wav", (0.05 * np.sin(2 * np.pi * 300 * time)).astype(np.float32), 8000)
    after = extract_embeddings(encoder, FolderDataset(folder, tmp_path / "labels.csv"), cache_dir=tmp_path,
                               progress=False)  # fmt: skip
    assert not np.allclose(before.features, after.features)
    fresh = extract_embeddings(encoder, FolderDataset(folder, tmp_path / "labels.csv"), cache=False, progress=False)
    np.testing.assert_array_equal(after.features, fresh.features)


class _NeedsLongInput(CountingEncoder):
    """Fails like a convolution stack does on too-short input (a raw RuntimeError), below 700 samples."""

    def forward(self, waveform):
        if waveform.shape[-1] < 700:
            raise RuntimeError("Calculated padded input size per channel: (2 x 1). Kernel size: (3 x 3).")
        return super().forward(waveform)


def test_too_short_clips_are_named_with_the_encoders_minimum(tmp_path):
    from workbench.audio.io import save
    from workbench.data.folder import FolderDataset
    from workbench.errors import AudioError

    folder = tmp_path / "clips"
    save(folder / "long.wav", np.full(800, 0.1, dtype=np.float32), 8000)
    save(folder / "short.wav", np.full(600, 0.1, dtype=np.float32), 8000)
    dataset = FolderDataset(folder, _write(tmp_path / "labels.csv", "filename,label\nlong.wav,a\nshort.wav,b\n"))
    with pytest.raises(AudioError, match=r"1 clip\(s\) of FolderDataset are too short for _NeedsLongInput, which "
                                         r"needs at least 700 samples \(0\.08[78] s at 8000 Hz\): .*short\.wav \(600 "
                                         r"samples\)"):
        extract_embeddings(_NeedsLongInput(), dataset, cache=False, progress=False)
    declared = CountingEncoder()
    declared.min_samples = 700  # an encoder that declares its minimum is checked before it runs
    with pytest.raises(AudioError, match=r"needs at least 700 samples .*short\.wav"):
        extract_embeddings(declared, dataset, cache=False, progress=False)
    assert declared.calls == 1  # only the long clip ran


def _write(path, text):
    path.write_text(text)
    return path


def test_a_cache_that_cannot_be_written_keeps_the_computed_embeddings(encoder, dataset, tmp_path, monkeypatch):
    def refuse(self, path):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(Embeddings, "save", refuse)
    with pytest.warns(UserWarning, match=r"could not write the embedding cache .* \(Permission denied\); the "
                                         r"embeddings are returned but not cached"):
        embeddings = extract_embeddings(encoder, dataset, cache_dir=tmp_path, progress=False)
    assert embeddings.features.shape == (9, 3)


def test_the_cache_key_changes_with_the_feature_code(monkeypatch):
    """A new resampler or extraction code never reads embeddings cached by the old one."""
    from workbench.evaluation.embeddings import cache as cache_module
    from workbench.recipes import linear_eval

    params = linear_eval.Params()
    dataset = linear_eval.build_dataset(params)
    encoder = next(iter(linear_eval.build_encoders(params).values()))
    before = cache_module.cache_key(encoder, dataset)
    monkeypatch.setattr(cache_module, "FEATURE_CODE", "extraction-3/other-resampler")
    assert cache_module.cache_key(encoder, dataset) != before
