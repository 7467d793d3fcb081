"""FSDKaggle2019 on a tiny fake copy in the official layout: multi-hot targets, subsets, errors, download."""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import zipfile
from pathlib import Path

import numpy as np
import pytest

from workbench.audio.io import save
from workbench.data import registry
from workbench.data.download import RemoteFile, download_dataset
from workbench.data.folder import MetadataError
from workbench.data.fsdkaggle2019 import FOLDER, NAME, FSDKaggle2019
from workbench.errors import DatasetNotFoundError, MissingFileError

RATE = 8000
VOCABULARY = ["Bark", "Chink_and_clink", "Walk_and_footsteps", "Slam"]
SUBSETS = {
    "curated": ("train_curated_post_competition.csv", "FSDKaggle2019.audio_train_curated",
                [("0006ae4e.wav", "Bark"), ("00aa1b2c.wav", "Walk_and_footsteps,Slam")]),
    "noisy": ("train_noisy_post_competition.csv", "FSDKaggle2019.audio_train_noisy",
              [("1a2b3c4d.wav", "Chink_and_clink")]),
    "test": ("test_post_competition.csv", "FSDKaggle2019.audio_test",
             [("ffee0011.wav", "Slam,Bark")]),
}  # fmt: skip


def make_copy(folder: Path, vocabulary: bool = True) -> Path:
    for index, (listing, audio_folder, rows) in enumerate(SUBSETS.values()):
        for position, (name, _) in enumerate(rows):
            length = 400 * (1 + position + index)  # clips differ in length, as the real ones do
            noise = 0.1 * np.random.default_rng(index).standard_normal(length)
            save(folder / audio_folder / name, noise.astype(np.float32), RATE)
        path = folder / "FSDKaggle2019.meta" / listing
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", newline="") as stream:
            writer = csv.writer(stream)
            writer.writerow(["fname", "labels", "freesound_id", "license"])
            writer.writerows([name, labels, "123", "CC-BY"] for name, labels in rows)
    if vocabulary:
        (folder / "FSDKaggle2019.meta" / "vocabulary.csv").write_text(
            "".join(f"{index},{label}\n" for index, label in enumerate(VOCABULARY))
        )
    return folder


def test_curated_clips_have_multi_hot_targets_over_the_vocabulary(tmp_path: Path):
    make_copy(tmp_path / FOLDER)
    dataset = registry.get(NAME, root=tmp_path)
    assert len(dataset) == 2 and dataset.classes == tuple(VOCABULARY) and dataset.target_kind == "multilabel"
    waveform, target, meta = dataset[1]
    assert waveform.shape == (1, 800) and dataset.sample_rate == RATE
    assert target.tolist() == [0.0, 0.0, 1.0, 1.0]
    assert meta["labels"] == ["Walk_and_footsteps", "Slam"]
    assert meta["split"] == "curated" and meta["license"] == "CC-BY"
    assert [t.tolist() for t in dataset.targets()] == [[1.0, 0, 0, 0], [0, 0, 1.0, 1.0]]


def test_subsets_and_the_vocabulary_fallback(tmp_path: Path):
    folder = make_copy(tmp_path / "copy")
    train = FSDKaggle2019(folder, subset="train", sample_rate=4000)
    assert [train.split_of(i) for i in range(3)] == ["curated", "curated", "noisy"] and train[2][0].shape == (1, 400)
    assert FSDKaggle2019(folder, subset="test").targets()[0].tolist() == [1.0, 0, 0, 1.0]
    (folder / "FSDKaggle2019.meta" / "vocabulary.csv").unlink()
    assert FSDKaggle2019(folder, subset="train").classes == ("Bark", "Chink_and_clink", "Slam", "Walk_and_footsteps")
    with pytest.raises(ValueError, match=r"subset must be one of \['curated', 'noisy', 'train', 'test'\], got 'all'"):
        FSDKaggle2019(folder, subset="all")


def test_errors_name_the_file_and_the_remedy(tmp_path: Path):
    with pytest.raises(DatasetNotFoundError) as caught:
        registry.get(NAME, root=tmp_path, subset="noisy")
    message = str(caught.value)
    assert f"{tmp_path / FOLDER}/FSDKaggle2019.audio_train_noisy/<fname>.wav" in message
    assert "zip -s 0 FSDKaggle2019.audio_train_noisy.zip" in message and "workbench download fsdkaggle2019" in message
    folder = make_copy(tmp_path / FOLDER)
    (folder / "FSDKaggle2019.audio_test" / "ffee0011.wav").unlink()
    with pytest.raises(MissingFileError, match=r"test_post_competition\.csv lists 1 file\(s\) missing .*ffee0011\.wav"):
        FSDKaggle2019(tmp_path, subset="test")
    (folder / "FSDKaggle2019.meta" / "vocabulary.csv").write_text("0,Bark\n1,Slam\n")
    expected = r"clip 00aa1b2c\.wav has label\(s\) \['Walk_and_footsteps'\] that .*vocabulary\.csv does not list"
    with pytest.raises(MetadataError, match=expected):
        FSDKaggle2019(tmp_path)
    (folder / "FSDKaggle2019.meta" / "vocabulary.csv").write_text("0,Bark\n2,Slam\n")
    with pytest.raises(MetadataError, match=r"the indices must be 0\.\.1, each once"):
        FSDKaggle2019(tmp_path)


def test_download_lays_out_archives_with_their_own_top_folders(tmp_path: Path, monkeypatch):
    staging = make_copy(tmp_path / "release")
    server = tmp_path / "server"
    server.mkdir()
    remotes = []
    for part in ("audio_train_curated", "meta"):
        archive = server / f"FSDKaggle2019.{part}.zip"
        with zipfile.ZipFile(archive, "w") as bundle:
            for file in (staging / f"FSDKaggle2019.{part}").rglob("*"):
                bundle.write(file, file.relative_to(staging).as_posix())
        remotes.append(RemoteFile(archive.as_uri(), hashlib.sha256(archive.read_bytes()).hexdigest(), archive.name))
    info = dataclasses.replace(registry.info(NAME), remotes=tuple(remotes), expected_clips=2)
    monkeypatch.setitem(registry._INFOS, NAME, info)
    root = tmp_path / "data"
    assert download_dataset(NAME, root, offline=False, progress=False) == root / FOLDER
    assert len(FSDKaggle2019(root)) == 2
    assert registry.info(NAME).remotes[0].filename == "FSDKaggle2019.audio_train_curated.zip"
