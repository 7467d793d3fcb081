"""Batch reproduction: execute recipe notebooks with papermill in parallel, then report every claim.

Each notebook runs in its own process and kernel. ``WORKBENCH_RUNS`` points every kernel at
``<out>/runs``, where each recipe's ``run`` writes its run directory (``metrics.json`` holds the claims);
the report gathers them from there, so it does not depend on parsing notebook outputs.
"""

from __future__ import annotations

import html
import json
import os
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from workbench import recipes
from workbench.atomic import atomic_write_text
from workbench.paths import notebooks_dir
from workbench.recipes.base import load_preset
from workbench.train.rundir import RunDir

QUICKSTART = "00_quickstart.ipynb"


@dataclass
class NotebookJob:
    name: str
    notebook: Path
    output: Path
    parameters: dict[str, Any]
    recipe: str | None = None


@dataclass
class NotebookOutcome:
    job: NotebookJob
    seconds: float
    error: str | None = None


@dataclass
class Report:
    out_dir: Path
    outcomes: list[NotebookOutcome]
    claims: list[dict[str, Any]] = field(default_factory=list)
    markdown_path: Path | None = None
    html_path: Path | None = None

    @property
    def ok(self) -> bool:
        return all(outcome.error is None for outcome in self.outcomes)


def plan(
    recipe_names: Sequence[str] | None,
    out_dir: Path,
    preset: str | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> list[NotebookJob]:
    """The notebooks to execute: the quickstart (when no recipe is named) and each recipe's notebook.

    Raises:
        UnknownNameError: an unknown recipe, or a preset that a named recipe does not have.
    """
    chosen = list(recipe_names) if recipe_names else recipes.names()
    jobs: list[NotebookJob] = []
    seen: set[str] = set()
    for recipe in chosen:
        notebook = recipes.notebook_of(recipe)
        if notebook in seen:
            continue
        seen.add(notebook)
        parameters = dict(load_preset(recipe, preset)) if preset else {}
        parameters.update(overrides or {})
        # Validate before spending minutes in a kernel: unknown names and bad types fail here.
        recipes.get(recipe).Params.from_dict(parameters)
        stem = Path(notebook).stem + (f"-{preset}" if preset else "")
        jobs.append(
            NotebookJob(recipe, notebooks_dir() / notebook, out_dir / f"{stem}.ipynb", parameters, recipe)
        )
    if not recipe_names and QUICKSTART not in seen:
        jobs.insert(0, NotebookJob("quickstart", notebooks_dir() / QUICKSTART, out_dir / QUICKSTART, {}))
    return jobs


def _execute(job: NotebookJob, runs_dir: str) -> NotebookOutcome:
    import papermill

    os.environ["WORKBENCH_RUNS"] = runs_dir
    start = time.perf_counter()
    try:
        papermill.execute_notebook(
            str(job.notebook),
            str(job.output),
            parameters=job.parameters,
            kernel_name="python3",
            language="python",
            cwd=str(job.notebook.parent),
            progress_bar=False,
        )
    except Exception as error:  # noqa: BLE001 - every failure is reported, the others keep running
        return NotebookOutcome(job, time.perf_counter() - start, f"{type(error).__name__}: {error}")
    return NotebookOutcome(job, time.perf_counter() - start)


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


class ProgressWatcher(threading.Thread):
    """Prints the progress of the running notebooks (cells done / total, elapsed) while :func:`execute`
    waits for them: a line when a notebook moves on, and at least every ``heartbeat`` seconds."""

    def __init__(self, jobs: Sequence[NotebookJob], interval: float = 5.0, heartbeat: float = 60.0,
                 stream: TextIO | None = None):  # fmt: skip
        super().__init__(daemon=True, name="notebook-progress")
        self.jobs = list(jobs)
        self.interval, self.heartbeat = interval, heartbeat
        self.stream = stream if stream is not None else sys.stdout
        self.finished: set[str] = set()
        self.started: dict[str, float] = {}
        self._stop = threading.Event()
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
            print(line, file=self.stream, flush=True)
            self._last_state, self._last_time = state, now

    def run(self) -> None:
        while not self._stop.wait(self.interval):
            self.report()

    def stop(self) -> None:
        self._stop.set()


def execute(jobs: Sequence[NotebookJob], out_dir: Path, jobs_in_parallel: int = 2) -> Report:
    """Run ``jobs`` in up to ``jobs_in_parallel`` processes, showing their progress, and write the claims report."""
    out_dir.mkdir(parents=True, exist_ok=True)
    runs_dir = out_dir / "runs"
    outcomes: list[NotebookOutcome] = []
    for job in jobs:  # an executed notebook of an earlier run would read as progress
        job.output.unlink(missing_ok=True)
    print(f"executing {len(jobs)} notebooks, {max(1, jobs_in_parallel)} at a time, into {out_dir}", flush=True)
    watcher = ProgressWatcher(jobs)
    watcher.start()
    try:
        with ProcessPoolExecutor(max_workers=max(1, jobs_in_parallel)) as pool:
            futures = {pool.submit(_execute, job, str(runs_dir)): job for job in jobs}
            for future in as_completed(futures):
                outcome = future.result()
                watcher.finished.add(outcome.job.output.name)
                status = "ok" if outcome.error is None else "FAILED"
                print(f"[{status}] {outcome.job.output.name} ({outcome.seconds:.0f} s)", flush=True)
                outcomes.append(outcome)
    finally:
        watcher.stop()
    outcomes.sort(key=lambda outcome: outcome.job.name)
    report = Report(out_dir, outcomes, gather_claims(runs_dir))
    write_report(report)
    return report


def gather_claims(runs_dir: Path) -> list[dict[str, Any]]:
    """Every claim of every finished run under ``runs_dir``, with its recipe and run directory."""
    claims = []
    for metrics_path in sorted(runs_dir.glob("*/*/metrics.json")):
        run = RunDir(metrics_path.parent)
        if not run.finished:
            continue
        for claim in run.read_metrics().get("claims", []):
            claims.append({"recipe": metrics_path.parent.parent.name, "run": metrics_path.parent.name, **claim})
    return claims


def figures_of(runs_dir: Path) -> list[Path]:
    return sorted(runs_dir.glob("*/*/figures/*.html"))


def write_report(report: Report) -> None:
    header = "| recipe | claim | paper | measured | holds |\n| --- | --- | --- | --- | --- |"
    rows = [
        f"| {c['recipe']} | {c['name']} | {c['paper']} | {c['measured']} | {'yes' if c['holds'] else 'no'} |"
        for c in report.claims
    ]
    notebooks = [
        f"- `{o.job.output.name}`: " + ("ok" if o.error is None else f"FAILED: {o.error.splitlines()[0]}")
        + f" ({o.seconds:.0f} s)"
        for o in report.outcomes
    ]
    figures = [f"- `{path.relative_to(report.out_dir)}`" for path in figures_of(report.out_dir / "runs")]
    markdown = "\n".join(
        ["# Reproduction report", "", "## Claims", "", header, *rows, "", "## Notebooks", "", *notebooks, "",
         "## Figures", "", *(figures or ["(none)"]), ""]
    )
    report.markdown_path = atomic_write_text(report.out_dir / "report.md", markdown)
    table = "".join(
        f"<tr><td>{html.escape(c['recipe'])}</td><td>{html.escape(c['name'])}</td>"
        f"<td>{html.escape(str(c['paper']))}</td><td>{html.escape(str(c['measured']))}</td>"
        f"<td style='color:{'green' if c['holds'] else 'firebrick'}'>{'yes' if c['holds'] else 'no'}</td></tr>"
        for c in report.claims
    )
    links = "".join(
        f"<li><a href='{html.escape(o.job.output.name)}'>{html.escape(o.job.output.name)}</a>: "
        f"{'ok' if o.error is None else 'FAILED'}</li>"
        for o in report.outcomes
    )
    figure_links = "".join(
        f"<li><a href='{html.escape(str(p.relative_to(report.out_dir)))}'>"
        f"{html.escape(str(p.relative_to(report.out_dir)))}</a></li>"
        for p in figures_of(report.out_dir / "runs")
    )
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>Reproduction report</title></head><body>"
        "<h1>Reproduction report</h1><h2>Claims</h2><table border='1' cellpadding='4'>"
        "<tr><th>recipe</th><th>claim</th><th>paper</th><th>measured</th><th>holds</th></tr>"
        f"{table}</table><h2>Notebooks</h2><ul>{links}</ul><h2>Figures</h2><ul>{figure_links}</ul>"
        "</body></html>"
    )
    report.html_path = atomic_write_text(report.out_dir / "report.html", page)
