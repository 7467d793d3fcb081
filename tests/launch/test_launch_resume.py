"""A leaf killed with SIGKILL mid-training resumes from its checkpoint when launched again (issue 26)."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from workbench import launch
from workbench.recipes import diff_byola

REPOSITORY = Path(__file__).resolve().parents[2]
TINY = dict(channels=4, embedding_dim=32, projection_dim=16, hidden_dim=32, pretrain_tasks=("event", "pitch"),
            n_pretrain_clips=24, epochs=40, batch_size=16, memory_size=32, difference_weights=(0.5,),
            pretrain_seeds=(0,))  # fmt: skip
"""One pre-training of 40 epochs, checkpointed after epoch 20."""


@pytest.mark.slow
def test_a_leaf_killed_mid_training_resumes_from_its_checkpoint(tmp_path, monkeypatch):
    pytest.importorskip("submitit")
    monkeypatch.setenv("WORKBENCH_RUNS", str(tmp_path / "runs"))
    params = diff_byola.Params(**TINY)
    (leaf,) = diff_byola.plan(params).leaves
    script = "import sys, pickle; pickle.loads(bytes.fromhex(sys.argv[1]))()"
    worker = subprocess.Popen([sys.executable, "-c", script, pickle.dumps(leaf).hex()], cwd=REPOSITORY,
                              env={**os.environ, "OMP_NUM_THREADS": "1"})  # fmt: skip
    checkpoints = Path(leaf.path) / "checkpoints"
    deadline = time.monotonic() + 240
    while not list(checkpoints.glob("step-*.pt")) and worker.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    assert list(checkpoints.glob("step-*.pt")) and not leaf.finished(), "the leaf must be killed between checkpoints"

    report = launch.launch(diff_byola.plan(params), launch.ExecutorOptions(kind="debug", folder=tmp_path / "jobs"),
                           poll_seconds=0.01, echo=lambda line: None)  # fmt: skip
    assert report.count("done") == 1 and leaf.finished()
    log = [json.loads(line) for line in (Path(leaf.path) / "log.jsonl").read_text().splitlines()]
    (resumed,) = [row for row in log if row["event"] == "resumed"]
    assert resumed["checkpoint_step"] > 0
    starts = [row for row in log if row["event"] == "fit_start"]
    assert starts[0]["resumed_from"] == "" and starts[-1]["resumed_from"].endswith(f"step-{resumed['checkpoint_step']}.pt")
    assert starts[-1]["epoch"] == 20  # the second fit started from epoch 20, not from scratch
