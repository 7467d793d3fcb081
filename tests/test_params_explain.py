"""Every parameter of every recipe explains itself: a one-line meaning beside the recipe, with its
type, default and allowed values read from the Params declaration (``workbench params --explain``)."""

from __future__ import annotations

import dataclasses

import pytest

from workbench import recipes
from workbench.recipes.base import explain, explain_text, missing_help
from workbench.recipes.base.explain import COMMON_HELP


@pytest.mark.parametrize("recipe", recipes.names())
def test_every_field_of_every_recipe_has_a_meaning(recipe: str) -> None:
    params_class = recipes.get(recipe).Params
    assert missing_help(params_class) == []
    for row in explain(params_class):
        assert row.meaning == row.meaning.strip() and "\n" not in row.meaning, row.name
        assert 10 <= len(row.meaning) <= 240, f"{recipe}.{row.name}: one line, long enough to say something"


def test_a_missing_or_stale_meaning_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    from workbench.recipes import linear_eval

    meanings = dict(linear_eval.FIELD_HELP)
    del meanings["patience"]
    meanings["n_epochs"] = "a parameter that was renamed"
    monkeypatch.setattr(linear_eval, "FIELD_HELP", meanings)
    assert missing_help(linear_eval.Params) == ["patience", "n_epochs (not a parameter)"]
    assert "patience = 10  (int; at least 1)\n    (no description yet)" in explain_text(linear_eval.Params)


def test_allowed_values_come_from_types_and_checks() -> None:
    from workbench.recipes import add_loss, linear_eval

    rows = {row.name: row for row in explain(linear_eval.Params)}
    assert rows["n_folds"].allowed == "at least 2" and rows["n_folds"].type == "int"
    assert rows["learning_rate"].allowed == "> 0"
    assert rows["encoders"].type == "list of str" and rows["encoders"].default == ["logmel-stats", "audiontt-tiny"]
    assert "at least one value, each once" in rows["encoders"].allowed
    assert rows["protocol"].allowed.startswith("one of auto | official")
    assert rows["weights_path"].meaning == COMMON_HELP["weights_path"]
    optimizer = {row.name: row for row in explain(add_loss.Params)}["optimizer"]
    assert optimizer.type == "choice" and optimizer.allowed == "adamw | adam"
    # A preset's values are shown instead of the defaults when given.
    shown = explain(linear_eval.Params, linear_eval.Params(n_seeds=7))
    assert {row.name: row.default for row in shown}["n_seeds"] == 7


def test_every_common_meaning_names_a_field_some_recipe_has() -> None:
    fields = {item.name for name in recipes.names() for item in dataclasses.fields(recipes.get(name).Params)}
    assert set(COMMON_HELP) <= fields
