"""The runs side by side: every run folder under a runs root, with what tells them apart, and their curves.

A run folder (:mod:`workbench.train.rundir`) keeps params.yaml, provenance.json (data fingerprint,
weights with their sha256, creation time), metrics.json, status.json and log.jsonl. :func:`list_runs`
reads them into one :class:`RunSummary` per folder, without importing any recipe: the recipe, the
parameters, the data it read, the weights files, the status and the time it was created.
:func:`differing_params` names the parameters whose values differ between the listed runs (the ones
worth a column), and :func:`runs_table` turns the list into rows for a table or the CLI.

Status: ``finished`` (metrics.json says so), ``failed`` (status.json, see
:mod:`~workbench.train.rundir.status`), ``running`` (another process holds the run's lock, found
without taking it: from ``/proc/locks``, or a fresh ``.lock.held`` heartbeat on cluster file systems)
or ``interrupted`` (unfinished, and no process holds it: the next identical run resumes it).

:func:`read_curves` turns log.jsonl (the run's own and those of its sub-runs, e.g. add_loss's
``models/<tag>/log.jsonl``) into curves: one per event and numeric field (``epoch/loss``,
``step/lr``), against the event's ``step``, else ``epoch``, else its count.
"""

from __future__ import annotations

import datetime
import fcntl
import json
import math
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.errors import CheckpointError, MissingFileError, UnknownNameError, WorkbenchError
from workbench.paths import runs_root
from workbench.train.rundir import RunDir
from workbench.train.rundir.ids import _canonical
from workbench.train.rundir.lock import HELD_SUFFIX, STALE_AFTER_SECONDS

STATUSES = ("finished", "failed", "running", "interrupted")

AXIS_FIELDS = ("step", "epoch")
"""Log fields that are an x axis, never a curve (in this order of preference)."""

NOT_CURVES = frozenset({*AXIS_FIELDS, "seed", "fold", "repeat", "row", "pid", "world_size", "checkpoint_step"})
"""Numeric log fields that identify rather than measure: never drawn as a curve."""


@dataclass(frozen=True)
class RunSummary:
    """One run folder, read from its files.

    Args:
        path: the run folder, ``<root>/<recipe>/<run id>``.
        recipe: the recipe folder's name.
        run_id: the folder's name.
        params: params.yaml.
        status: one of :data:`STATUSES`.
        created: provenance.json's time (UTC ISO 8601), else params.yaml's modification time.
        data: one short line per dataset the run read (``SyntheticDataset task=event, 60 clips``).
        data_digest: the data fingerprint's digest (the part of the run id that is the data), 12 digits.
        weights: ``{"name", "sha256", "path"}`` of each weights file the run loaded, then of each HEAR
            module's source (named ``"hear:<module> source"``).
        error: the failure (``"<type>: <message>"``) of a failed run.
        metrics: metrics.json's metrics (finished runs; empty otherwise).
    """

    path: Path
    recipe: str
    run_id: str
    params: dict[str, Any]
    status: str
    created: str
    data: tuple[str, ...] = ()
    data_digest: str = ""
    weights: tuple[dict[str, Any], ...] = ()
    error: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """``<recipe>/<run id>``: how the CLI and the figures name the run."""
        return f"{self.recipe}/{self.run_id}"


def lock_holder_alive(run_path: Path) -> bool:
    """Whether a process holds the run's lock now, found without taking it (a listing must never make a
    starting run wait or refuse): the ``.lock.held`` heartbeat, else ``/proc/locks``, else a shared
    ``flock`` probe where ``/proc/locks`` cannot be read."""
    held = run_path / (RunDir.LOCK_FILE + HELD_SUFFIX)
    try:
        if time.time() - held.stat().st_mtime < STALE_AFTER_SECONDS:
            return True
    except OSError:
        pass
    lock = run_path / RunDir.LOCK_FILE
    try:
        status = lock.stat()
    except OSError:
        return False
    wanted = f"{os.major(status.st_dev):02x}:{os.minor(status.st_dev):02x}:{status.st_ino}"
    try:
        table = Path("/proc/locks").read_text(encoding="ascii", errors="replace")
    except OSError:
        return _flock_probe(lock)
    return any(len(parts) > 5 and parts[1] == "FLOCK" and parts[5] == wanted
               for parts in (line.split() for line in table.splitlines()))  # fmt: skip


