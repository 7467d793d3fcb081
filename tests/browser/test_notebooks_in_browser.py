"""The notebooks as a researcher uses them: open in JupyterLab (headless Chromium), Run All (from a cold
cache unless nbval ran the notebook first, see the root conftest.py), look at every figure, click, listen,
reload, save.

One server and one browser serve the notebooks (see conftest.py); each notebook runs with its own
defaults, the quick settings every notebook ships with. Each test records the notebook's Run All time
(its last cell's own clock; the notebooks run at once, sharing the cores) and leaves screenshots of the
whole notebook in ``$WORKBENCH_SCREENSHOTS`` (default: the test's temporary folder) for a person to look at.
"""

from __future__ import annotations

import re

import pytest

from notebook_page import (
    NOTEBOOK_STATE, assert_figures_drawn, assert_no_widget_errors, finish, play, save_and_check_unchanged,
    wait_until_done,
)  # fmt: skip

pytestmark = pytest.mark.slow

EXPLORER = """() => {
  const plots = Array.from(window.jupyterapp.shell.currentWidget.node.querySelectorAll(".workbench-plotly-view .js-plotly-plot"));
  const scatter = plots.find((plot) => (plot.layout.title.text || "").startsWith("Embeddings"));
  if (!scatter) return null;
  const box = scatter.closest(".widget-hbox");
  const spectrogram = Array.from(box.querySelectorAll(".js-plotly-plot")).find((plot) => plot !== scatter);
  const audio = box.querySelector("audio");
  const ring = scatter.data[scatter.data.length - 1];
  const image = spectrogram.querySelector("g.hm image");
  let picture = null;  // a hash of the heatmap's rendered picture
  if (image) {
    const href = image.getAttribute("href") || "";
    picture = 0;
    for (let i = 0; i < href.length; i++) picture = (picture * 31 + href.charCodeAt(i)) | 0;
  }
  // The whole explorer, spectrogram and colour bar included, lies inside its output area (1600-px window).
  const area = box.closest(".jp-OutputArea-output").getBoundingClientRect();
  const drawn = spectrogram.querySelector(".main-svg").getBoundingClientRect();
  // No horizontal scrollbar anywhere in the explorer: no column wider than the room it has.
  const overflow = Math.max(...[box, ...box.querySelectorAll(".widget-vbox"), box.closest(".jp-OutputArea-output")]
    .map((node) => node.scrollWidth - node.clientWidth));
  const colourBar = spectrogram._fullData[0];
  return {
    overflow,
    range: colourBar ? [colourBar.zmin, colourBar.zmax] : null,
    zmax: colourBar && colourBar.z ? Math.max(...Array.from(colourBar.z, (row) => Math.max(...row))) : null,
    yTitle: spectrogram.layout.yaxis.title.text,
    info: box.querySelector(".widget-html").textContent,
    fits: drawn.width > 200 && drawn.right <= area.right + 1 && box.getBoundingClientRect().right <= area.right + 1,
    audio: audio ? audio.src : null,
    title: spectrogram.layout.title.text,
    picture,
    ring: ring && ring.x && ring.x.length ? [Number(ring.x[0]), Number(ring.y[0])] : null,
    traces: scatter.data.length,
  };
}"""

EXPLORER_AUDIO = """Array.from(window.jupyterapp.shell.currentWidget.node.querySelectorAll(".workbench-plotly-view .js-plotly-plot"))
  .find((plot) => (plot.layout.title.text || "").startsWith("Embeddings")).closest(".widget-hbox").querySelector("audio")"""

# Page coordinates of the explorer's most isolated point whose row is not ``avoid`` (so the click cannot
# land on a neighbour).
EXPLORER_POINT = """(avoid) => {
  const plots = Array.from(window.jupyterapp.shell.currentWidget.node.querySelectorAll(".workbench-plotly-view .js-plotly-plot"));
  const scatter = plots.find((plot) => (plot.layout.title.text || "").startsWith("Embeddings"));
  scatter.scrollIntoView({block: "center"});
  const traces = scatter.querySelectorAll(".scatterlayer g.trace");
  const points = [];
  for (let t = 0; t < traces.length - 1; t++) {  // the last trace is the selection ring
    traces[t].querySelectorAll("path.point").forEach((node, p) => {
      const box = node.getBoundingClientRect();
      if (box.width > 0) points.push({x: box.x + box.width / 2, y: box.y + box.height / 2, row: Number(scatter._fullData[t].customdata[p])});
    });
  }
  let best = null, bestGap = -1;
  for (const point of points) {
    if (point.row === avoid) continue;
    let gap = Infinity;
    for (const other of points) {
      if (other !== point) gap = Math.min(gap, Math.hypot(other.x - point.x, other.y - point.y));
    }
    if (gap > bestGap) { best = point; bestGap = gap; }
  }
  return best;
}"""


