"""A run's records: metrics.json (what it measured) and log.jsonl (what it did, event by event)."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from workbench.atomic import atomic_write_json, json_safe
from workbench.errors import CheckpointError, MissingFileError
from workbench.train.rundir.ids import plain
from workbench.train.rundir.provenance import _utc_now


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


class RunRecords:
    """metrics.json and log.jsonl: the part of :class:`~workbench.train.rundir.RunDir` that records what a
    run measured and did (``RunDir`` sets ``path``)."""

    METRICS_FILE = "metrics.json"
    LOG_FILE = "log.jsonl"

    path: Path

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
