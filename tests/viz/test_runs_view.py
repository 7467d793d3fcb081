"""The runs view: the table, the curves on shared axes (figure, notebook browser) and ``workbench runs``."""

from __future__ import annotations

import json

import pytest

from workbench import cli
from workbench.train import RunDir
from workbench.train.rundir import failures_marked
from workbench.train.runs_index import list_runs
from workbench.viz.runs import runs_browser, runs_curves_figure, runs_table_figure


@pytest.fixture
def root(tmp_path):
    """Two finished runs with epoch curves that differ in lr, and a failed one."""
    folder = tmp_path / "runs"
    for lr, losses in ((0.1, [1.0, 0.5, 0.25]), (0.01, [1.0, 0.9, 0.8])):
        run = RunDir.open("toy", {"lr": lr, "epochs": 3}, root=folder)
        for epoch, loss in enumerate(losses):
            run.log("epoch", epoch=epoch, loss=loss, lr=lr)
        run.write_metrics({"loss": losses[-1]})
        run.close()
    with pytest.raises(RuntimeError), failures_marked():
        failed = RunDir.open("toy", {"lr": 10.0, "epochs": 3}, root=folder)
        failed.log("epoch", epoch=0, loss=None)  # a NaN loss, logged as null
        raise RuntimeError("loss is NaN")
    failed.close()
    return folder


def test_curves_share_one_panel_per_quantity_with_one_trace_per_run(root):
    runs = list_runs(root, status="finished")
    figure = runs_curves_figure(runs, ["epoch/loss"])
    assert [trace.name for trace in figure.data] == [run.name for run in runs]
    assert [list(trace.y) for trace in figure.data] == [[1.0, 0.5, 0.25], [1.0, 0.9, 0.8]]
    assert {trace.xaxis for trace in figure.data} == {"x"}  # the same axes
    both = runs_curves_figure(runs)
    assert [annotation.text for annotation in both.layout.annotations] == ["epoch/loss", "epoch/lr"]
    assert [trace.showlegend for trace in both.data] == [True, True, False, False]  # one legend entry per run
    with pytest.raises(ValueError, match="no run logged step/loss; logged quantities: epoch/loss, epoch/lr"):
        runs_curves_figure(runs, ["step/loss"])


def test_table_has_a_column_per_differing_param_and_shows_the_failure(root):
    table = runs_table_figure(list_runs(root)).data[0]
    headers = list(table.header.values)
    assert "lr" in headers and "epochs" not in headers  # epochs is the same everywhere
    statuses = list(table.cells.values[headers.index("status")])
    assert sorted(statuses) == ["failed", "finished", "finished"]
    assert "RuntimeError: loss is NaN" in table.cells.values[headers.index("error")]


def test_browser_redraws_for_the_selected_runs(root):
    browser = runs_browser(root)
    _, pickers, view = browser.children
    run_picker, quantity_picker = pickers.children
    run_picker.value = tuple(run_picker.options[:1])
    assert len(view.figure.data) == len(quantity_picker.value) >= 1
    run_picker.value = tuple(run_picker.options)
    assert {trace.name for trace in view.figure.data} >= {run.name for run in list_runs(root, status="finished")}


def test_runs_command_lists_filters_and_writes_curves(root, tmp_path, capsys):
    assert cli.main(["runs", "--root", str(root), "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert sorted(row["status"] for row in rows) == ["failed", "finished", "finished"]
    assert all(set(row["params"]) == {"lr"} for row in rows)

    assert cli.main(["runs", "--root", str(root), "--status", "failed"]) == 0
    out = capsys.readouterr().out
    assert "failed: RuntimeError: loss is NaN" in out and out.count("toy/") == 2  # the row and its error

    finished = [run.run_id for run in list_runs(root, status="finished")]
    page = tmp_path / "curves.html"
    assert cli.main(["runs", "--root", str(root), "--curves", *finished, "--out", str(page)]) == 0
    assert page.is_file() and all(run_id in page.read_text() for run_id in finished)

    with pytest.raises(SystemExit) as refused:  # argparse refuses the choice, listing the statuses
        cli.main(["runs", "--root", str(root), "--status", "done"])
    assert refused.value.code == 2 and "choose from 'finished', 'failed'" in capsys.readouterr().err
    assert cli.main(["runs", "--root", str(tmp_path / "none")]) == 2
    assert "runs folder" in capsys.readouterr().err
