"""The CLI explains what it works with: each recipe parameter's meaning (``params --explain``, ``run
RECIPE --help``), a local copy's real sample rate (``datasets``), and a quickstart reproduction on another
dataset that needs no ``-p task=``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile

from workbench import cli, reproduce
from workbench.recipes import linear_eval

from tests.data.test_partial_copies import _partial_esc50


def test_params_explain_prints_every_parameter_with_its_meaning(capsys) -> None:
    assert cli.main(["params", "linear_eval", "--explain", "-p", "n_seeds=5"]) == 0
    out = capsys.readouterr().out
    assert "n_seeds = 5  (int; at least 1)\n    linear-probe seeds; the score is their mean" in out
    for name in linear_eval.Params.field_names():
        assert f"\n{name} = " in out
    assert "(no description yet)" not in out
    assert "# {shared} = " in out  # the meaning of weights_path names the placeholder; where it points is shown


def test_run_help_lists_the_recipe_parameters_and_runs_nothing(capsys, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("WORKBENCH_RUNS", str(tmp_path / "runs"))
    with pytest.raises(SystemExit) as stopped:
        cli.main(["run", "layer_fusion", "--help"])
    assert stopped.value.code == 0
    out = capsys.readouterr().out
    assert "usage: workbench run" in out and "parameters of layer_fusion" in out
    assert "weights_path = \"\"  (str)\n    checkpoint file of the pretrained model named" in out
    assert not (tmp_path / "runs").exists()
    with pytest.raises(SystemExit):
        cli.main(["run", "--help"])
    assert "`workbench run RECIPE --help` lists its parameters" in capsys.readouterr().out


def test_datasets_shows_the_rate_of_the_files_not_the_official_one(tmp_path: Path, capsys) -> None:
    folder = _partial_esc50(tmp_path)
    for path in (folder / "audio").iterdir():  # the copy was resampled to 16 kHz before it came here
        soundfile.write(path, np.zeros(160, dtype=np.float32), 16000)
    assert cli.main(["datasets", "--root", str(tmp_path)]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[1:]}
    assert lines["esc50"].split()[1:3] == ["16000", "Hz"]
    assert "(files at 16000 Hz, official 44100 Hz)" in lines["esc50"]
    assert lines["urbansound8k"].split()[1] == "44100"  # absent: the official rate


def test_reproducing_the_quickstart_on_a_folder_needs_no_task(tmp_path: Path) -> None:
    (jobs,) = reproduce.plan(["linear_eval"], tmp_path, None, {"dataset": "folder", "data_root": str(tmp_path)})
    assert jobs.parameters == {"dataset": "folder", "data_root": str(tmp_path), "task": ""}
    assert reproduce.notebook_defaults(jobs.notebook)["task"] == "event"  # what the cell says, replaced
    cell = {key: value for key, value in reproduce.notebook_defaults(jobs.notebook).items() if key != "projection"}
    assert linear_eval.Params.from_dict({**cell, **jobs.parameters}).task == ""  # the notebook's params validate
    # A task the cell names that the new dataset has is kept; a task given on the command line wins.
    (synthetic,) = reproduce.plan(["linear_eval"], tmp_path, None, {"dataset": "synthetic"})
    assert "task" not in synthetic.parameters
    (given,) = reproduce.plan(["linear_eval"], tmp_path, None, {"dataset": "fsdd", "task": "speaker"})
    assert given.parameters["task"] == "speaker"


def test_workbench_run_marks_the_run_of_any_recipe_failed(tmp_path, monkeypatch, capsys) -> None:
    """A recipe that does not mark its own failures still leaves a failed (not a running-looking)
    folder when run from the command line."""
    from types import SimpleNamespace

    from workbench import recipes
    from workbench.train.rundir import RunDir

    monkeypatch.setenv("WORKBENCH_RUNS", str(tmp_path))

    def run(params):
        RunDir.open("some_recipe", params.to_dict()).log("start")
        raise ValueError("the data ran out")

    monkeypatch.setattr(recipes, "get", lambda name: SimpleNamespace(Params=linear_eval.Params, run=run))
    assert cli.main(["run", "linear_eval"]) == 2
    assert "the data ran out" in capsys.readouterr().err
    (folder,) = (tmp_path / "some_recipe").iterdir()
    assert RunDir(folder).status == "failed" and RunDir(folder).failure["error"] == "ValueError: the data ran out"
