"""Maintenance of the notebooks in ``notebooks/``: refresh the one stored output nbval compares.

Notebooks are committed with outputs cleared except the summary cell marked ``# NBVAL_CHECK_OUTPUT``
(nbval runs in lax mode and compares only that cell). After changing a recipe or a notebook::

    python -m workbench.notebooks refresh notebooks/00_quickstart.ipynb

executes the notebook with papermill at its defaults (from its own folder, as nbval does) and
writes back the compared cells' fresh outputs, clearing every other output.

Running a notebook in JupyterLab must not change the tracked files either: :func:`pre_save_hook` is a
Jupyter contents-manager pre-save hook (``FileContentsManager.pre_save_hook``) that, for notebooks in
this checkout's ``notebooks/`` folder, saves the inputs as they are and the outputs as committed (none,
except the compared summary cell's stored output), with the committed notebook metadata.
:class:`OutputsAsideContentsManager` (JupyterLab's default contents manager plus that hook) keeps the
outputs of such a save aside, under ``$WORKBENCH_CACHE/notebook-outputs/``, and puts them back when the
notebook is opened again with the same cells, so reopening a notebook (or reloading the page) while
its kernel runs shows its figures and widgets as they were. Outputs the notebook trusted when they were
saved (those of the user's own run) are trusted again when they come back, so plotly's renderer shows
them (its stored snapshot first, the live figure as soon as the pointer enters), not JupyterLab's
untrusted PNG fallback; the notebook metadata the kernel wrote (``language_info``) comes back
with them, so a reopened notebook the user did not edit is not marked unsaved. ``make env`` enables
the manager for the environment's Jupyter (``jupyter-config/workbench.json`` copied to
``.venv/etc/jupyter/jupyter_server_config.json``); elsewhere, start JupyterLab with
``--ServerApp.contents_manager_class=workbench.notebooks.OutputsAsideContentsManager``.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import os
import sys
import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path

import nbformat
from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager

from workbench.atomic import atomic_write_text
from workbench.paths import cache_dir, notebooks_dir

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


def _clean_notebook_path(model: dict, path: str, contents_manager) -> Path | None:
    """The file of a notebook model that is saved clean, or None for any other file."""
    if model.get("type") != "notebook" or not model.get("content"):
        return None
    os_path = Path(contents_manager.root_dir, path.lstrip("/")).resolve()
    return os_path if os_path.parent in clean_folders() else None


def pre_save_hook(model: dict, path: str, contents_manager, **_kwargs) -> None:
    """Jupyter ``pre_save_hook``: a notebook of this checkout's ``notebooks/`` folder is saved clean
    (see :func:`clean_for_commit`); every other file is saved as it is."""
    os_path = _clean_notebook_path(model, path, contents_manager)
    if os_path is None:
        return
    committed = nbformat.read(os_path, as_version=4) if os_path.is_file() else None
    notebook = nbformat.from_dict(model["content"])
    clean_for_commit(notebook, committed)
    model["content"] = notebook


def outputs_aside_path(os_path: Path) -> Path:
    """Where :class:`OutputsAsideContentsManager` keeps the outputs of notebook ``os_path``."""
    key = hashlib.sha256(str(Path(os_path).resolve()).encode()).hexdigest()[:16]
    return cache_dir() / "notebook-outputs" / f"{Path(os_path).stem}-{key}.ipynb"


RESTORED_METADATA = ("language_info",)
"""Notebook metadata of the run that comes back with its outputs: what the kernel reported (JupyterLab
writes it again on connecting, which marks an unchanged notebook unsaved when it differs). The saved
widget state stays out: widgets are drawn from the running kernel's models."""


