"""Partial copies: `workbench datasets` and `registry.describe_copy` report them per fold, and
linear_eval's protocol scores what they hold, decided before any clip is embedded (issue 25)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import json
import warnings

import numpy as np
import pytest
import soundfile
import torch

from workbench import cli
from workbench.data import registry
from workbench.evaluation.protocols import ProtocolWarning
from workbench.models.base import Encoder
from workbench.recipes import linear_eval

FOLD_SIZES = {2: 11, 3: 1, 4: 400, 5: 2}  # fold 1 absent: the partial copy of issue 12


WASHING_MACHINE = 7  # the class of the real partial copy recorded from a single source file


def _partial_esc50(root: Path, *, one_source_class: bool = False) -> Path:
    """A fake ESC-50 tree whose listing holds 414 clips: folds of 11, 1, 400 and 2, fold 1 absent; every
    clip its own source recording, except (``one_source_class``) the 9 clips of class 7, renamed
    washing_machine, cut from one. A clip's level tells its class."""
    folder = root / "ESC-50"
    (folder / "audio").mkdir(parents=True)
    (folder / "meta").mkdir()
    rows = []
    for fold, count in FOLD_SIZES.items():
        for index in range(count):
            target = index % 50
            name = f"{fold}-{1000 + index}-A-{target}.wav"
            buffer = io.BytesIO()
            level = np.full(441, (target + 1) / 64, dtype=np.float32)
            soundfile.write(buffer, level, 44100, format="WAV", subtype="PCM_16")
            (folder / "audio" / name).write_bytes(buffer.getvalue())
            one_source = one_source_class and target == WASHING_MACHINE
            rows.append({"filename": name, "fold": fold, "target": target,
                         "category": "washing_machine" if one_source else f"class{target:02d}",
                         "esc10": str(target < 10), "src_file": "washer" if one_source else str(1000 + index),
                         "take": "A"})  # fmt: skip
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


class LevelEncoder(Encoder):
    """Each clip's level, one-hot over 64 steps (what tells the fake clips' classes apart, linearly);
    records its calls in ``events`` and raises :class:`Embedded` when ``fail`` is set."""

    sample_rate = 44100
    min_samples = 1

    def __init__(self, events: list[str], fail: bool = False):
        super().__init__()
        self.events, self.fail = events, fail

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        self.events.append("embed")
        if self.fail:
            raise Embedded("a clip was embedded")
        steps = (waveform.mean(dim=-1) * 64).round().long().clamp(0, 63)  # (B,)
        return torch.nn.functional.one_hot(steps, 64).float()  # (B, 64)


class Embedded(Exception):
    """Raised by a :class:`LevelEncoder` that must not be reached."""


def _run_on_partial_copy(tmp_path, monkeypatch, events, fail=False, **params):
    """linear_eval on the one-source partial copy with a :class:`LevelEncoder`; every plan, encoder
    build and embedding recorded in ``events``."""
    root = tmp_path / "data"
    _partial_esc50(root, one_source_class=True)
    monkeypatch.setenv("WORKBENCH_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path / "cache"))
    planner = linear_eval.plan_dataset_protocol

    def plan(*args, **kwargs):
        events.append("plan")
        return planner(*args, **kwargs)

    def encoders(_params):
        events.append("build encoders")
        return {"logmel-stats": LevelEncoder(events, fail)}

    monkeypatch.setattr(linear_eval, "plan_dataset_protocol", plan)
    monkeypatch.setattr(linear_eval, "build_encoders", encoders)
    settings = dict(dataset="esc50", data_root=str(root), encoders=("logmel-stats",), n_seeds=2, max_epochs=20,
                    patience=5, learning_rate=0.05)  # fmt: skip
    return linear_eval.run(linear_eval.Params.from_dict({**settings, **params}))


def test_auto_scores_a_partial_copy_with_a_one_source_class(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    events: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = _run_on_partial_copy(tmp_path, monkeypatch, events, n_folds=4)
    score = result.scores["logmel-stats"]
    assert score.protocol == "grouped-kfold" and len(score.per_fold) == 4
    assert score.excluded_classes == {"washing_machine": "one source recording"}
    assert score.n_test == 414 - 9 and WASHING_MACHINE not in score.test_targets
    assert "49 of 50 classes scored; washing_machine: one source recording" in result.summary()
    assert score.mean > 0.5  # the levels tell the classes apart: the probe learned
    assert events.index("plan") < events.index("embed")
    (warning,) = [w for w in caught if issubclass(w.category, ProtocolWarning)]  # once per run, two seeds
    assert warning.filename == __file__ and "49 of 50 classes scored (washing_machine left out)" in str(warning.message)
    log = [json.loads(line) for line in (Path(result.run_dir) / "log.jsonl").read_text().splitlines()]
    (logged,) = [row for row in log if row["event"] == "protocol"]
    assert logged["used"] == "grouped-kfold" and "fold 3 (1 clips)" in logged["note"]  # the full explanation


def test_an_unworkable_protocol_fails_before_any_encoder_or_embedding(tmp_path: Path, monkeypatch):
    events: list[str] = []
    expected = (r"protocol 'official' cannot be trained on this data: fold 4: classes class11.*"
                r"What would work here: protocol 'auto' \(grouped-kfold; 49 of 50")
    with pytest.raises(ValueError, match=expected):
        _run_on_partial_copy(tmp_path, monkeypatch, events, fail=True, protocol="official")
    assert events == ["plan"] and not (tmp_path / "runs").exists()


def test_a_workable_protocol_is_planned_before_the_first_embedding(tmp_path: Path, monkeypatch):
    events: list[str] = []
    with pytest.raises(Embedded), pytest.warns(ProtocolWarning, match="ignores source groups: \\d+ of 414"):
        _run_on_partial_copy(tmp_path, monkeypatch, events, fail=True, protocol="kfold")
    assert events[:3] == ["plan", "build encoders", "embed"]
