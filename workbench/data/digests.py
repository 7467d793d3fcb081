"""sha256 digests of files' contents, computed once per file version and remembered across runs.

Hashing is the one check that sees what a file holds, and the slow one (about a second per 300 MB), so
:func:`cached_sha256` keeps each digest in a small JSON table under :func:`workbench.paths.cache_dir`,
keyed by the file's resolved path, size, modification time and status-change time (ctime, in
nanoseconds; ``cp -p`` and ``rsync -a`` cannot set a ctime back): a file that changes in any of them is
hashed again, an unchanged one never. Two tables use it: the weights files a run loads
(:mod:`workbench.models.digest`) and, under ``--verify-data``, every clip of a file dataset
(:func:`workbench.data.fingerprint.verify_data`).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from workbench.progress import tqdm

from workbench.atomic import atomic_write_json
from workbench.paths import cache_dir

_MEMORY: dict[tuple[str, str, int, int, int], str] = {}
"""Digests found in this process, keyed by (table, path, size, mtime, ctime): each table is read at most
once per file version."""

SHOWN_FROM = 50
"""Hashing at least this many files shows a progress bar."""


def _hash_file(path: Path) -> str:
    with open(path, "rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()


def _read_table(path: Path) -> dict[str, Any]:
    try:
        table = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # no table yet, or one a crash left unreadable: it is only a cache, rebuilt as files are hashed
    return table if isinstance(table, dict) else {}


def cached_sha256(paths: Sequence[str | os.PathLike], table: str) -> list[str]:
    """The sha256 hex digest of each file in ``paths``, hashing only the versions ``table`` does not hold.

    Args:
        paths: the files, in any order.
        table: the table's file name under ``cache_dir()`` (read once, written once per call; a table
            that cannot be written, a read-only cache, only costs hashing again next time).

    Raises:
        FileNotFoundError: one of ``paths`` is not a file.
    """
    files = [Path(path).expanduser().resolve() for path in paths]
    stamps = [_stamp(file) for file in files]
    versions = [(table, str(file), stamp["size"], stamp["mtime_ns"], stamp["ctime_ns"])
                for file, stamp in zip(files, stamps)]  # fmt: skip
    unknown = [position for position, version in enumerate(versions) if version not in _MEMORY]
    if unknown:
        table_path = cache_dir() / table
        entries = _read_table(table_path)
        changed = False
        shown = tqdm(unknown, desc=f"hashing files ({table})", unit="file", disable=len(unknown) < SHOWN_FROM,
                     leave=False)  # fmt: skip
        for position in shown:
            name, stamp = str(files[position]), stamps[position]
            entry = entries.get(name)
            if isinstance(entry, dict) and {key: entry.get(key) for key in stamp} == stamp and entry.get("sha256"):
                found = str(entry["sha256"])
            else:
                found = _hash_file(files[position])
                entries[name] = {**stamp, "sha256": found}
                changed = True
            _MEMORY[versions[position]] = found
        if changed:
            try:
                atomic_write_json(table_path, entries)
            except OSError:
                pass  # a read-only cache: the digests are still right, only not remembered across processes
    return [_MEMORY[version] for version in versions]


def _stamp(file: Path) -> dict[str, int]:
    status = file.stat()
    if not file.is_file():
        raise FileNotFoundError(f"not a file: {file}")
    return {"size": status.st_size, "mtime_ns": status.st_mtime_ns, "ctime_ns": status.st_ctime_ns}
