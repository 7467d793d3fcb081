"""Run ids and cache keys of the recipes' defaults, pinned.

A finished run is found again only through its id, so moving code (the recipes became packages) or
renaming a module must never change one: every id below was computed on main before the move. A change
here means every researcher's finished runs would be trained again; it must be a deliberate one, with
the reason in the commit.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from workbench import recipes
from workbench.train import rundir
from workbench.train.rundir import run_id


class _Opened(Exception):
    """Raised by the patched ``RunDir.open`` so that ``run`` stops before any work."""

    def __init__(self, identifier: str):
        super().__init__(identifier)
        self.identifier = identifier


def _top_level_id(recipe: str, monkeypatch: pytest.MonkeyPatch) -> str:
    module = recipes.get(recipe)

    def opened(cls: Any, name: str, params: Any, data: Any = None, code: Any = None, **_: Any) -> None:
        raise _Opened(run_id(name, params, data, code))

    monkeypatch.setattr(rundir.RunDir, "open", classmethod(opened))
    if recipe in ("layer_fusion", "leaderboard"):  # defaults read weights and real clips at hand: the bare machine's id
        for variable in ("WORKBENCH_SHARED", "WORKBENCH_CACHE", "WORKBENCH_DATA", "WORKBENCH_WEIGHTS"):
            monkeypatch.setenv(variable, str(Path("/nonexistent-workbench-pin") / variable))
    with pytest.raises(_Opened) as caught:
        module.run(module.Params())
    return caught.value.identifier


PINNED_TOP_LEVEL = {
    # Changed on purpose once more (issue 26): every recipe's CODE_VERSION (1) entered its run ids and cache keys.
    "linear_eval": "linear_eval-ca64aa32ab52",  # n_folds added (issue 25)
    "add_loss": "add_loss-f37765f98e55",
    "diff_byola": "diff_byola-a6bac981a3e7",  # n_mels added; the 3-seed bed that converges in the notebook's budget (issues 24, 29)
    "asc_tagging": "asc_tagging-7bb64d7f8195",
    "care_sep": "care_sep-47f3a3a60bc0",  # issues 23/24/29: max_seeds added; 8 epochs and seeds 0-2 by default
    "layer_fusion": "layer_fusion-d39a510007a1",  # mn04 default (issue 29): bare machine, random-weight fallback
    "leaderboard": "leaderboard-165d90d6a715",  # its first cell, logmel-stats on event (issue 28): a cell's id is the cell alone
}


@pytest.mark.parametrize("recipe", sorted(PINNED_TOP_LEVEL))
def test_default_run_ids_are_pinned(recipe: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _top_level_id(recipe, monkeypatch) == PINNED_TOP_LEVEL[recipe]


def test_sub_run_ids_are_pinned() -> None:
    from workbench.recipes import care_sep, diff_byola

    care = care_sep.Params()
    byola = diff_byola.Params()
    care_code, byola_code = care_sep.CODE_VERSION, diff_byola.CODE_VERSION
    identifiers = {
        "care_sep row C seed 1": run_id(care_sep.TRAIN_NAME, care_sep.training_params(care, "C", 1), care_sep.data_source(care), care_code),
        "care_sep row A seed 0": run_id(care_sep.TRAIN_NAME, care_sep.training_params(care, "A", 0), care_sep.data_source(care), care_code),
        "care_sep init cache": Path(care_sep.init_cache_path(care, "stsed")).name,
        "diff_byola lambda 0.5 seed 0": run_id(
            diff_byola.PRETRAIN_NAME, diff_byola.pretraining_params(byola, 0.5, 0), diff_byola.pretraining_dataset(byola), byola_code
        ),
    }
    assert identifiers == PINNED_SUB_RUNS


def test_embedding_cache_keys_are_pinned() -> None:
    from workbench.evaluation.embeddings import cache_key
    from workbench.recipes import linear_eval

    params = linear_eval.Params()
    dataset = linear_eval.build_dataset(params)
    keys = {name: cache_key(encoder, dataset) for name, encoder in linear_eval.build_encoders(params).items()}
    assert keys == PINNED_EMBEDDING_KEYS


PINNED_EMBEDDING_KEYS = {
    # Changed on purpose once: the feature-code salt (FEATURE_CODE, the soxr resampler) entered the key.
    "logmel-stats": "91a9a5298bd8f9f2fa14b0e9100aecd2",
    "audiontt-tiny": "d60ad0c877b7a555d6d1b86beb4f3f82",
}


PINNED_SUB_RUNS = {
    # Changed on purpose once more (issue 26): the recipes' CODE_VERSION (1) entered the sub-run ids and the Init
    # cache key.
    # Changed on purpose (issue 29): the rows train with the scaled paper schedule (rate, batch, length chosen on
    # validation pairs) and train_query; the Init at the new default batch size (its rate stays the old 2e-3).
    "care_sep row C seed 1": "care_sep-train-f96c8f89b7b3",  # 8 epochs (issue 24: three seeds fit, A clears the floor)
    "care_sep row A seed 0": "care_sep-train-29967664127a",
    "care_sep init cache": "stsed-a8c61a5e9ae09def.pt",
    # Changed on purpose (issues 24, 29): the smaller bed (8 channels, 32 mels, 32-frame crops, 64 clips per
    # family, batch 32, 80 epochs, cosine) on which 3 seeds per lambda converge within notebook 02's budget.
    "diff_byola lambda 0.5 seed 0": "diff_byola-pretrain-414978eb402a",
}


def test_a_run_reading_a_weights_file_is_pinned() -> None:
    """The weights entry of a run id (issue 25): the file's sha256, size and registry name enter the id,
    where it lies does not. Pinned so that a change of the fingerprint's form is a deliberate one."""
    from types import SimpleNamespace

    from workbench.models.digest import encoder_weights
    from workbench.models.registry import WeightsRecord
    from workbench.recipes import linear_eval

    params = linear_eval.Params(encoders=("logmel-stats", "efficientat-mn04"))
    dataset = linear_eval.build_dataset(params)
    sha256 = "899a8c6217063f6941793102a2780b3dd788ab11fce468d9cf5f0577c453321c"  # the official mn04_as_mAP_432.pt

    def loaded_from(path: str) -> list[dict[str, Any]]:
        record = WeightsRecord("efficientat-mn04", path, sha256, 4066513, True)
        return encoder_weights({"efficientat-mn04": SimpleNamespace(weights_record=record)})

    identifier = run_id(linear_eval.NAME, params, [dataset, *loaded_from("/cache/weights/mn04_as_mAP_432.pt")])
    assert identifier == PINNED_WITH_WEIGHTS
    assert run_id(linear_eval.NAME, params, [dataset, *loaded_from("/elsewhere/mn04.pt")]) == identifier
    assert run_id(linear_eval.NAME, params, [dataset]) != identifier


