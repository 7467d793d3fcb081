"""`workbench datasets` and `registry.describe_copy`: a partial copy is reported as partial, per fold."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pytest
import soundfile

from workbench import cli
from workbench.data import registry

FOLD_SIZES = {2: 11, 3: 1, 4: 400, 5: 2}  # fold 1 absent: the partial copy of issue 12


def _partial_esc50(root: Path) -> Path:
    """A fake ESC-50 tree whose listing holds 414 clips: folds of 11, 1, 400 and 2, fold 1 absent."""
    folder = root / "ESC-50"
    (folder / "audio").mkdir(parents=True)
    (folder / "meta").mkdir()
    buffer = io.BytesIO()
    soundfile.write(buffer, np.zeros(441, dtype=np.float32), 44100, format="WAV", subtype="PCM_16")
    clip = buffer.getvalue()
    rows = []
    for fold, count in FOLD_SIZES.items():
        for index in range(count):
            target = index % 50
            name = f"{fold}-{1000 + index}-A-{target}.wav"
            (folder / "audio" / name).write_bytes(clip)
            rows.append({"filename": name, "fold": fold, "target": target, "category": f"class{target:02d}",
                         "esc10": str(target < 10), "src_file": str(1000 + index), "take": "A"})  # fmt: skip
    with open(folder / "meta" / "esc50.csv", "w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return folder


def test_a_partial_esc50_copy_is_reported_per_fold(tmp_path: Path):
    _partial_esc50(tmp_path)
    report = registry.describe_copy("esc50", registry.get("esc50", root=tmp_path))
    assert report == ("partial: 414 of 2000 clips; fold 1: 0/400, fold 2: 11/400, fold 3: 1/400, "
                      "fold 4: 400/400, fold 5: 2/400")  # fmt: skip
    esc10 = registry.describe_copy("esc10", registry.get("esc10", root=tmp_path))
    assert esc10.startswith("partial: ") and "fold 1: 0/80" in esc10 and "fold 4: 80/80" in esc10


def test_a_complete_copy_and_a_dataset_without_official_counts(tmp_path: Path):
    class Complete:
        def __len__(self):
            return 2000

        def fold_of(self, index):
            return index // 400 + 1

    assert registry.describe_copy("esc50", Complete()) == "complete: 2000 clips (5 folds of 400)"
    synthetic = registry.get("synthetic", n_clips=7)
    assert registry.describe_copy("synthetic", synthetic) == "found 7 clips (no official count to compare with)"


def test_the_datasets_command_shows_the_partial_copy(tmp_path: Path, capsys: pytest.CaptureFixture):
    _partial_esc50(tmp_path)
    assert cli.main(["datasets", "--root", str(tmp_path)]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[1:]}
    assert "partial: 414 of 2000 clips; fold 1: 0/400, fold 2: 11/400" in lines["esc50"]
    assert "absent (workbench download urbansound8k)" in lines["urbansound8k"]
    assert "built in" in lines["synthetic"]
