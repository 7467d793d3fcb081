"""VoxForge language identification from a tiny fake folder + EVAR-style CSV."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from workbench.audio.io import save
from workbench.data import registry
from workbench.data import voxforge as voxforge_module  # noqa: F401 - registers "voxforge"
from workbench.data.folder import MetadataError
from workbench.data.voxforge import FOLDER, NAME, VoxForge
from workbench.errors import DatasetNotFoundError, MissingFileError, UnknownNameError

RATE = 16000
ROWS = [
    # file_name, label, split
    ("anonymous-20080504-qvg/wav/a0001.wav", "en", "train"),
    ("Bernd-20100303-abc/wav/de1-01.wav", "de", "valid"),
    ("pepe-20091110-xyz/wav/es-0003.wav", "es", "test"),
    ("anonymous-20080504-qvg/wav/a0002.wav", "en", "train"),
]


def make_copy(folder: Path, rows=ROWS, csv_name: str = "voxforge.csv") -> Path:
    for index, (name, _, _) in enumerate(rows):
        save(folder / name, np.full(240 + index, 0.02, dtype=np.float32), RATE)
    with open(folder / csv_name, "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["", "file_name", "label", "split"])  # EVAR's CSVs keep a pandas index column
        writer.writerows([index, *row] for index, row in enumerate(rows))
    return folder


def test_languages_and_splits_from_the_csv(tmp_path: Path):
    make_copy(tmp_path / FOLDER)
    dataset = registry.get(NAME, root=tmp_path)
    assert tuple(dataset.classes) == ("de", "en", "es") and dataset.targets() == [1, 0, 2, 1]
    assert [dataset.split_of(i) for i in range(4)] == ["train", "valid", "test", "train"]
    waveform, target, meta = dataset[1]
    assert waveform.shape == (1, 241) and target == 0 and meta["language"] == "de"
    assert meta["id"] == "Bernd-20100303-abc/wav/de1-01" and meta["split"] == "valid"
    test = VoxForge(tmp_path, split="test", sample_rate=8000)
    assert len(test) == 1 and test.n_classes == 3 and test[0][0].shape == (1, 121)


def test_explicit_folder_and_csv(tmp_path: Path):
    folder = make_copy(tmp_path / "anywhere", csv_name="my_labels.csv")
    dataset = registry.get(NAME, root="/nonexistent", path=folder, labels="my_labels.csv", split="train")
    assert len(dataset) == 2 and dataset.directory == folder
    with pytest.raises(ValueError, match=r"split must be one of \['train', 'valid', 'test'\]"):
        VoxForge(folder, split="dev", labels=folder / "my_labels.csv")


def test_absent_copy_says_how_to_get_it(tmp_path: Path):
    with pytest.raises(DatasetNotFoundError) as caught:
        registry.get(NAME, root=tmp_path)
    message = str(caught.value)
    assert f"{tmp_path / FOLDER}/voxforge.csv" in message and "file_name,label,split" in message
    assert "download_voxforge.py" in message and "cannot download" in message


def test_missing_listed_file_and_bad_split_are_named(tmp_path: Path):
    folder = make_copy(tmp_path / FOLDER)
    (folder / "pepe-20091110-xyz" / "wav" / "es-0003.wav").unlink()
    missing = r"voxforge\.csv lists 1 file\(s\) missing .*pepe-20091110-xyz/wav/es-0003\.wav"
    with pytest.raises(MissingFileError, match=missing):
        VoxForge(folder)
    make_copy(folder, rows=[(*ROWS[0][:2], "holdout")])
    with pytest.raises(MetadataError, match=r"voxforge\.csv, line 2: split 'holdout' is not one of"):
        VoxForge(folder)


def test_unknown_option_and_registry_entry(tmp_path: Path):
    make_copy(tmp_path / FOLDER)
    with pytest.raises(UnknownNameError, match="valid: labels, mono, path, sample_rate, split"):
        registry.get(NAME, root=tmp_path, folds=1)
    info = registry.info(NAME)
    assert info.remotes == () and info.url == "http://www.voxforge.org" and info.licence.startswith("GPL")
