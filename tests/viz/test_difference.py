"""Score tables as Markdown and grouped bars, loss curves, and the BgKnown player."""

import pytest

from workbench.data.synthetic import BackgroundDataset, SyntheticDataset
from workbench.evaluation.bgknown import BgKnownBuilder
from workbench.viz.difference import bgknown_player, loss_curves_figure, score_table_figure, score_table_markdown

TABLE = {"λ=0": {"diff-100": (0.5, 0.04), "mix": (0.6, 0.05)}, "λ=0.5": {"diff-100": (0.55, 0.03), "mix": (0.58, 0.02)}}


def test_markdown_table_bolds_the_best_model_per_column():
    markdown = score_table_markdown(TABLE, column_names={"diff-100": "y_diff 100 %"})
    assert markdown.splitlines() == [
        "| model | y_diff 100 % | mix |",
        "| --- | --- | --- |",
        "| λ=0 | 0.500 ± 0.040 | **0.600 ± 0.050** |",
        "| λ=0.5 | **0.550 ± 0.030** | 0.580 ± 0.020 |",
    ]


def test_grouped_bars_have_one_trace_per_model_with_error_bars():
    figure = score_table_figure(TABLE, columns=["mix", "diff-100"], y_title="accuracy")
    assert [trace.name for trace in figure.data] == ["λ=0", "λ=0.5"]
    assert list(figure.data[1].x) == ["mix", "diff-100"] and list(figure.data[1].y) == [0.58, 0.55]
    assert list(figure.data[0].error_y.array) == [0.05, 0.04] and figure.layout.barmode == "group"
    with pytest.raises(ValueError, match="has no score for \\['R@1'\\]"):
        score_table_figure(TABLE, columns=["R@1"])
    with pytest.raises(ValueError, match="empty"):
        score_table_markdown({})


def test_loss_curves_and_player():
    curves = loss_curves_figure({"λ=0.5": {"loss": [2.0, 1.5], "difference_loss": [1.0, 0.8]}})
    assert [trace.name for trace in curves.data] == ["λ=0.5 loss", "λ=0.5 difference loss"]
    assert curves.layout.xaxis.dtick == 1 and curves.layout.xaxis.tickformat == "d"  # no tick at epoch 1.5
    builder = BgKnownBuilder(
        SyntheticDataset(seed=0, task="event", n_clips=3, duration=0.5), BackgroundDataset(seed=0, n_clips=1, duration=2.0)
    )
    player = bgknown_player(builder)
    chooser, parts = player.children[0].children[0], player.children[1]
    assert len(chooser.options) == 3 and "reference, 50 % overlap" in parts.options
    before = player.children[0].children[1].value
    parts.value = "reference, 0 % overlap"  # switching the part swaps the clip played
    assert player.children[0].children[1].value != before
