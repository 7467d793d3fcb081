"""The leaderboard notebook as a researcher uses it: Run All in JupyterLab, then a mouse click on
a heatmap cell opens that cell's run (its confusion matrix, the explorer on its embeddings, its run directory)."""

from __future__ import annotations

import pytest

from notebook_page import assert_figures_drawn, assert_no_widget_errors, finish, save_and_check_unchanged, wait_until_done

pytestmark = pytest.mark.slow

# The page coordinates of the centre of cell (row, column) of the interactive heatmap, with its key.
HEATMAP_CELL = """([row, column]) => {
  const plots = Array.from(window.jupyterapp.shell.currentWidget.node.querySelectorAll(".workbench-plotly-view .js-plotly-plot"));
  const plot = plots.find((node) => node.data[0] && node.data[0].type === "heatmap" && (node.layout.title.text || "").startsWith("score per task"));
  if (!plot) return null;
  plot.scrollIntoView({block: "center"});
  const layout = plot._fullLayout, box = plot.getBoundingClientRect();
  return {
    x: box.left + layout.xaxis._offset + layout.xaxis.l2p(column),
    y: box.top + layout.yaxis._offset + layout.yaxis.l2p(row),
    key: plot.data[0].customdata[row][column],
  };
}"""

# What the opened cell shows: the info line, the confusion matrix's title and the explorer's title.
OPENED = """() => {
  const node = window.jupyterapp.shell.currentWidget.node;
  const plots = Array.from(node.querySelectorAll(".workbench-plotly-view .js-plotly-plot"));
  const title = (plot) => (plot.layout.title && plot.layout.title.text) || "";
  const confusion = plots.find((plot) => title(plot).includes(": confusion of the first probe seed"));
  const explorer = plots.find((plot) => title(plot).endsWith("(click a point to listen)"));
  const info = Array.from(node.querySelectorAll(".widget-html")).map((html) => html.textContent).find((text) => text.includes(" run "));
  return {confusion: confusion ? title(confusion) : null, classes: confusion ? (confusion.data[0].y || []).length : 0,
          explorer: explorer ? title(explorer) : null, points: explorer ? explorer.data.length : 0, info: info || null};
}"""


def test_leaderboard_cell_click_opens_its_run(runs, jupyterlab, tmp_path):
    name = "06_leaderboard.ipynb"
    run = runs[name]
    page = run.page
    wait_until_done(run, jupyterlab)
    # the table and the heatmap (interactive views), the layer view's heatmap
    assert_figures_drawn(page, name, minimum=3, views=2)
    target = page.evaluate(HEATMAP_CELL, [0, 0])
    assert target is not None and "|" in target["key"], target
    row, task = target["key"].split("|", 1)
    page.mouse.click(target["x"], target["y"])
    page.wait_for_function(f"() => ({OPENED})().explorer !== null", timeout=240_000)  # a loaded machine: minutes
    opened = page.evaluate(OPENED)
    assert opened["confusion"].startswith(f"{row} on {task}: confusion"), opened
    assert opened["classes"] >= 2 and opened["points"] >= 2, opened  # class rows; one trace per class + the ring
    assert opened["explorer"] == f"{row} on {task} (click a point to listen)"
    assert opened["info"].startswith(f"{row} on {task}: ") and "/leaderboard/leaderboard-" in opened["info"], opened
    finish(run, jupyterlab, tmp_path, together=len(runs))
    save_and_check_unchanged(page, jupyterlab, name)
    assert_no_widget_errors(run.console, name)
