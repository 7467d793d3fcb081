"""The page side of the browser tests: a notebook's state, its figures and outputs, Run All, waiting,
saving, screenshots, and the Run All time it reports (used by the tests of this folder and by the
``runs`` fixture in conftest.py)."""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from run_times import record_run_time

from workbench.paths import notebooks_dir

RUN_TIMEOUT_S = 900.0
WIDGET_ERROR = re.compile(r"widget|anywidget|plotly|workbench|comm", re.IGNORECASE)

# Runs in the page: the state of the notebook in the current tab.
NOTEBOOK_STATE = """() => {
  const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  if (!panel || !panel.content || !panel.sessionContext) return {ready: false};
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  const cells = panel.content.widgets.filter((cell) => cell.model.type === "code");
  const errors = [];
  for (const cell of cells) {
    for (const output of cell.model.outputs.toJSON()) {
      if (output.output_type === "error") errors.push(output.ename + ": " + output.evalue);
    }
  }
  return {
    ready: !!kernel,
    status: kernel ? kernel.status : "none",
    executed: cells.filter((cell) => cell.model.executionCount !== null).length,
    cells: cells.length,
    errors,
    dirty: panel.context.model.dirty,
  };
}"""

# Every plotly figure of the current notebook: traces in its data and drawn in its SVG / heatmap images.
FIGURES = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  return Array.from(panel.node.querySelectorAll(".js-plotly-plot")).map((plot) => {
    const title = plot.layout && plot.layout.title;
    return {
      title: title ? (typeof title === "string" ? title : title.text || "") : "",
      traces: (plot.data || []).length,
      drawn: plot.querySelectorAll("g.trace, g.hm image, g.table").length,
      view: !!plot.closest(".workbench-plotly-view"),
    };
  });
}"""

WIDGET_ERRORS = """() => Array.from(window.jupyterapp.shell.currentWidget.node.querySelectorAll(
  ".jp-OutputArea-output")).map((node) => node.textContent).filter((text) => /Error displaying widget|Failed to/.test(text))"""

# The explorer: its scatter, spectrogram and audio element, found from the scatter's title.
@dataclass
class Run:
    """A notebook open in its own tab, with everything its console said."""

    name: str
    page: Any
    console: list[str] = field(default_factory=list)


def start_run_all(browser, lab, name: str) -> Run:
    """Open ``name`` in a new 1600 x 1000 tab and start Run All (without waiting for it)."""
    run = Run(name, browser.new_page(viewport={"width": 1600, "height": 1000}))
    run.page.on("console", lambda message: run.console.append(f"{message.type}: {message.text}"))
    run.page.on("pageerror", lambda error: run.console.append(f"pageerror: {error}"))
    run.page.goto(lab.notebook_url(name))
    run.page.wait_for_function(f"({NOTEBOOK_STATE})().status === 'idle'", timeout=120_000)
    run.page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    return run


def wait_until_done(run: Run, lab) -> dict:
    """Wait until every code cell of ``run`` has executed and the kernel is idle; fail on an error output."""
    run.page.bring_to_front()
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while True:
        state = run.page.evaluate(NOTEBOOK_STATE)
        assert not state["errors"], f"{run.name}: a cell raised {state['errors']}\n{lab.log()}"
        if state["executed"] == state["cells"] and state["status"] == "idle":
            return state
        assert time.monotonic() < deadline, f"{run.name}: Run All not done in {RUN_TIMEOUT_S:.0f} s: {state}"
        time.sleep(1.0)


# Every output of the notebook as text: stderr streams (warnings) and the Run All time its last cell prints.
OUTPUT_TEXT = """() => {
  const texts = [];
  for (const cell of window.jupyterapp.shell.currentWidget.content.widgets) {
    if (cell.model.type !== "code") continue;
    for (const output of cell.model.outputs.toJSON()) {
      if (output.output_type === "stream") texts.push({name: output.name, text: [].concat(output.text).join("")});
    }
  }
  return texts;
}"""
TEMP_PATH = re.compile(r"/tmp/ipykernel_\d+|ipykernel_\d+/\d+\.py")


def finish(run: Run, lab, tmp_path, together: int) -> None:
    """What every notebook must satisfy after Run All: no warning that points at a kernel's temporary
    file, its Run All time recorded, screenshots of the whole notebook taken."""
    outputs = run.page.evaluate(OUTPUT_TEXT)
    leaked = [output["text"][:300] for output in outputs if output["name"] == "stderr" and TEMP_PATH.search(output["text"])]
    assert not leaked, f"{run.name}: warnings with a temporary-file path shown: {leaked}"
    clock = [re.search(r"this notebook ran in (\d+) s", output["text"]) for output in outputs]
    seconds = [float(match.group(1)) for match in clock if match]
    assert seconds, f"{run.name}: the last cell printed no run time"
    record_run_time(run.name, seconds[-1], together=together)
    folder = Path(os.environ.get("WORKBENCH_SCREENSHOTS", tmp_path))
    screenshots(run.page, folder / Path(run.name).stem)


def screenshots(page, stem: Path, limit: int = 12) -> list[Path]:
    """Viewport screenshots from the notebook's top to its end (JupyterLab scrolls the notebook inside
    its panel, so one full-page shot would show only the first screen)."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    page.evaluate(f"({SCROLLER}).scrollTop = 0")
    paths = []
    for index in range(limit):
        page.wait_for_timeout(700)  # cells scrolled into view lay out and draw
        path = stem.parent / f"{stem.name}-{index:02d}.png"
        page.screenshot(path=str(path))
        paths.append(path)
        if not scroll_on(page):
            break
    return paths


