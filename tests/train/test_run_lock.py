"""The run lock on cluster file systems (issue 26): flock where it works, else an O_EXCL lock file with
its holder and a heartbeat, broken when stale; any other flock failure is a refusal naming the file system."""

from __future__ import annotations

import errno
import fcntl
import gc
import os
import socket
import subprocess
import sys
import time

import pytest

from workbench.errors import WorkbenchError
from workbench.train import RunDir
from workbench.train.rundir import RunLockedError
from workbench.train.rundir import lock as run_lock


@pytest.fixture
def no_flock(monkeypatch):
    """flock failing as on Lustre mounted without it."""

    def refuse(handle, operation):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", refuse)


def _held_file(run: RunDir):
    return run.path / (RunDir.LOCK_FILE + run_lock.HELD_SUFFIX)


def test_without_flock_the_lock_file_names_its_holder_and_goes_on_close(tmp_path, no_flock):
    run = RunDir.open("toy", {"lr": 0.1}, root=tmp_path, wait=0)
    held = _held_file(run)
    assert run._lock.kind == "file"
    assert f"pid {os.getpid()} on {socket.gethostname()} since " in held.read_text()
    again = RunDir.open("toy", {"lr": 0.1}, root=tmp_path, wait=0)  # the same process: shares the lock
    again.close()
    assert held.is_file()
    run.close()
    del run, again
    gc.collect()
    assert not held.exists()


def test_a_live_holders_lock_file_refuses_then_goes_stale(tmp_path, no_flock, monkeypatch):
    first = RunDir.open("toy", {"lr": 0.1}, root=tmp_path, wait=0)
    path = first.path
    first.close()
    del first
    gc.collect()
    # Another live process (our parent) on another host holds the lock, as a job on another node would.
    held = path / (RunDir.LOCK_FILE + run_lock.HELD_SUFFIX)
    held.write_text(f"pid {os.getppid()} on node-17 since 2026-01-01 (lock file, token abc)\n")
    with pytest.raises(RunLockedError, match=r"toy-\w+ is being run by another process \(pid \d+ on node-17 "):
        RunDir.open("toy", {"lr": 0.1}, root=tmp_path, wait=0)
    with pytest.raises(RunLockedError, match=r"still being run .* after waiting 0.2 s"):
        RunDir.open("toy", {"lr": 0.1}, root=tmp_path, wait=0.2)
    # Its heartbeat stops (the node was lost): after the stale time the next process breaks it.
    monkeypatch.setenv("WORKBENCH_LOCK_STALE_SECONDS", "60")
    old = time.time() - 61
    os.utime(held, (old, old))
    run = RunDir.open("toy", {"lr": 0.1}, root=tmp_path, wait=0)
    assert f"pid {os.getpid()} " in held.read_text()
    assert not list(path.glob("*.stale-*"))


def test_a_dead_holder_on_this_host_is_stale_at_once(tmp_path, no_flock):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    run = RunDir.open("toy", {}, root=tmp_path, wait=0)
    path = run.path
    run.close()
    del run
    gc.collect()
    (path / (RunDir.LOCK_FILE + run_lock.HELD_SUFFIX)).write_text(
        f"pid {dead.pid} on {socket.gethostname()} since 2026-01-01 (lock file, token abc)\n"
    )
    RunDir.open("toy", {}, root=tmp_path, wait=0).close()


def test_the_heartbeat_keeps_the_lock_file_fresh(tmp_path, no_flock, monkeypatch):
    monkeypatch.setattr(run_lock, "HEARTBEAT_SECONDS", 0.05)
    run = RunDir.open("toy", {}, root=tmp_path, wait=0)
    held = _held_file(run)
    old = time.time() - 1000
    os.utime(held, (old, old))
    time.sleep(0.3)
    assert time.time() - held.stat().st_mtime < 5


def test_another_flock_error_is_a_refusal_naming_the_file_system(tmp_path, monkeypatch):
    def broken(handle, operation):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(fcntl, "flock", broken)
    kind = run_lock.file_system_type(tmp_path)
    with pytest.raises(WorkbenchError, match=rf"with flock on its {kind} file system .*WORKBENCH_RUN_LOCK=file"):
        RunDir.open("toy", {}, root=tmp_path, wait=0)


def test_the_lock_kind_follows_the_file_system_and_the_environment(tmp_path, monkeypatch):
    assert run_lock.file_system_type("/") != "unknown"
    monkeypatch.delenv("WORKBENCH_RUN_LOCK", raising=False)
    monkeypatch.setattr(run_lock, "file_system_type", lambda path: "lustre")  # flock may be node-local there
    assert run_lock.lock_kind(tmp_path / ".lock") == "file"
    run = RunDir.open("toy", {}, root=tmp_path, wait=0)
    assert run._lock.kind == "file" and _held_file(run).is_file()
    monkeypatch.setenv("WORKBENCH_RUN_LOCK", "flock")
    assert run_lock.lock_kind(tmp_path / ".lock") == "flock"
    monkeypatch.setenv("WORKBENCH_RUN_LOCK", "maybe")
    with pytest.raises(ValueError, match="WORKBENCH_RUN_LOCK='maybe' must be auto, flock or file"):
        run_lock.lock_kind(tmp_path / ".lock")
