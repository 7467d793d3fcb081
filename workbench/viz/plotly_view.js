// Front end of workbench.viz.plotly_view.PlotlyView (an anywidget module).
//
// The module is small on purpose: anywidget gives a model 2 s to import its module and bind it, and
// drops every later message to a model that missed that deadline. plotly's FigureWidget ships the whole
// plotly.js bundle (~5 MB) as its module, once per figure, and sends its traces in messages after the
// model opens, so on a busy first Run All a figure could miss the deadline and stay empty for good.
// Here the figure travels in the model's opening state, and plotly.js is fetched from the kernel
// once per page (a custom message answered with the installed plotly package's plotly.min.js), then
// shared by every view through a page-global promise. The answer goes to the model that asked; since
// anywidget drops messages to a model whose module missed its 2-s start (a reloaded page under load),
// an overdue answer is asked for again through another view's model (loadPlotly).

const LIBRARY = "__workbench_plotly__";
const RETRY_MS = 15000;

function library() {
  let entry = globalThis[LIBRARY];
  if (!entry) {
    entry = globalThis[LIBRARY] = { plotly: null, requested: 0, askers: new Set(), waiting: 0 };
    entry.promise = new Promise((resolve, reject) => {
      entry.resolve = resolve;
      entry.reject = reject;
    });
  }
  return entry;
}

async function loadPlotly(model, isWanted) {
  const entry = library();
  entry.waiting += 1;
  try {
    while (!entry.plotly) {
      // One request at a time, and a request overdue after RETRY_MS is asked again through a model that
      // has not asked yet: anywidget drops every message to a model whose module took over 2 s to start
      // (a reloaded page on a busy machine), so the answer to that model never arrives.
      if (entry.askers.size >= entry.waiting) entry.askers.clear();
      if (Date.now() - entry.requested > RETRY_MS && !entry.askers.has(model)) {
        if (entry.askers.size) console.warn("[workbench plotly view] plotly.js overdue: asking through another figure");
        entry.requested = Date.now();
        entry.askers.add(model);
        model.send({ type: "plotly.js?" });
      }
      await Promise.race([entry.promise, new Promise((resolve) => setTimeout(resolve, RETRY_MS / 5))]);
      if (!isWanted()) throw new Error("the view was closed before plotly.js arrived");
    }
    return entry.plotly;
  } finally {
    entry.waiting -= 1;
  }
}

function receivePlotly(content, buffers) {
  if (!content || content.type !== "plotly.js") return;
  const entry = library();
  if (entry.plotly) return;
  try {
    const source = new TextDecoder().decode(buffers[0]);
    const module = { exports: {} };
    // plotly.min.js is a UMD bundle: with a CommonJS-looking `module` it hands over its export.
    new Function("module", "exports", "define", source + "\n//# sourceURL=plotly.min.js")(
      module, module.exports, undefined,
    );
    entry.plotly = module.exports;
    entry.resolve(entry.plotly);
  } catch (error) {
    console.error("[workbench plotly view] could not load plotly.js from the kernel", error);
    entry.reject(error);
  }
}

function figureOf(model) {
  const figure = JSON.parse(model.get("figure_json") || "{}");
  const layout = figure.layout || {};
  // Keep the user's zoom and legend clicks across updates from the kernel.
  if (layout.uirevision === undefined) layout.uirevision = "workbench";
  return { data: figure.data || [], layout, config: figure.config || {} };
}

function initialize({ model }) {
  model.on("msg:custom", receivePlotly);
}

async function render({ model, el, signal }) {
  el.classList.add("workbench-plotly-view");
  const plot = document.createElement("div");
  plot.className = "workbench-plotly-plot";
  el.appendChild(plot);
  let Plotly;
  try {
    // anywidget aborts `signal` when the view goes away (older versions pass none).
    Plotly = await loadPlotly(model, () => !(signal && signal.aborted));
  } catch (error) {
    plot.textContent = `plotly.js could not be loaded: ${error}`;
    return;
  }
  let disposed = false;
  const draw = () => {
    if (disposed) return Promise.resolve();
    const { data, layout, config } = figureOf(model);
    return Plotly.react(plot, data, layout, { responsive: true, displaylogo: false, ...config });
  };
  await draw();
  plot.on("plotly_click", (event) => {
    const point = event && event.points && event.points[0];
    if (!point) return;
    const customdata = point.customdata === undefined ? null : point.customdata;
    model.send({ type: "click", trace: point.curveNumber, point: point.pointNumber, customdata });
  });
  model.on("change:figure_json", draw);
  // A plot drawn while its output area was hidden or narrow keeps that size unless told otherwise.
  const observer = new ResizeObserver(() => {
    if (!disposed && plot.isConnected && plot.offsetWidth > 0) Plotly.Plots.resize(plot);
  });
  observer.observe(el);
  return () => {
    disposed = true;
    observer.disconnect();
    Plotly.purge(plot);
  };
}

export default { initialize, render };
