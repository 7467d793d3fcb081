"""The PlotlyView front end (workbench/viz/plotly_view.js) run in node: a plotly.js answer that never
arrives (anywidget drops messages to a model whose module missed its 2-s start, as on a reloaded page
under load) is asked for again through another view's model, and every view draws."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

import workbench.viz

HARNESS = Path(__file__).with_name("plotly_view_harness.mjs")
MODULE = Path(workbench.viz.__file__).with_name("plotly_view.js")


@pytest.fixture(scope="module")
def node() -> str:
    found = shutil.which("node")
    if found is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("node is needed in CI for the front-end test (apt-get install -y nodejs)", pytrace=False)
        pytest.skip("node is not installed (apt-get install -y nodejs)")
    return found


def test_a_lost_plotly_js_answer_is_asked_again_through_another_view(node, tmp_path):
    module = tmp_path / "plotly_view.mjs"  # node reads .mjs as an ES module wherever it lies
    module.write_text(MODULE.read_text())
    done = subprocess.run([node, str(HARNESS), module.as_uri()], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["drawn"] == [1, 1], result  # both views drew their one trace
    assert result["sent"] == {"silent": ["plotly.js?"], "answered": ["plotly.js?"]}, result  # one request each
    assert 15_000 <= result["waited_ms"] < 30_000, result  # the second request went out once the first was overdue
    assert result["warnings"] == ["[workbench plotly view] plotly.js overdue: asking through another figure"], result
