"""Run directories that follow the data, record provenance, lock, clean up and log resumes (issue 13)."""

from __future__ import annotations

import gc
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from workbench.atomic import atomic_write_text, remove_stale_temporaries
from workbench.audio.io import save
from workbench.data.folder import FolderDataset
from workbench.train import RunDir, run_id
from workbench.train.rundir import RunLockedError

REPOSITORY = Path(__file__).resolve().parents[2]


def _folder(tmp_path: Path, frequency: float) -> Path:
    """Four one-second tones of ``frequency`` in a labelled folder, dated in 2020 (as if copied long ago)."""
    folder = tmp_path / "clips"
    time = np.arange(16000) / 16000
    for index in range(4):
        path = folder / f"clip{index}.wav"
        save(path, (0.3 * np.sin(2 * np.pi * frequency * (index + 1) * time)).astype(np.float32), 16000)
        os.utime(path, ns=(1_577_836_800_000_000_000, 1_577_836_800_000_000_000))
    (folder / "labels.csv").write_text("filename,label\n" + "".join(f"clip{i}.wav,{'ab'[i % 2]}\n" for i in range(4)))
    return folder


def test_run_id_without_data_is_unchanged_and_data_enters_it(tmp_path):
    params = {"lr": 0.1}
    assert run_id("r", params) == run_id("r", params, None)  # old run ids stay valid
    folder = _folder(tmp_path, 440.0)
    dataset = FolderDataset(folder, "labels.csv")
    assert run_id("r", params, dataset) != run_id("r", params)
    assert run_id("r", params, dataset) == run_id("r", params, FolderDataset(folder, "labels.csv"))


def test_overwritten_audio_gives_a_new_run(tmp_path):
    folder = _folder(tmp_path, 440.0)
    first = RunDir.open("toy", {"lr": 0.1}, root=tmp_path / "runs", data=FolderDataset(folder, "labels.csv"))
    first.write_metrics({"accuracy": 0.5})
    first.close()
    # Every clip overwritten with other audio of the same length (so the same size): a user's new data.
    time = np.arange(16000) / 16000
    for index in range(4):
        save(folder / f"clip{index}.wav", (0.3 * np.sin(2 * np.pi * 97.0 * time)).astype(np.float32), 16000)
    second = RunDir.open("toy", {"lr": 0.1}, root=tmp_path / "runs", data=FolderDataset(folder, "labels.csv"))
    assert second.path != first.path and not second.finished
    # The same data again finds the finished run.
    second.close()
    again = RunDir.open("toy", {"lr": 0.1}, root=tmp_path / "runs", data=FolderDataset(folder, "labels.csv"))
    assert again.path == second.path


def test_provenance_records_versions_commit_and_the_data_fingerprint(tmp_path):
    folder = _folder(tmp_path, 440.0)
    run = RunDir.open("toy", {"lr": 0.1}, root=tmp_path, data=FolderDataset(folder, "labels.csv"))
    document = json.loads((run.path / "provenance.json").read_text())
    assert document == run.provenance
    import numpy
    import torch

    import workbench

    assert document["workbench"] == workbench.__version__
    assert document["packages"]["torch"] == torch.__version__.split("+")[0] or document["packages"]["torch"].startswith(
        torch.__version__.split("+")[0]
    )
    assert document["packages"]["numpy"] == numpy.__version__
    assert set(document["packages"]) == {"torch", "torchaudio", "numpy", "scikit-learn"}
    if (REPOSITORY / ".git").exists():
        head = subprocess.run(["git", "-C", str(REPOSITORY), "rev-parse", "HEAD"], capture_output=True, text=True)
        assert document["git_commit"] == head.stdout.strip()
    (fingerprint,) = document["data"]["datasets"]
    assert fingerprint["kind"] == "files" and fingerprint["clips"] == 4
    assert fingerprint["bytes"] == sum((folder / f"clip{i}.wav").stat().st_size for i in range(4))


def test_metrics_with_nan_and_infinity_are_strict_json_and_read_back_exactly(tmp_path):
    run = RunDir.open("toy", {}, root=tmp_path)
    run.write_metrics({"accuracy": float("nan"), "scores": [1.0, float("inf")], "nested": {"loss": float("-inf")}})

    def refuse(constant):
        raise ValueError(f"bare {constant} in metrics.json")

    text = (run.path / "metrics.json").read_text()
    document = json.loads(text, parse_constant=refuse)  # strict JSON: no NaN/Infinity tokens
    assert document["metrics"] == {"accuracy": None, "scores": [1.0, None], "nested": {"loss": None}}
    metrics = run.read_metrics()
    assert np.isnan(metrics["accuracy"]) and metrics["scores"] == [1.0, float("inf")]
    assert metrics["nested"]["loss"] == float("-inf")
    run.log("epoch", loss=float("nan"))
    assert json.loads(run.log_path.read_text().splitlines()[-1], parse_constant=refuse)["loss"] is None


_HOLDER = textwrap.dedent(
    """
    import sys, time
    from workbench.train import RunDir
    run = RunDir.open("toy", {"lr": 0.1}, root=sys.argv[1])
    print("holding", flush=True)
    time.sleep(120)
    """
)


def _start_holder(root: Path) -> subprocess.Popen:
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(root)], cwd=REPOSITORY, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    assert holder.stdout.readline().strip() == "holding"
    return holder


