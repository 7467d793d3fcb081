"""IEMOCAP loader on a tiny fake release tree (the real corpus is licensed and never in the tests)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from workbench.audio.io import save
from workbench.data import registry
from workbench.data import iemocap as iemocap_module  # noqa: F401 - registers "iemocap"
from workbench.data.folder import MetadataError
from workbench.data.iemocap import CLASS_NAMES, IEMOCAP
from workbench.errors import DatasetNotFoundError, MissingFileError, UnknownNameError

# (session, dialog, utterance, category, seconds): two sessions, improvised and scripted dialogues,
# the four classes plus categories that must be left out (fru, xxx) or merged (exc).
UTTERANCES = [
    (1, "Ses01F_impro01", "Ses01F_impro01_F000", "neu", 0.30),
    (1, "Ses01F_impro01", "Ses01F_impro01_M000", "ang", 0.25),
    (1, "Ses01F_impro01", "Ses01F_impro01_F001", "fru", 0.20),
    (1, "Ses01M_script01_1", "Ses01M_script01_1_M000", "sad", 0.40),
    (1, "Ses01M_script01_1", "Ses01M_script01_1_F000", "exc", 0.15),
    (2, "Ses02F_impro02", "Ses02F_impro02_F000", "hap", 0.35),
    (2, "Ses02F_impro02", "Ses02F_impro02_M000", "xxx", 0.10),
    (2, "Ses02F_impro02", "Ses02F_impro02_M001", "neu", 0.50),
]
RATE = 16000


def _evaluation_text(rows) -> str:
    lines = ["% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]", ""]
    for index, (_, _, utterance, category, _) in enumerate(rows):
        lines += [
            f"[{index * 1.5:.4f} - {index * 1.5 + 1.0:.4f}]\t{utterance}\t{category}\t[2.5000, 2.5000, 2.5000]",
            "C-E1:\tNeutral;\t()",
            "A-E1:\tval 3; act 2; dom  2;\t()",
            "",
        ]
    return "\n".join(lines)


def make_release(root: Path, utterances=UTTERANCES, folder: str = "IEMOCAP_full_release") -> Path:
    """Write a release-shaped tree: EmoEvaluation files and one short wav per evaluated utterance."""
    release = root / folder
    rng = np.random.default_rng(0)
    by_dialog: dict[tuple[int, str], list] = {}
    for row in utterances:
        by_dialog.setdefault((row[0], row[1]), []).append(row)
    for (session, dialog), rows in by_dialog.items():
        evaluation_dir = release / f"Session{session}" / "dialog" / "EmoEvaluation"
        evaluation_dir.mkdir(parents=True, exist_ok=True)
        (evaluation_dir / f"{dialog}.txt").write_text(_evaluation_text(rows))
        for _, _, utterance, _, seconds in rows:
            audio = (0.1 * rng.standard_normal((1, int(seconds * RATE)))).astype(np.float32)
            save(release / f"Session{session}" / "sentences" / "wav" / dialog / f"{utterance}.wav", audio, RATE)
    return release


@pytest.fixture
def release(tmp_path: Path) -> Path:
    return make_release(tmp_path)


def test_four_emotions_with_sessions_as_folds(release: Path):
    dataset = registry.get("iemocap", root=release.parent)
    assert list(dataset.classes) == list(CLASS_NAMES) == ["neutral", "happy", "angry", "sad"]
    kept = [row for row in UTTERANCES if row[3] in ("neu", "hap", "ang", "sad")]
    in_release_order = sorted(kept, key=lambda row: (row[0], row[1]))  # session, then dialog file name
    assert [record.id for record in dataset.records] == [row[2] for row in in_release_order]
    expected_targets = {"neu": 0, "hap": 1, "ang": 2, "sad": 3}
    by_id = {row[2]: row for row in kept}
    for index, target in enumerate(dataset.targets()):
        row = by_id[dataset.records[index].id]
        assert target == expected_targets[row[3]]
        assert dataset.fold_of(index) == row[0]
    assert dataset.folds == (1, 2) and dataset.sample_rate == RATE and dataset.duration is None

    waveform, target, meta = dataset[0]
    row = by_id[meta["id"]]
    assert waveform.shape == (1, int(row[4] * RATE)) and target == expected_targets[row[3]]
    assert meta["fold"] == meta["session"] == 1 and meta["emotion"] == row[3]
    assert meta["speaker"] == "Ses01" + row[2].rsplit("_", 1)[-1][0]
    assert meta["utterance_type"] in ("improvised", "scripted") and meta["end"] > meta["start"]


def test_leave_one_session_out_partition(release: Path):
    dataset = IEMOCAP(release.parent)
    folds = np.array([dataset.fold_of(i) for i in range(len(dataset))])
    speakers = {dataset[i][2]["speaker"][:5] for i in np.flatnonzero(folds == 2)}
    assert speakers == {"Ses02"}  # a session's utterances are exactly its fold


def test_options_select_sessions_types_and_merge_excited(release: Path):
    assert {IEMOCAP(release, sessions=2).fold_of(i) for i in range(2)} == {2}
    scripted = IEMOCAP(release, utterance_type="scripted")
    assert [record.id for record in scripted.records] == ["Ses01M_script01_1_M000"]
    merged = IEMOCAP(release, merge_excited=True)
    excited = next(i for i, record in enumerate(merged.records) if record.id == "Ses01M_script01_1_F000")
    assert merged.targets()[excited] == 1 and merged[excited][2]["emotion"] == "exc"
    assert len(merged) == len(IEMOCAP(release)) + 1


def test_alias_folder_and_explicit_path(tmp_path: Path):
    release = make_release(tmp_path, folder="IEMOCAP")
    assert len(registry.get("iemocap", root=tmp_path)) == 5
    assert len(registry.get("iemocap", root=tmp_path / "elsewhere", path=release)) == 5


def test_absent_copy_says_it_is_licensed_and_where_the_files_go(tmp_path: Path):
    with pytest.raises(DatasetNotFoundError) as error:
        registry.get("iemocap", root=tmp_path)
    message = str(error.value)
    assert "licensed" in message and "cannot be downloaded" in message
    assert str(tmp_path / "IEMOCAP_full_release") in message and "EmoEvaluation" in message
    assert "sail.usc.edu" in message


def test_missing_session_wav_and_bad_lines_are_named(release: Path):
    with pytest.raises(DatasetNotFoundError, match=r"session\(s\) \[3\] not found"):
        IEMOCAP(release, sessions=(1, 3))
    (release / "Session2" / "sentences" / "wav" / "Ses02F_impro02" / "Ses02F_impro02_F000.wav").unlink()
    with pytest.raises(MissingFileError, match="Ses02F_impro02_F000.wav"):
        IEMOCAP(release)
    evaluation = release / "Session1" / "dialog" / "EmoEvaluation" / "Ses01F_impro01.txt"
    evaluation.write_text("[1.0 - 2.0] broken line without tabs\n")
    with pytest.raises(MetadataError, match=r"Ses01F_impro01.txt, line 1"):
        IEMOCAP(release, sessions=1)


def test_unknown_options_and_types(release: Path):
    with pytest.raises(UnknownNameError, match="unknown option of dataset 'iemocap' 'split'"):
        registry.get("iemocap", root=release.parent, split="train")
    with pytest.raises(ValueError, match="utterance_type must be one of"):
        IEMOCAP(release, utterance_type="acted")
