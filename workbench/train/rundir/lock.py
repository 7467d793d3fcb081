"""The run lock that one process holds while it runs a run: an exclusive ``flock`` on ``<run>/.lock``
where the file system gives coherent ``flock``; else an ``O_EXCL`` lock file ``<run>/.lock.held`` that
names its holder and carries a heartbeat.

Why two kinds: ``flock`` is released by the kernel when its process dies, so a killed run never blocks
the next one, but cluster file systems do not all give it. Lustre mounts without ``flock`` by default
(the call fails with ``ENOSYS``/``ENOLCK``), or with ``localflock``, where it succeeds but holds only
on one node; GPFS and BeeGFS behave alike depending on their settings. There a lock file made with
``O_CREAT | O_EXCL`` (atomic on every POSIX and cluster file system) marks the holder; a thread of the
holder touches it every :data:`HEARTBEAT_SECONDS`, and a lock file whose heartbeat is older than
:data:`STALE_AFTER_SECONDS` (a holder killed with SIGKILL, or a lost node) is broken by the next process.
A holder on this host whose process no longer exists is stale at once.

Which kind is used: ``$WORKBENCH_RUN_LOCK`` = ``flock`` or ``file`` forces one; ``auto`` (the default)
uses the lock file on the file system types in :data:`NON_COHERENT_FLOCK` (read from
``/proc/self/mountinfo``) and ``flock`` elsewhere, falling back to the lock file when ``flock`` fails
with "not supported". Any other error of ``flock`` is a refusal that names the file system.
"""

from __future__ import annotations

import errno
import fcntl
import os
import secrets
import socket
import sys
import threading
import time
import weakref
from pathlib import Path

from workbench.atomic import _process_alive
from workbench.errors import WorkbenchError
from workbench.train.rundir.provenance import _utc_now

HEARTBEAT_SECONDS = 10.0
"""How often the holder of a lock file touches it."""

STALE_AFTER_SECONDS = 120.0
"""A lock file untouched this long is a dead holder's; ``$WORKBENCH_LOCK_STALE_SECONDS`` overrides."""

NON_COHERENT_FLOCK = frozenset({"lustre", "gpfs", "beegfs", "pvfs2", "orangefs"})
"""File system types where ``flock`` may succeed on one node only (``localflock``), so it is not used."""

_FLOCK_UNSUPPORTED = frozenset({errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL})
HELD_SUFFIX = ".held"
"""The lock file's name is the flock file's plus this: ``.lock.held``."""


class RunLockedError(WorkbenchError):
    """Another process holds the run directory's lock (it is running the same run)."""


def file_system_type(path: str | os.PathLike) -> str:
    """The type of the file system holding ``path`` (``"ext4"``, ``"nfs4"``, ``"lustre"``...), from the
    longest mount point above it in ``/proc/self/mountinfo``; ``"unknown"`` where that cannot be read."""
    resolved = os.path.realpath(path)
    best, kind = "", "unknown"
    try:
        lines = Path("/proc/self/mountinfo").read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return kind
    for line in lines:
        fields = line.split()
        if " - " not in line or len(fields) < 5:
            continue
        mount = fields[4].replace("\\040", " ")
        inside = resolved == mount or resolved.startswith(mount.rstrip("/") + "/")
        if inside and len(mount) >= len(best):
            best, kind = mount, line.split(" - ", 1)[1].split()[0]
    return kind


def lock_kind(path: str | os.PathLike) -> str:
    """``"flock"`` or ``"file"``: which lock :meth:`_RunLock.acquire` starts with for ``path``.

    Raises:
        ValueError: ``$WORKBENCH_RUN_LOCK`` is set to something else than auto, flock or file.
    """
    chosen = os.environ.get("WORKBENCH_RUN_LOCK", "auto").strip() or "auto"
    if chosen not in ("auto", "flock", "file"):
        raise ValueError(f"WORKBENCH_RUN_LOCK={chosen!r} must be auto, flock or file")
    if chosen != "auto":
        return chosen
    return "file" if file_system_type(Path(path).parent) in NON_COHERENT_FLOCK else "flock"


def _stale_after() -> float:
    value = os.environ.get("WORKBENCH_LOCK_STALE_SECONDS")
    try:
        return float(value) if value else STALE_AFTER_SECONDS
    except ValueError:
        raise ValueError(f"WORKBENCH_LOCK_STALE_SECONDS={value!r} must be a number of seconds") from None


class _LockFile:
    """An ``O_EXCL`` lock file with its holder's name, a token and a heartbeat thread."""

    def __init__(self, path: Path):
        self.path = path
        self.token = secrets.token_hex(8)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def try_take(self) -> bool:
        """Create the lock file (False when another holder has it; a stale one is broken first)."""
        for _ in range(2):
            try:
                handle = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            except FileExistsError:
                if not self._break_if_stale():
                    return False
                continue
            try:
                text = f"pid {os.getpid()} on {socket.gethostname()} since {_utc_now()} (lock file, token {self.token})\n"
                os.write(handle, text.encode())
            finally:
                os.close(handle)
            self._thread = threading.Thread(target=self._beat, name=f"run-lock heartbeat {self.path}", daemon=True)
            self._thread.start()
            return True
        return False

    def _break_if_stale(self) -> bool:
        try:
            age = time.time() - self.path.stat().st_mtime
        except FileNotFoundError:
            return True  # released meanwhile: try again
        holder = _read_holder(self.path)
        dead_here = False
        parts = holder.split()
        if len(parts) >= 4 and parts[0] == "pid" and parts[2] == "on" and parts[3] == socket.gethostname():
            dead_here = parts[1].isdigit() and not _process_alive(int(parts[1]))
        if age < _stale_after() and not dead_here:
            return False
        # Renaming first makes breaking atomic: of two processes that find it stale, one renames it.
        aside = self.path.with_name(f"{self.path.name}.stale-{os.getpid()}-{secrets.token_hex(4)}")
        try:
            os.rename(self.path, aside)
        except FileNotFoundError:
            return True
        print(f"workbench: broke the stale run lock {self.path} ({holder}; last heartbeat {age:.0f} s ago)",
              file=sys.stderr, flush=True)  # fmt: skip
        aside.unlink(missing_ok=True)
        return True

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            try:
                os.utime(self.path)
            except OSError:  # broken by another process after a long stall: nothing left to refresh
                return

    def release(self) -> None:
        self._stop.set()
        if self.token in _read_holder(self.path):  # only our own file, never a later holder's
            self.path.unlink(missing_ok=True)


