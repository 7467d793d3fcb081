"""A run that stops on an error marks its folder failed; the next identical run retries it in the same
folder, cleanly; an interrupt is not a failure."""

from __future__ import annotations

import pytest

from workbench.recipes import linear_eval
from workbench.train.rundir import RunDir, failures_marked


def test_an_error_marks_the_run_failed_and_the_retry_clears_it(tmp_path):
    with pytest.raises(RuntimeError, match="disk full"), failures_marked():
        run = RunDir.open("toy", {"lr": 0.1}, root=tmp_path)
        run.log("start")
        raise RuntimeError("disk full\nmore detail")
    run.close()
    assert run.status == "failed" and run.failure["error"] == "RuntimeError: disk full"
    assert [row["event"] for row in run.read_log()] == ["start", "failed"]

    again = RunDir.open("toy", {"lr": 0.1}, root=tmp_path)
    assert again.path == run.path and again.status == "unfinished" and again.failure is None
    assert [row["event"] for row in again.read_log()][-1] == "retried"
    assert again.read_log()[-1]["previous_error"] == "RuntimeError: disk full"
    again.write_metrics({"accuracy": 0.5})
    assert again.status == "finished"


def test_a_finished_run_and_an_interrupt_are_not_marked(tmp_path):
    with pytest.raises(ValueError), RunDir.open("toy", {"lr": 1}, root=tmp_path) as done:
        done.write_metrics({"accuracy": 0.5})
        raise ValueError("after the results were written")
    assert done.status == "finished"
    with pytest.raises(KeyboardInterrupt), failures_marked():
        interrupted = RunDir.open("toy", {"lr": 2}, root=tmp_path)
        raise KeyboardInterrupt
    interrupted.close()
    assert interrupted.status == "unfinished"  # resumes, rather than being retried as failed


def test_a_failed_linear_eval_run_is_reused_by_the_next_identical_run(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_RUNS", str(tmp_path))
    params = linear_eval.Params(n_clips=60, n_seeds=1, max_epochs=3, patience=2, encoders=("logmel-stats",))
    evaluate = linear_eval.linear_evaluation

    def broken(*args, **kwargs):
        raise RuntimeError("probe diverged")

    monkeypatch.setattr(linear_eval, "linear_evaluation", broken)
    with pytest.raises(RuntimeError, match="probe diverged"):
        linear_eval.run(params)
    folders = list((tmp_path / "linear_eval").iterdir())
    assert len(folders) == 1 and RunDir(folders[0]).status == "failed"

    monkeypatch.setattr(linear_eval, "linear_evaluation", evaluate)
    result = linear_eval.run(params)
    assert result.run_dir == folders[0] and RunDir(result.run_dir).status == "finished"
    events = [row["event"] for row in RunDir(result.run_dir).read_log()]
    assert events[:3] == ["start", "failed", "retried"] and events[-1] == "finished"
