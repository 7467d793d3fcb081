"""Maintenance of the notebooks in ``notebooks/``: refresh the one stored output nbval compares.

Notebooks are committed with outputs cleared except the summary cell marked ``# NBVAL_CHECK_OUTPUT``
(nbval runs in lax mode and compares only that cell). After changing a recipe or a notebook::

    python -m workbench.notebooks refresh notebooks/00_quickstart.ipynb

executes the notebook with papermill at its defaults (from its own folder, as nbval does) and
writes back the compared cells' fresh outputs, clearing every other output.

Running a notebook in JupyterLab must not change the tracked files either: :func:`pre_save_hook` is a
Jupyter contents-manager pre-save hook (``FileContentsManager.pre_save_hook``) that, for notebooks in
this checkout's ``notebooks/`` folder, saves the inputs as they are and the outputs as committed (none,
except the compared summary cell's stored output), with the committed notebook metadata. ``make env``
enables it for the environment's Jupyter (``jupyter-config/workbench.json`` copied into
``.venv/etc/jupyter/jupyter_server_config.d/``); elsewhere, start JupyterLab with
``--FileContentsManager.pre_save_hook=workbench.notebooks.pre_save_hook``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import nbformat

from workbench.atomic import atomic_write_text
from workbench.paths import notebooks_dir

CHECK_MARK = "# NBVAL_CHECK_OUTPUT"


def is_compared(cell: nbformat.NotebookNode) -> bool:
    return cell.cell_type == "code" and CHECK_MARK in cell.source


def strip_outputs(notebook: nbformat.NotebookNode, keep_from: nbformat.NotebookNode | None = None) -> None:
    """Clear outputs of every code cell, keeping the compared cells' outputs from ``keep_from``."""
    executed = {cell.get("id"): cell for cell in keep_from.cells} if keep_from is not None else {}
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        source = executed.get(cell.get("id"))
        if is_compared(cell) and source is not None:
            cell.outputs = [
                output for output in source.outputs if output.get("name") != "stderr"
            ]
            cell.execution_count = 1
        else:
            cell.outputs = []
            cell.execution_count = None
    for cell in notebook.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
    notebook.metadata.pop("papermill", None)


VOLATILE_CELL_METADATA = ("execution", "scrolled", "collapsed", "papermill")
"""Cell metadata a front end or executor writes on its own (timings, scroll and collapse state)."""


def clean_for_commit(notebook: nbformat.NotebookNode, committed: nbformat.NotebookNode | None) -> None:
    """What a tracked notebook may hold: its inputs, the compared cells' outputs as ``committed`` stores
    them (none without a committed version), and ``committed``'s notebook metadata (a kernel reports
    its own ``language_info``, which would otherwise change the file on every save)."""
    strip_outputs(notebook, keep_from=committed)
    for cell in notebook.cells:
        for key in VOLATILE_CELL_METADATA:
            cell.metadata.pop(key, None)
    if committed is not None:
        notebook.metadata = committed.metadata
    else:
        notebook.metadata.pop("widgets", None)


CLEAN_FOLDERS_VARIABLE = "WORKBENCH_CLEAN_NOTEBOOKS"
"""Environment variable: more folders (``os.pathsep``-separated) whose notebooks are saved clean, e.g.
a copy of ``notebooks/`` that a test opens in JupyterLab."""


def clean_folders() -> list[Path]:
    """The folders whose notebooks :func:`pre_save_hook` saves clean: ``notebooks/`` and any named in
    ``$WORKBENCH_CLEAN_NOTEBOOKS``."""
    extra = [Path(folder) for folder in os.environ.get(CLEAN_FOLDERS_VARIABLE, "").split(os.pathsep) if folder]
    return [folder.expanduser().resolve() for folder in (notebooks_dir(), *extra)]


def pre_save_hook(model: dict, path: str, contents_manager, **_kwargs) -> None:
    """Jupyter ``pre_save_hook``: a notebook of this checkout's ``notebooks/`` folder is saved clean
    (see :func:`clean_for_commit`); every other file is saved as it is."""
    if model.get("type") != "notebook" or not model.get("content"):
        return
    os_path = Path(contents_manager.root_dir, path.lstrip("/")).resolve()
    if os_path.parent not in clean_folders():
        return
    committed = nbformat.read(os_path, as_version=4) if os_path.is_file() else None
    notebook = nbformat.from_dict(model["content"])
    clean_for_commit(notebook, committed)
    model["content"] = notebook


def refresh(path: Path) -> None:
    import papermill

    path = Path(path).resolve()
    with tempfile.TemporaryDirectory() as scratch:
        executed_path = Path(scratch) / path.name
        papermill.execute_notebook(
            str(path), str(executed_path), kernel_name="python3", language="python", cwd=str(path.parent)
        )
        executed = nbformat.read(executed_path, as_version=4)
    notebook = nbformat.read(path, as_version=4)
    strip_outputs(notebook, keep_from=executed)
    atomic_write_text(path, nbformat.writes(notebook) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workbench.notebooks", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    refresh_parser = commands.add_parser("refresh", help="re-execute and store the compared outputs")
    refresh_parser.add_argument("notebooks", nargs="+", type=Path)
    arguments = parser.parse_args(argv)
    for path in arguments.notebooks:
        print(f"refreshing {path} ...", flush=True)
        refresh(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
