"""Layer-wise curves, fusion bars, the fusion table and the fusion explorer widget."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.evaluation.linear import LinearEvalResult
from workbench.viz.layers import FusionExplorer, fusion_bars_figure, fusion_table_markdown, layer_curves_figure


def score(mean: float, ci95: float = 0.01) -> LinearEvalResult:
    empty = np.zeros(0, dtype=np.int64)
    return LinearEvalResult(
        metric="accuracy", protocol="folds", mean=mean, ci95=ci95, per_seed=(mean,), per_fold={}, seeds=(0,),
        n_train=1, n_valid=1, n_test=0, test_indices=empty, test_targets=empty, predictions=empty,
    )  # fmt: skip


LAYER_SCORES = {
    "event": {"b1": score(0.5), "b2": score(0.7, 0.02), "b3": score(0.9)},
    "pitch": {"b1": score(0.8), "b2": score(0.6), "b3": score(0.3, 0.05)},
}
LAST = {"event": score(0.85), "pitch": score(0.25)}
FUSED = {"event": score(0.92), "pitch": score(0.75)}


def test_curves_have_one_line_and_band_per_task_with_marks_and_references():
    figure = layer_curves_figure(LAYER_SCORES, marks={"M": "b1", "L": "b3"}, reference=LAST, title="t")
    lines = [trace for trace in figure.data if trace.mode == "lines+markers"]
    bands = [trace for trace in figure.data if trace.fill == "toself"]
    assert [line.name for line in lines] == ["event", "pitch"] and len(bands) == 2
    assert list(lines[1].y) == [0.8, 0.6, 0.3] and list(lines[1].customdata) == [0.01, 0.01, 0.05]
    assert list(lines[0].x) == [1, 2, 3] and list(lines[0].text) == ["b1", "b2", "b3"]
    assert list(figure.layout.xaxis.ticktext) == ["b1", "b2", "b3"]
    shapes = figure.layout.shapes
    assert [shape.x0 for shape in shapes[:2]] == [1, 3]  # M and L, at the layers' positions
    assert [shape.y0 for shape in shapes[2:]] == [0.85, 0.25]  # the last-layer references
    assert [note.text for note in figure.layout.annotations] == ["M = b1", "L = b3"]
    assert figure.layout.yaxis.title.text == "accuracy"


def test_curves_refuse_inconsistent_input():
    with pytest.raises(ValueError, match="tasks 'event' and 'word' have different layers"):
        layer_curves_figure({**LAYER_SCORES, "word": {"b1": score(0.1)}})
    with pytest.raises(ValueError, match="mark 'M' names layer 'b9'"):
        layer_curves_figure(LAYER_SCORES, marks={"M": "b9"})
    with pytest.raises(ValueError, match="reference for task 'word'"):
        layer_curves_figure(LAYER_SCORES, reference={"word": score(0.5)})
    with pytest.raises(ValueError, match="no tasks to draw"):
        layer_curves_figure({})


def test_fusion_bars_group_tasks_by_series():
    figure = fusion_bars_figure({"last": LAST, "fused": FUSED})
    assert [bar.name for bar in figure.data] == ["last", "fused"] and figure.layout.barmode == "group"
    assert list(figure.data[1].x) == ["event", "pitch"] and list(figure.data[1].y) == [0.92, 0.75]
    assert list(figure.data[0].error_y.array) == [0.01, 0.01]
    # A best-layer series says which scores picked its layer (a notebook also names validation picks).
    named = fusion_bars_figure({"best single layer": FUSED, "best layer on validation": LAST})
    assert [bar.name for bar in named.data] == ["best single layer on test", "best layer on validation"]
    with pytest.raises(ValueError, match=r"series 'fused' covers tasks \['event'\], expected \['event', 'pitch'\]"):
        fusion_bars_figure({"last": LAST, "fused": {"event": score(0.9)}})


def test_fusion_table_rows_and_average():
    table = fusion_table_markdown(LAYER_SCORES, LAST, FUSED, fused_label="fused M + L", digits=2)
    lines = table.splitlines()
    assert lines[0] == (
        "| task | best layer on test | its test score | last-layer embedding | fused M + L | fused M + L − last |"
    )
    assert lines[2] == "| event | b3 | 0.90 ± 0.01 | 0.85 ± 0.01 | 0.92 ± 0.01 | +0.07 |"
    assert lines[3] == "| pitch | b1 | 0.80 ± 0.01 | 0.25 ± 0.01 | 0.75 ± 0.01 | +0.50 |"
    # Averages: best (0.9 + 0.8) / 2, last (0.85 + 0.25) / 2, fused (0.92 + 0.75) / 2.
    assert lines[4] == "| average | | 0.85 | 0.55 | 0.83 | +0.28 |"
    with pytest.raises(ValueError, match=r"fused has no score for tasks \['pitch'\]"):
        fusion_table_markdown(LAYER_SCORES, LAST, {"event": score(0.9)})


def test_explorer_evaluates_the_selection_and_compares_with_references():
    calls = []

    def evaluate(task, layers):
        calls.append((task, tuple(layers)))
        return score(0.66, 0.02)

    explorer = FusionExplorer(["event", "pitch"], ["b1", "b2", "b3"], evaluate, reference={"last": LAST},
                              initial_layers=("b1", "b3"))  # fmt: skip
    explorer.task.value = "pitch"
    result = explorer.evaluate_selection()
    assert calls == [("pitch", ("b1", "b3"))] and result.mean == 0.66
    assert "b1 + b3" in explorer.output.value and "accuracy 0.660 ± 0.020" in explorer.output.value
    assert "last: 0.250 ± 0.010" in explorer.output.value
    explorer.layers.value = ()
    explorer.button.click()  # the button does the same; with nothing selected it only says so
    assert len(calls) == 1 and "Select at least one layer" in explorer.output.value
    assert [entry[:2] for entry in explorer.history] == [("pitch", ("b1", "b3"))]
    bars = explorer.figure.figure.data[0]  # the chart of the selected task: reference, then the fusion
    assert list(bars.y) == ["last", "b1 + b3"] and np.allclose(bars.x, [LAST["pitch"].mean, 0.66])
    assert explorer.figure.figure.layout.xaxis.title.text == "accuracy"
    explorer.task.value = "event"
    assert list(explorer.figure.figure.data[0].y) == ["last"]


def test_explorer_rejects_unknown_initial_layers():
    with pytest.raises(ValueError, match=r"initial layers \['b9'\] are not among \['b1', 'b2'\]"):
        FusionExplorer(["event"], ["b1", "b2"], lambda task, layers: score(0.5), initial_layers=("b9",))
