"""Run ids: a run's parameters made plain (JSON/YAML types), their canonical form, and the id hashed from
it with the recipe name and the data fingerprint."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from workbench.data.fingerprint import data_fingerprint

RUN_ID_HEX_DIGITS = 12
"""Hex digits of sha256 kept in a run id: 48 bits, so a collision is unlikely below millions of runs."""

_SAFE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


def _check_name(kind: str, name: str) -> str:
    if not isinstance(name, str) or not _SAFE_NAME.match(name):
        raise ValueError(
            f"{kind} {name!r} must be letters, digits, '_', '-' or '.', not starting with '.' or '-'"
        )
    return name


def plain(value: Any, where: str = "value") -> Any:
    """Convert ``value`` to plain JSON/YAML types: tuples to lists, paths to strings, NumPy and torch
    scalars (and small arrays) to Python numbers (and lists). Mapping keys must be strings.

    Raises:
        TypeError: a value of another type, naming where it was found.
    """
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Mapping):
        converted = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{where}: keys must be strings, got {key!r}")
            converted[key] = plain(item, f"{where}.{key}")
        return converted
    if isinstance(value, (list, tuple)):
        return [plain(item, f"{where}[{index}]") for index, item in enumerate(value)]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, (np.generic, np.ndarray, torch.Tensor)):
        return plain(value.tolist(), where)
    raise TypeError(f"{where}: cannot store a {type(value).__name__} ({value!r}) as a plain value")


def _canonical(value: Any) -> Any:
    """The form :func:`run_id` hashes: plain values with integral floats as ints and non-finite
    floats as strings, so that ``1`` and ``1.0`` (which a Params dataclass coerces into each other)
    hash alike and the JSON text never depends on how a Python version spells ``nan``."""
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)  # "nan", "inf", "-inf"
        return int(value) if value.is_integer() else value
    if isinstance(value, dict):
        return {key: _canonical(item) for key, item in value.items()}
    return [_canonical(item) for item in value]  # plain() left only lists here


def params_dict(params: Any) -> dict[str, Any]:
    """Plain ``dict`` of a params mapping or dataclass (a recipe ``Params`` through its ``to_dict``)."""
    if hasattr(params, "to_dict"):
        params = params.to_dict()
    elif dataclasses.is_dataclass(params) and not isinstance(params, type):
        params = dataclasses.asdict(params)
    if not isinstance(params, Mapping):
        raise TypeError(f"params must be a mapping or a dataclass, got {type(params).__name__}")
    return plain(params, "params")


def run_id(recipe: str, params: Any, data: Any = None, code: int | str | None = None) -> str:
    """A run's id, ``"<recipe>-<12 hex digits>"``, derived from the recipe name, its parameters, the
    fingerprint of its data and the version of the code that computes it.

    What is hashed: the sha256 of the UTF-8 text ``json.dumps({"params": P, "recipe": recipe},
    sort_keys=True, separators=(",", ":"), ensure_ascii=True)``, where ``P`` is the parameters made
    plain (tuples as lists, paths as strings, NumPy/torch scalars as numbers) with every integral float
    written as an int (``1.0`` -> ``1``) and NaN/infinities as the strings ``"nan"``/``"inf"``/``"-inf"``.
    Key order never matters; list order does. Floats are written by ``repr``, the shortest text that
    reads back to the same double, which is the same in every Python 3 version, and nothing
    process-dependent (``hash()``, object ids) enters, so the id is stable across processes, machines and
    Python versions.

    Pass the validated parameters (``Params.to_dict()`` or the ``Params`` itself): a raw ``"1"`` string
    and the int ``1`` are different values here, as they are different before the dataclass coerces them.

    With ``data``, the hashed object also holds ``"data": <digest>``, the sha256 hex digest of
    :func:`workbench.data.fingerprint.data_fingerprint` of it; without, the id is the one above (and
    that of runs made before data entered the id). With ``code``, it also holds ``"code": <code>``.

    Args:
        recipe: the recipe's name (letters, digits, ``_``, ``-``, ``.``).
        params: a mapping of parameter name -> value, or a dataclass (a recipe's ``Params``).
        data: what the run reads: a dataset, a list or ``{name: dataset}`` of them, or a fingerprint
            from :func:`~workbench.data.fingerprint.data_fingerprint`; None leaves data out. A run that
            loads weights files lists their fingerprints with its datasets, e.g. ``[dataset,
            *workbench.models.digest.encoder_weights(encoders)]``, so changed weights are a new run.
        code: the recipe's code version (its ``CODE_VERSION``, bumped by hand when a change of code changes
            what the run computes for the same parameters and data): a new version is a new run id, so
            old runs are never read back as if the new code had made them. None leaves it out.

    Raises:
        ValueError: the recipe name is not a safe directory name.
        TypeError: a parameter value is not a plain scalar/list/mapping.
    """
    _check_name("recipe name", recipe)
    canonical: dict[str, Any] = {"params": _canonical(params_dict(params)), "recipe": recipe}
    if data is not None:
        canonical["data"] = data_fingerprint(data)["digest"]
    if code is not None:
        if not isinstance(code, (int, str)) or isinstance(code, bool):
            raise TypeError(f"run_id: code must be an int or str version, got {type(code).__name__} ({code!r})")
        canonical["code"] = code
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
    return f"{recipe}-{hashlib.sha256(text.encode('utf-8')).hexdigest()[:RUN_ID_HEX_DIGITS]}"

