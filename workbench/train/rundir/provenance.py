"""Provenance: what provenance.json records about the code, host and data a run was made with, and the
UTC time stamps of a run's files."""

from __future__ import annotations

import datetime
import functools
import platform
import socket
import subprocess
from pathlib import Path
from typing import Any

from workbench.data.fingerprint import RECORDED_KEY, data_fingerprint


def _utc_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")


_PACKAGES = ("torch", "torchaudio", "numpy", "scikit-learn")


@functools.lru_cache(maxsize=1)
def _code_provenance() -> dict[str, Any]:
    """Workbench version and git commit (where the package runs from a checkout), Python and package
    versions; computed once per process."""
    from importlib import metadata

    import workbench

    packages = {}
    for name in _PACKAGES:
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            packages[name] = None
    checkout = Path(workbench.__file__).resolve().parent.parent
    commit = dirty = None
    try:
        commit = subprocess.run(
            ["git", "-C", str(checkout), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip() or None
        if commit:
            status = subprocess.run(
                ["git", "-C", str(checkout), "status", "--porcelain", "--untracked-files=no"],
                capture_output=True, text=True, timeout=10, check=True,
            ).stdout  # fmt: skip
            dirty = bool(status.strip())
    except (OSError, subprocess.SubprocessError):
        commit = dirty = None  # not a git checkout (an installed package), or no git
    return {
        "workbench": getattr(workbench, "__version__", None),
        "git_commit": commit,
        "git_dirty": dirty,
        "python": platform.python_version(),
        "packages": packages,
    }


def provenance(data: Any = None) -> dict[str, Any]:
    """What :meth:`RunDir.open` writes to provenance.json: the code's provenance (workbench version, git
    commit and whether the checkout had uncommitted changes, Python and package versions), the host,
    the data fingerprint (None when the run was opened without ``data``), and ``weights``: each weights
    file among the data (:func:`workbench.models.digest.weights_fingerprint`) as ``{"name", "path",
    "sha256", "size_bytes", ...}``, the files a reader checks first."""
    fingerprint = None if data is None else data_fingerprint(data)
    weights = [
        {**{key: value for key, value in item.items() if key not in ("kind", RECORDED_KEY)},
         **item.get(RECORDED_KEY, {})}
        for item in (fingerprint or {}).get("datasets", [])
        if item.get("kind") == "weights"
    ]  # fmt: skip
    return {
        **_code_provenance(),
        "host": socket.gethostname(),
        "data": fingerprint,
        "weights": weights,
        "time": _utc_now(),
    }
