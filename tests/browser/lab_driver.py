"""Drive JupyterLab in headless Chromium for the browser tests: start a private server, find Chromium,
open a notebook, Run All, and read what the page shows.

The server listens on 127.0.0.1 only, on a free port, with a token, in a temporary root, runtime,
config and workspace folder; its kernels import this checkout's ``workbench`` and share the session's
notebook cache and runs with nbval (:func:`notebook_folders`); the README-way server starts cold.
Chromium is Debian's ``chromium`` (playwright's own browser download needs the network), driven by
playwright through its executable path.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from run_times import RECORD_VARIABLE

from workbench.paths import REPO_DIR, notebooks_dir

NOTEBOOKS = ["00_quickstart.ipynb", "02_difference_aware.ipynb", "03_asc_tagging.ipynb", "04_care_sep.ipynb",
             "05_layer_fusion.ipynb", "06_leaderboard.ipynb"]
"""The notebooks the browser tests open."""

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
CHROMIUM_VARIABLE = "WORKBENCH_CHROMIUM"
INSTALL_HINT = "apt-get install -y chromium (Debian), or set WORKBENCH_CHROMIUM to a Chromium executable"


def find_chromium() -> str | None:
    """The Chromium executable: ``$WORKBENCH_CHROMIUM``, else the first of :data:`CHROMIUM_NAMES` on PATH."""
    named = os.environ.get(CHROMIUM_VARIABLE)
    if named:
        return named if Path(named).is_file() else None
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def notebook_folders(scratch: Path) -> dict[str, str]:
    """The kernels' cache and runs folders: the session's notebook folders, which nbval's kernels share
    (the root conftest.py: whichever runs a notebook second reads the first one's runs back), or cold ones
    in ``scratch`` when the Run All times are being recorded for the README (``WORKBENCH_RECORD_RUN_TIMES=1``)
    or the session has none."""
    shared = os.environ.get("WORKBENCH_TEST_NOTEBOOK_DIRS")
    base = Path(shared) if shared and os.environ.get(RECORD_VARIABLE) != "1" else scratch
    return {"WORKBENCH_CACHE": str(base / "cache"), "WORKBENCH_RUNS": str(base / "runs")}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class JupyterLab:
    """A running JupyterLab server: its URL, token, root folder (with a copy of ``notebooks/``) and process."""

    url: str
    token: str
    root: Path
    process: subprocess.Popen
    log_path: Path

    @property
    def notebooks(self) -> Path:
        return self.root / "notebooks"

    def notebook_url(self, name: str) -> str:
        return f"{self.url}/lab/tree/notebooks/{name}?reset&token={self.token}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def start_jupyterlab(scratch: Path, notebooks: list[str], timeout: float = 120.0) -> JupyterLab:
    """Start JupyterLab on a free local port over a copy of ``notebooks`` (and their params folder).

    Raises:
        RuntimeError: the server did not answer within ``timeout`` seconds (its log is in the message).
    """
    root = scratch / "root"
    (root / "notebooks").mkdir(parents=True)
    for name in notebooks:
        shutil.copy(notebooks_dir() / name, root / "notebooks" / name)
    for folder in ("runtime", "config", "data", "workspaces", "settings", "cache", "runs"):
        (scratch / folder).mkdir()
    # No "notified about Jupyter news?" toast over the page.
    notification = scratch / "settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    notification.parent.mkdir(parents=True)
    notification.write_text('{"fetchNews": "false"}')
    token = secrets.token_hex(16)
    port = free_port()
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_DIR), os.environ.get("PYTHONPATH", "")])),
        "JUPYTER_RUNTIME_DIR": str(scratch / "runtime"),
        "JUPYTER_CONFIG_DIR": str(scratch / "config"),
        "JUPYTERLAB_WORKSPACES_DIR": str(scratch / "workspaces"),
        "JUPYTERLAB_SETTINGS_DIR": str(scratch / "settings"),
        **notebook_folders(scratch),
        "WORKBENCH_CLEAN_NOTEBOOKS": str(root / "notebooks"),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
    }
    log_path = scratch / "jupyterlab.log"
    command = [
        sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root", "--ip=127.0.0.1",
        f"--port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}", "--LabApp.expose_app_in_browser=True",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]  # fmt: skip
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, cwd=root, env=environment, stdout=log, stderr=subprocess.STDOUT)
    lab = JupyterLab(f"http://127.0.0.1:{port}", token, root, process, log_path)
    _wait_until_answering(lab, timeout)
    return lab


@dataclass
class ReadmeLab(JupyterLab):
    """JupyterLab started as the README says, in a git checkout of the notebooks (``root``): the server's
    root is ``root/notebooks``."""

    @property
    def notebooks(self) -> Path:
        return self.root / "notebooks"

    def notebook_url(self, name: str) -> str:
        return f"{self.url}/lab/tree/{name}?reset&token={self.token}"

    def git_status(self) -> str:
        return subprocess.run(
            ["git", "status", "--porcelain"], cwd=self.root, capture_output=True, text=True, check=True
        ).stdout


AUTOSAVE_S = 5
"""The autosave interval of the README-way server (a user setting; JupyterLab's default is 120 s)."""


def jupyter_executable() -> str:
    """The environment's ``jupyter`` command, as the README names it (``.venv/bin/jupyter``)."""
    for candidate in (REPO_DIR / ".venv" / "bin" / "jupyter", Path(sys.executable).parent / "jupyter"):
        if candidate.is_file():
            return str(candidate)
    raise RuntimeError(f"no jupyter next to {sys.executable} or in {REPO_DIR / '.venv'}: run `make env`")


def start_jupyterlab_readme_way(scratch: Path, notebooks: list[str], timeout: float = 120.0) -> ReadmeLab:
    """``.venv/bin/jupyter lab notebooks/`` from a git checkout holding ``notebooks``, with no flags: the
    contents manager must come from the environment's own Jupyter config (``make env``). What a person's
    machine provides otherwise comes from the environment and the user's config folder, never from the
    command line: port and token (``JUPYTER_PORT``, ``JUPYTER_TOKEN``), no browser window, root allowed
    (CI runs as root), the app exposed to the page for the test, and a short autosave interval."""
    root = scratch / "checkout"
    (root / "notebooks").mkdir(parents=True)
    for name in notebooks:
        shutil.copy(notebooks_dir() / name, root / "notebooks" / name)
    shutil.copy(REPO_DIR / ".gitignore", root / ".gitignore")  # the checkout's own (.ipynb_checkpoints/)
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.invalid"]
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run([*git, "add", "."], cwd=root, check=True)
    subprocess.run([*git, "commit", "-qm", "notebooks"], cwd=root, check=True)
    for folder in ("runtime", "config", "data", "workspaces", "settings", "cache", "runs"):
        (scratch / folder).mkdir()
    user_config = {
        "ServerApp": {"allow_root": True, "open_browser": False},
        "LabApp": {"expose_app_in_browser": True, "check_for_updates_class": "jupyterlab.NeverCheckForUpdate"},
    }
    (scratch / "config" / "jupyter_server_config.json").write_text(json.dumps(user_config))
    settings = scratch / "settings" / "@jupyterlab"
    (settings / "apputils-extension").mkdir(parents=True)
    (settings / "apputils-extension" / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    (settings / "docmanager-extension").mkdir()
    (settings / "docmanager-extension" / "plugin.jupyterlab-settings").write_text(
        json.dumps({"autosave": True, "autosaveInterval": AUTOSAVE_S})
    )
    token = secrets.token_hex(16)
    port = free_port()
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_DIR), os.environ.get("PYTHONPATH", "")])),
        "JUPYTER_RUNTIME_DIR": str(scratch / "runtime"),
        "JUPYTER_CONFIG_DIR": str(scratch / "config"),
        "JUPYTER_DATA_DIR": str(scratch / "data"),
        "JUPYTERLAB_WORKSPACES_DIR": str(scratch / "workspaces"),
        "JUPYTERLAB_SETTINGS_DIR": str(scratch / "settings"),
        "JUPYTER_PORT": str(port),
        "JUPYTER_TOKEN": token,
        "WORKBENCH_CACHE": str(scratch / "cache"),
        "WORKBENCH_RUNS": str(scratch / "runs"),
        "WORKBENCH_CLEAN_NOTEBOOKS": str(root / "notebooks"),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
    }
    environment.pop("JUPYTER_CONFIG_PATH", None)  # the environment's own config path, as a user has it
    log_path = scratch / "jupyterlab.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [jupyter_executable(), "lab", "notebooks/"], cwd=root, env=environment, stdout=log, stderr=subprocess.STDOUT
        )  # fmt: skip
    lab = ReadmeLab(f"http://127.0.0.1:{port}", token, root, process, log_path)
    _wait_until_answering(lab, timeout)
    return lab


def _wait_until_answering(lab: JupyterLab, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if lab.process.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with {lab.process.returncode}:\n{lab.log()}")
        try:
            with urllib.request.urlopen(f"{lab.url}/api/status?token={lab.token}", timeout=5) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    lab.stop()
    raise RuntimeError(f"JupyterLab did not answer on {lab.url} within {timeout:.0f} s:\n{lab.log()}")
