"""JupyterLab started exactly as the README says (``.venv/bin/jupyter lab notebooks/``, no flags): a
researcher runs the quickstart, lets autosave save it, reloads the page, closes the tab and opens the
notebook again. The tracked file stays as committed (``git status`` clean), the outputs are kept aside
and come back trusted (interactive plotly figures that answer hover, not PNG fallbacks), and a notebook
the user did not edit is never marked unsaved."""

from __future__ import annotations

import os
import re
import tempfile
import time
from pathlib import Path

import pytest

from lab_driver import AUTOSAVE_S, start_jupyterlab_readme_way
from run_times import record_run_time
from notebook_page import (
    NOTEBOOK_STATE, OUTPUT_TEXT, Run, assert_figures_drawn, scroll_through, screenshots, wait_until_done,
)  # fmt: skip

pytestmark = pytest.mark.slow

NAME = "00_quickstart.ipynb"

# Plotly figures of the current notebook stored as outputs (static figures, not widget views), how many
# plotly's own renderer shows (a trusted output; it shows the snapshot it stored until the pointer enters,
# then draws the live figure) and how many are untrusted PNG fallbacks (JupyterLab's plain image renderer).
STATIC_FIGURES = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  let stored = 0;
  for (const cell of panel.content.widgets) {
    if (cell.model.type !== "code") continue;
    for (const output of cell.model.outputs.toJSON()) {
      if (output.data && output.data["application/vnd.plotly.v1+json"]) stored += 1;
    }
  }
  const rendered = panel.node.querySelectorAll(".jp-RenderedPlotly").length;
  const fallbacks = panel.node.querySelectorAll(".jp-RenderedImage img").length;
  return {stored, rendered, fallbacks};
}"""

# The first static figure, scrolled into view: its centre, and the centre of one of its data points once
# it is drawn live (null before).
HOVER_TARGET = """() => {
  const figure = window.jupyterapp.shell.currentWidget.node.querySelector(".jp-RenderedPlotly");
  if (!figure) return null;
  const box = figure.getBoundingClientRect();
  if (box.top < 0 || box.bottom > window.innerHeight) figure.scrollIntoView({block: "center"});
  const area = figure.getBoundingClientRect();
  const point = figure.querySelector(".plot-container .scatterlayer path.point, .plot-container .barlayer .point path, .plot-container .nsewdrag");
  const live = point ? point.getBoundingClientRect() : null;
  return {
    x: area.x + area.width / 2, y: area.y + area.height / 2,
    point: live && live.width > 0 ? {x: live.x + Math.min(live.width / 2, 40), y: live.y + Math.min(live.height / 2, 40)} : null,
  };
}"""
HOVER_SHOWN = """() => window.jupyterapp.shell.currentWidget.node.querySelector(".jp-RenderedPlotly")
  .querySelectorAll(".hoverlayer .hovertext").length"""
DIALOG = """() => Array.from(document.querySelectorAll(".jp-Dialog")).map((node) => node.textContent)"""


@pytest.fixture(scope="module")
def readme_lab(chromium_path):
    with tempfile.TemporaryDirectory(prefix="workbench-readme-way-") as scratch:
        lab = start_jupyterlab_readme_way(Path(scratch), [NAME])
        try:
            yield lab
        finally:
            lab.stop()


def open_notebook(page, lab) -> None:
    page.goto(lab.notebook_url(NAME))
    page.wait_for_function(f"({NOTEBOOK_STATE})().status === 'idle'", timeout=120_000)


def assert_stays_saved(page, name: str, seconds: float = 2 * AUTOSAVE_S) -> None:
    """No unsaved mark appears within ``seconds`` on a notebook nobody edited."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert page.evaluate(NOTEBOOK_STATE)["dirty"] is False, f"{name}: marked unsaved though nobody edited it"
        time.sleep(0.5)


def assert_interactive_figures(page, name: str, console: list[str]) -> None:
    """Every figure is back: the widget views drawn, every static plotly figure shown by plotly's renderer
    (trusted) rather than as an untrusted PNG, and the first one answers the pointer with a hover label."""
    scroll_through(page)
    assert_figures_drawn(page, name, minimum=3, views=3, console=console)
    figures = page.evaluate(STATIC_FIGURES)
    assert figures["stored"] and figures["rendered"] >= figures["stored"] and not figures["fallbacks"], (
        f"{name}: static plotly figures shown as PNG fallbacks (untrusted outputs?): {figures}"
    )
    target = page.evaluate(HOVER_TARGET)
    assert target is not None, f"{name}: no static plotly figure"
    page.mouse.move(target["x"], target["y"] - 20)
    page.mouse.move(target["x"], target["y"], steps=4)  # the pointer entering draws the live figure
    page.wait_for_function(f"() => ({HOVER_TARGET})().point !== null", timeout=30_000)
    point = page.evaluate(HOVER_TARGET)["point"]
    page.mouse.move(point["x"] + 3, point["y"] + 3)
    page.mouse.move(point["x"], point["y"], steps=4)
    page.wait_for_function(f"() => ({HOVER_SHOWN})() > 0", timeout=10_000)


def test_the_readme_way_keeps_git_clean_and_brings_trusted_figures_back(readme_lab, browser, tmp_path):
    lab = readme_lab
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    run = Run(NAME, page)
    page.on("console", lambda message: run.console.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: run.console.append(f"pageerror: {error}"))
    open_notebook(page, lab)
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    wait_until_done(run, lab)
    clock = [re.search(r"this notebook ran in (\d+) s", output["text"]) for output in page.evaluate(OUTPUT_TEXT)]
    record_run_time(NAME, float([match for match in clock if match][-1].group(1)))  # alone on the server
    # Autosave (no explicit save): the tracked file is as committed, the outputs went aside.
    page.wait_for_function(f"({NOTEBOOK_STATE})().dirty === false", timeout=(6 * AUTOSAVE_S + 30) * 1000)
    assert lab.git_status() == "", f"autosave changed the tracked notebook:\n{lab.git_status()}\n{lab.log()}"
    kept = list((lab.root.parent / "cache" / "notebook-outputs").glob(f"{Path(NAME).stem}-*.ipynb"))
    assert len(kept) == 1 and "application/vnd.plotly.v1+json" in kept[0].read_text(), f"no outputs kept aside: {kept}"
    untrusted_before = lab.log().count("is not trusted")  # the committed notebook, opened the first time

    # Reload with the kernel running: figures back, interactive, nothing unsaved.
    page.reload()
    page.wait_for_function(f"({NOTEBOOK_STATE})().status === 'idle'", timeout=120_000)
    assert_interactive_figures(page, NAME, run.console)
    assert_stays_saved(page, NAME)

    # Close the tab (no "Save your work" question) and open the notebook again.
    page.evaluate("window.jupyterapp.shell.currentWidget.close()")
    page.wait_for_timeout(1000)
    assert not page.evaluate(DIALOG), f"closing an unedited notebook asked: {page.evaluate(DIALOG)}"
    page.evaluate(f"window.jupyterapp.commands.execute('docmanager:open', {{path: '{NAME}'}})")
    page.wait_for_function(f"({NOTEBOOK_STATE})().status === 'idle'", timeout=120_000)
    assert_interactive_figures(page, NAME, run.console)
    assert_stays_saved(page, NAME)
    screenshots(page, Path(os.environ.get("WORKBENCH_SCREENSHOTS", tmp_path)) / "readme-way-reopened")
    assert lab.git_status() == "", lab.git_status()
    assert lab.log().count("is not trusted") == untrusted_before, f"reopened outputs not trusted:\n{lab.log()}"
    page.close()
