"""CREMA-D on a tiny fake AudioWAV folder (one short clip per actor, a few more for actor 1001)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from workbench.audio.io import save
from workbench.data import cremad as cremad_module  # noqa: F401 - registers "cremad"
from workbench.data import registry
from workbench.data.cremad import ACTORS, CLASS_NAMES, FOLDER, NAME, TEST_ACTORS, VALID_ACTORS, CremaD
from workbench.data.folder import MetadataError
from workbench.errors import DatasetNotFoundError, MissingFileError, UnknownNameError

RATE = 16000
EXTRA = ["1001_IEO_ANG_HI", "1001_IEO_SAD_LO", "1001_ITS_NEU_XX", "1002_DFA_FEA_XX"]


def make_copy(folder: Path, actors=ACTORS) -> Path:
    audio = folder / "AudioWAV"
    stems = [f"{actor}_DFA_HAP_XX" for actor in actors] + EXTRA
    for index, stem in enumerate(stems):
        save(audio / f"{stem}.wav", np.full(160 + index, 0.05, dtype=np.float32), RATE)
    (audio / "README.txt").write_text("not audio")
    save(audio / "stray.wav", np.zeros(10, dtype=np.float32), RATE)  # not a CREMA-D name: skipped
    return folder


@pytest.fixture(scope="module")
def copy(tmp_path_factory) -> Path:
    return make_copy(tmp_path_factory.mktemp("cremad") / FOLDER)


def test_emotions_and_the_evar_speaker_split(copy: Path):
    assert len(VALID_ACTORS) == 9 and len(TEST_ACTORS) == 19 and not VALID_ACTORS & TEST_ACTORS
    assert len(ACTORS) - len(VALID_ACTORS) - len(TEST_ACTORS) == 63
    dataset = registry.get(NAME, root=copy.parent)
    assert len(dataset) == 91 + len(EXTRA) and tuple(dataset.classes) == CLASS_NAMES
    first = [record.id for record in dataset.records[:5]]
    assert first == ["1001_DFA_HAP_XX", "1001_IEO_ANG_HI", "1001_IEO_SAD_LO", "1001_ITS_NEU_XX", "1002_DFA_FEA_XX"]
    assert dataset.targets()[:5] == [3, 0, 5, 4, 2]
    splits = {record.extra["actor"]: record.split for record in dataset.records}
    assert splits[1001] == "test" and splits[1009] == "valid" and splits[1002] == "train"
    waveform, target, meta = dataset[1]
    assert waveform.shape == (1, 161 + 90) and target == 0 and dataset.sample_rate == RATE
    assert meta == {**meta, "actor": 1001, "sentence": "IEO", "emotion": "ANG", "level": "HI", "split": "test"}


def test_split_option_keeps_whole_speakers(copy: Path):
    test = CremaD(copy, split="test")
    assert {record.extra["actor"] for record in test.records} == set(TEST_ACTORS)
    assert len(test) == 19 + 3 and {test.split_of(i) for i in range(len(test))} == {"test"}
    valid = registry.get(NAME, root="/nonexistent", path=copy, split="valid", sample_rate=8000)
    assert len(valid) == 9 and valid[0][0].shape[-1] == (160 + 8) // 2
    with pytest.raises(ValueError, match=r"split must be one of \['train', 'valid', 'test'\]"):
        CremaD(copy, split="validation")


def test_absent_copy_says_where_the_files_go_and_that_there_is_no_download(tmp_path: Path):
    with pytest.raises(DatasetNotFoundError) as caught:
        registry.get(NAME, root=tmp_path)
    message = str(caught.value)
    assert f"{tmp_path / FOLDER}/AudioWAV/<actor>_<sentence>_<emotion>_<level>.wav" in message
    assert "git lfs" in message and "github.com/CheyneyComputerScience/CREMA-D" in message
    assert "workbench download" not in message


def test_missing_actor_bad_codes_and_duplicates_are_named(tmp_path: Path):
    folder = make_copy(tmp_path / FOLDER, actors=[actor for actor in ACTORS if actor != 1083])
    with pytest.raises(MissingFileError, match=r"no clips of 1 actor\(s\) of the split: 1083"):
        CremaD(folder)
    assert len(CremaD(folder, split="train")) == 63 + 1  # 1083 is a test actor
    save(folder / "AudioWAV" / "1002_DFA_HAP_XX.flac", np.zeros(16, dtype=np.float32), RATE)
    with pytest.raises(MetadataError, match=r"1002_DFA_HAP_XX.flac and 1002_DFA_HAP_XX.wav .* hold the same clip"):
        CremaD(folder, split="train")
    (folder / "AudioWAV" / "1002_DFA_HAP_XX.flac").unlink()
    save(folder / "AudioWAV" / "1003_DFA_XYZ_XX.wav", np.zeros(16, dtype=np.float32), RATE)
    with pytest.raises(MetadataError, match="unknown emotion code 'XYZ'"):
        CremaD(folder, split="train")


def test_unknown_option_and_registry_entry(copy: Path):
    with pytest.raises(UnknownNameError, match="valid: mono, path, sample_rate, split"):
        registry.get(NAME, root=copy, folds=1)
    info = registry.info(NAME)
    assert info.remotes == () and info.expected_clips == 7442
    assert info.url == "https://github.com/CheyneyComputerScience/CREMA-D"
