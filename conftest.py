"""Settings for every test, package and notebook alike (nbval kernels inherit this environment).

Tests never touch the network or the user's caches and runs, and the two cores are shared fairly.

The notebooks run twice in ``make test``: in JupyterLab (the browser tests, what a user sees) and under nbval
(their compared summaries). Both kinds of kernel share one cache and one runs folder for the whole session
(:data:`NOTEBOOK_DIRS`, made by the controlling process and inherited by the xdist workers), so whichever
comes second reads the first one's finished runs back (the recipes' content-addressed runs, waiting on a
run's lock while the other is still training it) instead of training the same seeds again; nbval then
compares the summaries of runs the browser tests trained, as a user's rerun would show them. Every other
test keeps its worker's own scratch folders.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

_SCRATCH = Path(tempfile.mkdtemp(prefix="workbench-tests-"))
os.environ.setdefault("WORKBENCH_CACHE", str(_SCRATCH / "cache"))
os.environ.setdefault("WORKBENCH_RUNS", str(_SCRATCH / "runs"))
os.environ["WORKBENCH_OFFLINE"] = "1"

NOTEBOOK_DIRS = "WORKBENCH_TEST_NOTEBOOK_DIRS"
"""The folder whose ``cache`` and ``runs`` every notebook kernel of the session uses (nbval's and JupyterLab's)."""
_OWNS_NOTEBOOK_DIRS = NOTEBOOK_DIRS not in os.environ and not os.environ.get("PYTEST_XDIST_WORKER")
if _OWNS_NOTEBOOK_DIRS:  # the controlling process, before it starts the workers
    os.environ[NOTEBOOK_DIRS] = tempfile.mkdtemp(prefix="workbench-test-notebooks-")
if os.environ.get("PYTEST_XDIST_WORKER"):
    # Two workers on two cores: one intra-op thread each avoids oversubscription.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)


def notebook_environment() -> dict[str, str]:
    """The cache and runs folders of every notebook kernel this session starts."""
    shared = Path(os.environ[NOTEBOOK_DIRS])
    return {"WORKBENCH_CACHE": str(shared / "cache"), "WORKBENCH_RUNS": str(shared / "runs")}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item) -> Iterator[None]:
    """nbval starts a notebook's kernel in the setup of its first cell, with this process's environment:
    point that kernel at the session's notebook folders, then restore the worker's own."""
    if item.path.suffix != ".ipynb":
        yield
        return
    saved = {name: os.environ.get(name) for name in ("WORKBENCH_CACHE", "WORKBENCH_RUNS")}
    os.environ.update(notebook_environment())
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def pytest_sessionfinish(session) -> None:
    if _OWNS_NOTEBOOK_DIRS:
        shutil.rmtree(os.environ[NOTEBOOK_DIRS], ignore_errors=True)
