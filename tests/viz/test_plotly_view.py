"""PlotlyView: the figure travels in the opening state, edits resync it, clicks and plotly.js requests are answered."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import plotly
import plotly.graph_objects as go
import pytest

from workbench.viz.plotly_view import PlotlyView, plotly_js


def opening_state(view: PlotlyView) -> dict:
    """The state a front end receives when the model opens (what a render or a page reload draws from)."""
    return view.get_state()


def test_the_figure_is_in_the_opening_state_and_the_module_is_small():
    figure = go.Figure(go.Scatter(x=[1.0, 2.0], y=[3.0, 4.0], name="tone"))
    figure.update_layout(title="a title", xaxis_title="time (s)")
    view = PlotlyView(figure)
    state = json.loads(opening_state(view)["figure_json"])
    assert [trace["name"] for trace in state["data"]] == ["tone"]
    assert state["layout"]["title"]["text"] == "a title"
    assert state["layout"]["xaxis"]["title"]["text"] == "time (s)"
    # plotly.js is not shipped in the module: it comes once per page on request.
    assert len(opening_state(view)["_esm"]) < 20_000 and "plotly.min.js" in opening_state(view)["_esm"]


def test_batch_update_and_assignment_resync_every_view():
    view = PlotlyView(go.Figure(go.Heatmap(z=[[0.0, 1.0]])))
    with view.batch_update() as figure:
        figure.data[0].z = np.ones((3, 4))
        figure.layout.title.text = "new clip"
    state = json.loads(view.figure_json)
    assert state["layout"]["title"]["text"] == "new clip"
    z = state["data"][0]["z"]  # a typed array, as plotly.js reads it
    values = np.frombuffer(base64.b64decode(z["bdata"]), dtype=z["dtype"]).reshape(3, 4)
    np.testing.assert_array_equal(values, np.ones((3, 4)))
    view.figure = go.Figure(go.Bar(x=["a"], y=[1.0]))
    assert json.loads(view.figure_json)["data"][0]["type"] == "bar" and view.figure.data[0].type == "bar"


def test_clicks_reach_the_handlers_with_the_point_and_its_customdata():
    figure = go.Figure([go.Scatter(x=[0, 1], y=[0, 1], customdata=[7, 9]), go.Scatter(x=[2], y=[2])])
    view = PlotlyView(figure)
    seen = []
    view.on_click(lambda trace, point, customdata: seen.append((trace, point, customdata)))
    view._handle_custom_msg({"type": "click", "trace": 0, "point": 1, "customdata": 9}, [])
    view._handle_custom_msg({"type": "click", "trace": 5, "point": 0, "customdata": None}, [])  # no such trace
    view._handle_custom_msg({"type": "hover"}, [])
    view.click(0, 0)
    view.click(1, 0)
    assert seen == [(0, 1, 9), (0, 0, 7), (1, 0, None)]
    with pytest.raises(IndexError, match="has 2 traces, not a trace 3"):
        view.click(3, 0)


def test_a_plotly_js_request_is_answered_with_the_installed_bundle(monkeypatch):
    view = PlotlyView()
    sent = []
    monkeypatch.setattr(view, "send", lambda content, buffers=None: sent.append((content, buffers)))
    view._handle_custom_msg({"type": "plotly.js?"}, [])
    assert len(sent) == 1 and sent[0][0] == {"type": "plotly.js"}
    bundle = sent[0][1][0]
    assert bundle == (Path(plotly.__file__).parent / "package_data" / "plotly.min.js").read_bytes()
    assert bundle is plotly_js()  # read once per kernel
    assert b"window.Plotly" in bundle[-200:]  # the UMD bundle the front end evaluates
