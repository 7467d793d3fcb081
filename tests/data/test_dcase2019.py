"""DCASE 2019 task 1a on a tiny fake copy in the official layout: listing, fold-1 split, errors, download."""

from __future__ import annotations

import dataclasses
import hashlib
import zipfile
from pathlib import Path

import numpy as np
import pytest

from workbench.audio.io import save
from workbench.data import registry
from workbench.data.dcase2019 import FOLDER, NAME, DCASE2019Task1a
from workbench.data.download import RemoteFile, download_dataset
from workbench.data.folder import MetadataError
from workbench.errors import DatasetNotFoundError, MissingFileError, UnknownNameError

RATE = 8000  # the real clips are 10 s at 48 kHz; a tenth of a second at 8 kHz keeps the copy tiny
CLIPS = [
    # file stem, scene, location, split in fold 1
    ("airport-barcelona-0-0-a", "airport", "barcelona-0", "train"),
    ("airport-helsinki-1-3-a", "airport", "helsinki-1", "test"),
    ("street_traffic-lyon-7-12-a", "street_traffic", "lyon-7", "train"),
    ("street_traffic-lyon-7-13-a", "street_traffic", "lyon-7", None),
    ("bus-milan-2-5-a", "bus", "milan-2", "test"),
]


def write_tsv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join("\t".join(row) for row in [header, *rows]) + "\n")


def make_copy(folder: Path, clips=CLIPS) -> Path:
    """Audio, meta.csv and the two fold-1 lists, as the Zenodo archives unpack."""
    for index, (stem, *_rest) in enumerate(clips):
        tone = 0.1 * np.sin(2 * np.pi * (200 + 50 * index) * np.arange(800) / RATE)
        save(folder / "audio" / f"{stem}.wav", np.stack([tone, -tone]).astype(np.float32), RATE)
    write_tsv(folder / "meta.csv", ["filename", "scene_label", "identifier", "source_label"],
              [[f"audio/{stem}.wav", scene, location, "a"] for stem, scene, location, _ in clips])  # fmt: skip
    for split, file in (("train", "fold1_train.csv"), ("test", "fold1_evaluate.csv")):
        write_tsv(folder / "evaluation_setup" / file, ["filename", "scene_label"],
                  [[f"audio/{stem}.wav", scene] for stem, scene, _, where in clips if where == split])  # fmt: skip
    return folder


def test_the_listing_the_official_split_and_stereo_clips(tmp_path: Path):
    make_copy(tmp_path / FOLDER)
    dataset = registry.get(NAME, root=tmp_path)
    assert len(dataset) == 5 and dataset.classes == ("airport", "bus", "street_traffic")
    assert dataset.targets() == [0, 0, 2, 2, 1]
    assert [dataset.split_of(i) for i in range(5)] == ["train", "test", "train", None, "test"]
    waveform, target, meta = dataset[2]
    assert waveform.shape == (2, 800) and dataset.sample_rate == RATE and target == 2
    np.testing.assert_allclose(waveform[0].numpy(), -waveform[1].numpy(), atol=1e-4)  # both channels kept
    assert meta["id"] == "street_traffic-lyon-7-12-a" and meta["split"] == "train"
    fields = (meta["scene_label"], meta["city"], meta["location"], meta["device"])
    assert fields == ("street_traffic", "lyon", "lyon-7", "a")


def test_split_keeps_class_indices_and_options_apply(tmp_path: Path):
    folder = make_copy(tmp_path / "anywhere")
    test = registry.get(NAME, root="/nonexistent", path=folder, split="test", sample_rate=4000, mono=True)
    assert len(test) == 2 and test.classes == ("airport", "bus", "street_traffic") and test.targets() == [0, 1]
    assert test[0][0].shape == (1, 400)
    assert len(DCASE2019Task1a(folder, split="train")) == 2  # root may be the dataset folder itself
    with pytest.raises(ValueError, match=r"split must be one of \['train', 'test'\] or None, got 'evaluate'"):
        DCASE2019Task1a(folder, split="evaluate")
    with pytest.raises(UnknownNameError, match="unknown option of dataset 'dcase2019_task1a' 'fold'"):
        registry.get(NAME, root=folder, fold=1)


def test_an_absent_copy_says_where_the_files_go_and_how_to_get_them(tmp_path: Path):
    with pytest.raises(DatasetNotFoundError) as caught:
        registry.get(NAME, root=tmp_path)
    message = str(caught.value)
    assert str(tmp_path / FOLDER) in message and f"{tmp_path / FOLDER}/meta.csv" in message
    assert "evaluation_setup/fold1_evaluate.csv" in message and "https://zenodo.org/record/2589280" in message
    assert "workbench download dcase2019_task1a" in message


def test_listing_errors_name_the_file(tmp_path: Path):
    folder = make_copy(tmp_path / FOLDER)
    (folder / "audio" / "bus-milan-2-5-a.wav").unlink()
    with pytest.raises(MissingFileError, match=r"meta\.csv lists 1 file\(s\) missing .*audio/bus-milan-2-5-a\.wav"):
        DCASE2019Task1a(tmp_path)
    make_copy(folder)
    write_tsv(folder / "evaluation_setup" / "fold1_evaluate.csv", ["filename", "scene_label"],
              [["audio/tram-wien-1-1-a.wav", "tram"]])  # fmt: skip
    with pytest.raises(MetadataError, match=r"fold1_evaluate\.csv, line 2: audio/tram-wien-1-1-a\.wav is not listed"):
        DCASE2019Task1a(tmp_path)
    write_tsv(folder / "meta.csv", ["file", "scene_label"], [])
    with pytest.raises(MetadataError, match=r"meta\.csv: missing column\(s\) filename; the tab-separated header"):
        DCASE2019Task1a(tmp_path)


def test_registry_entry_lists_the_zenodo_archives_and_the_clip_count():
    info = registry.info(NAME)
    assert len(info.remotes) == 22 and info.expected_clips == 14400 and info.folder == FOLDER
    assert info.remotes[0].url == f"https://zenodo.org/record/2589280/files/{FOLDER}.audio.1.zip?download=1"
    assert info.remotes[-1].filename == f"{FOLDER}.meta.zip" and info.sample_rate == 48000


def test_download_merges_archives_that_share_the_top_folder(tmp_path: Path, monkeypatch):
    """The audio and meta archives all unpack into TAU-urban-acoustic-scenes-2019-development/."""
    staging = make_copy(tmp_path / "release" / FOLDER)
    server = tmp_path / "server"
    server.mkdir()
    archives = {"audio.1": lambda file: file.suffix == ".wav", "meta": lambda file: file.suffix == ".csv"}
    remotes = []
    for part, keep in archives.items():
        archive = server / f"{FOLDER}.{part}.zip"
        with zipfile.ZipFile(archive, "w") as bundle:
            for file in staging.rglob("*"):
                if file.is_file() and keep(file):
                    bundle.write(file, file.relative_to(staging.parent).as_posix())
        remotes.append(RemoteFile(archive.as_uri(), hashlib.sha256(archive.read_bytes()).hexdigest(), archive.name))
    info = dataclasses.replace(registry.info(NAME), remotes=tuple(remotes), expected_clips=len(CLIPS))
    monkeypatch.setitem(registry._INFOS, NAME, info)
    root = tmp_path / "data"
    assert download_dataset(NAME, root, offline=False, progress=False) == root / FOLDER
    assert len(DCASE2019Task1a(root)) == len(CLIPS)
