"""Bring-your-own folder datasets: CSV labels (single and multi-label), class subfolders, errors."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from workbench.audio.io import save
from workbench.data import registry
from workbench.data.folder import FolderDataset, MetadataError
from workbench.errors import AudioError, DatasetNotFoundError, MissingFileError, UnknownNameError

RATE = 22050


def _clip(seconds: float, channels: int = 1) -> np.ndarray:
    time = np.arange(int(seconds * RATE)) / RATE
    return np.stack([0.3 * np.sin(2 * np.pi * (300 + 100 * c) * time) for c in range(channels)]).astype(np.float32)


@pytest.fixture
def clips(tmp_path: Path) -> Path:
    folder = tmp_path / "clips"
    save(folder / "a.wav", _clip(0.5), RATE)
    save(folder / "b.flac", _clip(0.25, channels=2), RATE)
    save(folder / "sub" / "c.wav", _clip(0.3), RATE)
    return folder


def _csv(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_csv_labels_folds_and_splits(clips: Path, tmp_path: Path):
    rows = "a.wav,dog,1,train\nb.wav,cat,2,test\nsub/c.wav,dog,2,test\n"
    labels = _csv(tmp_path / "labels.csv", "filename,label,fold,split\n" + rows)
    dataset = registry.get("folder", path=clips, labels=labels)
    assert dataset.classes == ("cat", "dog") and dataset.target_kind == "class"
    assert dataset.targets() == [1, 0, 1] and dataset.folds == (1, 2)
    assert [dataset.split_of(i) for i in range(3)] == ["train", "test", "test"]
    waveform, target, meta = dataset[1]  # listed as b.wav, held as b.flac, stereo averaged to mono
    assert waveform.shape == (1, int(0.25 * RATE)) and target == 0
    assert meta == {"id": "b", "path": str(clips / "b.flac"), "fold": 2, "split": "test", "label": "cat"}
    assert dataset.sample_rate == RATE


def test_multilabel_rows_give_multi_hot_targets(clips: Path, tmp_path: Path):
    labels = _csv(tmp_path / "tags.csv", "filename,label\na.wav,speech;music\nb.flac,music\nsub/c.wav,\n")
    dataset = FolderDataset(clips, labels, sample_rate=16000, mono=False)
    assert dataset.target_kind == "multilabel" and dataset.classes == ("music", "speech")
    expected = torch.tensor([[1.0, 1.0], [1.0, 0.0], [0.0, 0.0]])
    assert torch.equal(torch.stack(dataset.targets()), expected)
    waveform, target, _ = dataset[1]
    assert torch.equal(target, expected[1]) and waveform.shape == (2, int(0.25 * 16000))


def test_labels_path_relative_to_the_folder(clips: Path):
    _csv(clips / "labels.csv", "filename,label\na.wav,x\n")
    assert len(FolderDataset(clips, "labels.csv")) == 1


def test_one_subfolder_per_class(tmp_path: Path):
    for name in ("rain", "birds"):
        for take in range(2):
            save(tmp_path / "scenes" / name / f"{take}.wav", _clip(0.1), RATE)
    (tmp_path / "scenes" / "readme.txt").write_text("ignored")
    dataset = registry.get("folder", root=tmp_path, path="scenes")  # relative to the data root
    assert dataset.classes == ("birds", "rain") and dataset.targets() == [0, 0, 1, 1]
    assert dataset[3][2]["id"] == "rain/1"


def test_missing_listed_files_are_named(clips: Path, tmp_path: Path):
    rows = "".join(f"gone{i}.wav,dog\n" for i in range(7))
    labels = _csv(tmp_path / "labels.csv", "filename,label\na.wav,dog\n" + rows)
    with pytest.raises(MissingFileError) as caught:
        FolderDataset(clips, labels)
    message = str(caught.value)
    assert "7 file(s) missing" in message and "gone0.wav, gone1.wav" in message and "and 2 more" in message
    assert "gone5.wav" not in message and str(labels) in message


def test_malformed_labels_and_folders(clips: Path, tmp_path: Path):
    with pytest.raises(MetadataError, match="missing column"):
        FolderDataset(clips, _csv(tmp_path / "l1.csv", "file,label\na.wav,x\n"))
    with pytest.raises(MetadataError, match="line 3: column 'fold' must be an integer"):
        FolderDataset(clips, _csv(tmp_path / "l2.csv", "filename,label,fold\na.wav,x,1\nb.wav,y,one\n"))
    with pytest.raises(MetadataError, match="line 3: empty label"):
        FolderDataset(clips, _csv(tmp_path / "l3.csv", "filename,label\na.wav,x\nb.wav,\n"))
    with pytest.raises(MetadataError, match="no subfolders of audio"):
        FolderDataset(tmp_path / "clips" / "sub")
    with pytest.raises(DatasetNotFoundError, match="is not a folder"):
        FolderDataset(tmp_path / "nowhere")
    with pytest.raises(MissingFileError, match="needs path="):
        registry.get("folder", root=tmp_path)
    with pytest.raises(UnknownNameError, match="valid: labels, mono, path, sample_rate"):
        registry.get("folder", path=clips, label="x.csv")


def test_unreadable_file_fails_at_load_naming_it(tmp_path: Path):
    save(tmp_path / "clips" / "good.wav", _clip(0.1), RATE)
    (tmp_path / "clips" / "broken.wav").write_bytes(b"RIFF....not audio")
    labels = _csv(tmp_path / "labels.csv", "filename,label\ngood.wav,a\nbroken.wav,b\n")
    # Without a sample rate every header is read up front: the broken file is named at once.
    with pytest.raises(AudioError, match="broken.wav"):
        FolderDataset(tmp_path / "clips", labels)
    dataset = FolderDataset(tmp_path / "clips", labels, sample_rate=RATE)
    assert dataset[0][1] == 0
    with pytest.raises(AudioError, match="broken.wav"):
        dataset[1]


# --- strict inputs (issue 13) ------------------------------------------------------------------------


def _band_energy_above(waveform: torch.Tensor, rate: int, cutoff: float) -> float:
    spectrum = torch.fft.rfft(waveform[0]).abs() ** 2
    frequencies = torch.fft.rfftfreq(waveform.shape[-1], 1 / rate)
    return float(spectrum[frequencies > cutoff].sum() / spectrum.sum())


def test_an_8_khz_first_file_does_not_band_limit_the_16_khz_clips(tmp_path: Path):
    folder = tmp_path / "mixed"
    generator = np.random.default_rng(0)
    save(folder / "a_narrow.wav", (0.1 * generator.standard_normal(8000)).astype(np.float32), 8000)
    wide = (0.1 * generator.standard_normal(16000)).astype(np.float32)  # white: half its energy above 4 kHz
    save(folder / "b_wide.wav", wide, 16000)
    labels = _csv(tmp_path / "labels.csv", "filename,label\na_narrow.wav,x\nb_wide.wav,y\n")
    with pytest.warns(UserWarning, match=r"sample rates differ \(1 at 8000 Hz, 1 at 16000 Hz\).*16000 Hz, the highest"):
        dataset = FolderDataset(folder, labels)
    assert dataset.sample_rate == 16000
    waveform, _, _ = dataset[1]
    assert _band_energy_above(waveform, 16000, 4000) > 0.4  # the 16 kHz clip keeps its upper band
    np.testing.assert_allclose(waveform[0].numpy(), wide, atol=1 / 32768)  # untouched (16-bit file)
    narrow, _, _ = dataset[0]
    assert narrow.shape == (1, 16000)  # the 8 kHz clip is resampled up, on its own
    # An explicit rate (e.g. the encoder's) resamples each file from its own rate.
    at_8k = FolderDataset(folder, labels, sample_rate=8000)
    assert at_8k[1][0].shape == (1, 8000) and at_8k[0][0].shape == (1, 8000)


def test_an_official_copy_refuses_a_file_above_the_first_files_rate(tmp_path: Path):
    from workbench.data.folder import ListedAudioDataset
    from workbench.data.records import ClipRecord

    save(tmp_path / "a.wav", _clip(0.1), 8000)
    save(tmp_path / "b.wav", _clip(0.1), 16000)
    records = [ClipRecord(id=name, path=tmp_path / f"{name}.wav", target=0) for name in ("a", "b")]
    dataset = ListedAudioDataset(records, classes=["x"], directory=tmp_path, default_rate=8000)
    assert dataset.sample_rate == 8000
    with pytest.raises(AudioError, match=r"b\.wav is at 16000 Hz, above the dataset's 8000 Hz .* pass sample_rate="):
        dataset[1]


def test_duplicate_rows_are_an_error_listing_the_lines(clips: Path, tmp_path: Path):
    labels = _csv(tmp_path / "labels.csv", "filename,label\na.wav,dog\nb.wav,cat\na.wav,dog\n")
    with pytest.raises(MetadataError, match=r"labels\.csv: 1 clip\(s\) listed on more than one row: clip 'a' is "
                                            r"listed twice, on lines 2, 4"):
        FolderDataset(clips, labels)


def test_contradicting_labels_are_an_error_listing_the_lines(clips: Path, tmp_path: Path):
    labels = _csv(tmp_path / "labels.csv", "filename,label\na.wav,dog\nb.wav,cat\na.flac,cat\n")
    with pytest.raises(MetadataError, match=r"clip 'a' on lines 2, 4 has contradicting labels 'cat' vs 'dog'"):
        FolderDataset(clips, labels)


def test_one_clip_in_train_and_test_is_an_error_listing_the_lines(clips: Path, tmp_path: Path):
    labels = _csv(tmp_path / "labels.csv", "filename,label,split\na.wav,dog,train\nb.wav,cat,test\n"
                                           "sub/c.wav,dog,train\na.wav,dog,test\n")
    with pytest.raises(MetadataError, match=r"clip 'a' on lines 2, 5 is in two partitions \(splits \['test', "
                                            r"'train'\]\)"):
        FolderDataset(clips, labels)


def test_clip_ids_and_fingerprint_need_no_audio(clips: Path, tmp_path: Path, monkeypatch):
    labels = _csv(tmp_path / "labels.csv", "filename,label\na.wav,dog\nb.wav,cat\n")
    dataset = FolderDataset(clips, labels)
    import workbench.data.folder as folder_module

    def no_reading(*args, **kwargs):
        raise AssertionError("audio was read")

    monkeypatch.setattr(folder_module, "load", no_reading)
    assert dataset.clip_ids() == ["a", "b"]
    before = dataset.fingerprint()
    sizes = (clips / "a.wav").stat().st_size + (clips / "b.flac").stat().st_size
    assert before["clips"] == 2 and before["bytes"] == sizes
    os.utime(clips / "a.wav", ns=(10**18, 10**18))
    assert dataset.fingerprint()["files"] != before["files"]
