"""A notebook's parameters cell read as a recipe's ``Params``: its public data globals, every one a field."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

from workbench.recipes.base.params import P


_SCALARS = (bool, int, float, str, type(None))
_CONTAINERS = (list, tuple, dict, set, frozenset)
_NOTEBOOK_BUILTINS = frozenset({"In", "Out", "exit", "quit", "get_ipython", "open"})
"""Globals that IPython puts in every notebook's namespace: never parameters."""


def _bound_by_import(name: str, value: Any, namespace: Mapping[str, Any]) -> bool:
    """Whether ``value`` is the very object another loaded module holds as ``name`` (``from m import NAME``).

    The notebook's own module (IPython's ``__main__``, whose ``__dict__`` is ``namespace``) does not count.
    """
    for module in list(sys.modules.values()):
        variables = getattr(module, "__dict__", None)
        if isinstance(variables, dict) and variables is not namespace and variables.get(name) is value:
            return True
    return False


def _is_parameter(name: str, value: Any, namespace: Mapping[str, Any]) -> bool:
    if name.startswith("_") or name in _NOTEBOOK_BUILTINS:
        return False
    if isinstance(value, _SCALARS):
        return True
    if isinstance(value, _CONTAINERS):
        # Papermill injects lists; a constant imported by the validation cell (e.g. ``KS``) is not one.
        return not value or not _bound_by_import(name, value, namespace)
    return False  # modules, functions, classes and other objects the notebook imported


def params_from_namespace(
    params_class: type[P], namespace: Mapping[str, Any], view: tuple[str, ...] = ()
) -> P:
    """Build ``params_class`` from a notebook's globals after its ``parameters`` cell.

    The parameters cell is a notebook's first code cell, so at this point its public data globals
    (scalars, and lists or tuples such as papermill injects for a preset's ``difference_weights``) are
    exactly the parameters. Every one of them must be a field of ``params_class``: a misspelt or unknown
    name raises :class:`UnknownNameError` listing the valid ones, whatever its value's type, instead of
    being silently ignored as papermill would. ``view`` names the notebook's own display parameters (e.g.
    which projection to draw), which are not the recipe's. Modules, functions, classes and constants
    imported by the validation cell are not parameters.
    """
    values = {
        name: value
        for name, value in namespace.items()
        if name not in view and _is_parameter(name, value, namespace)
    }
    return params_class.from_dict(values)
