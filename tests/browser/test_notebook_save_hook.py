"""Saving a tracked notebook through Jupyter's contents manager leaves the file as committed, and its
outputs come back when it is opened again."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_output
from traitlets.utils.importstring import import_item

from workbench.notebooks import CHECK_MARK, CLEAN_FOLDERS_VARIABLE, outputs_aside_path, pre_save_hook
from workbench.paths import REPO_DIR, notebooks_dir


@pytest.fixture
def checkout(tmp_path, monkeypatch) -> Path:
    """A copy of the quickstart in a folder the hook treats as the checkout's notebooks/."""
    folder = tmp_path / "notebooks"
    folder.mkdir()
    shutil.copy(notebooks_dir() / "00_quickstart.ipynb", folder)
    monkeypatch.setenv(CLEAN_FOLDERS_VARIABLE, str(folder))
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "jupyter-data"))  # the notary's signatures
    return tmp_path


class Manager:
    """The contents manager jupyter-config/workbench.json gives JupyterLab, called as the server calls it."""

    def __init__(self, root: Path):
        settings = json.loads((REPO_DIR / "jupyter-config" / "workbench.json").read_text())
        self.contents = import_item(settings["ServerApp"]["contents_manager_class"])(root_dir=str(root))

    def get(self, path: str) -> dict:
        return asyncio.run(self.contents.get(path))

    def save(self, model: dict, path: str) -> dict:
        return asyncio.run(self.contents.save(model, path))


def manager(root: Path) -> Manager:
    return Manager(root)


PLOTLY = "application/vnd.plotly.v1+json"


