"""Atomic writes: a file is either its old content or its complete new content, never half written.

Everything the workbench computes (run metrics, checkpoints, caches, downloads) is written through
these helpers: write to a temporary file in the same folder, flush to disk, then ``os.replace``.

- Files are created with mode ``0o666`` filtered by the process umask (as ``open`` would), not the
  ``0o600`` of :func:`tempfile.mkstemp`, so results on a shared runs folder stay readable by others
  wherever the umask says so.
- The temporary file is ``.<name>.<pid>.<random>.tmp`` beside the target. A process killed mid-write
  (SIGKILL, power loss) leaves it behind; :func:`remove_stale_temporaries` removes those whose
  process is gone, and run directories remove theirs when they are next opened.
- :func:`atomic_write_json` writes strict JSON: NaN and infinities become ``null`` (a bare ``NaN`` is
  not JSON, and other tools refuse the file).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_TEMPORARY_NAME = re.compile(r"^\..+\.(\d+)\.[0-9a-f]+\.tmp$")
"""Names :func:`atomic_path` gives its temporary files: ``.<name>.<pid>.<random hex>.tmp``."""


def _create_temporary(path: Path) -> Path:
    """Create an empty temporary file beside ``path``; ``O_EXCL`` with mode 0o666 lets the umask decide."""
    for _ in range(100):
        temporary = path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
        try:
            handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        os.close(handle)
        return temporary
    raise FileExistsError(f"could not create a temporary file beside {path}")  # pragma: no cover


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``, on error it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary_path = _create_temporary(path)
    try:
        yield temporary_path
        with open(temporary_path, "rb+") as stream:
            os.fsync(stream.fileno())
        os.replace(temporary_path, path)
    finally:
        temporary_path.unlink(missing_ok=True)


def is_temporary(path: str | os.PathLike) -> bool:
    """Whether ``path`` is named like a temporary file of :func:`atomic_path`."""
    return bool(_TEMPORARY_NAME.match(Path(path).name))


def _process_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def remove_stale_temporaries(
    folder: str | os.PathLike, *, recursive: bool = False, every: bool = False
) -> list[Path]:
    """Remove temporary files that a killed :func:`atomic_path` left in ``folder``.

    Args:
        folder: where to look (a missing folder removes nothing).
        recursive: look in subfolders too.
        every: remove every temporary file, also those of live processes; only for a caller that
            knows no other process writes there (a run directory it holds the lock of). Otherwise a
            file is removed only when the process its name records no longer runs on this machine.

    Returns:
        The removed paths.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    candidates = folder.rglob(".*.tmp") if recursive else folder.glob(".*.tmp")
    removed = []
    for candidate in candidates:
        match = _TEMPORARY_NAME.match(candidate.name)
        if match is None or not candidate.is_file():
            continue
        if every or not _process_alive(int(match.group(1))):
            with contextlib.suppress(FileNotFoundError):
                candidate.unlink()
                removed.append(candidate)
    return removed


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    with atomic_path(path) as temporary:
        temporary.write_bytes(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def json_safe(value: Any) -> Any:
    """``value`` with every NaN/infinite float replaced by None (JSON ``null``); containers are copied,
    NumPy/torch scalars and arrays become Python numbers and lists, paths strings."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if hasattr(value, "tolist"):
        return json_safe(value.tolist())
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def atomic_write_json(path: str | os.PathLike, value: Any) -> Path:
    """Write ``value`` as indented, key-sorted, strict JSON (NaN and infinities as ``null``)."""
    text = json.dumps(json_safe(value), indent=2, sort_keys=True, allow_nan=False)
    return atomic_write_text(path, text + "\n")


def atomic_torch_save(path: str | os.PathLike, value: Any) -> Path:
    import torch

    with atomic_path(path) as temporary:
        torch.save(value, temporary)
    return Path(path)