def restore_outputs(notebook: nbformat.NotebookNode, aside: nbformat.NotebookNode, trusted: bool = False) -> int:
    """Give each code cell of ``notebook`` the outputs of the cell of ``aside`` with the same id and
    source (a changed cell keeps none), marked ``trusted`` as a whole; returns how many cells got
    outputs back. When any did, the run's :data:`RESTORED_METADATA` comes back too."""
    kept = {cell.get("id"): cell for cell in aside.cells if cell.cell_type == "code"}
    restored = 0
    for cell in notebook.cells:
        previous = kept.get(cell.get("id")) if cell.cell_type == "code" else None
        if previous is not None and previous.source == cell.source and previous.outputs:
            cell.outputs = previous.outputs
            cell.execution_count = previous.execution_count
            cell.metadata["trusted"] = trusted
            restored += 1
    if restored:
        for key in RESTORED_METADATA:
            if key in aside.metadata:
                notebook.metadata[key] = aside.metadata[key]
    return restored


class OutputsAsideContentsManager(AsyncLargeFileManager):
    """JupyterLab's default contents manager, saving this checkout's notebooks clean (:func:`pre_save_hook`)
    while their outputs go aside (:func:`outputs_aside_path`) and come back on the next open."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        if self.pre_save_hook is None:
            self.register_pre_save_hook(pre_save_hook)

    async def save(self, model: dict, path: str = "") -> dict:
        os_path = _clean_notebook_path(model, path, self)
        if os_path is not None:  # before the hook clears them
            full = nbformat.from_dict(copy.deepcopy(model["content"]))
            # The front end marks each cell it trusts (outputs of this session's run); check_cells reads
            # and drops those marks, and the signature covers the file as written, so that reading it
            # back verifies (nbformat.writes splits multi-line strings).
            trusted = self.notary.check_cells(full)
            text = nbformat.writes(full) + "\n"
            if trusted:
                self.notary.sign(nbformat.reads(text, as_version=4))
            atomic_write_text(outputs_aside_path(os_path), text)
        return await super().save(model, path)

    async def get(self, path: str, content: bool = True, type: str | None = None, format: str | None = None,
                  **kwargs) -> dict:  # fmt: skip
        model = await super().get(path, content=content, type=type, format=format, **kwargs)
        os_path = _clean_notebook_path(model, path, self)
        aside = outputs_aside_path(os_path) if os_path is not None else None
        if aside is not None and aside.is_file():
            try:
                kept = nbformat.read(aside, as_version=4)
                restore_outputs(model["content"], kept, trusted=self.notary.check_signature(kept))
            except (OSError, ValueError) as error:  # a damaged side file must not stop the notebook opening
                self.log.warning("could not restore outputs of %s from %s: %s", path, aside, error)
        return model


def ipc_kernel_manager() -> type:
    """Jupyter's kernel manager with IPC transport: the kernel's sockets are files in the user's runtime
    folder rather than TCP ports, so ipykernel has no cause for its "Kernel is running over TCP without
    encryption" warning, which every notebook's kernel would otherwise print into the output."""
    from jupyter_client.manager import AsyncKernelManager
    from jupyter_core.paths import jupyter_runtime_dir
    from traitlets import default

    class IpcKernelManager(AsyncKernelManager):
        @default("transport")
        def _default_transport(self) -> str:
            return "ipc"

        @default("ip")
        def _default_ip(self) -> str:
            # The sockets' path prefix: unique per kernel, in Jupyter's runtime folder. Jupyter's own default
            # ("kernel-ipc" in the working directory) would litter the notebooks' folder, and kernels started
            # at once from one folder would pick the same socket files.
            folder = Path(jupyter_runtime_dir())
            folder.mkdir(parents=True, exist_ok=True)
            return str(folder / f"kernel-{uuid.uuid4().hex[:12]}-ipc")

    return IpcKernelManager


def refresh(path: Path) -> None:
    import papermill

    path = Path(path).resolve()
    with tempfile.TemporaryDirectory() as scratch:
        executed_path = Path(scratch) / path.name
        papermill.execute_notebook(
            str(path), str(executed_path), kernel_name="python3", language="python", cwd=str(path.parent),
            kernel_manager_class=ipc_kernel_manager(),
        )  # fmt: skip
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