def test_a_second_identical_run_is_refused_or_waits_and_a_dead_holder_is_taken_over(tmp_path):
    holder = _start_holder(tmp_path)
    try:
        with pytest.raises(RunLockedError, match=rf"toy-\w+ is being run by another process \(pid {holder.pid} "):
            RunDir.open("toy", {"lr": 0.1}, root=tmp_path, wait=0)
        with pytest.raises(RunLockedError, match=r"still being run by another process .* after waiting 0.2 s"):
            RunDir.open("toy", {"lr": 0.1}, root=tmp_path, wait=0.2)
        other = RunDir.open("toy", {"lr": 0.2}, root=tmp_path, wait=0)  # other parameters: another run, free
        other.close()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    # The killed holder's lock file is still there; the kernel released its lock, so the run is free.
    run = RunDir.open("toy", {"lr": 0.1}, root=tmp_path, wait=0)
    assert (run.path / ".lock").is_file()
    assert f"pid {os.getpid()} " in (run.path / ".lock").read_text()


def test_the_same_process_may_open_a_run_twice(tmp_path):
    first = RunDir.open("toy", {}, root=tmp_path, wait=0)
    second = RunDir.open("toy", {}, root=tmp_path, wait=0)
    assert first.path == second.path


def test_stale_temporary_files_of_a_killed_save_are_removed_on_the_next_open(tmp_path):
    run = RunDir.open("toy", {}, root=tmp_path)
    run.save_checkpoint({"step": 1}, step=1)
    run.close()
    del run
    gc.collect()
    stale = [
        tmp_path / "toy" / run_id("toy", {}) / ".metrics.json.4194303.0a1b2c3d.tmp",
        tmp_path / "toy" / run_id("toy", {}) / "checkpoints" / ".step-2.pt.4194303.deadbeef.tmp",
    ]
    for path in stale:
        path.write_bytes(b"half a checkpoint")
    keep = tmp_path / "toy" / run_id("toy", {}) / "artifacts" / "notes.tmp"  # not a temporary's name
    keep.parent.mkdir()
    keep.write_text("mine")
    reopened = RunDir.open("toy", {}, root=tmp_path)
    assert not any(path.exists() for path in stale)
    assert keep.is_file() and [p.name for p in reopened.checkpoints()] == ["step-1.pt"]


def test_remove_stale_temporaries_keeps_those_of_live_processes(tmp_path):
    mine = tmp_path / f".cache.npz.{os.getpid()}.00ff00ff.tmp"
    dead = tmp_path / ".cache.npz.4194303.00ff00ff.tmp"  # above the default pid_max: no such process
    mine.write_bytes(b"")
    dead.write_bytes(b"")
    assert remove_stale_temporaries(tmp_path) == [dead]
    assert mine.exists() and not dead.exists()


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_written_files_respect_the_umask(tmp_path, umask):
    previous = os.umask(umask)
    try:
        path = atomic_write_text(tmp_path / "metrics.json", "{}")
        run = RunDir.open("toy", {}, root=tmp_path / "runs")
        checkpoint = run.save_checkpoint({"step": 1}, step=1)
    finally:
        os.umask(previous)
    expected = 0o666 & ~umask
    assert path.stat().st_mode & 0o777 == expected
    assert (run.path / "params.yaml").stat().st_mode & 0o777 == expected
    assert checkpoint.stat().st_mode & 0o777 == expected


def test_a_resumed_run_logs_a_resumed_row(tmp_path):
    run = RunDir.open("toy", {}, root=tmp_path)
    run.log("start")
    run.save_checkpoint({"step": 3}, step=3)
    run.log("epoch", epoch=0)
    run.close()
    del run
    gc.collect()  # the "interrupted" process's hold is gone
    resumed = RunDir.open("toy", {}, root=tmp_path)
    events = [record["event"] for record in resumed.read_log()]
    assert events == ["start", "epoch", "resumed"]
    assert resumed.read_log()[-1]["checkpoint_step"] == 3
    # A second RunDir of the run in the same process is not a resume; nor is a finished run reopened.
    RunDir.open("toy", {}, root=tmp_path)
    resumed.write_metrics({"loss": 0.1})
    resumed.close()
    del resumed
    gc.collect()
    finished = RunDir.open("toy", {}, root=tmp_path)
    assert [record["event"] for record in finished.read_log()] == ["start", "epoch", "resumed"]


def test_a_read_only_runs_folder_is_a_clear_error(tmp_path, monkeypatch):
    from workbench.errors import WorkbenchError

    def refuse(self, *args, **kwargs):  # what a read-only folder does (root would be let through a chmod)
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "mkdir", refuse)
    with pytest.raises(WorkbenchError, match=r"cannot write the run directory .*toy-\w+ \(Permission denied\); "
                                             r"make its folder writable or set WORKBENCH_RUNS"):
        RunDir.open("toy", {}, root=tmp_path)


@pytest.mark.parametrize(("world", "local", "kept"), [("1", "1", False), ("2", "2", True), ("4", "2", True)])
def test_rank_zero_keeps_the_temporary_files_other_ranks_are_writing(tmp_path, monkeypatch, world, local, kept):
    """Under torchrun the other ranks take no lock and may be mid-write in the run directory when rank 0
    opens it: their temporary files (a live process's, or a process on another machine's) stay."""
    folder = tmp_path / "toy" / run_id("toy", {})
    folder.mkdir(parents=True)
    writing = folder / f".metrics.json.{os.getpid()}.0a1b2c3d.tmp"  # a live process here: another rank, say
    dead = folder / ".log.jsonl.4194303.0a1b2c3d.tmp"  # no such process
    for path in (writing, dead):
        path.write_bytes(b"")
    monkeypatch.setenv("WORLD_SIZE", world)
    monkeypatch.setenv("LOCAL_WORLD_SIZE", local)
    monkeypatch.setenv("RANK", "0")
    run = RunDir.open("toy", {}, root=tmp_path)
    assert writing.exists() == kept
    assert dead.exists() == (world != local)  # on one machine a dead process's file is removed; across machines none
    run.close()
