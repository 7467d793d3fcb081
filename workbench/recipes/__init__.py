"""Recipes: one module per paper, each ``Params`` + ``run(params) -> Result``.

``names()`` lists the finished recipes; ``get(name)`` imports one lazily so that listing recipes (the
CLI's ``--help``) never imports torch-heavy code.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from workbench.errors import UnknownNameError

# recipe name -> (module, notebook that runs it). A recipe appears here once it is finished.
_RECIPES: dict[str, tuple[str, str]] = {
    "linear_eval": ("workbench.recipes.linear_eval", "00_quickstart.ipynb"),
    "add_loss": ("workbench.recipes.add_loss", "01_add_loss.ipynb"),
    "diff_byola": ("workbench.recipes.diff_byola", "02_difference_aware.ipynb"),
    "asc_tagging": ("workbench.recipes.asc_tagging", "03_asc_tagging.ipynb"),
    "care_sep": ("workbench.recipes.care_sep", "04_care_sep.ipynb"),
    "layer_fusion": ("workbench.recipes.layer_fusion", "05_layer_fusion.ipynb"),
    "leaderboard": ("workbench.recipes.leaderboard", "06_leaderboard.ipynb"),
}


def names() -> list[str]:
    return list(_RECIPES)


def notebook_of(recipe: str) -> str:
    if recipe not in _RECIPES:
        raise UnknownNameError("recipe", recipe, _RECIPES)
    return _RECIPES[recipe][1]


def get(recipe: str) -> ModuleType:
    if recipe not in _RECIPES:
        raise UnknownNameError("recipe", recipe, _RECIPES)
    return importlib.import_module(_RECIPES[recipe][0])
