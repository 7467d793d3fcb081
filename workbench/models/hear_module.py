"""Any module that follows the HEAR 2021 API, used as a workbench encoder: ``hear:<module>[@<weights>]``.

The HEAR API (Turian et al., "HEAR: Holistic Evaluation of Audio Representations", PMLR 176, 2022; the
``hear-validator`` checks it) is three functions of an importable module:

- ``load_model(model_file_path="")`` -> a model (a ``torch.nn.Module``) with ``sample_rate``,
  ``scene_embedding_size`` and ``timestamp_embedding_size``;
- ``get_scene_embeddings(audio, model)``: ``(n_sounds, n_samples)`` at ``model.sample_rate`` ->
  ``(n_sounds, scene_embedding_size)`` float32;
- ``get_timestamp_embeddings(audio, model)`` -> embeddings ``(n_sounds, n_timestamps,
  timestamp_embedding_size)`` and the timestamps ``(n_sounds, n_timestamps)`` in milliseconds.

:class:`HearModuleEncoder` wraps one: its ``embed`` is the scene embedding, so linear evaluation, the
embedding cache and every recipe that takes an encoder name take it, e.g. ``-p
encoders='[logmel-stats, "hear:hearbaseline.naive@/models/naive_baseline.pt"]'`` (built by
:func:`workbench.models.zoo.build_encoder`). It has no layer taps.

Identity: the embedding cache key hashes the model's tensors when it is a ``torch.nn.Module`` (it is
registered as a submodule) and, through :meth:`extra_repr`, the module's source (the sha256 of its .py
files) and the weights file's sha256. For a run id, the weights file is the encoder's ``weights_record``
and the source its ``code_fingerprint`` (:func:`workbench.models.digest.encoder_weights`), so editing
the module or overwriting the weights gives a new run, never a stale score.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from workbench.errors import MissingFileError, ParameterError
from workbench.models.base import Encoder
from workbench.models.digest import file_sha256
from workbench.models.registry import WeightsRecord

PREFIX = "hear:"
"""Encoder names that start with this name a HEAR-API module."""

API_FUNCTIONS = ("load_model", "get_scene_embeddings", "get_timestamp_embeddings")


def is_hear_name(name: str) -> bool:
    return isinstance(name, str) and name.startswith(PREFIX)


def parse_hear_name(name: str) -> tuple[str, str]:
    """``"hear:pkg.module@/path/weights.pt"`` -> ``("pkg.module", "/path/weights.pt")`` (``""``: no weights).

    Raises:
        ParameterError: not a ``hear:`` name, or no module named.
    """
    if not is_hear_name(name):
        raise ParameterError(f"{name!r} is not a HEAR module name; write hear:<module>[@<weights file>]")
    module, _, weights = name[len(PREFIX):].partition("@")
    if not module.strip() or any(not part.isidentifier() for part in module.split(".")):
        raise ParameterError(f"encoder {name!r}: {module!r} is not a module name; write "
                             f"hear:<module>[@<weights file>], e.g. hear:hearbaseline.naive@/models/naive_baseline.pt")
    return module, weights


def check_hear_name(name: str) -> None:
    """Check, without importing it, that the module of a ``hear:`` name can be imported and its weights
    file exists.

    Raises:
        ParameterError: bad syntax, a module Python cannot find (with the remedy), or a missing weights file.
    """
    module, weights = parse_hear_name(name)
    try:
        found = importlib.util.find_spec(module)
    except (ImportError, ValueError) as error:
        found, reason = None, f" ({error})"
    else:
        reason = ""
    if found is None:
        raise ParameterError(f"encoder {name!r}: no module {module!r} can be imported{reason}; install the HEAR "
                             f"module (pip install ...) or put its folder on PYTHONPATH")  # fmt: skip
    if weights and not Path(weights).expanduser().is_file():
        raise ParameterError(f"encoder {name!r}: the weights file {weights} does not exist")


def _source_files(module: Any) -> list[Path]:
    """The module's file, or every .py file of its package."""
    origin = getattr(module, "__file__", None)
    if origin is None:
        return []
    path = Path(origin).resolve()
    if path.name == "__init__.py":
        return sorted(path.parent.rglob("*.py"))
    return [path]


def source_sha256(module: Any) -> str:
    """sha256 over the module's source files (names relative to its folder, and contents)."""
    files = _source_files(module)
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.relative_to(files[0].parent).as_posix().encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()


