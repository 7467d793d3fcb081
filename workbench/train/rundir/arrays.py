"""A run's arrays (``arrays/<name>.npz``, what a notebook draws) and artifacts (``artifacts/<name>``)."""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import torch

from workbench.atomic import atomic_path
from workbench.errors import CheckpointError, MissingFileError
from workbench.train.rundir.ids import _check_name


class RunArrays:
    """The part of :class:`~workbench.train.rundir.RunDir` that stores arrays and artifacts (``RunDir`` sets
    ``path``)."""

    ARRAYS_DIR = "arrays"
    ARTIFACTS_DIR = "artifacts"

    path: Path

    # --- arrays and artifacts ----------------------------------------------------------------------

    def _arrays_path(self, name: str) -> Path:
        return self.path / self.ARRAYS_DIR / f"{_check_name('array file name', name)}.npz"

    def save_arrays(self, name: str, **arrays: Any) -> Path:
        """Save named arrays (NumPy arrays, tensors, lists of numbers) atomically to ``arrays/<name>.npz``.

        Raises:
            ValueError: an invalid name, no arrays, or an array of Python objects (which npz could only
                store by pickling).
        """
        if not arrays:
            raise ValueError(f"save_arrays({name!r}) needs at least one array, as keyword arguments")
        converted = {}
        for key, value in arrays.items():
            if isinstance(value, torch.Tensor):
                value = value.detach().cpu().numpy()
            value = np.asarray(value)
            if value.dtype == object:
                raise ValueError(f"array {key!r} holds Python objects; save numbers or strings only")
            converted[key] = value
        path = self._arrays_path(name)
        with atomic_path(path) as temporary, open(temporary, "wb") as stream:
            np.savez(stream, **converted)  # a stream: with a path, savez would append ".npz" to it
        return path

    def load_arrays(self, name: str) -> dict[str, np.ndarray]:
        """The arrays saved by :meth:`save_arrays` under ``name``.

        Raises:
            MissingFileError: no such file (the message lists the saved names).
            CheckpointError: the file is corrupt.
        """
        path = self._arrays_path(name)
        if not path.is_file():
            saved = sorted(p.stem for p in path.parent.glob("*.npz")) if path.parent.is_dir() else []
            raise MissingFileError(f"{path} does not exist; saved arrays: {', '.join(saved) or '(none)'}")
        try:
            with np.load(path, allow_pickle=False) as archive:
                return {key: archive[key] for key in archive.files}
        except Exception as error:  # zipfile.BadZipFile, ValueError, OSError, EOFError
            raise CheckpointError(f"{path} cannot be read ({error}); delete it and rerun") from error

    def artifact(self, name: str) -> Path:
        """The path for an artifact file ``artifacts/<name>`` (``name`` may contain ``/``); its folder is
        created. Write it atomically (:mod:`workbench.atomic`).

        Raises:
            ValueError: ``name`` is empty, absolute, or climbs out with ``..``.
        """
        relative = PurePosixPath(name)
        if not relative.parts or relative.is_absolute() or ".." in relative.parts:
            raise ValueError(f"artifact name {name!r} must be a non-empty relative path without '..'")
        path = self.path / self.ARTIFACTS_DIR / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        return path
