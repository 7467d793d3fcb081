"""NSynth on a tiny fake copy of the three jsonwav folders: tasks, splits, errors, registry, download."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest

from workbench.audio.io import save
from workbench.data import nsynth as nsynth_module  # noqa: F401 - registers "nsynth"
from workbench.data import registry
from workbench.data.download import RemoteFile, download_dataset
from workbench.data.folder import MetadataError
from workbench.data.nsynth import FAMILIES, FOLDER, NAME, NSynth
from workbench.errors import DatasetNotFoundError, MissingFileError, UnknownNameError

RATE = 16000
NOTES = {
    # split: [(note_str, pitch, family, source)]
    "train": [("bass_synthetic_033-022-050", 22, 0, 2), ("guitar_acoustic_010-064-100", 64, 3, 0)],
    "valid": [("keyboard_electronic_001-109-127", 109, 4, 1)],  # above the 88 keys
    "test": [("vocal_acoustic_000-060-075", 60, 10, 0), ("organ_electronic_007-021-025", 21, 6, 1)],
}


def make_copy(folder: Path, notes=NOTES) -> Path:
    for split, rows in notes.items():
        examples = {}
        for index, (note, pitch, family, source) in enumerate(rows):
            audio = np.full(320, 0.01 * (index + 1), np.float32)
            save(folder / f"nsynth-{split}" / "audio" / f"{note}.wav", audio, RATE)
            examples[note] = {
                "note_str": note, "pitch": pitch, "velocity": 75, "instrument_str": note.rsplit("-", 2)[0],
                "instrument_family": family, "instrument_family_str": FAMILIES[family],
                "instrument_source": source, "instrument_source_str": ("acoustic", "electronic", "synthetic")[source],
                "qualities_str": ["bright"],
            }  # fmt: skip
        (folder / f"nsynth-{split}" / "examples.json").write_text(json.dumps(examples))
    return folder


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    return make_copy(tmp_path / FOLDER)


def test_family_task_and_official_splits(copy: Path):
    dataset = registry.get(NAME, root=copy.parent)
    assert len(dataset) == 5 and dataset.classes == FAMILIES and dataset.n_classes == 11
    assert [dataset.split_of(i) for i in range(5)] == ["train", "train", "valid", "test", "test"]
    assert dataset.targets() == [0, 3, 4, 6, 10]  # notes sorted by name within each split
    waveform, target, meta = dataset[1]
    assert waveform.shape == (1, 320) and dataset.sample_rate == RATE and target == 3
    assert meta["id"] == "guitar_acoustic_010-064-100" and meta["family"] == "guitar" and meta["pitch"] == 64
    assert meta["split"] == "train" and meta["qualities"] == ("bright",)


def test_source_and_pitch_tasks(copy: Path):
    assert NSynth(copy, task="source").targets() == [2, 0, 1, 1, 0]
    pitch = registry.get(NAME, root=copy, task="pitch")  # root may be the dataset folder itself
    assert pitch.n_classes == 88 and pitch.classes[0] == "21" and pitch.classes[-1] == "108"
    assert [record.id for record in pitch.records][-1] == "vocal_acoustic_000-060-075"
    assert len(pitch) == 4 and pitch.targets() == [1, 43, 0, 39]  # the 109 note is left out
    with pytest.raises(ValueError, match=r"task must be one of \['family', 'source', 'pitch'\]"):
        NSynth(copy, task="instrument")


def test_split_option_and_partial_copies(tmp_path: Path):
    folder = make_copy(tmp_path / "anywhere", notes={"test": NOTES["test"]})
    test = registry.get(NAME, root="/nonexistent", path=folder, split="test", sample_rate=8000)
    assert len(test) == 2 and test[0][0].shape == (1, 160)
    with pytest.raises(DatasetNotFoundError, match=r"split 'train' not found in .*it has \['test'\]"):
        NSynth(folder, split="train")
    with pytest.raises(ValueError, match="split must be one of"):
        NSynth(folder, split="validation")


def test_absent_copy_missing_note_and_bad_listing_are_named(tmp_path: Path, copy: Path):
    with pytest.raises(DatasetNotFoundError) as caught:
        registry.get(NAME, root=tmp_path / "empty")
    message = str(caught.value)
    assert f"{tmp_path / 'empty' / FOLDER}/nsynth-<split>/examples.json" in message
    assert "magenta.tensorflow.org/datasets/nsynth" in message and "workbench download nsynth" in message
    (copy / "nsynth-test" / "audio" / "vocal_acoustic_000-060-075.wav").unlink()
    missing = r"examples\.json lists 1 file\(s\) missing .*vocal_acoustic_000-060-075"
    with pytest.raises(MissingFileError, match=missing):
        NSynth(copy)
    (copy / "nsynth-test" / "examples.json").write_text(json.dumps({"x": {"pitch": 60}}))
    with pytest.raises(MetadataError, match=r"entry 'x' lacks field\(s\) instrument_family, instrument_source"):
        NSynth(copy, split="test")


def test_unknown_option_and_registry_entry(copy: Path):
    with pytest.raises(UnknownNameError, match="valid: mono, path, sample_rate, split, task"):
        registry.get(NAME, root=copy, folds=1)
    info = registry.info(NAME)
    assert info.expected_clips == 305_979 and len(info.remotes) == 3
    filenames = {remote.filename for remote in info.remotes}
    assert filenames == {f"nsynth-{split}.jsonwav.tar.gz" for split in ("train", "valid", "test")}
    assert all(remote.sha256 is None for remote in info.remotes)


def test_download_lays_the_three_archives_side_by_side(tmp_path: Path, monkeypatch):
    staging = make_copy(tmp_path / "release")
    server = tmp_path / "server"
    server.mkdir()
    remotes = []
    for split in ("train", "valid", "test"):
        archive = server / f"nsynth-{split}.jsonwav.tar.gz"
        with tarfile.open(archive, "w:gz") as bundle:
            bundle.add(staging / f"nsynth-{split}", arcname=f"nsynth-{split}")
        remotes.append(RemoteFile(archive.as_uri(), hashlib.sha256(archive.read_bytes()).hexdigest(), archive.name))
    info = dataclasses.replace(registry.info(NAME), remotes=tuple(remotes), expected_clips=5)
    monkeypatch.setitem(registry._INFOS, NAME, info)
    root = tmp_path / "data"
    assert download_dataset(NAME, root, offline=False, progress=False) == root / FOLDER
    assert len(NSynth(root)) == 5
