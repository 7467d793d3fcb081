"""Run directories: where one run of a recipe keeps its parameters, metrics, log, checkpoints and arrays.

Layout (``root`` defaults to :func:`workbench.paths.runs_root`, ``$WORKBENCH_RUNS`` or ``./runs``)::

    <root>/<recipe>/<run-id>/
        params.yaml             the parameters, loadable by the recipe's ``Params.from_dict``
        provenance.json         workbench version and git commit, Python and package versions, and
                                the fingerprint of the data the run reads (when it was given)
        metrics.json            {"finished": bool, "metrics": {...}}: strict JSON, NaN/inf as null
        log.jsonl               one JSON object per line: {"time": UTC ISO 8601, "event": ..., **fields}
        checkpoints/step-<n>.pt training state after optimizer step n (the last ``keep_last`` kept)
        arrays/<name>.npz       arrays a notebook draws
        artifacts/<name>        anything else (figures, audio, reports)
        .lock                   held (``fcntl.flock``) by the process running the run

The run id is a hash of the recipe name, the parameters and the fingerprint of the data the run reads
(:func:`run_id`; :mod:`workbench.data.fingerprint`: file sizes and modification times, synthetic
seeds and parameters), so running the same parameters on the same data again finds the same
directory: a finished run's metrics are there to read, and an interrupted one resumes from its latest
checkpoint (its log gets a ``resumed`` row). Overwritten data gives another id: a new run.

One process runs a run at a time: :meth:`RunDir.open` takes an exclusive lock on ``.lock``, held as long
as any :class:`RunDir` of it opened in that process is alive (or until :meth:`RunDir.close`). A second
process opening the same run waits for it (``wait`` seconds; ``None`` waits as long as it takes, after
saying whom it waits for) or, with ``wait=0``, refuses with :class:`RunLockedError`, naming the holder.
The kernel releases the lock of a process that dies, so a killed run never blocks the next one; once it
holds the lock, ``open`` removes the temporary files a killed atomic write left in the directory.

Every file is written atomically (temporary file + rename, :mod:`workbench.atomic`), so a process killed
mid-write leaves the old file or the new one, never half of one. The one exception is ``log.jsonl``, which
is appended to line by line (rewriting it per event would cost time quadratic in its length): a process
killed mid-line leaves a partial last line, which :meth:`RunDir.read_log` ignores and the next
:meth:`RunDir.log` call removes.

Under ``torchrun`` the trainer writes from rank 0 only, and only rank 0 takes the lock and writes
params.yaml and provenance.json.
"""

from __future__ import annotations

import dataclasses
import datetime
import fcntl
import functools
import hashlib
import json
import math
import os
import platform
import re
import socket
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import torch
import yaml

from workbench.atomic import (
    atomic_path,
    atomic_torch_save,
    atomic_write_json,
    atomic_write_text,
    json_safe,
    remove_stale_temporaries,
)
from workbench.data.fingerprint import data_fingerprint
from workbench.errors import CheckpointError, MissingFileError, WorkbenchError
from workbench.paths import runs_root

RUN_ID_HEX_DIGITS = 12
"""Hex digits of sha256 kept in a run id: 48 bits, so a collision is unlikely below millions of runs."""

_SAFE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_CHECKPOINT_NAME = re.compile(r"^step-(\d+)\.pt$")


def _check_name(kind: str, name: str) -> str:
    if not isinstance(name, str) or not _SAFE_NAME.match(name):
        raise ValueError(
            f"{kind} {name!r} must be letters, digits, '_', '-' or '.', not starting with '.' or '-'"
        )
    return name


def plain(value: Any, where: str = "value") -> Any:
    """Convert ``value`` to plain JSON/YAML types: tuples to lists, paths to strings, NumPy and torch
    scalars (and small arrays) to Python numbers (and lists). Mapping keys must be strings.

    Raises:
        TypeError: a value of another type, naming where it was found.
    """
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Mapping):
        converted = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{where}: keys must be strings, got {key!r}")
            converted[key] = plain(item, f"{where}.{key}")
        return converted
    if isinstance(value, (list, tuple)):
        return [plain(item, f"{where}[{index}]") for index, item in enumerate(value)]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, (np.generic, np.ndarray, torch.Tensor)):
        return plain(value.tolist(), where)
    raise TypeError(f"{where}: cannot store a {type(value).__name__} ({value!r}) as a plain value")


