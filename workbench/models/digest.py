"""The sha256 of a weights file, computed once per file version, and the fingerprint a run keys on.

A run that loads a checkpoint reads that file as much as it reads its clips, so the file's content
belongs in the run id and in provenance.json: overwriting a checkpoint in place must give a new run,
never a stale result read back. Hashing a checkpoint costs about a second per 300 MB, too much to
repeat on every rerun, so :func:`file_sha256` keeps the digest in a small JSON table,
``cache_dir()/weights-sha256.json`` (:mod:`workbench.data.digests`, shared with ``--verify-data``), keyed
by the file's resolved path, size, modification time and status-change time (ctime, which ``cp -p`` and
``rsync -a`` cannot set back): a file that changes in any of them is hashed again.

:func:`weights_fingerprint` turns a loaded file into a fingerprint mapping that a recipe passes with its
data (``RunDir.open(..., data=[dataset, weights_fingerprint(...)])``): its sha256 and size enter the
run id; where the file lay is kept under ``"recorded"``, written to provenance.json but not hashed, so
moving the same file elsewhere is the same run.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from workbench.data.digests import cached_sha256

DIGEST_TABLE = "weights-sha256.json"
"""File name of the digest table under :func:`workbench.paths.cache_dir`."""


def file_sha256(path: str | os.PathLike) -> str:
    """The sha256 hex digest of the file at ``path``, hashed only when this version of it is new.

    A version is the resolved path with its size, modification time and ctime (nanoseconds); the
    digest of each is kept in ``cache_dir()/weights-sha256.json``
    (:func:`workbench.data.digests.cached_sha256`).

    Raises:
        FileNotFoundError: there is no file at ``path``.
    """
    return cached_sha256([path], DIGEST_TABLE)[0]


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