# The element that scrolls the current notebook (JupyterLab 4's windowed panel).
SCROLLER = """(() => { const node = window.jupyterapp.shell.currentWidget.content.node;
  return node.querySelector(".jp-WindowedPanel-outer") || node; })()"""


def scroll_on(page) -> bool:
    """Scroll the notebook down by most of a screen; False at its end."""
    return page.evaluate(f"() => {{ const node = {SCROLLER}; const top = node.scrollTop;"
                         f" node.scrollTop += node.clientHeight * 0.9; return node.scrollTop > top; }}")  # fmt: skip


def scroll_through(page, limit: int = 30) -> None:
    """Scroll from the top to the end of the notebook, so JupyterLab renders every cell's outputs (it draws
    cells as they come into view), then back to the top."""
    page.evaluate(f"({SCROLLER}).scrollTop = 0")
    for _step in range(limit):
        page.wait_for_timeout(400)
        if not scroll_on(page):
            break
    page.evaluate(f"({SCROLLER}).scrollTop = 0")



def wait_for_figures(page, minimum: int, timeout: float = 180.0) -> list[dict]:
    """Every plotly figure of the notebook, once at least ``minimum`` are there and all are drawn. While
    waiting it scrolls through the notebook again every 20 s: on a loaded machine a cell's outputs may not
    have been rendered while the one pass of :func:`scroll_through` went by, and JupyterLab draws a cell's
    outputs only when it comes into view."""
    deadline = time.monotonic() + timeout
    next_pass = time.monotonic() + 20
    while True:
        figures = page.evaluate(FIGURES)
        if len(figures) >= minimum and all(figure["traces"] and figure["drawn"] for figure in figures):
            return figures
        if time.monotonic() > deadline:
            return figures
        if time.monotonic() > next_pass:
            scroll_through(page)
            next_pass = time.monotonic() + 20
        time.sleep(0.5)


# What became of every widget output of the notebook: how many there are, how many hold a PlotlyView
# element and how many of those a drawn plot, what the others show, and whether plotly.js reached the page.
VIEW_DIAGNOSIS = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const outputs = Array.from(panel.node.querySelectorAll(".jp-OutputArea-output"));
  const widgetOutputs = outputs.filter((node) => node.querySelector(".jp-LinkedOutputView, .widget-box, .widget-inline-hbox, .jupyter-widgets, .workbench-plotly-view") || /widget/i.test(node.textContent.slice(0, 80)));
  const views = Array.from(panel.node.querySelectorAll(".workbench-plotly-view"));
  const library = globalThis.__workbench_plotly__;
  return {
    outputs: outputs.length,
    widget_outputs: widgetOutputs.length,
    plotly_views: views.length,
    plotly_views_drawn: views.filter((view) => view.querySelector(".js-plotly-plot")).length,
    plotly_view_texts: views.map((view) => view.textContent.slice(0, 120)).filter((text) => text),
    plotly_js: library ? {loaded: !!library.plotly, requested_ms_ago: Date.now() - library.requested} : "never requested",
    widget_texts: widgetOutputs.map((node) => node.textContent.slice(0, 120)).filter((text) => /Error|model|Loading/.test(text)),
  };
}"""


def assert_figures_drawn(page, name: str, minimum: int, views: int, console: list[str] | None = None) -> list[dict]:
    """At least ``minimum`` figures drawn, ``views`` of them interactive views, and no widget error shown.
    A failure says what became of every widget output and, given ``console``, the console's last lines."""
    figures = wait_for_figures(page, minimum)
    empty = [figure for figure in figures if not (figure["traces"] and figure["drawn"])]
    drawn_views = sum(figure["view"] for figure in figures)
    if len(figures) < minimum or empty or drawn_views < views:
        tail = "\n".join((console or [])[-25:])
        try:
            diagnosis = page.evaluate(VIEW_DIAGNOSIS)
        except Exception as error:  # the page itself may be what broke
            diagnosis = f"not readable: {error}"
        raise AssertionError(
            f"{name}: {len(figures)} figures (want {minimum}), {drawn_views} interactive views (want {views}), "
            f"empty: {empty}\nfigures: {figures}\nwidget outputs: {diagnosis}\nconsole tail:\n{tail}"
        )
    assert not page.evaluate(WIDGET_ERRORS), f"{name}: {page.evaluate(WIDGET_ERRORS)}"
    return figures


def save_and_check_unchanged(page, lab, name: str) -> None:
    """Saving in JupyterLab leaves the notebook byte for byte as committed (the pre-save hook)."""
    page.evaluate("window.jupyterapp.commands.execute('docmanager:save')")
    page.wait_for_function(f"({NOTEBOOK_STATE})().dirty === false", timeout=30_000)
    assert (lab.notebooks / name).read_bytes() == (notebooks_dir() / name).read_bytes(), f"{name} changed on save"


def assert_no_widget_errors(console: list[str], name: str) -> None:
    errors = [line for line in console if line.startswith(("error", "pageerror")) and WIDGET_ERROR.search(line)]
    assert not errors, f"{name}: widget errors in the console: {errors}"


def play(page, selector_js: str) -> float:
    """Play the audio element ``selector_js`` evaluates to; the position it reached after a moment (s)."""
    page.evaluate(f"() => {{ const audio = ({selector_js}); audio.currentTime = 0; return audio.play(); }}")
    page.wait_for_function(f"() => ({selector_js}).currentTime > 0.05", timeout=15_000)
    return page.evaluate(f"() => ({selector_js}).currentTime")
