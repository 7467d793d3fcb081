"""Reading an official checkpoint file safely and fitting it to our module: ``torch.load`` without
executing pickled code, small composable converters for :attr:`PretrainedSpec.convert
<workbench.models.registry.PretrainedSpec.convert>`, and a strict load whose error lists what does not fit."""

from __future__ import annotations

import os
import pickle
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from workbench.errors import CheckpointError, MissingFileError

StateDict = dict[str, torch.Tensor]
_LISTED = 10


def numpy_safe_globals() -> list[Any]:
    """The numpy callables a pickled array needs, allow-listed for ``torch.load(weights_only=True)``.

    They rebuild plain arrays and scalars from bytes; files pickled by numpy 1.x name them under
    ``numpy.core``, numpy 2 under ``numpy._core``, so both names are listed.
    """
    try:
        from numpy._core import multiarray  # numpy >= 2
    except ImportError:
        from numpy.core import multiarray
    allowed: list[Any] = [np.ndarray, np.dtype, multiarray._reconstruct, multiarray.scalar]
    allowed += [(multiarray._reconstruct, "numpy.core.multiarray._reconstruct")]
    allowed += [(multiarray.scalar, "numpy.core.multiarray.scalar")]
    allowed += [type(np.dtype(name)) for name in ("float16", "float32", "float64", "int32", "int64")]
    return allowed


def read_checkpoint(path: str | os.PathLike) -> Any:
    """``torch.load`` a file on the CPU without executing pickled code.

    Plain numpy arrays are allowed besides tensors (some official checkpoints, e.g. PANNs', pickle a
    few): their constructors rebuild data from bytes and run no code of the file's choosing.

    Raises:
        MissingFileError: the file does not exist.
        CheckpointError: the file is not a readable PyTorch checkpoint of plain tensors/containers.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"checkpoint file not found: {path}")
    try:
        with torch.serialization.safe_globals(numpy_safe_globals()):
            return torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, zipfile.BadZipFile, OSError) as error:
        raise CheckpointError(
            f"{path} is not a readable PyTorch checkpoint ({type(error).__name__}: {_first_line(error)}). "
            f"It is corrupt, truncated or not a checkpoint: delete it and download it again."
        ) from error


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else "no detail"


def _listed(items: list[str]) -> str:
    shown = ", ".join(items[:_LISTED])
    return shown + (f" ... ({len(items) - _LISTED} more)" if len(items) > _LISTED else "")


def load_state_dict_strict(model: torch.nn.Module, state: Mapping[str, Any], *, source: str) -> None:
    """``model.load_state_dict(state, strict=True)`` with an error that lists what does not match.

    Raises:
        CheckpointError: values that are not tensors, missing or unexpected keys, or shape
            mismatches (up to ten of each listed), naming ``source``.
    """
    not_tensors = [key for key, value in state.items() if not isinstance(value, torch.Tensor)]
    if not_tensors:
        raise CheckpointError(
            f"{source}: the converted checkpoint is not a state_dict; these entries are not tensors: "
            f"{_listed(not_tensors)} (does the spec's convert unwrap the right key?)"
        )
    expected = model.state_dict()
    missing = [key for key in expected if key not in state]
    unexpected = [key for key in state if key not in expected]
    mismatched = [
        f"{key} {tuple(state[key].shape)} vs ours {tuple(value.shape)}"
        for key, value in expected.items()
        if key in state and state[key].shape != value.shape
    ]
    if missing or unexpected or mismatched:
        parts = [f"{source} does not fit {type(model).__name__}:"]
        if missing:
            parts.append(f"missing keys ({len(missing)}): {_listed(missing)}")
        if unexpected:
            parts.append(f"unexpected keys ({len(unexpected)}): {_listed(unexpected)}")
        if mismatched:
            parts.append(f"shape mismatches ({len(mismatched)}): {_listed(mismatched)}")
        parts.append("Is it the checkpoint of this model, and does the spec's convert rename the keys?")
        raise CheckpointError("\n".join(parts))
    model.load_state_dict(dict(state), strict=True)


# --------------------------------------------------------------------------------------------------
# Converters: small, composable state_dict mappings for PretrainedSpec.convert


def unwrap(*keys: str) -> Callable[[Any], Any]:
    """Take ``checkpoint[key]`` for the first of ``keys`` present (e.g. ``"model"``, ``"state_dict"``);
    a checkpoint holding none of them is returned unchanged (it is already the state_dict)."""

    def convert(checkpoint: Any) -> Any:
        for key in keys:
            if isinstance(checkpoint, Mapping) and key in checkpoint and isinstance(checkpoint[key], Mapping):
                return checkpoint[key]
        return checkpoint

    return convert


def rename_prefix(old: str, new: str = "") -> Callable[[Mapping[str, Any]], StateDict]:
    """Replace the leading ``old`` of every key that has it by ``new`` (``"module."`` -> ``""``)."""

    def convert(state: Mapping[str, Any]) -> StateDict:
        if not isinstance(state, Mapping):
            raise TypeError(f"expected a state_dict (a mapping of tensor names), got a {type(state).__name__}")
        return {(new + key[len(old) :] if key.startswith(old) else key): value for key, value in state.items()}

    return convert


def chain(*converters: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Apply converters left to right: ``chain(unwrap("model"), rename_prefix("module."))``."""

    def convert(checkpoint: Any) -> Any:
        for converter in converters:
            checkpoint = converter(checkpoint)
        return checkpoint

    return convert