def _as_tensor(value: Any, what: str) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value
    try:
        return torch.from_numpy(np.asarray(value, dtype=np.float32))
    except (TypeError, ValueError) as error:
        raise TypeError(f"{what} returned {type(value).__name__}, not a tensor or array ({error})") from error


class HearModuleEncoder(Encoder):
    """A HEAR-API module as an :class:`~workbench.models.base.Encoder` (see the module docstring).

    Args:
        module_name: the importable module, e.g. ``"hearbaseline.naive"``.
        model_file_path: passed to ``load_model`` (``""``: the module's default model).

    Shape:
        waveform ``(batch, samples)`` at ``sample_rate`` -> ``(batch, scene_embedding_size)``.

    Raises:
        MissingFileError: the weights file does not exist.
        ParameterError: the module cannot be imported, lacks an API function, or its model lacks
            ``sample_rate`` / ``scene_embedding_size`` (the message names which).
    """

    def __init__(self, module_name: str, model_file_path: str = ""):
        super().__init__()
        label = f"{PREFIX}{module_name}"
        if model_file_path and not Path(model_file_path).expanduser().is_file():
            raise MissingFileError(f"{label}: the weights file {model_file_path} does not exist")
        try:
            module = importlib.import_module(module_name)
        except ImportError as error:
            raise ParameterError(f"{label}: cannot import {module_name!r} ({error}); install it or put its folder "
                                 f"on PYTHONPATH") from error  # fmt: skip
        missing = [name for name in API_FUNCTIONS if not callable(getattr(module, name, None))]
        if missing:
            raise ParameterError(f"{label}: {module_name} lacks the HEAR API function(s) {', '.join(missing)}")
        model = module.load_model(model_file_path) if model_file_path else module.load_model()
        for attribute in ("sample_rate", "scene_embedding_size", "timestamp_embedding_size"):
            if not isinstance(getattr(model, attribute, None), (int, float)):
                raise ParameterError(f"{label}: the model load_model returned has no numeric {attribute!r}")
        self.hear_module = module
        self.module_name = module_name
        self.model_file_path = str(Path(model_file_path).expanduser().resolve()) if model_file_path else ""
        if isinstance(model, nn.Module):
            self.model = model  # its tensors enter the state_dict, hence the embedding cache key
        else:
            self.__dict__["model"] = model
        self.sample_rate = int(model.sample_rate)
        self.embedding_dim = int(model.scene_embedding_size)
        self.timestamp_embedding_dim = int(model.timestamp_embedding_size)
        self.source_sha256 = source_sha256(module)
        files = _source_files(module)
        self.code_fingerprint = {"kind": "code", "name": label, "sha256": self.source_sha256,
                                 "recorded": {"path": str(files[0]) if files else ""}}  # fmt: skip
        if self.model_file_path:
            weights = Path(self.model_file_path)
            digest = file_sha256(weights)
            self.weights_record = WeightsRecord(label, str(weights), digest, weights.stat().st_size, verified=False)

    def extra_repr(self) -> str:
        weights = getattr(self, "weights_record", None)
        return (f"module={self.module_name}, source_sha256={self.source_sha256}, "
                f"weights_sha256={weights.sha256 if weights else None}")  # fmt: skip

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        embeddings = _as_tensor(self.hear_module.get_scene_embeddings(waveform, self.model),
                                f"{self.module_name}.get_scene_embeddings")  # fmt: skip
        if embeddings.shape != (waveform.shape[0], self.embedding_dim):
            raise ValueError(
                f"{self.module_name}.get_scene_embeddings returned shape {tuple(embeddings.shape)} for "
                f"{waveform.shape[0]} sounds; the HEAR API asks for (n_sounds, scene_embedding_size="
                f"{self.embedding_dim})"
            )
        return embeddings.float()

    def timestamp_embeddings(self, waveform: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The module's ``get_timestamp_embeddings``: ``(batch, timestamps, dim)`` and the timestamps
        ``(batch, timestamps)`` in milliseconds."""
        embeddings, timestamps = self.hear_module.get_timestamp_embeddings(self.check_waveform(waveform), self.model)
        return (_as_tensor(embeddings, f"{self.module_name}.get_timestamp_embeddings").float(),
                _as_tensor(timestamps, f"{self.module_name}.get_timestamp_embeddings"))  # fmt: skip


def load_hear_encoder(name: str) -> HearModuleEncoder:
    """The encoder a ``hear:<module>[@<weights>]`` name names, in eval mode."""
    module, weights = parse_hear_name(name)
    return HearModuleEncoder(module, weights).eval()