PINNED_WITH_WEIGHTS = "linear_eval-be3c9f5865ad"


def _bump_code_version(package: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """What a one-line bump of ``CODE_VERSION`` in the recipe's params does: every module of the recipe that
    imported the constant sees the new version."""
    for name, module in list(sys.modules.items()):
        if (name == package or name.startswith(package + ".")) and hasattr(module, "CODE_VERSION"):
            monkeypatch.setattr(module, "CODE_VERSION", module.CODE_VERSION + 1)


@pytest.mark.parametrize("recipe", sorted(PINNED_TOP_LEVEL))
def test_bumping_the_code_version_changes_the_run_id(recipe: str, monkeypatch: pytest.MonkeyPatch) -> None:
    recipes.get(recipe)  # imported before the bump
    _bump_code_version(f"workbench.recipes.{recipe}", monkeypatch)
    assert _top_level_id(recipe, monkeypatch) != PINNED_TOP_LEVEL[recipe]


def test_bumping_the_code_version_changes_the_sub_runs_and_caches(monkeypatch: pytest.MonkeyPatch) -> None:
    from workbench.recipes import care_sep, diff_byola

    care, byola = care_sep.Params(), diff_byola.Params()
    before_init = Path(care_sep.init_cache_path(care, "stsed")).name
    before_leaves = {leaf.id for stage in care_sep.plan(care).stages for leaf in stage.leaves}
    before_pretrain = {leaf.id for stage in diff_byola.plan(byola).stages for leaf in stage.leaves}
    _bump_code_version("workbench.recipes.care_sep", monkeypatch)
    _bump_code_version("workbench.recipes.diff_byola", monkeypatch)
    assert Path(care_sep.init_cache_path(care, "stsed")).name != before_init
    assert before_leaves.isdisjoint(leaf.id for stage in care_sep.plan(care).stages for leaf in stage.leaves)
    assert before_pretrain.isdisjoint(leaf.id for stage in diff_byola.plan(byola).stages for leaf in stage.leaves)
