"""Geometry figures carry the matrices and summaries they were given, on shared colour scales."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.evaluation.geometry import embedding_geometry
from workbench.viz.geometry import ANNOTATE_UP_TO, geometry_figure, summaries_figure


def blobs(spread: float, seed: int = 0, classes: int = 3, per_class: int = 5):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(classes, 8))
    labels = np.repeat(np.arange(classes), per_class)
    return centres[labels] + spread * rng.normal(size=(len(labels), 8)), labels


@pytest.fixture
def geometries():
    names = ["siren", "rain", "bell"]
    return {
        "tight": embedding_geometry(*blobs(0.1), class_names=names),
        "loose": embedding_geometry(*blobs(1.0, seed=1), class_names=names),
    }


def test_one_geometry_gives_its_mean_and_cv_maps(geometries):
    geometry = geometries["tight"]
    figure = geometry_figure(geometry, title="CE")
    mean_map, cv_map = figure.data
    np.testing.assert_array_equal(np.asarray(mean_map.z, dtype=float), geometry.mean)
    np.testing.assert_array_equal(np.asarray(cv_map.z, dtype=float), geometry.cv)
    assert list(mean_map.x) == list(mean_map.y) == ["siren", "rain", "bell"]
    assert mean_map.visible and cv_map.visible and not figure.layout.updatemenus
    assert figure.layout.title.text == "CE" and figure.layout.yaxis.autorange == "reversed"
    np.testing.assert_array_equal(np.asarray(mean_map.text, dtype=float), np.round(geometry.mean, 2))


def test_several_geometries_share_colour_ranges_and_switch_with_a_dropdown(geometries):
    figure = geometry_figure(geometries, title="geometry")
    assert len(figure.data) == 4 and [trace.visible for trace in figure.data] == [True, True, False, False]
    means = [geometries[name].mean for name in geometries]
    cvs = [geometries[name].cv for name in geometries]
    for trace in figure.data[0::2]:
        assert (trace.zmin, trace.zmax) == (min(np.nanmin(m) for m in means), max(np.nanmax(m) for m in means))
    for trace in figure.data[1::2]:
        assert (trace.zmin, trace.zmax) == (min(np.nanmin(c) for c in cvs), max(np.nanmax(c) for c in cvs))
    buttons = figure.layout.updatemenus[0].buttons
    assert [button.label for button in buttons] == ["tight", "loose"]
    assert buttons[1].args[0]["visible"] == [False, False, True, True]
    assert buttons[1].args[1]["title"]["text"] == "geometry: loose"
    assert figure.layout.title.text == "geometry: tight"


def test_many_classes_are_not_annotated_and_nan_cells_stay_blank():
    features, labels = blobs(0.5, classes=ANNOTATE_UP_TO + 1, per_class=2)
    features, labels = features[1:], labels[1:]  # class 0 keeps one clip: no within-class pair
    geometry = embedding_geometry(features, labels)
    trace = geometry_figure(geometry).data[0]
    assert trace.text is None and trace.texttemplate is None
    assert np.isnan(np.asarray(trace.z, dtype=float)[0, 0])
    assert np.isfinite(trace.zmin) and np.isfinite(trace.zmax)


def test_geometry_figure_errors(geometries):
    with pytest.raises(ValueError, match="at least one Geometry"):
        geometry_figure({})
    other = embedding_geometry(*blobs(0.1, classes=2), class_names=["a", "b"])
    with pytest.raises(ValueError, match="'other' has \\['a', 'b'\\]"):
        geometry_figure({"tight": geometries["tight"], "other": other})


def test_summaries_figure_has_one_panel_per_summary(geometries):
    summaries = {name: geometry.summaries() for name, geometry in geometries.items()}
    figure = summaries_figure(summaries, title="summaries")
    assert len(figure.data) == 5  # the four ADD summaries and the inter-class hierarchy
    for trace, key in zip(figure.data, summaries["tight"], strict=True):
        assert list(trace.x) == ["tight", "loose"]
        assert list(trace.y) == [summaries["tight"][key], summaries["loose"][key]]
    with pytest.raises(ValueError, match="lack \\['inter-class equidistance', 'inter-class hierarchy'\\]"):
        summaries_figure({"x": {k: 0.0 for k in list(summaries["tight"])[:3]}})
    with pytest.raises(ValueError, match="at least one"):
        summaries_figure({})
