"""``workbench launch --executor slurm`` against a fake Slurm on PATH (tests/launch/fake_slurm.py): one job
array per stage with the asked resources, a signal before the time limit so that a leaf is checkpointed and
requeued, and the leaves really run from the array's pickles."""

from __future__ import annotations

import json
import os
import pickle
import re
import sys
from pathlib import Path

import pytest

from workbench.cli import main
from workbench.recipes import add_loss

HERE = Path(__file__).resolve().parent


@pytest.fixture
def fake_slurm(tmp_path, monkeypatch) -> Path:
    """sbatch, sacct, scontrol, scancel and srun on PATH, recording into the returned folder."""
    pytest.importorskip("submitit")
    state, bin_dir = tmp_path / "slurm", tmp_path / "bin"
    state.mkdir()
    bin_dir.mkdir()
    source = (HERE / "fake_slurm.py").read_text()
    for command in ("sbatch", "sacct", "scontrol", "scancel", "srun"):  # srun: submitit looks for it
        path = bin_dir / command
        path.write_text(f"#!{sys.executable}\n{source}")
        path.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_SLURM_DIR", str(state))
    monkeypatch.setenv("WORKBENCH_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path / "cache"))
    return state


def test_a_slurm_launch_submits_one_array_per_stage_with_resources_and_requeue(fake_slurm, tmp_path, capsys):
    arguments = ["-p", "n_clips=60", "-p", "clip_seconds=0.5", "-p", "epochs=1", "-p", "batch_size=16",
                 "-p", "variants=ce,add"]  # fmt: skip
    code = main(["launch", "add_loss", *arguments, "--executor", "slurm", "--partition", "gpu", "--gpus", "1",
                 "--cpus", "4", "--time", "1:30:00", "--array-parallelism", "1", "--max-requeue", "5",
                 "-o", "mem=8G", "-o", "account=lab", "--poll", "0.5", "--folder", str(tmp_path / "jobs")])  # fmt: skip
    output = capsys.readouterr().out
    assert code == 0, output
    (submission,) = [json.loads(line) for line in (fake_slurm / "submissions.jsonl").read_text().splitlines()]
    script = submission["script"]
    flags = dict(re.findall(r"^#SBATCH --([\w-]+)=(.*)$", script, re.M))
    assert flags["array"] == "0-1%1"  # both losses in one array, one at a time
    assert flags["partition"] == "gpu" and flags["gpus-per-node"] == "1" and flags["cpus-per-task"] == "4"
    assert flags["time"] == "90" and flags["mem"] == "8G" and flags["account"] == "lab"
    assert flags["job-name"] == "workbench-add_loss-losses"
    assert flags["signal"] == "USR2@90"  # the warning before the time limit: checkpoint, then requeue
    assert "submitit.core._submit" in script
    # Each array task's pickle holds a Checkpointable leaf job that may be requeued 5 times after a timeout.
    import submitit

    pickles = sorted((tmp_path / "jobs").glob(f"{submission['job_id']}_*/*_submitted.pkl"))
    assert len(pickles) == 2
    leaves = []
    for path in pickles:
        with path.open("rb") as handle:
            delayed = pickle.load(handle)
        assert isinstance(delayed.function, submitit.helpers.Checkpointable)
        assert delayed._timeout_countdown == 5
        leaves.append(delayed.args[0])
    plan = add_loss.plan(add_loss.Params(n_clips=60, clip_seconds=0.5, epochs=1, batch_size=16, variants=("ce", "add")))
    assert [leaf.id for leaf in leaves] == [leaf.id for leaf in plan.leaves]
    # The array ran (fake nodes), the launcher saw it finish, and the gather read both losses back.
    assert all(leaf.finished() for leaf in plan.leaves)
    assert f"submitted 2 leaves as job array {submission['job_id']} (2 tasks)" in output
    assert "losses: 2 done, 0 failed, 0 running or queued" in output
    assert "leaves: 2 run now, 0 finished before" in output and "run directory:" in output
    record = json.loads((Path(plan.leaves[0].path) / "launch.json").read_text())
    assert record["job_id"] == f"{submission['job_id']}_0"
