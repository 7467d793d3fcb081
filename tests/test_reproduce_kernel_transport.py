"""The kernels `workbench reproduce` (and so `make demo`) and the notebook refresh start print no transport
warning into their output."""

from __future__ import annotations

import subprocess
import sys

import nbformat

from workbench.paths import REPO_DIR

SCRIPT = """
import sys, papermill
from workbench.notebooks import ipc_kernel_manager
papermill.execute_notebook(sys.argv[1], sys.argv[2], kernel_name="python3", progress_bar=False,
                           kernel_manager_class=ipc_kernel_manager())
"""


def test_papermill_kernels_run_over_ipc_without_the_tcp_warning(tmp_path):
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(6 * 7)")])
    nbformat.write(notebook, tmp_path / "in.ipynb")
    finished = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "in.ipynb"), str(tmp_path / "out.ipynb")],
        capture_output=True, text=True, timeout=120, cwd=REPO_DIR,
    )  # fmt: skip
    assert finished.returncode == 0, finished.stderr
    assert "without encryption" not in finished.stderr + finished.stdout, finished.stderr
    executed = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    assert executed.cells[0].outputs[0].text == "42\n"
    # The sockets live in Jupyter's runtime folder, not as kernel-ipc-N files in the working directory.
    assert not list(REPO_DIR.glob("kernel-ipc*")) and not list(tmp_path.glob("kernel-ipc*"))