def click_explorer_point(page, avoid: int, attempts: int = 3) -> dict:
    """Click an explorer point (not row ``avoid``) with the mouse and wait until the spectrogram shows its
    clip. A page still laying out cells (JupyterLab renders them as they scroll into view) can move the
    point between measuring and clicking; then measure and click again, as a person would."""
    for _attempt in range(attempts):
        target = page.evaluate(EXPLORER_POINT, avoid)
        assert target is not None, "no clickable explorer point"
        page.mouse.click(target["x"], target["y"])
        try:
            page.wait_for_function(f"() => ({EXPLORER})().title.startsWith('clip {target['row']} ')", timeout=15_000)
            return target
        except Exception:  # noqa: BLE001 - playwright's TimeoutError: measure and click again
            page.wait_for_timeout(1000)
    raise AssertionError(f"{attempts} clicks on explorer points did not change the spectrogram: {page.evaluate(EXPLORER)}")


def test_quickstart_explorer_renders_plays_and_survives_a_reload(runs, jupyterlab, tmp_path):
    name = "00_quickstart.ipynb"
    run = runs[name]
    page = run.page
    wait_until_done(run, jupyterlab)
    # gallery, linear evaluation, confusion, class player, explorer scatter + spectrogram
    assert_figures_drawn(page, name, minimum=6, views=3)
    before = page.evaluate(EXPLORER)
    assert before["title"].startswith("clip 0") and before["ring"] is not None and before["picture"]
    assert before["fits"], "the explorer overflows its output area in a 1600-px window"
    assert before["overflow"] <= 0, f"the explorer scrolls sideways by {before['overflow']} px"
    # The colour scale follows the clip (its peak at the top), the axis is named as in the class player.
    assert before["range"][1] == pytest.approx(before["zmax"]) and before["range"][1] - before["range"][0] == 80
    assert before["yTitle"] == "mel band" and re.search(r"\d\.\d\d s$", before["info"]), before
    target = click_explorer_point(page, avoid=0)
    after = page.evaluate(EXPLORER)
    assert after["audio"] != before["audio"] and after["picture"] != before["picture"] and after["ring"] != before["ring"]
    assert play(page, EXPLORER_AUDIO) > 0
    finish(run, jupyterlab, tmp_path, together=len(runs))
    save_and_check_unchanged(page, jupyterlab, name)

    # Reload with the kernel running: the explorer comes back as it was and still answers clicks.
    assert_no_widget_errors(run.console, name)  # nothing went wrong while the notebook ran
    before_reload = len(run.console)
    page.reload()
    page.wait_for_function(f"({NOTEBOOK_STATE})().status === 'idle'", timeout=120_000)
    assert_figures_drawn(page, name, minimum=3, views=3)
    page.wait_for_function(f"() => {{ const e = ({EXPLORER})(); return e && e.picture; }}", timeout=60_000)
    reloaded = page.evaluate(EXPLORER)
    assert reloaded["title"] == after["title"] and reloaded["ring"] == after["ring"] and reloaded["picture"]
    click_explorer_point(page, avoid=target["row"])
    # After a reload JupyterLab re-renders every widget view the outputs name; finished transient bars
    # emptied their outputs (workbench.progress.NotebookBar), so no view names a closed model.
    assert_no_widget_errors(run.console[before_reload:], name)