def _flock_probe(lock: Path) -> bool:
    try:
        handle = os.open(lock, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(handle)  # closing releases the probe's shared lock at once


def _describe_dataset(item: dict[str, Any]) -> str:
    if item.get("kind") == "subset":
        return f"{item.get('clips')} clips of {_describe_dataset(item.get('of') or {})}"
    name = str(item.get("class") or item.get("kind") or "data").rsplit(".", 1)[-1]
    details = []
    if item.get("task"):
        details.append(f"task={item['task']}")
    if item.get("clips") is not None:
        details.append(f"{item['clips']} clips")
    if item.get("kind") == "synthetic" and "seed" in item:
        details.append(f"seed {item['seed']}")
    return f"{name} {', '.join(details)}".strip()


def _created(run: RunDir, provenance: dict[str, Any]) -> str:
    if isinstance(provenance.get("time"), str):
        return provenance["time"]
    stamp = (run.path / RunDir.PARAMS_FILE).stat().st_mtime
    return datetime.datetime.fromtimestamp(stamp, datetime.timezone.utc).isoformat(timespec="milliseconds")


def read_run(path: str | os.PathLike) -> RunSummary:
    """The :class:`RunSummary` of the run folder at ``path``.

    Raises:
        MissingFileError: the folder has no params.yaml (it is not a run folder).
        CheckpointError: params.yaml, provenance.json or metrics.json cannot be read (naming the file).
    """
    run = RunDir(path)
    params = run.params
    try:
        provenance = run.provenance
    except MissingFileError:
        provenance = {}
    except ValueError as error:
        raise CheckpointError(f"{run.path / RunDir.PROVENANCE_FILE} is not valid JSON ({error})") from error
    fingerprint = provenance.get("data") or {}
    items = fingerprint.get("datasets", [])
    datasets = [item for item in items if item.get("kind") not in ("weights", "code")]
    # A HEAR module's source (kind "code") identifies the encoder as its weights do: listed with them.
    code = [{"name": f"{item.get('name')} source", "sha256": item.get("sha256"),
             "path": (item.get("recorded") or {}).get("path")}
            for item in items if item.get("kind") == "code"]  # fmt: skip
    weights = tuple([*({key: item.get(key) for key in ("name", "sha256", "path")}
                       for item in provenance.get("weights", [])), *code])  # fmt: skip
    status = run.status
    if status == "unfinished":
        status = "running" if lock_holder_alive(run.path) else "interrupted"
    failure = run.failure if status == "failed" else None
    return RunSummary(
        path=run.path,
        recipe=run.path.parent.name,
        run_id=run.run_id,
        params=params,
        status=status,
        created=_created(run, provenance),
        data=tuple(_describe_dataset(item) for item in datasets),
        data_digest=str(fingerprint.get("digest") or "")[:12],
        weights=weights,
        error=str((failure or {}).get("error") or ""),
        metrics=run.read_metrics() if status == "finished" else {},
    )


def list_runs(
    root: str | os.PathLike | None = None, *, recipe: str | Sequence[str] | None = None,
    status: str | Sequence[str] | None = None,
) -> list[RunSummary]:
    """Every run folder under ``root`` (``<root>/<recipe>/<run id>`` holding a params.yaml), oldest first.

    Args:
        root: the runs root; default :func:`workbench.paths.runs_root` (``$WORKBENCH_RUNS``).
        recipe: keep only these recipes (a name or several).
        status: keep only these statuses (from :data:`STATUSES`).

    Raises:
        UnknownNameError: a status that is not one of :data:`STATUSES`.
        MissingFileError: ``root`` is not a folder.
    """
    folder = Path(root) if root is not None else runs_root()
    if not folder.is_dir():
        raise MissingFileError(f"runs folder {folder} does not exist; run a recipe first, or set WORKBENCH_RUNS")
    recipes = _as_set(recipe)
    statuses = _as_set(status)
    for wanted in statuses or ():
        if wanted not in STATUSES:
            raise UnknownNameError("run status", wanted, STATUSES)
    runs = []
    for params_file in sorted(folder.glob(f"*/*/{RunDir.PARAMS_FILE}")):
        path = params_file.parent
        if recipes is not None and path.parent.name not in recipes:
            continue
        summary = read_run(path)
        if statuses is None or summary.status in statuses:
            runs.append(summary)
    return sorted(runs, key=lambda run: (run.created, run.name))


def _as_set(value: str | Sequence[str] | None) -> set[str] | None:
    if value is None or value == ():
        return None
    return {value} if isinstance(value, str) else set(value)


def differing_params(runs: Iterable[RunSummary]) -> list[str]:
    """The parameter names whose value is not the same in every run (absent counts as a value), sorted."""
    runs = list(runs)
    keys = sorted({key for run in runs for key in run.params})
    def values(key: str) -> set[str]:
        return {json.dumps(_canonical(run.params.get(key)), sort_keys=True) for run in runs}

    return [key for key in keys if len(values(key)) > 1]


def runs_table(runs: Sequence[RunSummary]) -> list[dict[str, Any]]:
    """One row per run: run, recipe, status, created, the parameters that differ between ``runs``
    (``params``: ``{name: value}``), data, data digest, weights (``name:sha256[:12]``) and error."""
    differing = differing_params(runs)
    return [
        {
            "run": run.name,
            "recipe": run.recipe,
            "status": run.status,
            "created": run.created,
            "params": {key: run.params.get(key) for key in differing},
            "data": "; ".join(run.data),
            "data_digest": run.data_digest,
            "weights": "; ".join(f"{item.get('name')}:{str(item.get('sha256') or '')[:12]}" for item in run.weights),
            "error": run.error,
        }
        for run in runs
    ]


def find_runs(selectors: Sequence[str], root: str | os.PathLike | None = None) -> list[RunSummary]:
    """The runs that ``selectors`` name, in their order: a run folder's path, ``<recipe>/<run id>``, a run id,
    or a unique prefix of one (or of its hex digits).

    Raises:
        WorkbenchError: a selector names no run, or several (the message lists them).
    """
    everything = None
    chosen = []
    for selector in selectors:
        if Path(selector, RunDir.PARAMS_FILE).is_file():
            chosen.append(read_run(selector))
            continue
        everything = list_runs(root) if everything is None else everything
        matches = [run for run in everything if run.name == selector or run.run_id == selector]
        if not matches:
            matches = [run for run in everything if any(text.startswith(selector)
                       for text in (run.run_id, run.name, run.run_id.rsplit("-", 1)[-1]))]  # fmt: skip
        if len(matches) != 1:
            listed = ", ".join(run.name for run in (matches or everything)[:10])
            what = "no run" if not matches else f"{len(matches)} runs"
            raise WorkbenchError(f"run {selector!r} names {what}; give a run id, <recipe>/<run id> or a run folder "
                                 f"(`workbench runs` lists them): {listed}")  # fmt: skip
        chosen.append(matches[0])
    return chosen


@dataclass(frozen=True)
class Curve:
    """One logged quantity of one run: ``values[i]`` at ``x[i]`` (``x_name``: step, epoch or count)."""

    run: str
    name: str
    x_name: str
    x: tuple[float, ...]
    values: tuple[float, ...]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _log_files(run_path: Path) -> list[tuple[str, Path]]:
    """``(prefix, log.jsonl)`` of the run and of its sub-runs (one or two folders down)."""
    files = [("", run_path / RunDir.LOG_FILE)]
    for depth in ("*", "*/*"):
        files += [(f"{log.parent.relative_to(run_path).as_posix()}/", log)
                  for log in sorted(run_path.glob(f"{depth}/{RunDir.LOG_FILE}"))]  # fmt: skip
    return [(prefix, log) for prefix, log in files if log.is_file()]


def read_curves(run: RunSummary | str | os.PathLike) -> list[Curve]:
    """Every curve in the run's log.jsonl and its sub-runs' (see the module docstring), in log order.
    A ``null`` value (an undefined number the log kept as null) is drawn as a gap (NaN)."""
    summary = run if isinstance(run, RunSummary) else read_run(run)
    series: dict[str, tuple[str, list[float], list[float]]] = {}
    for prefix, log in _log_files(summary.path):
        counts: dict[str, int] = {}
        for record in RunDir(log.parent).read_log():
            event = str(record.get("event"))
            counts[event] = counts.get(event, 0) + 1
            axis = next((name for name in AXIS_FIELDS if _is_number(record.get(name))), "count")
            x = float(record[axis]) if axis != "count" else float(counts[event])
            for key, value in record.items():
                if key in NOT_CURVES or key in ("time", "event") or not (_is_number(value) or value is None):
                    continue
                name = f"{prefix}{event}/{key}"
                entry = series.setdefault(name, (axis, [], []))
                if entry[0] == axis:  # a field logged against two axes keeps its first one
                    entry[1].append(x)
                    entry[2].append(math.nan if value is None else float(value))
    return [Curve(summary.name, name, axis, tuple(xs), tuple(ys))
            for name, (axis, xs, ys) in series.items() if any(math.isfinite(y) for y in ys)]  # fmt: skip
