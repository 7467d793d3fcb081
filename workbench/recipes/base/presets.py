"""Preset files (``notebooks/params/<notebook>/<preset>.yaml``) and parameter files (``workbench run -f``):
YAML mappings of parameter: value, read and validated as mappings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from workbench.errors import MissingFileError, ParameterError, UnknownNameError
from workbench.paths import notebooks_dir


def preset_dir(recipe: str) -> Path:
    from workbench.recipes import notebook_of

    return notebooks_dir() / "params" / Path(notebook_of(recipe)).stem


def preset_names(recipe: str) -> list[str]:
    directory = preset_dir(recipe)
    return sorted(p.stem for p in directory.glob("*.yaml")) if directory.is_dir() else []


def load_preset(recipe: str, preset: str) -> dict[str, Any]:
    path = preset_dir(recipe) / f"{preset}.yaml"
    if not path.is_file():
        raise UnknownNameError(f"preset of recipe {recipe!r}", preset, preset_names(recipe))
    return parse_yaml_mapping(path.read_text(), f"preset {path}")


def parse_yaml_mapping(text: str, source: str) -> dict[str, Any]:
    """``text`` (a YAML mapping of parameter: value) as a dict; ``source`` names it in errors.

    Raises:
        ParameterError: not YAML, or not a mapping (one line naming ``source`` and the YAML line).
    """
    try:
        values = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ParameterError(f"{source} is not valid YAML{where}: {problem}") from None
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise ParameterError(f"{source} must be a mapping of parameter: value, got {type(values).__name__}")
    for key in values:
        if not isinstance(key, str):
            raise ParameterError(f"{source}: parameter names must be strings, got {key!r}")
    return values


def load_parameter_file(path: str | Path) -> dict[str, Any]:
    """A YAML file of ``parameter: value`` (``workbench run -f``), validated as a mapping.

    Raises:
        MissingFileError: no such file.
        ParameterError: not YAML or not a mapping.
    """
    file = Path(path).expanduser()
    if not file.is_file():
        raise MissingFileError(f"parameter file not found: {file} (pass a YAML file of parameter: value)")
    return parse_yaml_mapping(file.read_text(), f"parameter file {file}")
