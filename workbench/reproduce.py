"""Batch reproduction: execute recipe notebooks with papermill in parallel, then report every claim.

Each notebook runs in its own process and kernel. ``WORKBENCH_RUNS`` points every kernel at
``<out>/runs``, where each recipe's ``run`` writes its run directory (``metrics.json`` holds the claims);
the report gathers them from there, so it does not depend on parsing notebook outputs.
"""

from __future__ import annotations

import ast
import dataclasses
import html
import json
import logging
import os
import sys
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench import recipes
from workbench.atomic import atomic_write_text
from workbench.errors import UnknownNameError
from workbench.paths import notebooks_dir
from workbench.recipes.base import Claim, load_preset
from workbench.train.rundir import RunDir
# Re-exported: the progress line lives in its own module.
from workbench.reproduce_progress import ProgressWatcher, latest_activity, notebook_progress  # noqa: F401

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
        _default_task_of_a_new_dataset(notebooks_dir() / notebook, parameters)
        # Validate before spending minutes in a kernel: unknown names and bad types fail here.
        recipes.get(recipe).Params.from_dict(parameters)
        stem = Path(notebook).stem + (f"-{preset}" if preset else "")
        jobs.append(
            NotebookJob(recipe, notebooks_dir() / notebook, out_dir / f"{stem}.ipynb", parameters, recipe)
        )
    if not recipe_names and QUICKSTART not in seen:
        jobs.insert(0, NotebookJob("quickstart", notebooks_dir() / QUICKSTART, out_dir / QUICKSTART, {}))
    return jobs


def notebook_defaults(notebook: Path) -> dict[str, Any]:
    """The plain values (strings, numbers, booleans) the notebook's ``parameters`` cell assigns, read
    without running it; {} when the notebook cannot be read."""
    try:
        cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    except (OSError, ValueError, KeyError):
        return {}
    values: dict[str, Any] = {}
    for cell in cells:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            source = "".join(cell.get("source", []))
            try:
                statements = ast.parse(source).body
            except SyntaxError:
                return {}
            for statement in statements:
                if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
                    target = statement.targets[0]
                    if isinstance(target, ast.Name) and isinstance(statement.value, ast.Constant):
                        values[target.id] = statement.value.value
    return values


def _default_task_of_a_new_dataset(notebook: Path, parameters: dict[str, Any]) -> None:
    """A notebook's parameters cell names a task of its own dataset (the quickstart: ``task = "event"``
    of the synthetic world). A run on another dataset (``-p dataset=folder``) that names no task, where
    the cell's task is not one of that dataset's, gets ``task=""``: the dataset's own default task."""
    if "dataset" not in parameters or "task" in parameters:
        return
    from workbench.recipes.base import dataset_tasks

    task = notebook_defaults(notebook).get("task")
    if isinstance(task, str) and task and task not in dataset_tasks(str(parameters["dataset"])):
        parameters["task"] = ""


def describe_failure(error: BaseException) -> str:
    """One line saying why a notebook failed: the failing cell (index and first source line) and the
    exception's last line, e.g. ``cell 3 `params = ...`: ValueError: parameter 'epochs' must be >= 1``.

    Papermill's ``PapermillExecutionError`` carries the cell and the kernel's exception; any other error
    (a missing notebook, a dead kernel) is its type and the last line of its message.
    """

    def last_line(text: str) -> str:
        lines = [line.strip() for line in str(text).splitlines() if line.strip()]
        return lines[-1] if lines else ""

    ename = getattr(error, "ename", None)
    if ename is None:
        message = last_line(str(error))
        return f"{type(error).__name__}: {message}" if message else type(error).__name__
    source = getattr(error, "source", "") or ""
    first = next((line.strip() for line in source.splitlines() if line.strip()), "")
    if len(first) > 80:
        first = first[:77] + "..."
    value = last_line(getattr(error, "evalue", "") or "")
    cell = f"cell {getattr(error, 'cell_index', '?')}" + (f" `{first}`" if first else "")
    return f"{cell}: {ename}: {value}" if value else f"{cell}: {ename}"


KERNEL_START_FAILURE = "Kernel died before replying to kernel_info"
KERNEL_START_ATTEMPTS = 2