# The CaRE-SEP player: its dropdowns by label, its three audio elements and captions, its spectrograms.
PLAYER = """() => {
  const node = window.jupyterapp.shell.currentWidget.node;
  const query = Array.from(node.querySelectorAll(".widget-dropdown")).find((box) => box.textContent.trim().startsWith("query"));
  if (!query) return null;
  const player = query.closest(".widget-vbox");
  const mixture = Array.from(player.querySelectorAll(".widget-dropdown")).find((box) => box.textContent.trim().startsWith("mixture"));
  const plot = player.querySelector(".js-plotly-plot");
  // ipywidgets writes option labels with non-breaking spaces.
  const chosen = (box) => box.querySelector("select").selectedOptions[0].textContent.replace(/\u00a0/g, " ");
  return {
    mixture: chosen(mixture),
    query: chosen(query),
    audio: Array.from(player.querySelectorAll("audio")).map((audio) => audio.src),
    captions: Array.from(player.querySelectorAll(".widget-label")).map((label) => label.textContent),
    titles: plot ? (plot.layout.annotations || []).map((annotation) => annotation.text) : [],
  };
}"""
ESTIMATE_AUDIO = """Array.from(Array.from(window.jupyterapp.shell.currentWidget.node.querySelectorAll(".widget-dropdown"))
  .find((box) => box.textContent.trim().startsWith("query")).closest(".widget-vbox").querySelectorAll("audio"))[1]"""


def test_care_sep_figures_render_and_the_player_separates_and_plays(runs, jupyterlab, tmp_path):
    name = "04_care_sep.ipynb"
    run = runs[name]
    page = run.page
    wait_until_done(run, jupyterlab)
    # loss curves, SDR bars, ablation table, t-SNE panels, the player's spectrograms
    assert_figures_drawn(page, name, minimum=5, views=1)
    before = page.evaluate(PLAYER)
    assert before is not None and len(before["audio"]) == 3 and all(before["audio"]), before
    # Query the mixture's other source: the estimate must change and play.
    assert re.fullmatch(r"pair \d+: .+ \+ .+", before["mixture"]), before
    other = before["mixture"].split(": ", 1)[1].split(" + ")[1]
    assert other != before["query"], before
    query = page.locator(".widget-dropdown", has_text="query").locator("select")
    query.scroll_into_view_if_needed()
    query.select_option(label=other.replace(" ", "\u00a0"))
    # The captions (ipywidgets) and the spectrogram titles (the plot, redrawn from the kernel's figure) follow.
    page.wait_for_function(
        f"() => {{ const player = ({PLAYER})(); return player.captions.includes('estimate ({other})')"
        f" && player.titles.includes('estimate ({other})'); }}",
        timeout=60_000,
    )
    after = page.evaluate(PLAYER)
    assert after["audio"][1] != before["audio"][1] and after["audio"][2] != before["audio"][2]
    assert play(page, ESTIMATE_AUDIO) > 0
    assert_care_sep_readable(page)
    finish(run, jupyterlab, tmp_path, together=len(runs))
    save_and_check_unchanged(page, jupyterlab, name)
    assert_no_widget_errors(run.console, name)


FUSION = """() => {
  const button = Array.from(window.jupyterapp.shell.currentWidget.node.querySelectorAll("button"))
    .find((node) => node.textContent.includes("evaluate fusion"));
  if (!button) return null;
  const box = button.closest(".widget-vbox");
  const plot = box.querySelector(".js-plotly-plot");
  return {output: box.querySelector(".widget-html").textContent, bars: plot ? plot._fullData[0].y.length : 0};
}"""


def test_layer_fusion_figures_render_and_the_fusion_widget_scores_a_choice(runs, jupyterlab, tmp_path):
    name = "05_layer_fusion.ipynb"
    run = runs[name]
    page = run.page
    wait_until_done(run, jupyterlab)
    # layer curves, fusion bars, the fusion widget's chart
    assert_figures_drawn(page, name, minimum=3, views=1)
    before = page.evaluate(FUSION)
    assert before is not None and before["bars"] >= 1, before
    button = page.locator("button", has_text="evaluate fusion")
    button.scroll_into_view_if_needed()
    button.click()
    page.wait_for_function(f"() => ({FUSION})().bars === {before['bars'] + 1}", timeout=120_000)
    assert " on " in page.evaluate(FUSION)["output"]
    legend = page.evaluate(FUSION_LEGEND)
    best = [name for name in legend if name.startswith("best")]
    assert best and all(name.endswith(("on test", "on validation", "on test (shown only)")) for name in best), legend
    finish(run, jupyterlab, tmp_path, together=len(runs))
    save_and_check_unchanged(page, jupyterlab, name)
    assert_no_widget_errors(run.console, name)


