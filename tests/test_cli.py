"""The workbench command: argument parsing and its error contract."""

import os
from pathlib import Path

import pytest
import yaml

from workbench import cli
from workbench.errors import WorkbenchError

MN04 = "{shared}/weights/efficientat-mn04/mn04_as_mAP_432.pt"


def test_assignments_stay_text_until_params_parse_them():
    assert cli._parse_assignments(["a=1", "b=x", "c=no", "d={shared}/w.pt", "e=[1, 2]", "f="]) == {
        "a": "1", "b": "x", "c": "no", "d": "{shared}/w.pt", "e": "[1, 2]", "f": ""
    }
    with pytest.raises(WorkbenchError, match="must look like key=value"):
        cli._parse_assignments(["novalue"])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "no_such_recipe"], "unknown recipe 'no_such_recipe'; valid: "),
        (["run", "linear_eval", "-p", "epochz=3"], "unknown parameter of recipe 'linear_eval' 'epochz'"),
        (["run", "linear_eval", "--preset", "nope"], "unknown preset of recipe 'linear_eval' 'nope'"),
        (["download", "no_such_thing"], "unknown dataset or weights 'no_such_thing'"),
    ],
)
def test_unknown_names_exit_2_and_list_the_valid_ones(argv, message, capsys):
    assert cli.main(argv) == 2
    assert message in capsys.readouterr().err


def _one_error_line(capsys) -> str:
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("workbench: error: "), captured.err
    return lines[0]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "add_loss", "-p", "repeats=0"], "parameter 'repeats' must be at least 1, got 0"),
        (["run", "add_loss", "-p", "epochs=-1"], "parameter 'epochs' must be at least 1, got -1"),
        (["run", "linear_eval", "-p", "learning_rate=nan"], "parameter 'learning_rate' must be a finite number"),
        (["run", "linear_eval", "-p", "batch_size=0"], "parameter 'batch_size' must be at least 1, got 0"),
        (["run", "care_sep", "-p", "mae_weight=nan"], "parameter 'mae_weight' must be a finite number, got nan"),
        (["run", "linear_eval", "-p", "task=no"], "parameter 'task': unknown task of dataset 'synthetic' 'no'"),
        (["run", "add_loss", "-y", "{n_seedz: [5]}"], "unknown parameter of recipe 'add_loss' 'n_seedz'"),
        (["run", "add_loss", "-y", "{task: no}"], "parameter 'task' must be a string, got False"),
        (["run", "add_loss", "-y", "{task: [a"], "-y '{task: [a' is not valid YAML at line 1"),
        (["run", "add_loss", "-y", "[1, 2]"], "must be a mapping of parameter: value, got list"),
        (["params", "diff_byola", "-f", "/no/such/file.yaml"], "parameter file not found: /no/such/file.yaml"),
    ],
)
def test_bad_values_give_one_line_and_no_run_directory(argv, message, capsys, tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    monkeypatch.setenv("WORKBENCH_RUNS", str(runs))
    assert cli.main(argv) == 2
    assert message in _one_error_line(capsys)
    assert not runs.exists()


def test_params_prints_the_resolved_values_and_reads_them_back(capsys, tmp_path):
    assert cli.main(["params", "diff_byola", "--preset", "lambda-sweep", "-p", "epochs=2", "-y", "{channels: 4}"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("# workbench params diff_byola --preset lambda-sweep\n")
    values = yaml.safe_load(printed)
    assert values["difference_weights"] == [0.0, 0.1, 0.2, 0.5, 0.8]
    assert values["epochs"] == 2 and values["channels"] == 4 and values["embedding_dim"] == 128
    # What it prints is a parameter file: -f gives the same parameters back.
    (tmp_path / "resolved.yaml").write_text(printed)
    assert cli.main(["params", "diff_byola", "-f", str(tmp_path / "resolved.yaml")]) == 0
    assert yaml.safe_load(capsys.readouterr().out) == values


def test_shared_placeholder_and_strings_survive_the_command_line(capsys):
    argv = ["params", "linear_eval", "-p", "encoders=logmel-stats,efficientat-mn04", "-p", f"weights_path={MN04}"]
    assert cli.main([*argv, "-p", "dataset=fsdd", "-p", "task=speaker"]) == 0
    printed = capsys.readouterr().out
    assert "# {shared} = " in printed
    values = yaml.safe_load(printed)
    assert values["weights_path"] == MN04 and values["encoders"] == ["logmel-stats", "efficientat-mn04"]
    assert values["task"] == "speaker"


def _read_only_folder(tmp_path: Path) -> Path:
    """A folder this process cannot write (root ignores permission bits: then a read-only system folder)."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    for candidate in (folder, Path("/sys"), Path("/proc")):
        try:
            (candidate / "probe").write_text("x")
            (candidate / "probe").unlink()
        except OSError:
            return candidate
    pytest.skip("no read-only folder available to this user")


@pytest.mark.parametrize("variable", ["WORKBENCH_RUNS", "WORKBENCH_CACHE"])
def test_unwritable_runs_or_cache_folder_is_one_line_before_any_work(variable, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv(variable, str(_read_only_folder(tmp_path) / "workbench"))
    assert cli.main(["run", "linear_eval", "-p", "n_seeds=1"]) == 2
    line = _one_error_line(capsys)
    assert "is not writable" in line and f"set {variable} to a folder you can write" in line
    # A path under a file cannot become a folder at all.
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv(variable, str(tmp_path / "a-file" / "runs"))
    assert cli.main(["run", "linear_eval"]) == 2
    assert f"{tmp_path / 'a-file'} is not a folder" in _one_error_line(capsys)


def test_reproduce_gives_papermill_typed_values(monkeypatch, tmp_path):
    from workbench import reproduce

    captured = {}

    def plan(recipe_names, out_dir, preset=None, overrides=None):
        captured.update(overrides)
        raise WorkbenchError("planned")

    monkeypatch.setattr(reproduce, "plan", plan)
    argv = ["reproduce", "diff_byola", "--out", str(tmp_path), "-p", "difference_weights=0,0.2", "-p", "epochs=3"]
    assert cli.main(argv) == 2
    assert captured == {"difference_weights": [0.0, 0.2], "epochs": 3}


def test_debug_shows_the_traceback(monkeypatch):
    monkeypatch.setenv("WORKBENCH_DEBUG", "1")
    with pytest.raises(ValueError, match="parameter 'repeats'"):
        cli.main(["run", "add_loss", "-p", "repeats=0"])


def test_listings(capsys):
    assert cli.main(["recipes"]) == 0
    assert "linear_eval" in capsys.readouterr().out
    assert cli.main(["datasets"]) == 0
    listing = capsys.readouterr().out
    assert "synthetic" in listing and "esc50" in listing
    assert cli.main(["weights"]) == 0