def _canonical(value: Any) -> Any:
    """The form :func:`run_id` hashes: plain values with integral floats as ints and non-finite
    floats as strings, so that ``1`` and ``1.0`` (which a Params dataclass coerces into each other)
    hash alike and the JSON text never depends on how a Python version spells ``nan``."""
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)  # "nan", "inf", "-inf"
        return int(value) if value.is_integer() else value
    if isinstance(value, dict):
        return {key: _canonical(item) for key, item in value.items()}
    return [_canonical(item) for item in value]  # plain() left only lists here


def params_dict(params: Any) -> dict[str, Any]:
    """Plain ``dict`` of a params mapping or dataclass (a recipe ``Params`` through its ``to_dict``)."""
    if hasattr(params, "to_dict"):
        params = params.to_dict()
    elif dataclasses.is_dataclass(params) and not isinstance(params, type):
        params = dataclasses.asdict(params)
    if not isinstance(params, Mapping):
        raise TypeError(f"params must be a mapping or a dataclass, got {type(params).__name__}")
    return plain(params, "params")


class RunLockedError(WorkbenchError):
    """Another process holds the run directory's lock (it is running the same run)."""


def run_id(recipe: str, params: Any, data: Any = None) -> str:
    """A run's id, ``"<recipe>-<12 hex digits>"``, derived from the recipe name, its parameters and
    the fingerprint of its data.

    What is hashed: the sha256 of the UTF-8 text ``json.dumps({"params": P, "recipe": recipe},
    sort_keys=True, separators=(",", ":"), ensure_ascii=True)``, where ``P`` is the parameters made
    plain (tuples as lists, paths as strings, NumPy/torch scalars as numbers) with every integral float
    written as an int (``1.0`` -> ``1``) and NaN/infinities as the strings ``"nan"``/``"inf"``/``"-inf"``.
    Key order never matters; list order does. Floats are written by ``repr``, the shortest text that
    reads back to the same double, which is the same in every Python 3 version, and nothing
    process-dependent (``hash()``, object ids) enters, so the id is stable across processes, machines and
    Python versions.

    Pass the validated parameters (``Params.to_dict()`` or the ``Params`` itself): a raw ``"1"`` string
    and the int ``1`` are different values here, as they are different before the dataclass coerces them.

    With ``data``, the hashed object also holds ``"data": <digest>``, the sha256 hex digest of
    :func:`workbench.data.fingerprint.data_fingerprint` of it; without, the id is the one above (and
    that of runs made before data entered the id).

    Args:
        recipe: the recipe's name (letters, digits, ``_``, ``-``, ``.``).
        params: a mapping of parameter name -> value, or a dataclass (a recipe's ``Params``).
        data: what the run reads: a dataset, a list or ``{name: dataset}`` of them, or a fingerprint
            from :func:`~workbench.data.fingerprint.data_fingerprint`; None leaves data out.

    Raises:
        ValueError: the recipe name is not a safe directory name.
        TypeError: a parameter value is not a plain scalar/list/mapping.
    """
    _check_name("recipe name", recipe)
    canonical: dict[str, Any] = {"params": _canonical(params_dict(params)), "recipe": recipe}
    if data is not None:
        canonical["data"] = data_fingerprint(data)["digest"]
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
    return f"{recipe}-{hashlib.sha256(text.encode('utf-8')).hexdigest()[:RUN_ID_HEX_DIGITS]}"


def _find_non_finite(value: Any, where: list[Any], found: list[list[Any]]) -> None:
    """Append ``[path, "nan"|"inf"|"-inf"]`` for every non-finite float inside ``value``."""
    if isinstance(value, float) and not math.isfinite(value):
        found.append([list(where), str(value)])
    elif isinstance(value, dict):
        for key, item in value.items():
            _find_non_finite(item, [*where, key], found)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _find_non_finite(item, [*where, index], found)


def _utc_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")


_PACKAGES = ("torch", "torchaudio", "numpy", "scikit-learn")


