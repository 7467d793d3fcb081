"""Surge pitch dataset on a tiny fake tree: pitch classes, EVAR's tone split, errors, registry, download."""

from __future__ import annotations

import dataclasses
import hashlib
import tarfile
from pathlib import Path

import numpy as np
import pytest

from workbench.audio.io import save
from workbench.data import registry
from workbench.data import surge as surge_module  # noqa: F401 - registers "surge"
from workbench.data.download import RemoteFile, download_dataset
from workbench.data.folder import MetadataError
from workbench.data.surge import FOLDER, NAME, Surge
from workbench.errors import DatasetNotFoundError, MissingFileError, UnknownNameError

RATE = 8000
TONES = {
    "surge-patches-3rdparty-Bluelight-Basses-Bass-1-velocity64": "train",
    "surge-patches-3rdparty-Bluelight-Basses-Bass-10-velocity64": "test",
    "surge-patches-3rdparty-Argitoth-Drums-Kick-velocity64": "valid",
}
PITCHES = ("21", "60", "108")


def make_copy(folder: Path, tones=TONES, split_file: bool = True) -> Path:
    for tone_index, tone in enumerate(tones):
        for pitch in PITCHES:
            save(folder / tone / f"{pitch}.ogg", np.full(400, 0.05 * (tone_index + 1), np.float32), RATE)
    if split_file:
        (folder / "dataset_surge_tone_splits.csv").write_text(
            "tone,split\n" + "".join(f"{tone},{split}\n" for tone, split in tones.items())
        )
    return folder


def test_pitch_classes_and_the_tone_split(tmp_path: Path):
    make_copy(tmp_path / FOLDER)
    dataset = registry.get(NAME, root=tmp_path)
    assert tuple(dataset.classes) == PITCHES and len(dataset) == 9  # numeric order, not "108" < "21"
    assert dataset.records[0].id == "surge-patches-3rdparty-Argitoth-Drums-Kick-velocity64/21"
    assert dataset.targets() == [0, 1, 2] * 3
    assert [dataset.split_of(i) for i in range(0, 9, 3)] == ["valid", "train", "test"]
    waveform, target, meta = dataset[4]
    assert waveform.shape == (1, 400) and target == 1 and dataset.sample_rate == RATE
    assert meta["tone"].endswith("Bass-1-velocity64") and meta["pitch"] == "60" and meta["split"] == "train"
    test = Surge(tmp_path, split="test", sample_rate=4000)
    assert len(test) == 3 and test.n_classes == 3 and {test.split_of(i) for i in range(3)} == {"test"}
    assert test[0][0].shape == (1, 200)


def test_without_the_split_file_there_is_no_split(tmp_path: Path):
    folder = make_copy(tmp_path / "surge-velocity64-2K", split_file=False)
    dataset = registry.get(NAME, root="/nonexistent", path=folder)
    assert len(dataset) == 9 and {dataset.split_of(i) for i in range(9)} == {None}
    needs_file = r"split='train' needs EVAR's tone split file .*dataset_surge_tone_splits"
    with pytest.raises(MissingFileError, match=needs_file):
        Surge(tmp_path, split="train")  # found under its archive name too
    with pytest.raises(ValueError, match="split must be one of"):
        Surge(folder, split="validation")


def test_split_file_is_the_truth(tmp_path: Path):
    folder = make_copy(tmp_path / FOLDER)
    split_file = folder / "dataset_surge_tone_splits.csv"
    split_file.write_text(split_file.read_text() + "surge-patches-missing-velocity64,test\n")
    with pytest.raises(MissingFileError, match=r"lists 1 tone folder\(s\) missing .*surge-patches-missing-velocity64"):
        Surge(folder)
    split_file.write_text("tone,split\nsurge-patches-3rdparty-Argitoth-Drums-Kick-velocity64,valid\n")
    with pytest.raises(MetadataError, match=r"2 tone folder\(s\) in .* are not in dataset_surge_tone_splits\.csv"):
        Surge(folder)
    split_file.write_text("tone,split\n" + "".join(f"{tone},dev\n" for tone in TONES))
    with pytest.raises(MetadataError, match=r"line 2: split 'dev' is not one of train, valid, test"):
        Surge(folder)


def test_absent_copy_unknown_option_and_registry_entry(tmp_path: Path):
    with pytest.raises(DatasetNotFoundError) as caught:
        registry.get(NAME, root=tmp_path)
    message = str(caught.value)
    assert f"{tmp_path / FOLDER}/<tone>/<pitch>.ogg" in message and "zenodo.org/record/4677097" in message
    assert "dataset_surge_tone_splits.csv" in message and "workbench download surge" in message
    make_copy(tmp_path / FOLDER)
    with pytest.raises(UnknownNameError, match="valid: mono, path, sample_rate, split"):
        registry.get(NAME, root=tmp_path, task="pitch")
    info = registry.info(NAME)
    assert info.remotes[0].filename == "surge-velocity64-2K.tar" and info.remotes[0].sha256 is None
    assert info.expected_clips is None


def test_download_unpacks_the_tar(tmp_path: Path, monkeypatch):
    staging = make_copy(tmp_path / "release" / "surge", split_file=False)
    archive = tmp_path / "server" / "surge-velocity64-2K.tar"
    archive.parent.mkdir()
    with tarfile.open(archive, "w") as bundle:
        bundle.add(staging, arcname="surge")
    remote = RemoteFile(archive.as_uri(), hashlib.sha256(archive.read_bytes()).hexdigest(), archive.name)
    monkeypatch.setitem(registry._INFOS, NAME, dataclasses.replace(registry.info(NAME), remotes=(remote,)))
    root = tmp_path / "data"
    assert download_dataset(NAME, root, offline=False, progress=False) == root / FOLDER
    assert len(Surge(root)) == 9
