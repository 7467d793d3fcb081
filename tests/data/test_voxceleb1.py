"""VoxCeleb1 identification on a tiny fake release tree (the real audio is behind a form, never in tests)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from workbench.audio.io import save
from workbench.data import registry
from workbench.data import voxceleb1 as voxceleb1_module  # noqa: F401 - registers "voxceleb1"
from workbench.data.folder import MetadataError
from workbench.data.voxceleb1 import FOLDER, NAME, VoxCeleb1
from workbench.errors import DatasetNotFoundError, MissingFileError, UnknownNameError

RATE = 16000
LINES = [
    ("1", "id10002/6WO410QOeuo/00001.wav"),
    ("1", "id10001/1zcIwhmdeo4/00001.wav"),
    ("2", "id10001/1zcIwhmdeo4/00002.wav"),
    ("3", "id10003/5ablueV_1tw/00003.wav"),
    ("1", "id10003/_JpHD6VnJ3I/00001.wav"),
]


def make_copy(folder: Path, lines=LINES) -> Path:
    for index, (_, name) in enumerate(lines):
        save(folder / "wav" / name, np.full(300 + index, 0.03, dtype=np.float32), RATE)
    (folder / "iden_split.txt").write_text("".join(f"{code} {name}\n" for code, name in lines))
    return folder


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    return make_copy(tmp_path / FOLDER)


def test_speakers_and_the_official_split(copy: Path):
    dataset = registry.get(NAME, root=copy.parent)
    assert tuple(dataset.classes) == ("id10001", "id10002", "id10003") and len(dataset) == 5
    assert dataset.targets() == [1, 0, 0, 2, 2]  # the listing's order, speakers sorted
    assert [dataset.split_of(i) for i in range(5)] == ["train", "train", "valid", "test", "train"]
    waveform, target, meta = dataset[3]
    assert waveform.shape == (1, 303) and target == 2 and dataset.sample_rate == RATE
    assert meta["id"] == "id10003/5ablueV_1tw/00003" and meta["speaker"] == "id10003"
    assert meta["video"] == "5ablueV_1tw" and meta["split"] == "test"


def test_split_keeps_the_speaker_indices(copy: Path):
    test = registry.get(NAME, root="/nonexistent", path=copy, split="test", sample_rate=8000)
    assert len(test) == 1 and test.n_classes == 3 and test.targets() == [2] and test[0][0].shape == (1, 152)
    assert len(VoxCeleb1(copy, split="train")) == 3
    with pytest.raises(ValueError, match=r"split must be one of \['train', 'valid', 'test'\]"):
        VoxCeleb1(copy, split="dev")


def test_absent_copy_says_it_is_behind_a_form_and_where_files_go(tmp_path: Path):
    with pytest.raises(DatasetNotFoundError) as caught:
        registry.get(NAME, root=tmp_path)
    message = str(caught.value)
    assert "request form" in message and "cannot be downloaded" in message
    assert f"{tmp_path / FOLDER}/wav/<speaker id>/<video id>/<nnnnn>.wav" in message
    assert f"{tmp_path / FOLDER}/iden_split.txt" in message and "meta/iden_split.txt" in message


def test_missing_listed_utterance_and_bad_lines_are_named(copy: Path):
    (copy / "wav" / "id10003" / "5ablueV_1tw" / "00003.wav").unlink()
    missing = r"iden_split\.txt lists 1 file\(s\) missing .*id10003/5ablueV_1tw/00003\.wav"
    with pytest.raises(MissingFileError, match=missing):
        VoxCeleb1(copy)
    assert len(VoxCeleb1(copy, split="train")) == 3  # only the kept lines must exist
    (copy / "iden_split.txt").write_text("1 id10001/1zcIwhmdeo4/00001.wav\n4 id10001/x/00001.wav\n")
    malformed = r"iden_split\.txt, line 2: expected '<1\|2\|3> <speaker>/<video>/<file>\.wav'"
    with pytest.raises(MetadataError, match=malformed):
        VoxCeleb1(copy)


def test_unknown_option_and_registry_entry(copy: Path):
    with pytest.raises(UnknownNameError, match="valid: mono, path, sample_rate, split"):
        registry.get(NAME, root=copy, task="speaker")
    info = registry.info(NAME)
    assert info.remotes == () and info.expected_clips == 153_516 and "vox1.html" in info.url
