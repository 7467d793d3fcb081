"""A run's status: finished, failed or unfinished, and the marking of failed runs.

A run that stops on an error must not look like one still running or merely interrupted: its folder
gets ``status.json`` (``{"status": "failed", "error": "<type>: <message>", "time", "pid"}``) and a
``failed`` log row. The next identical run opens the same folder (the run id is the same), logs a
``retried`` row naming the earlier error, removes the mark and carries on from the latest checkpoint,
so failures never pile up as orphan folders. An interrupt (Ctrl-C, a preempted job) is not a failure:
the run stays unfinished and resumes.

Marking happens in :func:`failures_marked`, a block around a recipe's work (the CLI's ``workbench run``
and the recipes' ``run`` open one): every run directory opened inside it that is not finished when an
error leaves the block is marked failed. A ``with RunDir.open(...) as run:`` block marks its own run.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from workbench.atomic import atomic_write_json
from workbench.train.rundir.provenance import _code_provenance, _utc_now

STATUS_FILE = "status.json"

_OPENED: contextvars.ContextVar[list[Any] | None] = contextvars.ContextVar("workbench_opened_runs", default=None)


def describe_error(error: BaseException) -> str:
    """``"<type>: <first line of the message>"``, the form status.json and the log keep."""
    first = next((line.strip() for line in str(error).splitlines() if line.strip()), "")
    return f"{type(error).__name__}: {first}" if first else type(error).__name__


class RunStatus:
    """The status of a run directory (mixed into :class:`~workbench.train.rundir.RunDir`)."""

    path: Path

    @property
    def failure(self) -> dict[str, Any] | None:
        """status.json of a run marked failed (``error``, ``time``, ``pid``), or None."""
        try:
            document = json.loads((self.path / STATUS_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return document if isinstance(document, dict) and document.get("status") == "failed" else None

    @property
    def status(self) -> str:
        """``"finished"``, ``"failed"`` (stopped on an error; the next identical run retries it) or
        ``"unfinished"`` (running, interrupted, or never started)."""
        if self.finished:  # type: ignore[attr-defined]
            return "finished"
        return "failed" if self.failure is not None else "unfinished"

    def mark_failed(self, error: BaseException) -> None:
        """Record that the run stopped on ``error``: status.json and a ``failed`` log row. A finished
        run is left as it is (its results stand)."""
        if self.finished:  # type: ignore[attr-defined]
            return
        text = describe_error(error)
        atomic_write_json(self.path / STATUS_FILE, {"status": "failed", "error": text, "time": _utc_now(),
                                                     "pid": os.getpid()})  # fmt: skip
        self.log("failed", error=text)  # type: ignore[attr-defined]

    def _retry_if_failed(self) -> bool:
        """Called by ``open`` with the lock held: a run marked failed is retried in the same folder
        (a ``retried`` row, the mark removed). Returns whether it was."""
        failure = self.failure
        if failure is None:
            return False
        self.log("retried", previous_error=failure.get("error"), pid=os.getpid(),  # type: ignore[attr-defined]
                 git_commit=_code_provenance()["git_commit"])  # fmt: skip
        (self.path / STATUS_FILE).unlink(missing_ok=True)
        return True

    def _track(self) -> None:
        opened = _OPENED.get()
        if opened is not None and all(run.path != self.path for run in opened):
            opened.append(self)


@contextlib.contextmanager
def failures_marked() -> Iterator[None]:
    """Mark failed every run directory opened in this block that an error leaves unfinished; nested
    blocks share the outermost one (the error propagates unchanged)."""
    if _OPENED.get() is not None:
        yield
        return
    opened: list[Any] = []
    token = _OPENED.set(opened)
    try:
        yield
    except Exception as error:  # an interrupt (KeyboardInterrupt, SystemExit) leaves the run to resume
        for run in opened:
            try:
                run.mark_failed(error)
            except OSError:
                pass  # an unwritable folder must not hide the error that stopped the run
        raise
    finally:
        _OPENED.reset(token)
