"""UrbanSound8K on a tiny fake copy in the official layout: listing, folds, errors, registry entry, download."""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import tarfile
from pathlib import Path

import numpy as np
import pytest

from workbench.audio.io import save
from workbench.data import registry
from workbench.data import urbansound8k as urbansound8k_module  # noqa: F401 - registers "urbansound8k"
from workbench.data.download import RemoteFile, download_dataset
from workbench.data.folder import MetadataError
from workbench.data.urbansound8k import FOLDER, NAME, UrbanSound8K
from workbench.errors import DatasetNotFoundError, MissingFileError, UnknownNameError

RATE = 8000
COLUMNS = ["slice_file_name", "fsID", "start", "end", "salience", "fold", "classID", "class"]
CLIPS = [
    # slice_file_name, fold, classID, class
    ("100032-3-0-0.wav", 5, 3, "dog_bark"),
    ("100263-2-0-117.wav", 5, 2, "children_playing"),
    ("101415-3-0-2.wav", 1, 3, "dog_bark"),
    ("102305-6-0-0.wav", 10, 6, "gun_shot"),
]


def make_copy(folder: Path, clips=CLIPS) -> Path:
    for index, (name, fold, _, _) in enumerate(clips):
        tone = 0.1 * np.sin(2 * np.pi * (300 + 40 * index) * np.arange(400) / RATE)
        save(folder / "audio" / f"fold{fold}" / name, tone.astype(np.float32), RATE)
    (folder / "metadata").mkdir(parents=True, exist_ok=True)
    with open(folder / "metadata" / "UrbanSound8K.csv", "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(COLUMNS)
        for name, fold, class_id, label in clips:
            writer.writerow([name, name.split("-")[0], "0.0", "0.05", "1", fold, class_id, label])
    return folder


def test_official_targets_folds_and_meta(tmp_path: Path):
    make_copy(tmp_path / FOLDER)
    dataset = registry.get(NAME, root=tmp_path)
    assert len(dataset) == 4 and dataset.n_classes == 10
    assert dataset.targets() == [3, 2, 3, 6]
    assert dataset.classes[3] == "dog_bark" and dataset.classes[0] == "class_0"  # absent classID keeps a name
    assert dataset.folds == (1, 5, 10) and [dataset.fold_of(i) for i in range(4)] == [5, 5, 1, 10]
    waveform, target, meta = dataset[3]
    # The official clips mix rates, so None gives 44.1 kHz, each file resampled on its own.
    assert waveform.shape == (1, 2205) and target == 6 and dataset.sample_rate == 44100
    assert registry.get(NAME, root=tmp_path, sample_rate=RATE)[3][0].shape == (1, 400)
    assert meta["id"] == "102305-6-0-0" and meta["fold"] == 10 and meta["class"] == "gun_shot"
    assert meta["fsID"] == "102305" and meta["salience"] == "1"


def test_folds_option_alias_folder_and_path(tmp_path: Path):
    folder = make_copy(tmp_path / "us8k")
    dataset = registry.get(NAME, root=tmp_path, folds=[5], sample_rate=4000)
    assert len(dataset) == 2 and dataset.folds == (5,) and dataset[0][0].shape == (1, 200)
    assert len(UrbanSound8K("/nonexistent", path=folder, folds=1)) == 1
    with pytest.raises(MetadataError, match=r"fold\(s\) \[2\] not in .*it has folds \[1, 5, 10\]"):
        UrbanSound8K(folder, folds=[2])


def test_absent_copy_says_where_the_files_go(tmp_path: Path):
    with pytest.raises(DatasetNotFoundError) as caught:
        registry.get(NAME, root=tmp_path)
    message = str(caught.value)
    assert f"{tmp_path / FOLDER}/metadata/UrbanSound8K.csv" in message and "audio/fold<k>/" in message
    assert "zenodo.org/record/1203745" in message and "workbench download urbansound8k" in message


def test_a_missing_listed_clip_is_named(tmp_path: Path):
    folder = make_copy(tmp_path / FOLDER)
    (folder / "audio" / "fold10" / "102305-6-0-0.wav").unlink()
    with pytest.raises(MissingFileError, match=r"lists 1 file\(s\) missing .*fold10/102305-6-0-0\.wav"):
        UrbanSound8K(tmp_path)


def test_unknown_option_and_registry_entry(tmp_path: Path):
    make_copy(tmp_path / FOLDER)
    with pytest.raises(UnknownNameError, match="valid: folds, mono, path, sample_rate"):
        registry.get(NAME, root=tmp_path, split="train")
    info = registry.info(NAME)
    assert info.expected_clips == 8732 and info.folder == FOLDER and info.licence == "CC BY-NC 3.0"
    assert info.remotes[0].url == "https://zenodo.org/record/1203745/files/UrbanSound8K.tar.gz?download=1"
    assert info.remotes[0].sha256 is None


def test_download_unpacks_the_archive_and_checks_the_clip_count(tmp_path: Path, monkeypatch):
    staging = make_copy(tmp_path / "release" / FOLDER)
    archive = tmp_path / "server" / "UrbanSound8K.tar.gz"
    archive.parent.mkdir()
    with tarfile.open(archive, "w:gz") as bundle:
        bundle.add(staging, arcname=FOLDER)
    remote = RemoteFile(archive.as_uri(), hashlib.sha256(archive.read_bytes()).hexdigest(), archive.name)
    info = dataclasses.replace(registry.info(NAME), remotes=(remote,), expected_clips=len(CLIPS))
    monkeypatch.setitem(registry._INFOS, NAME, info)
    root = tmp_path / "data"
    assert download_dataset(NAME, root, offline=False, progress=False) == root / FOLDER
    assert len(UrbanSound8K(root)) == len(CLIPS)
