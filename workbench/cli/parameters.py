"""What every recipe command shares: parameters from presets, files, YAML and key=value pairs, and the
check that the folders a run writes are writable before it computes anything."""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from workbench.errors import ParameterError, WorkbenchError


def _parse_assignments(assignments: Sequence[str]) -> dict[str, str]:
    """``["a=1", "b=x"]`` -> ``{"a": "1", "b": "x"}``: values stay text until the recipe's ``Params`` parses
    each against its declared type (``task=no`` stays the string "no", ``weights_path={shared}/x`` a path,
    ``epochs=3`` becomes 3, ``lambdas=[0, 0.5]`` or ``lambdas=0,0.5`` a tuple)."""
    values: dict[str, str] = {}
    for assignment in assignments:
        key, separator, raw = assignment.partition("=")
        if not separator or not key.strip():
            raise ParameterError(f"parameter {assignment!r} must look like key=value")
        values[key.strip()] = raw.strip()
    return values


def _given_values(arguments: argparse.Namespace) -> dict[str, Any]:
    """Parameters the command line gives, later sources winning: ``-f`` files, ``-y`` YAML, ``-p`` pairs."""
    from workbench.recipes.base import load_parameter_file, parse_yaml_mapping

    values: dict[str, Any] = {}
    for path in arguments.file:
        values.update(load_parameter_file(path))
    for text in arguments.yaml:
        values.update(parse_yaml_mapping(text, f"-y {text!r}"))
    values.update(_parse_assignments(arguments.param))
    return values


def _resolve_params(recipe: str, preset: str | None, given: dict[str, Any]) -> Any:
    """The recipe's ``Params`` from its defaults, ``preset`` and the command line's values, in that order."""
    from workbench import recipes
    from workbench.recipes.base import load_preset

    return recipes.get(recipe).Params.from_dict({**(load_preset(recipe, preset) if preset else {}), **given})


def check_writable(folder: Path, what: str, remedy: str) -> None:
    """Raise unless ``folder`` (or, while it does not exist yet, its nearest existing parent) takes new files.

    A run finds out before it computes anything, not when it saves its results.
    """
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise WorkbenchError(f"{what} {folder} cannot be created: {existing} is not a folder; {remedy}")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise WorkbenchError(f"{what} {folder} is not writable ({reason} in {existing}); {remedy}") from None


def _check_cache_writable() -> None:
    from workbench.paths import cache_dir

    check_writable(cache_dir(), "cache folder", "set WORKBENCH_CACHE to a folder you can write")


def _add_parameter_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--preset", help="a YAML preset from notebooks/params/<notebook>/")
    command.add_argument("-f", "--file", action="append", default=[], metavar="FILE.yaml",
                         help="a YAML file of parameter: value (after the preset)")  # fmt: skip
    command.add_argument("-y", "--yaml", action="append", default=[], metavar="YAML",
                         help="parameters as a YAML mapping, e.g. '{n_seeds: 5}' (after -f)")  # fmt: skip
    command.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE",
                         help="one parameter, parsed as its declared type (last, wins)")  # fmt: skip