FUSION_LEGEND = """() => Array.from(window.jupyterapp.shell.currentWidget.node.querySelectorAll(".js-plotly-plot"))
  .filter((plot) => plot.layout.barmode === "group").flatMap((plot) => plot.data.map((trace) => trace.name))"""

# The CaRE-SEP notebook's readability: the ablation table's text inside its figure, the loss plot's
# epoch ticks, the player's clip lengths and its spectrograms' one colour scale.
CARE_SEP_VIEW = """() => {
  const node = window.jupyterapp.shell.currentWidget.node;
  const plots = Array.from(node.querySelectorAll(".js-plotly-plot"));
  const table = plots.find((plot) => plot.data[0] && plot.data[0].type === "table");
  let cut = null;
  if (table) {
    const bottom = table.getBoundingClientRect().bottom;
    const texts = Array.from(table.querySelectorAll(".cell-text"));
    cut = texts.filter((text) => text.getBoundingClientRect().bottom > bottom + 1).map((text) => text.textContent);
  }
  const loss = plots.find((plot) => (plot.layout.xaxis && plot.layout.xaxis.title && plot.layout.xaxis.title.text) === "epoch");
  const ticks = loss ? loss._fullLayout.xaxis._vals.map((tick) => tick.x) : null;
  const query = Array.from(node.querySelectorAll(".widget-dropdown")).find((box) => box.textContent.trim().startsWith("query"));
  const player = query ? query.closest(".widget-vbox") : null;
  const spectrograms = player ? player.querySelector(".js-plotly-plot") : null;
  const axis = spectrograms ? spectrograms._fullLayout.coloraxis : null;
  const model = Array.from(node.querySelectorAll(".widget-dropdown")).find((box) => box.textContent.trim().startsWith("model"));
  return {
    tableCut: cut,
    tableText: table ? Array.from(table.querySelectorAll(".cell-text")).map((text) => text.textContent) : [],
    models: model ? Array.from(model.querySelectorAll("option")).map((option) => option.textContent) : [],
    ticks,
    durations: player ? Array.from(player.querySelectorAll(".widget-label")).map((label) => label.textContent).filter((text) => / s$/.test(text)) : [],
    colour: axis ? {cmin: axis.cmin, cmax: axis.cmax, peaks: spectrograms._fullData.map((trace) => Math.max(...Array.from(trace.z, (row) => Math.max(...row))))} : null,
    titles: spectrograms ? (spectrograms.layout.annotations || []).map((annotation) => annotation.text) : [],
  };
}"""


def assert_care_sep_readable(page) -> None:
    view = page.evaluate(CARE_SEP_VIEW)
    assert view["tableCut"] == [], f"the ablation table cuts off: {view['tableCut']}"
    # The table names each row's query width as the player does: the width its trained system has.
    widths = {name: set(re.findall(r"(\d+)-d", " ".join(view[name]))) for name in ("tableText", "models")}
    assert widths["tableText"] and widths["tableText"] <= widths["models"], widths
    assert view["ticks"] and all(float(tick).is_integer() for tick in view["ticks"]), f"epoch ticks: {view['ticks']}"
    assert len(view["durations"]) == 3 and all(re.fullmatch(r"\d+\.\d\d s", text) for text in view["durations"]), view
    colour = view["colour"]
    assert colour and colour["cmax"] - colour["cmin"] == pytest.approx(80) and max(colour["peaks"]) == pytest.approx(colour["cmax"])
    # Query a class the mixture lacks: the reference is silence, drawn at the floor of the shared scale.
    mixture = page.evaluate(PLAYER)["mixture"].split(": ", 1)[1].split(" + ")
    options = page.locator(".widget-dropdown", has_text="query").locator("option").all_text_contents()
    absent = next(option for option in options if option.replace("\u00a0", " ") not in mixture)
    page.locator(".widget-dropdown", has_text="query").locator("select").select_option(label=absent)
    page.wait_for_function(f"() => ({CARE_SEP_VIEW})().titles.includes('reference: silence')", timeout=60_000)
    colour = page.evaluate(CARE_SEP_VIEW)["colour"]
    assert colour["peaks"][2] <= colour["cmin"] + 1e-6, f"silence drawn above the floor of its scale: {colour}"
