"""Figures, a table and a widget for layer-wise evaluation and layer fusion (Niizumi et al., EUSIPCO 2022).

- :func:`layer_curves_figure`: accuracy against layer, one line with a 95 % CI band per task, the
  chosen middle and late layers marked, the usual last-layer embedding as a dotted line per task
  (the paper's Figures 2-4);
- :func:`fusion_bars_figure`: grouped bars per task, e.g. last-layer embedding / best layer / fused;
- :func:`fusion_table_markdown`: the Table III-style comparison with differences;
- :class:`FusionExplorer`: pick a task and any layers, score their fusion through a caller-given
  function (the recipe's cached features), compare with the run's own scores in a bar chart.

Everything takes plain mappings of :class:`~workbench.evaluation.linear.LinearEvalResult`; nothing
here trains: the explorer calls the ``evaluate`` function it is given.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import ipywidgets
import numpy as np
import plotly.graph_objects as go

from workbench.viz.figures import MARGIN, color_of, curve_figure
from workbench.viz.plotly_view import PlotlyView

if TYPE_CHECKING:  # only for annotations
    from workbench.evaluation.linear import LinearEvalResult

LayerScores = Mapping[str, Mapping[str, "LinearEvalResult"]]
"""task -> layer -> score (layers in forward order, the same for every task)."""

FusionEvaluator = Callable[[str, Sequence[str]], "LinearEvalResult"]
"""``(task, layers) -> score of the fusion of those layers on that task``."""


def _common_layers(layer_scores: LayerScores) -> list[str]:
    if not layer_scores:
        raise ValueError("no tasks to draw: layer_scores is empty")
    orders = {task: list(scores) for task, scores in layer_scores.items()}
    first_task, layers = next(iter(orders.items()))
    for task, order in orders.items():
        if order != layers:
            raise ValueError(f"tasks {first_task!r} and {task!r} have different layers: {layers} vs {order}")
    if not layers:
        raise ValueError(f"task {first_task!r} has no layer scores")
    return layers


def layer_curves_figure(
    layer_scores: LayerScores,
    marks: Mapping[str, str] | None = None,
    reference: Mapping[str, LinearEvalResult] | None = None,
    title: str | None = None,
) -> go.Figure:
    """Score against layer, one line per task with its 95 % confidence band.

    Args:
        layer_scores: task -> layer -> score; every task must list the same layers in the same order.
        marks: label -> layer, drawn as labelled vertical lines (e.g. ``{"M": "block9", "L": "block16"}``).
        reference: task -> a score drawn as a dotted horizontal line in the task's colour (e.g. the
            model's usual last-layer embedding).
        title: figure title.

    Raises:
        ValueError: no tasks, tasks with different layers, or a mark/reference for an unknown layer/task.
    """
    layers = _common_layers(layer_scores)
    positions = list(range(1, len(layers) + 1))
    curves = {
        task: ([scores[layer].mean for layer in layers], [scores[layer].ci95 for layer in layers])
        for task, scores in layer_scores.items()
    }
    metrics = {score.metric for scores in layer_scores.values() for score in scores.values()}
    figure = curve_figure(positions, curves, "layer", metrics.pop() if len(metrics) == 1 else "score", title)
    # curve_figure labels hovers with x; show the layer name instead of its position.
    for trace in figure.data:
        if trace.mode == "lines+markers":
            trace.text = layers
            trace.hovertemplate = "%{text}: %{y:.3f} ± %{customdata:.3f}"
    figure.update_xaxes(tickmode="array", tickvals=positions, ticktext=layers)
    for label, layer in (marks or {}).items():
        if layer not in layers:
            raise ValueError(f"mark {label!r} names layer {layer!r}, which is not among {layers}")
        figure.add_vline(
            x=layers.index(layer) + 1, line_dash="dash", line_color="grey",
            annotation_text=f"{label} = {layer}", annotation_position="top",
        )  # fmt: skip
    tasks = list(layer_scores)
    for task, score in (reference or {}).items():
        if task not in layer_scores:
            raise ValueError(f"reference for task {task!r}, which has no layer scores ({tasks})")
        figure.add_hline(y=score.mean, line_dash="dot", line_color=color_of(tasks.index(task)), opacity=0.7)
    return figure


UNLABELLED_BEST = {"best single layer": "best single layer on test", "best layer": "best layer on test"}
"""Legend names of a best-layer series that do not say which scores picked the layer: such a series is
the best layer per task on the test scores the bars show, and a notebook also names layers picked on
validation scores, so the legend says which."""


def fusion_bars_figure(series: Mapping[str, Mapping[str, LinearEvalResult]], title: str | None = None) -> go.Figure:
    """Grouped bars: one group per task, one bar per series, 95 % CI as error bars.

    Args:
        series: label (e.g. ``"last-layer embedding"``, ``"fused M + L"``) -> task -> score; tasks are
            drawn in the order of the first series.
        title: figure title.

    Raises:
        ValueError: no series, or series that do not cover the same tasks.
    """
    if not series:
        raise ValueError("fusion_bars_figure needs at least one series")
    tasks = list(next(iter(series.values())))
    figure = go.Figure()
    for position, (label, scores) in enumerate(series.items()):
        label = UNLABELLED_BEST.get(label, label)
        if set(scores) != set(tasks):
            raise ValueError(f"series {label!r} covers tasks {sorted(scores)}, expected {sorted(tasks)}")
        figure.add_trace(
            go.Bar(
                name=label, x=tasks, y=[scores[task].mean for task in tasks], marker_color=color_of(position),
                error_y={"type": "data", "array": [scores[task].ci95 for task in tasks], "visible": True},
                hovertemplate="%{x}: %{y:.3f} ± %{error_y.array:.3f}<extra>" + html.escape(label) + "</extra>",
            )
        )  # fmt: skip
    metrics = {score.metric for scores in series.values() for score in scores.values()}
    figure.update_layout(
        barmode="group", title=title, xaxis_title="task", yaxis_title=metrics.pop() if len(metrics) == 1 else "score",
        margin=MARGIN,
    )
    return figure


def fusion_table_markdown(
    layer_scores: LayerScores,
    last: Mapping[str, LinearEvalResult],
    fused: Mapping[str, LinearEvalResult],
    fused_label: str = "fused",
    digits: int = 3,
) -> str:
    """A Markdown table per task: best layer on the test scores (labelled so: a choice made on validation
    scores can name another layer) and its score, the last-layer embedding, the fusion, and the fusion's
    difference to the last layer; an average row last.

    Raises:
        ValueError: ``last`` or ``fused`` missing a task of ``layer_scores``.
    """
    _common_layers(layer_scores)
    for name, scores in (("last", last), ("fused", fused)):
        missing = [task for task in layer_scores if task not in scores]
        if missing:
            raise ValueError(f"{name} has no score for tasks {missing}")

    def cell(score: LinearEvalResult) -> str:
        return f"{score.mean:.{digits}f} ± {score.ci95:.{digits}f}"

    lines = [
        f"| task | best layer on test | its test score | last-layer embedding | {fused_label} | {fused_label} − last |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for task, scores in layer_scores.items():
        best = max(scores, key=lambda layer: scores[layer].mean)
        difference = fused[task].mean - last[task].mean
        cells = [task, best, cell(scores[best]), cell(last[task]), cell(fused[task]), f"{difference:+.{digits}f}"]
        lines.append("| " + " | ".join(cells) + " |")
    averages = [
        np.mean([max(score.mean for score in scores.values()) for scores in layer_scores.values()]),
        np.mean([last[task].mean for task in layer_scores]),
        np.mean([fused[task].mean for task in layer_scores]),
    ]
    lines.append(
        f"| average | | {averages[0]:.{digits}f} | {averages[1]:.{digits}f} | {averages[2]:.{digits}f} "
        f"| {averages[2] - averages[1]:+.{digits}f} |"
    )
    return "\n".join(lines)


class FusionExplorer:
    """Pick a task and layers, score their fusion, and compare with reference scores.

    Args:
        tasks: task names (the dropdown).
        layer_names: layers that can be fused (the multi-select), in forward order.
        evaluate: ``(task, layers) -> LinearEvalResult``, e.g. the recipe result's ``evaluate_fusion``.
        reference: label -> task -> score shown next to each new score (e.g. the last-layer
            embedding and the run's own fusion).
        initial_layers: layers selected at first.

    Attributes:
        task, layers: the ``Dropdown`` and ``SelectMultiple``.
        button: runs :meth:`evaluate_selection`.
        output: an ``HTML`` with the latest score (or the error, e.g. no layer selected).
        figure: a :class:`~workbench.viz.plotly_view.PlotlyView` of the selected task's scores: the
            references and every fusion evaluated here, with 95 % CIs.
        history: ``(task, layers, score)`` of every evaluation, in order.
        widget: the whole view, to display.
    """

    def __init__(
        self,
        tasks: Sequence[str],
        layer_names: Sequence[str],
        evaluate: FusionEvaluator,
        reference: Mapping[str, Mapping[str, LinearEvalResult]] | None = None,
        initial_layers: Sequence[str] = (),
    ):
        if not tasks or not layer_names:
            raise ValueError("FusionExplorer needs at least one task and one layer")
        unknown = [layer for layer in initial_layers if layer not in layer_names]
        if unknown:
            raise ValueError(f"initial layers {unknown} are not among {list(layer_names)}")
        self.evaluate = evaluate
        self.reference = reference or {}
        self.history: list[tuple[str, tuple[str, ...], LinearEvalResult]] = []
        self.task = ipywidgets.Dropdown(options=list(tasks), description="task")
        self.layers = ipywidgets.SelectMultiple(
            options=list(layer_names), value=tuple(initial_layers), rows=min(10, len(layer_names)),
            description="layers",
        )  # fmt: skip
        self.button = ipywidgets.Button(description="evaluate fusion", button_style="primary")
        self.button.on_click(lambda _button: self.evaluate_selection())
        self.output = ipywidgets.HTML("Select a task and layers, then evaluate.")
        self.figure = PlotlyView(self.comparison_figure(self.task.value))
        self.task.observe(lambda change: self._redraw(), names="value")
        self.widget = ipywidgets.VBox(
            [ipywidgets.HBox([self.task, self.layers]), self.button, self.output, self.figure]
        )

    def comparison_figure(self, task: str) -> go.Figure:
        """Horizontal bars for ``task``: each reference, then each fusion evaluated so far (95 % CIs)."""
        bars = [(label, scores[task]) for label, scores in self.reference.items() if task in scores]
        n_references = len(bars)
        bars += [(" + ".join(layers), score) for done, layers, score in self.history if done == task]
        metrics = {score.metric for _, score in bars}
        figure = go.Figure(
            go.Bar(
                x=[score.mean for _, score in bars], y=[label for label, _ in bars], orientation="h",
                error_x={"type": "data", "array": [score.ci95 for _, score in bars], "visible": True},
                marker_color=[color_of(0 if position < n_references else 1) for position in range(len(bars))],
                hovertemplate="%{y}: %{x:.3f} ± %{error_x.array:.3f}<extra></extra>",
            )
        )  # fmt: skip
        figure.update_layout(
            title=f"{task}: references (blue) and fusions evaluated here (red), mean ± 95 % CI",
            xaxis_title=metrics.pop() if len(metrics) == 1 else "score", yaxis_title="feature",
            yaxis_autorange="reversed", height=160 + 28 * max(1, len(bars)), margin={**MARGIN, "l": 180},
        )
        return figure

    def _redraw(self) -> None:
        self.figure.figure = self.comparison_figure(self.task.value)

    def evaluate_selection(self) -> LinearEvalResult | None:
        """Score the selected layers on the selected task (what the button does); None when no layer is
        selected."""
        task, layers = self.task.value, tuple(self.layers.value)
        if not layers:
            self.output.value = "<b>Select at least one layer.</b>"
            return None
        self.output.value = f"evaluating {html.escape(' + '.join(layers))} on {html.escape(task)} ..."
        score = self.evaluate(task, layers)
        self.history.append((task, layers, score))
        lines = [f"<b>{html.escape(' + '.join(layers))}</b> on {html.escape(task)}: {score.summary()}"]
        for label, scores in self.reference.items():
            if task in scores:
                lines.append(f"{html.escape(label)}: {scores[task].mean:.3f} ± {scores[task].ci95:.3f}")
        self.output.value = "<br>".join(lines)
        self._redraw()
        return score
