// Runs workbench/viz/plotly_view.js in node with stand-ins for the page (document, ResizeObserver) and
// for anywidget's models, on a virtual clock, and prints what happened as JSON (tests/viz/test_plotly_view_js.py).
//
// Two views of two models render at once. The first model drops every message it receives (anywidget
// does that to a model whose module missed its 2-s start); the second is answered. Both views must draw.
const [, , modulePath] = process.argv;
let clock = 1_000_000;
Date.now = () => clock;
const realSetTimeout = setTimeout;
globalThis.setTimeout = (callback, ms) => {
  clock += ms;
  return realSetTimeout(callback, 0);
};
const element = () => {
  const node = { className: "", textContent: "", children: [], classList: { add() {} }, isConnected: true, offsetWidth: 600 };
  node.appendChild = (child) => node.children.push(child);
  node.on = () => {};
  return node;
};
globalThis.document = { createElement: element };
globalThis.ResizeObserver = class { observe() {} disconnect() {} };

const drawn = [];
const fakePlotly = `module.exports = { react(plot, data) { plot.drawn = data.length; return Promise.resolve(); }, purge() {}, Plots: { resize() {} } };`;
const warnings = [];
console.warn = (...args) => warnings.push(args.join(" "));

function model(name, answers) {
  const listeners = [];
  const sent = [];
  return {
    name, sent,
    get: (key) => (key === "figure_json" ? JSON.stringify({ data: [{ type: "scatter", name }], layout: {} }) : undefined),
    on(event, callback) { if (event === "msg:custom") listeners.push(callback); },
    send(content) {
      sent.push(content.type);
      if (answers && content.type === "plotly.js?") {
        realSetTimeout(() => listeners.forEach((listener) => listener({ type: "plotly.js" }, [new TextEncoder().encode(fakePlotly)])), 0);
      }
    },
  };
}

const { default: widget } = await import(modulePath);
const silent = model("silent", false);
const answered = model("answered", true);
for (const each of [silent, answered]) widget.initialize({ model: each });
const elements = [element(), element()];
const started = clock;
await Promise.all([
  widget.render({ model: silent, el: elements[0] }),
  widget.render({ model: answered, el: elements[1] }),
]);
for (const el of elements) drawn.push(el.children[0].drawn ?? 0);
console.log(JSON.stringify({ drawn, sent: { silent: silent.sent, answered: answered.sent }, waited_ms: clock - started, warnings }));