class _RunLock:
    """A run's lock, shared by every RunDir of that run in this process: a ``flock`` on ``<run>/.lock``
    (``handle``) or a :class:`_LockFile` ``<run>/.lock.held``."""

    _held: weakref.WeakValueDictionary[str, _RunLock] = weakref.WeakValueDictionary()
    _guard = threading.Lock()

    def __init__(self, path: Path, handle: int | None, lock_file: _LockFile | None = None):
        self.path = path
        self._handle = handle
        self._lock_file = lock_file

    @property
    def kind(self) -> str:
        return "file" if self._lock_file is not None else "flock"

    @classmethod
    def acquire(cls, path: Path, wait: float | None) -> tuple[_RunLock, bool]:
        """The lock of ``path``, and whether this process held it already (through another RunDir)."""
        key = str(path.resolve())
        with cls._guard:
            held = cls._held.get(key)
            if held is not None and (held._handle is not None or held._lock_file is not None):
                return held, True
            lock = cls._acquire_flock(path, wait) if lock_kind(path) == "flock" else None
            if lock is None:
                lock_file = _LockFile(path.with_name(path.name + HELD_SUFFIX))
                _wait_for(lock_file.try_take, lock_file.path, wait)
                lock = cls(path, None, lock_file)
            cls._held[key] = lock
            return lock, False

    @classmethod
    def _acquire_flock(cls, path: Path, wait: float | None) -> _RunLock | None:
        """The flock on ``path``; None where the file system does not support flock."""
        try:
            handle, writable = os.open(path, os.O_RDWR | os.O_CREAT, 0o666), True
        except PermissionError:  # another user's lock file on a shared runs folder: a lock needs no writing
            handle, writable = os.open(path, os.O_RDONLY), False
        try:
            _wait_for(lambda: _try_flock(handle, path), path, wait)
        except _FlockUnsupported:
            os.close(handle)
            return None
        except BaseException:
            os.close(handle)
            raise
        if writable:  # who holds it, for the message of a process that finds it taken
            os.ftruncate(handle, 0)
            os.pwrite(handle, f"pid {os.getpid()} on {socket.gethostname()} since {_utc_now()}\n".encode(), 0)
        return cls(path, handle)

    def __del__(self) -> None:
        # Closing the descriptor releases the flock: when the last RunDir holding this lock goes.
        handle, self._handle = self._handle, None
        lock_file, self._lock_file = self._lock_file, None
        try:
            if handle is not None:
                os.close(handle)
            if lock_file is not None:
                lock_file.release()
        except OSError:  # pragma: no cover - interpreter shutdown
            pass


class _FlockUnsupported(Exception):
    """flock is not available on this file system: use the lock file."""


def _try_flock(handle: int, path: Path) -> bool:
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    except OSError as error:
        if error.errno in _FLOCK_UNSUPPORTED:
            raise _FlockUnsupported from error
        raise WorkbenchError(
            f"cannot lock {path} with flock on its {file_system_type(path.parent)} file system ({error.strerror or error}); "
            f"set WORKBENCH_RUN_LOCK=file to use a lock file with a heartbeat instead, or put the runs on "
            f"another file system (WORKBENCH_RUNS)"
        ) from error


def _wait_for(take, path: Path, wait: float | None) -> None:
    """Call ``take()`` until it returns True: at once only (``wait`` 0), for ``wait`` seconds, or for
    ever (None), saying whom it waits for."""
    if take():
        return
    run = path.parent
    if wait is not None and wait <= 0:
        raise RunLockedError(
            f"run {run.name} is being run by another process ({_read_holder(path)}); wait for it to finish (its "
            f"results are then read back), or stop it; its directory: {run}"
        )
    print(f"workbench: run {run.name} is being run by another process ({_read_holder(path)}); waiting for it "
          f"to finish", file=sys.stderr, flush=True)  # fmt: skip
    deadline = None if wait is None else time.monotonic() + wait
    while True:
        if take():
            return
        if deadline is not None and time.monotonic() >= deadline:
            raise RunLockedError(
                f"run {run.name} is still being run by another process ({_read_holder(path)}) after "
                f"waiting {wait:g} s; try again when it has finished; its directory: {run}"
            ) from None
        time.sleep(0.05 if deadline is not None and deadline - time.monotonic() < 1 else 0.5)


def _launch_rank() -> int:
    """This process's rank under ``torchrun`` (``$RANK``), 0 otherwise."""
    try:
        return int(os.environ.get("RANK", "0"))
    except ValueError:
        return 0


def _launch_world() -> tuple[int, int]:
    """``(processes in the launch, of them on this machine)`` under ``torchrun``; ``(1, 1)`` otherwise."""
    try:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        local = int(os.environ.get("LOCAL_WORLD_SIZE", str(world)))
    except ValueError:
        return 1, 1
    return max(1, world), max(1, local)


def _read_holder(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        text = ""
    return text or "holder unknown"
