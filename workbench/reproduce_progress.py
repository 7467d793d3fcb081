"""The progress line of ``workbench reproduce``: cells done per notebook, read from the notebooks being
written, and the latest event of the run logs."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from workbench.reproduce import NotebookJob


def notebook_progress(path: Path) -> tuple[int, int] | None:
    """``(code cells done, code cells)`` of a notebook papermill is executing into ``path``, from the
    status papermill records on each cell as it goes; None before papermill has written it (or while
    it is half written)."""
    try:
        notebook = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    cells = [cell for cell in notebook.get("cells", []) if cell.get("cell_type") == "code"]
    done = sum(cell.get("metadata", {}).get("papermill", {}).get("status") == "completed" for cell in cells)
    return done, len(cells)


def latest_activity(runs_dir: Path) -> str | None:
    """The last event of the most recently written run log under ``runs_dir`` (``<recipe>/<run>/log.jsonl``),
    e.g. ``"diff_byola-pretrain-84fb79304b30: epoch 37, byol_loss 0.611"``; None when there is none yet."""
    logs = [path for path in Path(runs_dir).glob("*/*/log.jsonl") if path.is_file()]
    if not logs:
        return None
    newest = max(logs, key=lambda path: path.stat().st_mtime_ns)
    try:
        lines = newest.read_text().splitlines()
        row = json.loads(lines[-1]) if lines else None
    except (OSError, ValueError):  # caught while being appended to
        return None
    if not isinstance(row, dict):
        return None
    facts = [f"{key} {row[key]}" for key in ("model", "seed", "epoch", "step") if key in row]
    facts += [f"{key} {value:.3g}" for key, value in row.items() if key.endswith("loss") and isinstance(value, float)]
    return f"{newest.parent.name}: {row.get('event', '?')}" + (f", {', '.join(facts)}" if facts else "")


class ProgressWatcher(threading.Thread):
    """Prints the progress of the running notebooks (cells done / total, elapsed) while :func:`execute`
    waits for them: a line when a notebook moves on, and at least every ``heartbeat`` seconds. With
    ``runs_dir``, the line ends with the latest event any run wrote to its log (a pre-training's epoch,
    say), so a cell that trains for half an hour still shows where it is."""

    def __init__(self, jobs: Sequence[NotebookJob], interval: float = 5.0, heartbeat: float = 60.0,
                 stream: TextIO | None = None, runs_dir: Path | None = None):  # fmt: skip
        super().__init__(daemon=True, name="notebook-progress")
        self.jobs = list(jobs)
        self.runs_dir = runs_dir
        self.interval, self.heartbeat = interval, heartbeat
        self.stream = stream if stream is not None else sys.stdout
        self.finished: set[str] = set()
        self.started: dict[str, float] = {}
        # Not ``_stop``: that name is threading.Thread's own method, which a fork calls in the child.
        self._halt = threading.Event()
        self._last_state: tuple = ()
        self._last_time = -float("inf")

    def status(self, now: float) -> tuple[str, tuple]:
        """One line (each unfinished notebook's cells done / total and time since it started) and what
        it says apart from the times."""
        parts, state = [], []
        for job in self.jobs:
            if job.output.name in self.finished:
                continue
            progress = notebook_progress(job.output)
            state.append((job.output.name, progress))
            if progress is None:
                parts.append(f"{job.output.name} waiting")
                continue
            started = self.started.setdefault(job.output.name, now)
            parts.append(f"{job.output.name} {progress[0]}/{progress[1]} cells, {now - started:.0f} s")
        return ("[running] " + " | ".join(parts) if parts else ""), tuple(state)

    def report(self, now: float | None = None) -> None:
        """Print the status line when a notebook moved on, or when ``heartbeat`` seconds passed since the last."""
        now = time.monotonic() if now is None else now
        line, state = self.status(now)
        if line and (state != self._last_state or now - self._last_time >= self.heartbeat):
            # The run logs are read only for a line that is printed, not on every poll.
            activity = latest_activity(self.runs_dir) if self.runs_dir is not None else None
            print(line + (f" | latest: {activity}" if activity else ""), file=self.stream, flush=True)
            self._last_state, self._last_time = state, now

    def run(self) -> None:
        while not self._halt.wait(self.interval):
            self.report()

    def stop(self) -> None:
        self._halt.set()
