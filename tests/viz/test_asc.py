"""Figures and the tag player of the ASC-with-tagging notebook, on hand-made results."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import torch

from workbench.viz import asc


@dataclass
class Score:
    label: str
    accuracy: list[float]
    svm_accuracy: list[float]


@dataclass
class Grid:
    rows: list[int]
    columns: list[int]
    accuracy: np.ndarray
    axes: tuple[str, str] = ("heads", "layers")


def test_scores_figure_draws_both_back_ends_with_the_seed_range():
    scores = {"baseline": Score("baseline", [0.3, 0.4], [0.35, 0.35]),
              "attention": Score("(d) attention", [0.5, 0.6], [0.5, 0.5])}  # fmt: skip
    figure = asc.fusion_scores_figure(scores, ["baseline", "attention"])
    head, svm = figure.data
    assert list(head.x) == ["baseline", "(d) attention"] and np.allclose(head.y, [0.35, 0.55])
    assert np.allclose(head.error_y.array, [0.05, 0.05]) and np.allclose(svm.error_y.arrayminus, [0.0, 0.0])


def test_grid_heatmap_labels_rows_and_columns():
    figure = asc.grid_heatmap_figure(Grid([2, 4], [0, 1, 2], np.arange(6).reshape(2, 3) / 10))
    heatmap = figure.data[0]
    assert list(heatmap.y) == ["2", "4"] and list(heatmap.x) == ["0", "1", "2"]
    assert figure.layout.yaxis.title.text == "heads" and figure.layout.xaxis.title.text == "layers"
    with pytest.raises(ValueError, match=r"grid accuracy has shape \(2, 2\), expected \(2, 3\)"):
        asc.grid_heatmap_figure(Grid([2, 4], [0, 1, 2], np.zeros((2, 2))))


def test_attention_maps_one_panel_per_scene():
    maps = np.full((3, 2, 4), 0.25)
    figure = asc.attention_maps_figure(maps, ["park", "street", "office"])
    assert len(figure.data) == 3
    assert [annotation.text for annotation in figure.layout.annotations] == ["park", "street", "office"]
    assert list(figure.data[0].y) == ["head 1", "head 2"]
    with pytest.raises(ValueError, match=r"maps must be \(scenes=2, heads, filters per head\)"):
        asc.attention_maps_figure(maps, ["park", "street"])


def test_tag_bars_show_the_top_tags_highest_on_top_and_mark_the_true_ones():
    tags, truth = np.array([0.1, 0.9, 0.5, 0.2]), np.array([0, 1, 0, 0])
    figure = asc.tag_bars_figure(tags, list("abcd"), true_tags=truth, top_k=3)
    bars = figure.data[0]
    assert list(bars.y) == ["d", "c", "b"] and np.allclose(bars.x, [0.2, 0.5, 0.9])
    assert bars.marker.color[-1] != bars.marker.color[0]  # "b" is present in the clip
    with pytest.raises(ValueError, match="tag_vector has 4 values for 3 tag names"):
        asc.tag_bars_figure(np.zeros(4), list("abc"))


def test_tag_player_swaps_the_clip_and_its_bars():
    clips = [torch.full((1, 800), 0.1), torch.full((1, 800), -0.2)]
    tags = np.array([[0.9, 0.1], [0.2, 0.7]])
    player = asc.tag_player(lambda position: (clips[position], 8000), tags, ["x", "y"], ["0: a", "1: b"], start=1)
    chooser, audio = player.children[0].children
    figure = player.children[1].figure
    assert chooser.value == 1 and list(figure.data[0].y) == ["x", "y"]
    first_audio = audio.value
    chooser.value = 0
    figure = player.children[1].figure
    assert audio.value != first_audio and list(figure.data[0].y) == ["y", "x"] and figure.layout.title.text == "0: a"
    with pytest.raises(ValueError, match="one label per clip, got 1 labels for 2 clips"):
        asc.tag_player(lambda position: (clips[position], 8000), tags, ["x", "y"], ["0: a"])
