"""Batch reproduction: planning, a real papermill execution, and the claims report."""

import nbformat
import pytest

from workbench import reproduce
from workbench.errors import UnknownNameError
from workbench.train.rundir import RunDir


def _tiny_notebook(path, body):
    notebook = nbformat.v4.new_notebook()
    parameters = nbformat.v4.new_code_cell("value = 1  # a parameter")
    parameters.metadata["tags"] = ["parameters"]
    notebook.cells = [parameters, nbformat.v4.new_code_cell(body)]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.metadata["language_info"] = {"name": "python"}
    nbformat.write(notebook, path)
    return path


def test_plan_runs_quickstart_first_and_validates_parameters(tmp_path):
    jobs = reproduce.plan(None, tmp_path)
    assert jobs[0].notebook.name == reproduce.QUICKSTART
    assert all(job.notebook.is_file() for job in jobs)
    with pytest.raises(UnknownNameError, match="unknown recipe 'nope'"):
        reproduce.plan(["nope"], tmp_path)
    with pytest.raises(UnknownNameError, match="unknown preset of recipe 'linear_eval' 'nope'"):
        reproduce.plan(["linear_eval"], tmp_path, preset="nope")
    with pytest.raises(UnknownNameError, match="'not_a_parameter'"):
        reproduce.plan(["linear_eval"], tmp_path, overrides={"not_a_parameter": 1})


def test_execute_runs_notebooks_in_processes_and_reports_claims(tmp_path):
    writes_a_claim = (
        "import json, os, pathlib\n"
        "run = pathlib.Path(os.environ['WORKBENCH_RUNS']) / 'toy' / 'toy-1'\n"
        "run.mkdir(parents=True)\n"
        "claim = {'name': 'value doubled', 'paper': '2', 'measured': str(2 * value), 'verdict': 'holds',\n"
        "         'effect': 0.5, 'ci_low': 0.25, 'ci_high': 0.75, 'n': 3, 'mde': 0.2, 'method': 'paired t',\n"
        "         'detail': 'diff-100 +0.700 [+0.400, +1.000]'}\n"
        "(run / 'metrics.json').write_text(json.dumps({'finished': True, 'metrics': {'claims': [claim]}}))\n"
    )
    good = _tiny_notebook(tmp_path / "good.ipynb", writes_a_claim)
    bad = _tiny_notebook(tmp_path / "bad.ipynb", "raise RuntimeError('broken on purpose')")
    out = tmp_path / "out"
    jobs = [
        reproduce.NotebookJob("good", good, out / "good.ipynb", {"value": 1}),
        reproduce.NotebookJob("bad", bad, out / "bad.ipynb", {}),
    ]
    report = reproduce.execute(jobs, out, jobs_in_parallel=2)
    assert not report.ok
    errors = {outcome.job.name: outcome.error for outcome in report.outcomes}
    assert errors["good"] is None and "broken on purpose" in errors["bad"]
    [claim] = report.claims
    assert (claim["recipe"], claim["run"], claim["name"], claim["verdict"], claim["n"]) == (
        "toy", "toy-1", "value doubled", "holds", 3
    )
    markdown = report.markdown_path.read_text()
    assert "| effect | 95 % CI | n | MDE | paper size | verdict |" in markdown
    assert "| toy | value doubled | 2 | 2 | +0.500 | [+0.250, +0.750] | 3 (paired t) | 0.200 | - | holds |" in markdown
    assert "`bad.ipynb`: FAILED: cell 1 `raise RuntimeError('broken on purpose')`: RuntimeError: broken on purpose" in (
        markdown
    )
    assert "## Details of the claims\n\n- toy, value doubled: diff-100 +0.700 [+0.400, +1.000]" in markdown
    page = report.html_path.read_text()
    assert "value doubled" in page and "<li>toy, value doubled: diff-100 +0.700 [+0.400, +1.000]</li>" in page
    executed = nbformat.read(out / "good.ipynb", as_version=4)
    assert any("injected-parameters" in cell.metadata.get("tags", []) for cell in executed.cells)


def test_gather_claims_reads_every_finished_run(tmp_path):
    for recipe, verdict in (("a", "holds"), ("b", "contradicted"), ("c", "holds")):
        run = RunDir.open(recipe, {"x": 1}, root=tmp_path)
        claim = {"name": f"claim {recipe}", "paper": "x", "measured": "y", "verdict": verdict}
        run.write_metrics({"claims": [claim]}, finished=recipe != "c")
    claims = reproduce.gather_claims(tmp_path)
    assert [(c["recipe"], c["verdict"]) for c in claims] == [("a", "holds"), ("b", "contradicted")]


