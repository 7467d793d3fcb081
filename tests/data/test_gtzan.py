"""GTZAN on a tiny fake genres tree: ten folds without lists, the fault-filtered split with them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from workbench.audio.io import save
from workbench.data import gtzan as gtzan_module  # noqa: F401 - registers "gtzan"
from workbench.data import registry
from workbench.data.folder import MetadataError
from workbench.data.gtzan import FOLDER, GENRES, NAME, GTZAN
from workbench.errors import DatasetNotFoundError, MissingFileError, UnknownNameError

RATE = 8000
CLIPS = ["blues.00000", "blues.00011", "jazz.00054", "rock.00099", "rock.00010"]


def make_copy(folder: Path, clips=CLIPS, suffix: str = ".wav") -> Path:
    for index, clip in enumerate(clips):
        genre = clip.split(".")[0]
        save(folder / genre / f"{clip}{suffix}", np.full(200 + index, 0.02, dtype=np.float32), RATE)
    (folder / "blues" / "notes.txt").write_text("skipped")
    return folder


def write_lists(folder: Path, train, valid, test) -> None:
    for name, stems in (("train", train), ("valid", valid), ("test", test)):
        (folder / f"{name}_filtered.txt").write_text("".join(f"{s.split('.')[0]}/{s}.wav\n" for s in stems))


def test_ten_folds_without_the_lists(tmp_path: Path):
    make_copy(tmp_path / "genres", suffix=".au")  # the archive's own folder name and format
    dataset = registry.get(NAME, root=tmp_path)
    assert dataset.protocol == "folds" and tuple(dataset.classes) == GENRES
    assert [record.id for record in dataset.records] == ["blues.00000", "blues.00011", "jazz.00054", "rock.00010",
                                                         "rock.00099"]  # fmt: skip
    assert dataset.targets() == [0, 0, 5, 9, 9] and dataset.folds == (1, 2, 5, 10)
    assert [dataset.fold_of(i) for i in range(5)] == [1, 2, 5, 1, 10]
    waveform, target, meta = dataset[2]
    assert waveform.shape == (1, 202) and target == 5 and meta["genre"] == "jazz" and meta["number"] == 54
    assert len(GTZAN(tmp_path, folds=1)) == 2
    with pytest.raises(MissingFileError, match="split='test' needs the fault-filtered split lists"):
        GTZAN(tmp_path, split="test")


def test_fault_filtered_split_when_the_lists_are_present(tmp_path: Path):
    folder = make_copy(tmp_path / FOLDER)
    write_lists(folder, train=["blues.00000", "rock.00099"], valid=["jazz.00054"], test=["rock.00010"])
    dataset = registry.get(NAME, root=tmp_path)
    assert dataset.protocol == "filtered" and len(dataset) == 4  # blues.00011 is in no list: left out
    assert [dataset.split_of(i) for i in range(4)] == ["train", "train", "valid", "test"]
    assert dataset.fold_of(0) is None and dataset.targets() == [0, 9, 5, 9]
    test = registry.get(NAME, root="/nonexistent", path=folder, split="test", sample_rate=4000)
    assert len(test) == 1 and test[0][0].shape == (1, 102)
    with pytest.raises(MetadataError, match="folds= applies to the ten-fold protocol"):
        GTZAN(folder, folds=[1])


def test_list_errors_name_the_file(tmp_path: Path):
    folder = make_copy(tmp_path / FOLDER)
    write_lists(folder, train=["blues.00000", "pop.00001"], valid=[], test=[])
    missing = r"train_filtered\.txt lists 1 file\(s\) missing .*pop/pop\.00001\.wav"
    with pytest.raises(MissingFileError, match=missing):
        GTZAN(folder)
    write_lists(folder, train=["blues.00000"], valid=["blues.00000"], test=[])
    with pytest.raises(MetadataError, match=r"blues/blues\.00000 is in both .*train_filtered.txt and .*valid_filtered"):
        GTZAN(folder)
    write_lists(folder, train=["blues.00000"], valid=[], test=[])
    (folder / "test_filtered.txt").write_text("blues.00000.wav\n")
    with pytest.raises(MetadataError, match=r"test_filtered\.txt, line 1: expected '<genre>/<genre>\.<number>\.wav'"):
        GTZAN(folder, split="test")
    (folder / "valid_filtered.txt").unlink()
    with pytest.raises(MissingFileError, match=r"valid_filtered\.txt missing; the fault-filtered split needs all"):
        GTZAN(folder)


def test_absent_copy_unknown_option_and_registry_entry(tmp_path: Path):
    with pytest.raises(DatasetNotFoundError) as caught:
        registry.get(NAME, root=tmp_path)
    message = str(caught.value)
    assert f"{tmp_path / FOLDER}/<genre>/<genre>.000NN.wav" in message and "test_filtered.txt" in message
    assert "jongpillee/music_dataset_split" in message and "workbench download gtzan" in message
    with pytest.raises(UnknownNameError, match="valid: folds, mono, path, sample_rate, split"):
        registry.get(NAME, root=tmp_path, task="genre")
    info = registry.info(NAME)
    assert info.expected_clips == 1000 and info.remotes[0].filename == "genres.tar.gz"
    assert info.remotes[0].sha256 is None