def run_in_jupyterlab(content: dict, trusted: bool = True) -> None:
    """What running every cell and saving in JupyterLab does to a notebook model: a figure in each cell
    (rich output, which the front end marks trusted when its own kernel made it)."""
    for count, cell in enumerate(content["cells"], start=1):
        if cell["cell_type"] != "code":
            continue
        cell["execution_count"] = count
        text = "a different summary\n" if CHECK_MARK in "".join(cell["source"]) else "figure"
        cell["outputs"] = [
            new_output("stream", name="stdout", text=text),
            new_output("display_data", data={PLOTLY: {"data": [{"y": [1, 2]}]}, "text/plain": "Figure\nline 2"}),
        ]
        cell["metadata"]["trusted"] = trusted
        cell["metadata"]["execution"] = {"iopub.execute_input": "2026-12-03T09:00:00Z"}
        cell["metadata"]["scrolled"] = True
    content["metadata"]["language_info"] = {"name": "python", "version": "3.11.9", "mimetype": "text/x-python"}
    content["metadata"]["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}


def test_saving_a_run_notebook_leaves_the_tracked_file_unchanged(checkout):
    contents = manager(checkout)
    assert contents.contents._pre_save_hooks == [pre_save_hook]
    path = checkout / "notebooks" / "00_quickstart.ipynb"
    committed = path.read_bytes()
    model = contents.get("notebooks/00_quickstart.ipynb")
    run_in_jupyterlab(model["content"])
    model["content"]["cells"][2]["source"] += "\n# a researcher's edit"
    contents.save(model, "notebooks/00_quickstart.ipynb")
    saved = nbformat.read(path, as_version=4)
    # The edit is kept; outputs, counts and front-end metadata are as committed.
    assert saved.cells[2].source.endswith("# a researcher's edit")
    saved.cells[2].source = saved.cells[2].source.removesuffix("\n# a researcher's edit")
    assert nbformat.writes(saved) + "\n" == committed.decode()
    model = contents.get("notebooks/00_quickstart.ipynb")
    model["content"]["cells"][2]["source"] = saved.cells[2].source
    run_in_jupyterlab(model["content"])
    contents.save(model, "notebooks/00_quickstart.ipynb")
    assert path.read_bytes() == committed  # byte for byte: `git status` stays clean


def test_reopening_brings_the_outputs_back_for_unchanged_cells(checkout):
    contents = manager(checkout)
    model = contents.get("notebooks/00_quickstart.ipynb")
    run_in_jupyterlab(model["content"])
    contents.save(model, "notebooks/00_quickstart.ipynb")
    assert outputs_aside_path(checkout / "notebooks" / "00_quickstart.ipynb").is_file()
    # The file on disk holds no outputs; opening it again shows the run's outputs.
    reopened = contents.get("notebooks/00_quickstart.ipynb")["content"]
    code = [cell for cell in reopened["cells"] if cell["cell_type"] == "code"]
    assert all(cell["outputs"] for cell in code) and code[0]["execution_count"] is not None
    # Outside the session, a cell edited since keeps no stale output.
    path = checkout / "notebooks" / "00_quickstart.ipynb"
    notebook = nbformat.read(path, as_version=4)
    edited = next(cell for cell in notebook.cells if cell.get("id") == "validate")
    edited.source += "\nprint('changed')"
    nbformat.write(notebook, path)
    cells = {cell["id"]: cell for cell in contents.get("notebooks/00_quickstart.ipynb")["content"]["cells"]}
    assert cells["validate"]["outputs"] == [] and cells["world-table"]["outputs"]


def test_notebooks_elsewhere_are_saved_with_their_outputs(checkout):
    contents = manager(checkout)
    shutil.copy(checkout / "notebooks" / "00_quickstart.ipynb", checkout / "scratch.ipynb")
    model = contents.get("scratch.ipynb")
    run_in_jupyterlab(model["content"])
    contents.save(model, "scratch.ipynb")
    saved = nbformat.read(checkout / "scratch.ipynb", as_version=4)
    assert all(cell.outputs for cell in saved.cells if cell.cell_type == "code")
    assert saved.metadata.language_info.version == "3.11.9"


def test_a_new_notebook_in_the_folder_keeps_inputs_only(checkout):
    contents = manager(checkout)
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1", id="a")])
    notebook.cells[0].outputs = [new_output("stream", name="stdout", text="1")]
    notebook.metadata["widgets"] = {"state": {}}
    contents.save({"type": "notebook", "content": notebook}, "notebooks/new.ipynb")
    saved = nbformat.read(checkout / "notebooks" / "new.ipynb", as_version=4)
    assert saved.cells[0].outputs == [] and "widgets" not in saved.metadata and saved.cells[0].source == "x = 1"


def test_outputs_of_a_trusted_run_come_back_trusted_with_the_kernels_language_info(checkout):
    contents = manager(checkout)
    model = contents.get("notebooks/00_quickstart.ipynb")
    run_in_jupyterlab(model["content"])
    contents.save(model, "notebooks/00_quickstart.ipynb")
    reopened = contents.get("notebooks/00_quickstart.ipynb")["content"]
    code = [cell for cell in reopened["cells"] if cell["cell_type"] == "code"]
    # Figures render as figures (a PNG fallback otherwise), and JupyterLab finds the language_info the
    # kernel reports already there, so the reopened notebook is not marked unsaved.
    assert all(cell["metadata"]["trusted"] is True for cell in code)
    assert reopened["metadata"]["language_info"]["version"] == "3.11.9"
    assert "widgets" not in reopened["metadata"]  # widgets come from the running kernel, not a saved state


def test_outputs_the_front_end_did_not_trust_stay_untrusted(checkout):
    contents = manager(checkout)
    model = contents.get("notebooks/00_quickstart.ipynb")
    run_in_jupyterlab(model["content"], trusted=False)
    contents.save(model, "notebooks/00_quickstart.ipynb")
    reopened = contents.get("notebooks/00_quickstart.ipynb")["content"]
    code = [cell for cell in reopened["cells"] if cell["cell_type"] == "code" and cell["outputs"]]
    assert code and all(cell["metadata"]["trusted"] is False for cell in code)
    # A side file edited outside the server loses its signature: its outputs are not trusted.
    aside = outputs_aside_path(checkout / "notebooks" / "00_quickstart.ipynb")
    model = contents.get("notebooks/00_quickstart.ipynb")
    run_in_jupyterlab(model["content"])
    contents.save(model, "notebooks/00_quickstart.ipynb")
    aside.write_text(aside.read_text().replace("Figure", "Tampered"))
    reopened = contents.get("notebooks/00_quickstart.ipynb")["content"]
    assert all(cell["metadata"]["trusted"] is False for cell in reopened["cells"] if cell["cell_type"] == "code" and cell["outputs"])