@functools.lru_cache(maxsize=1)
def _code_provenance() -> dict[str, Any]:
    """Workbench version and git commit (where the package runs from a checkout), Python and package
    versions; computed once per process."""
    from importlib import metadata

    import workbench

    packages = {}
    for name in _PACKAGES:
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            packages[name] = None
    checkout = Path(workbench.__file__).resolve().parent.parent
    commit = dirty = None
    try:
        commit = subprocess.run(
            ["git", "-C", str(checkout), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip() or None
        if commit:
            status = subprocess.run(
                ["git", "-C", str(checkout), "status", "--porcelain", "--untracked-files=no"],
                capture_output=True, text=True, timeout=10, check=True,
            ).stdout  # fmt: skip
            dirty = bool(status.strip())
    except (OSError, subprocess.SubprocessError):
        commit = dirty = None  # not a git checkout (an installed package), or no git
    return {
        "workbench": getattr(workbench, "__version__", None),
        "git_commit": commit,
        "git_dirty": dirty,
        "python": platform.python_version(),
        "packages": packages,
    }


def provenance(data: Any = None) -> dict[str, Any]:
    """What :meth:`RunDir.open` writes to provenance.json: the code's provenance (workbench version, git
    commit and whether the checkout had uncommitted changes, Python and package versions), the host,
    and the data fingerprint (None when the run was opened without ``data``)."""
    return {
        **_code_provenance(),
        "host": socket.gethostname(),
        "data": None if data is None else data_fingerprint(data),
        "time": _utc_now(),
    }


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


class RunDir:
    """One run's directory. Make one with :meth:`open`; wrap an existing directory with ``RunDir(path)``.

    Args:
        path: the run's directory, ``<root>/<recipe>/<run-id>``.
    """

    PARAMS_FILE = "params.yaml"
    PROVENANCE_FILE = "provenance.json"
    LOCK_FILE = ".lock"
    METRICS_FILE = "metrics.json"
    LOG_FILE = "log.jsonl"
    CHECKPOINT_DIR = "checkpoints"
    ARRAYS_DIR = "arrays"
    ARTIFACTS_DIR = "artifacts"

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._lock: _RunLock | None = None

    @classmethod
    def open(
        cls,
        recipe: str,
        params: Any,
        root: str | os.PathLike | None = None,
        *,
        data: Any = None,
        wait: float | None = None,
    ) -> RunDir:
        """Create (or find) the directory of ``recipe`` run with ``params`` on ``data``, lock it, and
        write its params.yaml and provenance.json.

        Opening an existing, unfinished run that no RunDir of this process holds (an interrupted run
        being resumed) logs a ``resumed`` row with its latest checkpoint's step.

        Args:
            recipe: the recipe's name.
            params: a mapping or dataclass of parameters (see :func:`run_id`).
            root: the runs root; default :func:`workbench.paths.runs_root`.
            data: what the run reads (datasets or their fingerprint, see :func:`run_id`); changed
                data gives another run id.
            wait: seconds to wait for another process running the same run; None waits until it
                finishes, 0 refuses at once.

        Returns:
            The :class:`RunDir` at ``<root>/<recipe>/<run-id>``, holding the run's lock until it (and
            every other RunDir of the run in this process) is closed or garbage-collected.

        Raises:
            CheckpointError: the directory already holds a params.yaml with different parameters (a
                run-id collision or a hand-edited file) or one that cannot be read.
            RunLockedError: another process runs the same run (with ``wait`` 0, or still after
                ``wait`` seconds).
            WorkbenchError: the runs folder cannot be written (read-only, no permission), naming it.
        """
        identifier = run_id(recipe, params, data)
        values = params_dict(params)
        run = cls(Path(root if root is not None else runs_root()) / recipe / identifier)
        try:
            run.path.mkdir(parents=True, exist_ok=True)
            if _launch_rank() != 0:
                # Another rank of a distributed launch: rank 0 holds the lock and writes every file.
                return run
            run._lock, held_already = _RunLock.acquire(run.path / cls.LOCK_FILE, wait)
        except OSError as error:
            raise WorkbenchError(
                f"cannot write the run directory {run.path} ({error.strerror or error}); make its folder "
                f"writable or set WORKBENCH_RUNS to a writable folder"
            ) from error
        if not held_already:
            # We hold the lock: no other process writes here, so every temporary file is a killed write's.
            remove_stale_temporaries(run.path, recursive=True, every=True)
        params_path = run.path / cls.PARAMS_FILE
        if params_path.exists():
            existing = run.params
            if _canonical(existing) != _canonical(values):
                differing = sorted(
                    key
                    for key in set(existing) | set(values)
                    if _canonical(existing.get(key)) != _canonical(values.get(key))
                )
                raise CheckpointError(
                    f"{params_path} holds different parameters (differing: {', '.join(differing)}) from "
                    f"those of run id {identifier}; it was edited by hand or is a run-id collision: move "
                    f"{run.path} away or use another runs root"
                )
            if not held_already and not run.finished and run.log_path.is_file():  # an interrupted run
                latest = run.latest_checkpoint()
                run.log(
                    "resumed",
                    checkpoint_step=None if latest is None else int(_CHECKPOINT_NAME.match(latest.name).group(1)),
                    pid=os.getpid(),
                    git_commit=_code_provenance()["git_commit"],
                )
        else:
            header = f"# parameters of {recipe} run {identifier}\n"
            atomic_write_text(params_path, header + yaml.safe_dump(values, sort_keys=True))
        if not (run.path / cls.PROVENANCE_FILE).is_file():
            atomic_write_json(run.path / cls.PROVENANCE_FILE, provenance(data))
        return run

    def close(self) -> None:
        """Release this RunDir's hold on the run's lock (the lock goes when no RunDir of the run in this
        process holds it); the RunDir can still read and write files."""
        lock, self._lock = self._lock, None
        if lock is not None:
            del lock  # the lock object goes when its last holder drops it

    def __enter__(self) -> RunDir:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    @property
    def provenance(self) -> dict[str, Any]:
        """provenance.json as written when the run was created.

        Raises:
            MissingFileError: the run has no provenance.json (made by an older workbench).
        """
        path = self.path / self.PROVENANCE_FILE
        if not path.is_file():
            raise MissingFileError(f"{path} does not exist; the run was made before runs recorded provenance")
        return json.loads(path.read_text(encoding="utf-8"))

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    @property
    def run_id(self) -> str:
        return self.path.name

    @property
    def params(self) -> dict[str, Any]:
        """The parameters stored in params.yaml.

        Raises:
            MissingFileError: there is no params.yaml.
            CheckpointError: params.yaml is not a YAML mapping.
        """
        path = self.path / self.PARAMS_FILE
        if not path.is_file():
            raise MissingFileError(f"{path} does not exist; create the run with RunDir.open(recipe, params)")
        try:
            values = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as error:
            raise CheckpointError(f"{path} is not valid YAML ({error}); delete the run directory") from error
        if not isinstance(values, dict):
            raise CheckpointError(f"{path} must hold a mapping of parameter: value; delete the run directory")
        return values

    # --- metrics -----------------------------------------------------------------------------------

    def write_metrics(self, metrics: Mapping[str, Any], finished: bool = True) -> Path:
        """Write metrics.json atomically: ``{"finished": finished, "metrics": metrics}``, strict JSON.

        A NaN or infinite metric (an undefined score) is written as ``null``, which every JSON reader
        accepts, and its place is listed under ``"non_finite"`` (``[[key, index, ...], "nan"]``) so
        that :meth:`read_metrics` gives back the very same value.

        Raises:
            TypeError: a metric value is not a plain number/string/list/mapping.
        """
        values = plain(metrics, "metrics")
        non_finite: list[list[Any]] = []
        _find_non_finite(values, [], non_finite)
        document = {"finished": bool(finished), "metrics": values, "time": _utc_now()}
        if non_finite:
            document["non_finite"] = non_finite
        return atomic_write_json(self.path / self.METRICS_FILE, document)

    def _read_metrics_document(self) -> dict[str, Any] | None:
        path = self.path / self.METRICS_FILE
        if not path.is_file():
            return None
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise CheckpointError(f"{path} is not valid JSON ({error}); delete it and rerun") from error
        if not isinstance(document, dict) or "metrics" not in document:
            raise CheckpointError(f"{path} lacks the 'metrics' entry; delete it and rerun")
        return document

    def read_metrics(self) -> dict[str, Any]:
        """The metrics last written by :meth:`write_metrics`.

        Raises:
            MissingFileError: the run has not written metrics.json yet.
            CheckpointError: metrics.json cannot be read.
        """
        document = self._read_metrics_document()
        if document is None:
            raise MissingFileError(
                f"{self.path / self.METRICS_FILE} does not exist: the run has not written metrics yet; "
                f"run the recipe to produce them"
            )
        metrics = document["metrics"]
        for entry in document.get("non_finite", []):
            try:
                where, spelling = entry
                container = metrics
                for key in where[:-1]:
                    container = container[key]
                container[where[-1]] = float(spelling)
            except (TypeError, ValueError, KeyError, IndexError) as error:
                raise CheckpointError(
                    f"{self.path / self.METRICS_FILE}: a 'non_finite' entry {entry!r} does not fit the metrics "
                    f"({error}); delete the file and rerun"
                ) from error
        return metrics

    @property
    def finished(self) -> bool:
        """Whether metrics.json exists and says the run finished."""
        document = self._read_metrics_document()
        return bool(document is not None and document.get("finished"))

    # --- log ---------------------------------------------------------------------------------------

    @property
    def log_path(self) -> Path:
        return self.path / self.LOG_FILE

    def log(self, event: str, **fields: Any) -> None:
        """Append one line ``{"time": <UTC ISO 8601>, "event": event, **fields}`` to log.jsonl and flush it.

        Raises:
            ValueError: a field is named ``time`` or ``event``.
            TypeError: a field value is not plain (see :func:`plain`).
        """
        clash = {"time", "event"} & set(fields)
        if clash:
            raise ValueError(f"log fields may not be named {sorted(clash)}: those keys are set by log()")
        record = {"time": _utc_now(), "event": event, **plain(fields, f"log event {event!r}")}
        # Strict JSON lines: an undefined value (NaN, inf) is logged as null.
        line = (json.dumps(json_safe(record), sort_keys=False, allow_nan=False) + "\n").encode("utf-8")
        self.path.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "a+b") as stream:
            end = stream.seek(0, os.SEEK_END)
            if end:
                stream.seek(end - 1)
                if stream.read(1) != b"\n":
                    # A previous process died mid-line: drop the fragment so this line stays whole.
                    stream.seek(0)
                    stream.truncate(stream.read().rfind(b"\n") + 1)
            stream.write(line)  # one write of a whole line: a crash can only cut its tail
            stream.flush()

    def read_log(self) -> list[dict[str, Any]]:
        """Every complete line of log.jsonl, in order; a partial last line (a crash mid-write) is skipped.

        Raises:
            CheckpointError: a complete line is not valid JSON (the file was corrupted otherwise).
        """
        if not self.log_path.is_file():
            return []
        lines = self.log_path.read_bytes().split(b"\n")
        records = []
        for number, line in enumerate(lines[:-1], start=1):  # lines[-1] is "" or the partial last line
            try:
                records.append(json.loads(line))
            except (json.JSONDecodeError, UnicodeDecodeError) as error:
                raise CheckpointError(f"{self.log_path} line {number} is not valid JSON ({error})") from error
        return records

    # --- checkpoints -------------------------------------------------------------------------------

    @property
    def checkpoint_dir(self) -> Path:
        return self.path / self.CHECKPOINT_DIR

    def checkpoints(self) -> list[Path]:
        """Checkpoint files ``step-<n>.pt``, sorted by step."""
        if not self.checkpoint_dir.is_dir():
            return []
        found = [
            (int(match.group(1)), path)
            for path in self.checkpoint_dir.iterdir()
            if (match := _CHECKPOINT_NAME.match(path.name))
        ]
        return [path for _, path in sorted(found)]

    def save_checkpoint(self, state: Mapping[str, Any], step: int, keep_last: int | None = 2) -> Path:
        """Save ``state`` atomically as ``checkpoints/step-<step>.pt``, then keep only the newest ones.

        Args:
            state: tensors, numbers, strings, and lists/tuples/dicts of them (what
                ``torch.load(weights_only=True)`` reads back).
            step: the optimizer step the state was taken after.
            keep_last: how many checkpoints to keep (the one just written always is); None keeps all.

        Returns:
            The checkpoint's path.
        """
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            raise ValueError(f"step must be a non-negative integer, got {step!r}")
        if keep_last is not None and keep_last < 1:
            raise ValueError(f"keep_last must be at least 1 or None, got {keep_last!r}")
        path = atomic_torch_save(self.checkpoint_dir / f"step-{step}.pt", dict(state))
        if keep_last is not None:
            older = [other for other in self.checkpoints() if other != path]
            for stale in older[: max(0, len(older) - (keep_last - 1))]:
                stale.unlink(missing_ok=True)
        return path

    def latest_checkpoint(self) -> Path | None:
        """The checkpoint with the highest step, or None when there is none."""
        found = self.checkpoints()
        return found[-1] if found else None

    def load_checkpoint(self, path: str | os.PathLike | None = None) -> dict[str, Any]:
        """Load a checkpoint onto the CPU with ``torch.load(weights_only=True)`` (no pickled code runs).

        Args:
            path: the file; default :meth:`latest_checkpoint`.

        Raises:
            MissingFileError: there is no checkpoint (or no file at ``path``).
            CheckpointError: the file is corrupt, holds more than weights_only allows, or is not a dict.
        """
        if path is None:
            path = self.latest_checkpoint()
            if path is None:
                raise MissingFileError(
                    f"no checkpoint step-<n>.pt in {self.checkpoint_dir}; train the run first"
                )
        path = Path(path)
        if not path.is_file():
            raise MissingFileError(f"checkpoint {path} does not exist")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:  # torch raises RuntimeError, UnpicklingError, EOFError... by corruption
            reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise CheckpointError(
                f"checkpoint {path} cannot be read ({type(error).__name__}: {reason}); it is corrupt or "
                f"was not written by the workbench: delete it to resume from an earlier checkpoint"
            ) from error
        if not isinstance(state, dict):
            raise CheckpointError(f"checkpoint {path} holds a {type(state).__name__}, expected a dict")
        return state

    # --- arrays and artifacts ----------------------------------------------------------------------

    def _arrays_path(self, name: str) -> Path:
        return self.path / self.ARRAYS_DIR / f"{_check_name('array file name', name)}.npz"

    def save_arrays(self, name: str, **arrays: Any) -> Path:
        """Save named arrays (NumPy arrays, tensors, lists of numbers) atomically to ``arrays/<name>.npz``.

        Raises:
            ValueError: an invalid name, no arrays, or an array of Python objects (which npz could only
                store by pickling).
        """
        if not arrays:
            raise ValueError(f"save_arrays({name!r}) needs at least one array, as keyword arguments")
        converted = {}
        for key, value in arrays.items():
            if isinstance(value, torch.Tensor):
                value = value.detach().cpu().numpy()
            value = np.asarray(value)
            if value.dtype == object:
                raise ValueError(f"array {key!r} holds Python objects; save numbers or strings only")
            converted[key] = value
        path = self._arrays_path(name)
        with atomic_path(path) as temporary, open(temporary, "wb") as stream:
            np.savez(stream, **converted)  # a stream: with a path, savez would append ".npz" to it
        return path

    def load_arrays(self, name: str) -> dict[str, np.ndarray]:
        """The arrays saved by :meth:`save_arrays` under ``name``.

        Raises:
            MissingFileError: no such file (the message lists the saved names).
            CheckpointError: the file is corrupt.
        """
        path = self._arrays_path(name)
        if not path.is_file():
            saved = sorted(p.stem for p in path.parent.glob("*.npz")) if path.parent.is_dir() else []
            raise MissingFileError(f"{path} does not exist; saved arrays: {', '.join(saved) or '(none)'}")
        try:
            with np.load(path, allow_pickle=False) as archive:
                return {key: archive[key] for key in archive.files}
        except Exception as error:  # zipfile.BadZipFile, ValueError, OSError, EOFError
            raise CheckpointError(f"{path} cannot be read ({error}); delete it and rerun") from error

    def artifact(self, name: str) -> Path:
        """The path for an artifact file ``artifacts/<name>`` (``name`` may contain ``/``); its folder is
        created. Write it atomically (:mod:`workbench.atomic`).

        Raises:
            ValueError: ``name`` is empty, absolute, or climbs out with ``..``.
        """
        relative = PurePosixPath(name)
        if not relative.parts or relative.is_absolute() or ".." in relative.parts:
            raise ValueError(f"artifact name {name!r} must be a non-empty relative path without '..'")
        path = self.path / self.ARTIFACTS_DIR / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        return path
