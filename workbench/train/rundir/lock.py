"""The run lock: an exclusive ``flock`` on ``<run>/.lock`` that one process holds while it runs the run."""

from __future__ import annotations

import fcntl
import os
import socket
import sys
import threading
import time
import weakref
from pathlib import Path

from workbench.errors import WorkbenchError
from workbench.train.rundir.provenance import _utc_now


class RunLockedError(WorkbenchError):
    """Another process holds the run directory's lock (it is running the same run)."""


class _RunLock:
    """An exclusive ``flock`` on ``<run>/.lock``, shared by every RunDir of that run in this process."""

    _held: weakref.WeakValueDictionary[str, _RunLock] = weakref.WeakValueDictionary()
    _guard = threading.Lock()

    def __init__(self, path: Path, handle: int):
        self.path = path
        self._handle: int | None = handle

    @classmethod
    def acquire(cls, path: Path, wait: float | None) -> tuple[_RunLock, bool]:
        """The lock of ``path``, and whether this process held it already (through another RunDir)."""
        key = str(path.resolve())
        with cls._guard:
            held = cls._held.get(key)
            if held is not None and held._handle is not None:
                return held, True
            try:
                handle, writable = os.open(path, os.O_RDWR | os.O_CREAT, 0o666), True
            except PermissionError:  # another user's lock file on a shared runs folder: a lock needs no writing
                handle, writable = os.open(path, os.O_RDONLY), False
            try:
                cls._take(path, handle, wait)
            except BaseException:
                os.close(handle)
                raise
            if writable:  # who holds it, for the message of a process that finds it taken
                os.ftruncate(handle, 0)
                os.pwrite(handle, f"pid {os.getpid()} on {socket.gethostname()} since {_utc_now()}\n".encode(), 0)
            lock = cls(path, handle)
            cls._held[key] = lock
            return lock, False

    @staticmethod
    def _take(path: Path, handle: int, wait: float | None) -> None:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        holder = _read_holder(path)
        run = path.parent
        if wait is not None and wait <= 0:
            raise RunLockedError(
                f"run {run.name} is being run by another process ({holder}); wait for it to finish (its "
                f"results are then read back), or stop it; its directory: {run}"
            )
        print(f"workbench: run {run.name} is being run by another process ({holder}); waiting for it "
              f"to finish", file=sys.stderr, flush=True)  # fmt: skip
        deadline = None if wait is None else time.monotonic() + wait
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if deadline is not None and time.monotonic() >= deadline:
                    raise RunLockedError(
                        f"run {run.name} is still being run by another process ({_read_holder(path)}) after "
                        f"waiting {wait:g} s; try again when it has finished; its directory: {run}"
                    ) from None
                time.sleep(0.05 if deadline is not None and deadline - time.monotonic() < 1 else 0.5)

    def __del__(self) -> None:
        # Closing the descriptor releases the flock: when the last RunDir holding this lock goes.
        handle, self._handle = self._handle, None
        if handle is not None:
            try:
                os.close(handle)
            except OSError:  # pragma: no cover - interpreter shutdown
                pass


def _launch_rank() -> int:
    """This process's rank under ``torchrun`` (``$RANK``), 0 otherwise."""
    try:
        return int(os.environ.get("RANK", "0"))
    except ValueError:
        return 0


def _read_holder(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        text = ""
    return text or "holder unknown"
