"""Progress of `workbench reproduce`: cells done / total of each running notebook, from papermill's cell statuses."""

from __future__ import annotations

import io
import json
from pathlib import Path

from workbench.reproduce import NotebookJob, ProgressWatcher, notebook_progress


def write_executing(path: Path, statuses: list[str]) -> None:
    """A notebook as papermill writes it while executing: one code cell per status, a markdown cell between."""
    cells = [{"cell_type": "markdown", "metadata": {}, "source": "title"}]
    cells += [{"cell_type": "code", "metadata": {"papermill": {"status": status}}, "source": "", "outputs": []}
              for status in statuses]  # fmt: skip
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))


def test_progress_counts_completed_code_cells(tmp_path):
    path = tmp_path / "a.ipynb"
    assert notebook_progress(path) is None  # not written yet
    write_executing(path, ["completed", "completed", "running", "pending"])
    assert notebook_progress(path) == (2, 4)
    path.write_text('{"cells": [')  # caught half written
    assert notebook_progress(path) is None


def test_watcher_prints_when_a_notebook_moves_on_and_on_a_heartbeat(tmp_path):
    jobs = [NotebookJob(name, tmp_path / f"{name}.ipynb", tmp_path / f"{name}.out.ipynb", {}) for name in ("a", "b")]
    stream = io.StringIO()
    watcher = ProgressWatcher(jobs, heartbeat=60.0, stream=stream)
    write_executing(jobs[0].output, ["completed", "running", "pending"])
    watcher.report(now=100.0)
    watcher.report(now=110.0)  # nothing moved: silent
    write_executing(jobs[0].output, ["completed", "completed", "running"])
    write_executing(jobs[1].output, ["running"])
    watcher.report(now=130.0)
    watcher.finished.add("a.out.ipynb")
    watcher.report(now=200.0)  # b did not move, but a minute passed
    assert stream.getvalue().splitlines() == [
        "[running] a.out.ipynb 1/3 cells, 0 s | b.out.ipynb waiting",
        "[running] a.out.ipynb 2/3 cells, 30 s | b.out.ipynb 0/1 cells, 0 s",
        "[running] b.out.ipynb 0/1 cells, 70 s",
    ]


def test_the_line_names_the_latest_event_of_any_run_log(tmp_path):
    from workbench.reproduce import latest_activity

    runs = tmp_path / "runs"
    assert latest_activity(runs) is None
    older, newer = runs / "r" / "r-1" / "log.jsonl", runs / "r-pretrain" / "r-pretrain-2" / "log.jsonl"
    for path in (older, newer):
        path.parent.mkdir(parents=True)
    older.write_text(json.dumps({"event": "start"}) + "\n")
    newer.write_text(json.dumps({"event": "epoch", "epoch": 37, "lr": 1e-3, "byol_loss": 0.61123}) + "\n")
    import os

    os.utime(older, ns=(1, 1))
    assert latest_activity(runs) == "r-pretrain-2: epoch, epoch 37, byol_loss 0.611"
    job = NotebookJob("a", tmp_path / "a.ipynb", tmp_path / "a.out.ipynb", {})
    write_executing(job.output, ["completed", "running"])
    stream = io.StringIO()
    ProgressWatcher([job], stream=stream, runs_dir=runs).report(now=5.0)
    assert stream.getvalue() == "[running] a.out.ipynb 1/2 cells, 0 s | latest: r-pretrain-2: epoch, epoch 37, byol_loss 0.611\n"


def test_a_fork_while_the_watcher_runs_leaves_no_error_in_the_child():
    import subprocess
    import sys

    script = (
        "import os, time\n"
        "from workbench.reproduce import ProgressWatcher\n"
        "watcher = ProgressWatcher([], interval=0.01)\n"
        "watcher.start()\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    os._exit(0)\n"
        "os.waitpid(pid, 0)\n"
        "watcher.stop()\n"
    )
    finished = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert finished.returncode == 0 and "Exception ignored" not in finished.stderr, finished.stderr