class _InjectedParameterFilter(logging.Filter):
    """Drops papermill's "Passed unknown parameter: NAME" for preset values the parameters cell does
    not list. Such a value is not lost: the notebook hands every injected scalar to the recipe's
    ``Params`` (``params_from_namespace``), where a name the recipe lacks is an error, and the preset
    was checked against ``Params`` before any notebook started."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Passed unknown parameter")


THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
"""What torch, numpy and scikit-learn read for their thread pools when a kernel starts."""


def kernel_threads(jobs_in_parallel: int, cpus: int | None = None) -> int:
    """Threads per notebook kernel so that the kernels running at once share the cores without oversubscribing
    them: each kernel's torch would otherwise take every core (two kernels on two cores, two threads each,
    spend much of their time waiting on each other)."""
    return max(1, (cpus or os.cpu_count() or 1) // max(1, jobs_in_parallel))


def _execute(job: NotebookJob, runs_dir: str, threads: int | None = None) -> NotebookOutcome:
    import papermill

    from workbench.notebooks import ipc_kernel_manager  # imports Jupyter's server: only when executing

    papermill_logger = logging.getLogger("papermill")
    if not any(isinstance(known, _InjectedParameterFilter) for known in papermill_logger.filters):
        papermill_logger.addFilter(_InjectedParameterFilter())
    os.environ["WORKBENCH_RUNS"] = runs_dir
    if threads is not None:  # the kernel inherits this process's environment; a setting of the user's stays
        for variable in THREAD_VARIABLES:
            os.environ.setdefault(variable, str(threads))
    start = time.perf_counter()
    for attempt in range(1, KERNEL_START_ATTEMPTS + 1):
        try:
            papermill.execute_notebook(
                str(job.notebook),
                str(job.output),
                parameters=job.parameters,
                kernel_name="python3",
                language="python",
                cwd=str(job.notebook.parent),
                progress_bar=False,
                kernel_manager_class=ipc_kernel_manager(),
            )
        except Exception as error:  # noqa: BLE001 - every failure is reported, the others keep running
            # A kernel that dies before answering its first request ran none of the notebook: on a loaded
            # machine two kernels starting at once can lose that race, so it is started again, said aloud.
            if KERNEL_START_FAILURE in str(error) and attempt < KERNEL_START_ATTEMPTS:
                print(f"[retry] {job.output.name}: the kernel died while starting; starting it again", flush=True)
                continue
            return NotebookOutcome(job, time.perf_counter() - start, describe_failure(error))
        return NotebookOutcome(job, time.perf_counter() - start)
    raise AssertionError("unreachable: the last attempt returns")


def execute(jobs: Sequence[NotebookJob], out_dir: Path, jobs_in_parallel: int = 2) -> Report:
    """Run ``jobs`` in up to ``jobs_in_parallel`` processes, showing their progress, and write the claims report."""
    out_dir.mkdir(parents=True, exist_ok=True)
    runs_dir = out_dir / "runs"
    outcomes: list[NotebookOutcome] = []
    for job in jobs:  # an executed notebook of an earlier run would read as progress
        job.output.unlink(missing_ok=True)
    threads = kernel_threads(jobs_in_parallel)
    print(f"executing {len(jobs)} notebooks, {max(1, jobs_in_parallel)} at a time ({os.environ.get('OMP_NUM_THREADS', threads)} "
          f"thread(s) each), into {out_dir}", flush=True)  # fmt: skip
    watcher = ProgressWatcher(jobs, runs_dir=runs_dir)
    watcher.start()
    try:
        with ProcessPoolExecutor(max_workers=max(1, jobs_in_parallel)) as pool:
            futures = {pool.submit(_execute, job, str(runs_dir), threads): job for job in jobs}
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
    """Every claim of every finished run under ``runs_dir``, with its recipe and run directory.

    Each claim is read through :meth:`Claim.from_dict`, so every row carries the same fields (verdict,
    effect, interval, n, MDE) whatever version of the workbench wrote the run.
    """
    claims = []
    for metrics_path in sorted(runs_dir.glob("*/*/metrics.json")):
        run = RunDir(metrics_path.parent)
        if not run.finished:
            continue
        for stored in run.read_metrics().get("claims", []):
            claim = Claim.from_dict(stored)
            claims.append({"recipe": metrics_path.parent.parent.name, "run": metrics_path.parent.name,
                           **dataclasses.asdict(claim), "interval": claim.interval(),
                           "paper_check": claim.paper_check})  # fmt: skip
    return claims


def _number(value: float | None, digits: int = 3, signed: bool = False) -> str:
    if value is None:
        return "unbounded" if not signed else "-"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def claim_cells(claim: Mapping[str, Any]) -> list[str]:
    """The report's columns for one claim: recipe, claim, paper, measured, effect, 95 % CI, n (with its
    unit and method), MDE, paper size, verdict."""
    if claim.get("ci_low") is None or claim.get("ci_high") is None:
        interval = "none (one run)" if claim.get("effect") is not None else "-"
    else:
        interval = f"[{claim['ci_low']:+.3f}, {claim['ci_high']:+.3f}]"
    mde = _number(claim.get("mde")) if claim.get("effect") is not None else "-"
    if claim.get("paper_effect") is not None:
        mde += f" (paper {claim['paper_effect']:+.3g})"
    return [
        str(claim["recipe"]), str(claim["name"]), str(claim["paper"]), str(claim["measured"]),
        _number(claim.get("effect"), signed=True), interval,
        f"{claim.get('n', 0)}" + (f" {claim['unit']}" if claim.get("unit") else "")
        + (f" ({claim['method']})" if claim.get("method") else ""), mde, str(claim.get("paper_check") or "-"),
        str(claim["verdict"]),
    ]  # fmt: skip


CLAIM_COLUMNS = ("recipe", "claim", "paper", "measured", "effect", "95 % CI", "n", "MDE", "paper size", "verdict")
VERDICT_COLOURS = {"holds": "green", "contradicted": "firebrick", "inconclusive": "darkorange"}
HOW_TO_READ = (
    "effect: the treatment minus the control (or minus the reference), averaged over paired runs; 95 % CI: "
    "its interval; n: the units of replication behind it, named (training runs for a claim about a training "
    "method: test items and probe seeds are averaged inside a run and never count as runs); MDE: the "
    "smallest effect this test bed resolves with 80 % power (exact, noncentral t); paper size: whether the "
    "paper's own effect lies inside the interval. A claim holds only when the interval excludes zero in the "
    "paper's direction, is contradicted when it excludes zero the other way, and is inconclusive otherwise "
    "(always with one run). An inconclusive claim whose MDE is larger than the paper's effect says nothing "
    "either way."
)


def figures_of(runs_dir: Path) -> list[Path]:
    return sorted(runs_dir.glob("*/*/figures/*.html"))


def write_report(report: Report) -> None:
    header = "| " + " | ".join(CLAIM_COLUMNS) + " |\n|" + " --- |" * len(CLAIM_COLUMNS)
    rows = ["| " + " | ".join(cell.replace("|", "\\|") for cell in claim_cells(c)) + " |" for c in report.claims]
    notebooks = [
        f"- `{o.job.output.name}`: " + ("ok" if o.error is None else f"FAILED: {o.error.splitlines()[0]}")
        + f" ({o.seconds:.0f} s)"
        for o in report.outcomes
    ]
    figures = [f"- `{path.relative_to(report.out_dir)}`" for path in figures_of(report.out_dir / "runs")]
    details = [f"- {c['recipe']}, {c['name']}: {c['detail']}" for c in report.claims if c.get("detail")]
    markdown = "\n".join(
        ["# Reproduction report", "", "## Claims", "", HOW_TO_READ, "", header, *rows, "",
         *(["## Details of the claims", "", *details, ""] if details else []),
         "## Notebooks", "", *notebooks, "", "## Figures", "", *(figures or ["(none)"]), ""]
    )  # fmt: skip
    report.markdown_path = atomic_write_text(report.out_dir / "report.md", markdown)
    table = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in claim_cells(c)[:-1])
        + f"<td style='color:{VERDICT_COLOURS.get(c['verdict'], 'black')}'>{html.escape(c['verdict'])}</td></tr>"
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
    detail_items = "".join(
        f"<li>{html.escape(str(c['recipe']))}, {html.escape(str(c['name']))}: {html.escape(str(c['detail']))}</li>"
        for c in report.claims if c.get("detail")
    )
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>Reproduction report</title></head><body>"
        "<h1>Reproduction report</h1><h2>Claims</h2>"
        f"<p>{html.escape(HOW_TO_READ)}</p><table border='1' cellpadding='4'><tr>"
        + "".join(f"<th>{html.escape(name)}</th>" for name in CLAIM_COLUMNS) + "</tr>"
        f"{table}</table>"
        + (f"<h2>Details of the claims</h2><ul>{detail_items}</ul>" if detail_items else "")
        + f"<h2>Notebooks</h2><ul>{links}</ul><h2>Figures</h2><ul>{figure_links}</ul>"
        "</body></html>"
    )
    report.html_path = atomic_write_text(report.out_dir / "report.html", page)


# --------------------------------------------------------------------------------------------------
# --smoke: every stage of a preset at full size for a few steps, instead of the notebooks


def smoke(recipe: str, params: Any, preset: str | None = None, steps: int = 2, batch: int | None = None) -> Any:
    """The recipe's smoke run of ``params`` (:class:`workbench.smoke.SmokeReport`): every stage for
    ``steps`` steps at the preset's full size on stand-in data, with the projected cost of the full run
    (``batch``: measure the training steps at this smaller batch and scale their time to the preset's).

    Raises:
        UnknownNameError: an unknown recipe, or one that has no smoke run (the message lists those that do).
    """
    module = recipes.get(recipe)
    if not hasattr(module, "smoke"):
        with_smoke = [name for name in recipes.names() if hasattr(recipes.get(name), "smoke")]
        raise UnknownNameError("recipe with a smoke run", recipe, with_smoke)
    return module.smoke(params, steps=steps, preset=preset or "", batch=batch)
