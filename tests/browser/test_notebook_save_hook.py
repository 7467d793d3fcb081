"""Saving a tracked notebook through Jupyter's contents manager leaves the file as committed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import pytest
from jupyter_server.services.contents.filemanager import FileContentsManager
from nbformat.v4 import new_output
from traitlets.config import Config

from workbench.notebooks import CHECK_MARK, CLEAN_FOLDERS_VARIABLE, pre_save_hook
from workbench.paths import REPO_DIR, notebooks_dir


@pytest.fixture
def checkout(tmp_path, monkeypatch) -> Path:
    """A copy of the quickstart in a folder the hook treats as the checkout's notebooks/."""
    folder = tmp_path / "notebooks"
    folder.mkdir()
    shutil.copy(notebooks_dir() / "00_quickstart.ipynb", folder)
    monkeypatch.setenv(CLEAN_FOLDERS_VARIABLE, str(folder))
    return tmp_path


def manager(root: Path) -> FileContentsManager:
    """A contents manager configured the way jupyter-config/workbench.json configures JupyterLab's."""
    settings = json.loads((REPO_DIR / "jupyter-config" / "workbench.json").read_text())
    return FileContentsManager(root_dir=str(root), config=Config(settings))


def run_in_jupyterlab(content: dict) -> None:
    """What running every cell and saving in JupyterLab does to a notebook model."""
    for count, cell in enumerate(content["cells"], start=1):
        if cell["cell_type"] != "code":
            continue
        cell["execution_count"] = count
        text = "a different summary\n" if CHECK_MARK in "".join(cell["source"]) else "figure"
        cell["outputs"] = [new_output("stream", name="stdout", text=text)]
        cell["metadata"]["execution"] = {"iopub.execute_input": "2026-12-03T09:00:00Z"}
        cell["metadata"]["scrolled"] = True
    content["metadata"]["language_info"] = {"name": "python", "version": "3.11.9", "mimetype": "text/x-python"}
    content["metadata"]["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}


def test_saving_a_run_notebook_leaves_the_tracked_file_unchanged(checkout):
    contents = manager(checkout)
    assert contents.pre_save_hook is pre_save_hook
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
