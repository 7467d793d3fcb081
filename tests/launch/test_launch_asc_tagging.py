"""asc_tagging's tagger and each of its networks are leaves of their own (issue 26): the plan names the run
directories a plain run makes, and a launch then a gather gives a plain run's metrics and claims."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench import launch
from workbench.recipes import asc_tagging

TINY = dict(n_clips=60, clip_seconds=1.7, filters=4, epochs=1, batch_size=16, tagger="trained", tagger_clips=40,
            tagger_epochs=1, tagger_width=4, tagger_stages=2, seeds=(0,), variants=("baseline", "attention"),
            grid="none")  # fmt: skip


def _metrics(run_dir: Path) -> dict:
    return json.loads((Path(run_dir) / "metrics.json").read_text())["metrics"]


def test_the_tagger_and_each_network_are_leaves_a_launch_gathers_like_a_plain_run(tmp_path, monkeypatch):
    pytest.importorskip("submitit")
    params = asc_tagging.Params.from_dict(TINY)
    monkeypatch.setenv("WORKBENCH_RUNS", str(tmp_path / "launched"))
    plan = asc_tagging.plan(params)
    assert [(stage.name, leaf.name) for stage in plan.stages for leaf in stage.leaves] == [
        ("tagger", "tagger"), ("networks", "baseline seed 0"), ("networks", "attention seed 0")]
    options = launch.ExecutorOptions(kind="debug", folder=tmp_path / "jobs")
    report = launch.launch(plan, options, lambda: asc_tagging.run(params), poll_seconds=0.01, echo=lambda line: None)
    assert report.count("done") == 3 and all(leaf.finished() for leaf in plan.leaves)

    monkeypatch.setenv("WORKBENCH_RUNS", str(tmp_path / "plain"))
    plain = asc_tagging.run(params)
    assert _metrics(plain.run_dir) == _metrics(report.result.run_dir)
    assert all(leaf.finished() for leaf in asc_tagging.plan(params).leaves)  # the same ids under the plain root