def test_claims_of_older_runs_without_a_verdict_read_as_inconclusive(tmp_path):
    run = RunDir.open("old", {"x": 1}, root=tmp_path)
    run.write_metrics({"claims": [{"name": "n", "paper": "p", "measured": "m", "holds": True}]})
    [claim] = reproduce.gather_claims(tmp_path)
    assert claim["verdict"] == "inconclusive" and claim["effect"] is None


def test_a_failure_names_the_cell_and_the_exceptions_last_line():
    from papermill.exceptions import PapermillExecutionError

    source = "\n# Every scalar above must be a parameter\nparams = params_from_namespace(add_loss.Params, globals())"
    error = PapermillExecutionError(
        cell_index=2, exec_count=2, source=source, ename="ParameterError",
        evalue="parameter 'repeats' must be at least 1, got 0", traceback=["...", "ParameterError: ..."],
    )  # fmt: skip
    assert reproduce.describe_failure(error) == (
        "cell 2 `# Every scalar above must be a parameter`: "
        "ParameterError: parameter 'repeats' must be at least 1, got 0"
    )
    long_source = "x = " + "1 + " * 40 + "1"
    long_line = PapermillExecutionError(5, 5, long_source, "ZeroDivisionError", "", [])
    assert reproduce.describe_failure(long_line) == f"cell 5 `{long_source[:77]}...`: ZeroDivisionError"
    assert reproduce.describe_failure(FileNotFoundError("first\nNo such notebook: a.ipynb")) == (
        "FileNotFoundError: No such notebook: a.ipynb"
    )
    assert reproduce.describe_failure(RuntimeError()) == "RuntimeError"


def test_a_kernel_that_dies_while_starting_is_started_once_more(tmp_path, monkeypatch):
    import papermill

    calls = []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("Kernel died before replying to kernel_info")

    monkeypatch.setattr(papermill, "execute_notebook", flaky)
    job = reproduce.NotebookJob("x", tmp_path / "x.ipynb", tmp_path / "out.ipynb", {})
    assert reproduce._execute(job, str(tmp_path)).error is None and len(calls) == 2
    calls.clear()
    monkeypatch.setattr(papermill, "execute_notebook", lambda *a, **k: (calls.append(1), 1 / 0))
    assert "ZeroDivisionError" in reproduce._execute(job, str(tmp_path)).error and len(calls) == 1


def test_papermills_unknown_parameter_warning_is_dropped_and_other_warnings_kept(tmp_path, monkeypatch, caplog):
    import logging

    import papermill

    def warn(*args, **kwargs):
        logger = logging.getLogger("papermill")
        logger.warning("Passed unknown parameter: learning_rate")
        logger.warning("Input notebook has no cell tagged parameters")

    monkeypatch.setattr(papermill, "execute_notebook", warn)
    job = reproduce.NotebookJob("x", tmp_path / "x.ipynb", tmp_path / "out.ipynb", {"learning_rate": 1e-3})
    with caplog.at_level(logging.WARNING, logger="papermill"):
        assert reproduce._execute(job, str(tmp_path)).error is None
    messages = [record.getMessage() for record in caplog.records]
    assert messages == ["Input notebook has no cell tagged parameters"]


def test_kernels_running_at_once_share_the_cores(tmp_path, monkeypatch):
    assert reproduce.kernel_threads(2, cpus=2) == 1 and reproduce.kernel_threads(2, cpus=16) == 8
    assert reproduce.kernel_threads(4, cpus=2) == 1 and reproduce.kernel_threads(1, cpus=2) == 2
    for variable in reproduce.THREAD_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    reports_threads = "import os, torch\nassert os.environ['OMP_NUM_THREADS'] == '1', os.environ['OMP_NUM_THREADS']\nassert torch.get_num_threads() == 1\n"
    notebook = _tiny_notebook(tmp_path / "threads.ipynb", reports_threads)
    job = reproduce.NotebookJob("threads", notebook, tmp_path / "out" / "threads.ipynb", {})
    (tmp_path / "out").mkdir()
    assert reproduce._execute(job, str(tmp_path / "runs"), threads=1).error is None
