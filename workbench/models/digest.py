"""The sha256 of a weights file, computed once per file version, and the fingerprint a run keys on.

A run that loads a checkpoint reads that file as much as it reads its clips, so the file's content
belongs in the run id and in provenance.json: overwriting a checkpoint in place must give a new run,
never a stale result read back. Hashing a checkpoint costs about a second per 300 MB, too much to
repeat on every rerun, so :func:`file_sha256` keeps the digest in a small JSON table,
``cache_dir()/weights-sha256.json``, keyed by the file's resolved path, size, modification time and
status-change time (ctime, which ``cp -p`` and ``rsync -a`` cannot set back): a file that changes in any
of them is hashed again.

:func:`weights_fingerprint` turns a loaded file into a fingerprint mapping that a recipe passes with its
data (``RunDir.open(..., data=[dataset, weights_fingerprint(...)])``): its sha256 and size enter the
run id; where the file lay is kept under ``"recorded"``, written to provenance.json but not hashed, so
moving the same file elsewhere is the same run.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from workbench.atomic import atomic_write_json
from workbench.data.download import sha256sum
from workbench.paths import cache_dir

DIGEST_TABLE = "weights-sha256.json"
"""File name of the digest table under :func:`workbench.paths.cache_dir`."""

_MEMORY: dict[tuple[str, int, int, int], str] = {}
"""Digests found in this process, so the table is read at most once per file version."""


def _table_path() -> Path:
    return cache_dir() / DIGEST_TABLE


def _read_table(path: Path) -> dict[str, Any]:
    try:
        table = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # no table yet, or one a crash left unreadable: it is only a cache, rebuilt as files are hashed
    return table if isinstance(table, dict) else {}


def file_sha256(path: str | os.PathLike) -> str:
    """The sha256 hex digest of the file at ``path``, hashed only when this version of it is new.

    A version is the resolved path with its size, modification time and ctime (nanoseconds); the
    digest of each is kept in ``cache_dir()/weights-sha256.json``. A table that cannot be written (a
    read-only cache) only costs hashing again next time.

    Raises:
        FileNotFoundError: there is no file at ``path``.
    """
    file = Path(path).expanduser().resolve()
    status = file.stat()
    version = (str(file), status.st_size, status.st_mtime_ns, status.st_ctime_ns)
    if version in _MEMORY:
        return _MEMORY[version]
    table_path = _table_path()
    table = _read_table(table_path)
    stamp = {"size": status.st_size, "mtime_ns": status.st_mtime_ns, "ctime_ns": status.st_ctime_ns}
    entry = table.get(str(file))
    if isinstance(entry, dict) and {key: entry.get(key) for key in stamp} == stamp and entry.get("sha256"):
        digest = str(entry["sha256"])
    else:
        digest = sha256sum(file)
        table[str(file)] = {**stamp, "sha256": digest}
        try:
            atomic_write_json(table_path, table)
        except OSError:
            pass  # a read-only cache: the digest is still right, only not remembered across processes
    _MEMORY[version] = digest
    return digest


def weights_fingerprint(path: str | os.PathLike, name: str | None = None) -> dict[str, Any]:
    """The fingerprint of a weights file for a run's ``data``: ``{"kind": "weights", "name", "sha256",
    "size_bytes", "recorded": {"path", ...}}``; ``recorded`` is kept in provenance.json, not hashed."""
    file = Path(path).expanduser().resolve()
    return _fingerprint(name, file_sha256(file), file.stat().st_size, path=str(file))


def encoder_weights(encoders: Any) -> list[dict[str, Any]]:
    """The weights fingerprints of every encoder (a mapping or list) that was loaded from a file
    (one with a ``weights_record``, see :func:`workbench.models.registry.load_pretrained`), in order,
    then the ``code_fingerprint`` of every encoder whose embeddings come from code outside the workbench
    (a HEAR module, :mod:`workbench.models.hear_module`)."""
    values = list(encoders.values() if hasattr(encoders, "values") else encoders)
    records = [getattr(encoder, "weights_record", None) for encoder in values]
    code = [getattr(encoder, "code_fingerprint", None) for encoder in values]
    return [
        _fingerprint(record.name, record.sha256, record.size_bytes, path=record.path, verified=record.verified)
        for record in records
        if record is not None
    ] + [dict(fingerprint) for fingerprint in code if fingerprint is not None]


def _fingerprint(name: str | None, sha256: str, size_bytes: int, **recorded: Any) -> dict[str, Any]:
    return {"kind": "weights", "name": name, "sha256": sha256, "size_bytes": size_bytes, "recorded": recorded}
