"""``workbench launch`` (issue 26 item 2): plans name the run directories a plain run makes; a launch on
local processes gathers the metrics and claims of a plain run; an interrupted launch runs only what is
left; failed leaves are named with their stderr; leaves of mixed code versions are refused."""

from __future__ import annotations

import dataclasses
import importlib
import json
from pathlib import Path

import pytest

from workbench import launch
from workbench.cli import _minutes, main
from workbench.launch import ExecutorOptions, Leaf, Plan, Stage
from workbench.recipes import add_loss, care_sep

ADD_LOSS = dict(n_clips=60, clip_seconds=0.5, epochs=1, batch_size=16, variants=("ce", "add"))
CARE_SEP = dict(n_mixtures=60, duration=0.5, n_anchors=3, epochs=1, pretrain_epochs=1, batch_size=8, n_figure_points=6,
                figure_classes=(0, 1), n_event_classes=4, init_classes=6, init_clips=48, rows=("A", "C"), seeds=(0,))  # fmt: skip


@pytest.fixture
def roots(tmp_path, monkeypatch) -> Path:
    """A runs folder and a cache of this test's own."""
    monkeypatch.setenv("WORKBENCH_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path / "cache"))
    return tmp_path


def _comparable(metrics: dict) -> dict:
    """metrics.json's metrics without what names the folders (runs and cache roots differ by test)."""
    return {key: value for key, value in metrics.items() if key not in ("init", "losses")}


def _log_events(run_dir: Path, event: str) -> int:
    return sum(json.loads(line)["event"] == event for line in (Path(run_dir) / "log.jsonl").read_text().splitlines())


def test_leaves_are_plain_data_with_a_function_path():
    leaf = Leaf("json:dumps", {"obj": (1, 2)}, "x", "/nowhere", "file")
    assert leaf.arguments == {"obj": [1, 2]} and leaf() == "[1, 2]" and not leaf.finished()
    with pytest.raises(ValueError, match="function 'json.dumps' must be 'package.module:function'"):
        Leaf("json.dumps", {}, "x", "/nowhere")
    with pytest.raises(TypeError, match="leaf x arguments.obj: cannot store a object"):
        Leaf("json:dumps", {"obj": object()}, "x", "/nowhere")
    with pytest.raises(ValueError, match="leaf x appears twice"):
        Plan("r", [Stage("a", [leaf]), Stage("b", [leaf])])


def test_plans_name_the_run_directories_and_caches_a_plain_run_makes(roots):
    params = care_sep.Params(**CARE_SEP)
    plan = care_sep.plan(params)
    assert [stage.name for stage in plan.stages] == ["init", "train"]
    assert [leaf.name for leaf in plan.leaves] == ["Init care", "Init stsed", "row A seed 0", "row C seed 0"]
    assert not any(leaf.finished() for leaf in plan.leaves)
    care_sep.run(params, progress=False)
    assert all(leaf.finished() for leaf in care_sep.plan(params).leaves)

    loss_params = add_loss.Params(**ADD_LOSS)
    loss_plan = add_loss.plan(loss_params)
    assert [leaf.name for leaf in loss_plan.leaves] == ["ce", "add"]
    result = add_loss.run(loss_params)
    assert sorted(leaf.path for leaf in loss_plan.leaves) == sorted(
        loss["run_dir"] for loss in result.metrics["losses"].values()
    )


@pytest.mark.slow
def test_a_local_launch_gathers_the_metrics_and_claims_of_a_plain_run(roots, monkeypatch, capsys):
    pytest.importorskip("submitit")
    params = care_sep.Params(**CARE_SEP)
    plain = care_sep.run(params, progress=False)
    monkeypatch.setenv("WORKBENCH_RUNS", str(roots / "launched" / "runs"))
    monkeypatch.setenv("WORKBENCH_CACHE", str(roots / "launched" / "cache"))
    options = ExecutorOptions(kind="local", folder=roots / "launched" / "jobs", array_parallelism=2, time_minutes=20)
    report = launch.launch(care_sep.plan(params), options, lambda: care_sep.run(params, progress=False),
                           poll_seconds=0.5)  # fmt: skip
    assert report.count("done") == 4 and report.count("skipped") == 0
    assert Path(report.result.run_dir).parent.parent == roots / "launched" / "runs"
    launched = json.loads((Path(report.result.run_dir) / "metrics.json").read_text())["metrics"]
    expected = json.loads((Path(plain.run_dir) / "metrics.json").read_text())["metrics"]
    assert _comparable(launched) == _comparable(expected)
    assert [dataclasses.asdict(claim) for claim in report.result.claims] == [dataclasses.asdict(c) for c in plain.claims]
    output = capsys.readouterr().out
    assert "stage 1/2 init: submitted 2 leaves as jobs" in output and "train: 2 done, 0 failed, 0 running" in output
    for leaf in care_sep.plan(params).leaves:  # each leaf records the code that finished it
        record = Path(leaf.path) / "launch.json" if leaf.kind == "run" else Path(leaf.path + ".launch.json")
        assert json.loads(record.read_text())["job_id"]


def test_an_interrupted_launch_runs_only_the_unfinished_leaves(roots, monkeypatch, capsys):
    pytest.importorskip("submitit")
    params = add_loss.Params(**ADD_LOSS)
    plan = add_loss.plan(params)
    options = ExecutorOptions(kind="debug", folder=roots / "jobs")
    plan_module = importlib.import_module("workbench.recipes.add_loss.plan")  # the package's plan is the function
    real_train_loss = plan_module.train_loss

    def killed_on_the_second_loss(loss_params, dataset, **options):
        if loss_params.loss == "add":
            raise KeyboardInterrupt  # the launcher is stopped while this leaf runs
        return real_train_loss(loss_params, dataset, **options)

    monkeypatch.setattr(plan_module, "train_loss", killed_on_the_second_loss)
    with pytest.raises(KeyboardInterrupt):
        launch.launch(plan, options, lambda: add_loss.run(params), poll_seconds=0.01)
    assert "launcher interrupted in stage 1/1 losses" in capsys.readouterr().out
    first, second = plan.leaves
    assert first.finished() and not second.finished()

    monkeypatch.setattr(plan_module, "train_loss", real_train_loss)
    report = launch.launch(plan, options, lambda: add_loss.run(params), poll_seconds=0.01)
    assert [(outcome.leaf.name, outcome.state) for outcome in report.outcomes] == [("ce", "skipped"), ("add", "done")]
    assert _log_events(first.path, "start") == 1  # the finished loss was not trained again
    assert _log_events(second.path, "finished") == 1
    assert len(report.result.metrics["losses"]) == 2 and report.result.claims


def test_a_failed_leaf_is_named_with_its_job_and_stderr(tmp_path):
    pytest.importorskip("submitit")
    broken = Leaf("json:loads", {"s": "{not json"}, "broken-leaf", str(tmp_path / "never.json"), "file", "broken")
    plan = Plan("toy", [Stage("first", [broken]), Stage("second", [Leaf("json:dumps", {"obj": 1}, "b", "/x", "file")])])
    options = ExecutorOptions(kind="local", folder=tmp_path / "jobs", time_minutes=5)
    lines: list[str] = []
    with pytest.raises(launch.LaunchError, match=r"1 of 1 leaves of stage 1/2 first failed") as caught:
        launch.launch(plan, options, poll_seconds=0.2, echo=lines.append)
    message = str(caught.value)
    assert "- broken (job " in message and "JSONDecodeError" in message  # the tail of the job's stderr
    assert not any("stage 2/2" in line for line in lines)  # the next stage waits for a fix


def _finished_run(path: Path, commit: str) -> Leaf:
    path.mkdir(parents=True)
    (path / "metrics.json").write_text(json.dumps({"finished": True, "metrics": {}}))
    (path / "launch.json").write_text(json.dumps({"code": {"workbench": "0.1", "git_commit": commit, "git_dirty": False}}))
    return Leaf("json:dumps", {}, path.name, str(path), "run")


def test_leaves_of_mixed_code_versions_are_refused_unless_allowed(tmp_path):
    leaves = [_finished_run(tmp_path / "a", "1" * 40), _finished_run(tmp_path / "b", "2" * 40),
              _finished_run(tmp_path / "c", "1" * 40)]  # fmt: skip
    with pytest.raises(launch.MixedCodeError, match=r"commit 111111111111: a, c\n  workbench 0.1, commit 222222222222: b"):
        launch.check_code_versions(leaves)
    notes = launch.check_code_versions(leaves, allow_mixed=True)
    assert "different code versions" in notes[0]
    assert launch.check_code_versions(leaves[::2]) == []
    plan = Plan("toy", [Stage("only", leaves)])
    with pytest.raises(launch.MixedCodeError):  # checked before anything is gathered
        launch.launch(plan, ExecutorOptions(kind="debug", folder=tmp_path / "jobs"), lambda: pytest.fail("gathered"),
                      echo=lambda line: None)  # fmt: skip


def test_the_launch_command_shows_the_plan_and_reads_slurm_times(roots, capsys):
    assert main(["launch", "add_loss", "-p", "n_clips=60", "-p", "clip_seconds=0.5", "-p", "variants=ce,add",
                 "--show-plan"]) == 0  # fmt: skip
    output = capsys.readouterr().out
    assert "plan of add_loss: 1 stage(s), 2 leaves" in output and "losses: ce" in output and "to run" in output
    assert _minutes("90") == 90 and _minutes("12:00:00") == 720 and _minutes("1-02:30") == 1590
    assert main(["launch", "add_loss", "--executor", "local", "-o", "mem"]) == 2
    assert "executor option 'mem' must look like key=value" in capsys.readouterr().err
