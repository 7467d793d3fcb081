"""Bring-your-own folder datasets: CSV labels (single and multi-label), class subfolders, errors."""

from __future__ import annotations

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
