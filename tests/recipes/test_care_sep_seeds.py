"""care_sep's seeds until the verdict is settled (``max_seeds``) and the rows' measured query widths."""

from __future__ import annotations

import dataclasses
import importlib
import re

import numpy as np
import pytest
import torch

from workbench.recipes import care_sep

run_module = importlib.import_module("workbench.recipes.care_sep.run")  # the package's `run` is the function

# As tests/recipes/test_care_sep.py's QUICK: seconds on a CPU per training.
QUICK = dict(n_mixtures=60, duration=0.5, n_anchors=3, epochs=1, pretrain_epochs=1, batch_size=8,
             n_figure_points=6, figure_classes=(0, 1), n_event_classes=4, init_classes=6, init_clips=48,
             rows=("A", "C"))  # fmt: skip


@pytest.fixture(autouse=True)
def one_thread(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("WORKBENCH_RUNS", str(tmp_path / "runs"))
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture
def trained(monkeypatch) -> list[int]:
    """The seeds of the rows' trainings that really ran (the Init pretrainings are not counted)."""
    seeds: list[int] = []
    fit = care_sep.Trainer.fit

    def counted(trainer, loader):
        if isinstance(trainer.model, care_sep.SeparationSystem):
            seeds.append(trainer.config.seed)
        return fit(trainer, loader)

    monkeypatch.setattr(care_sep.Trainer, "fit", counted)
    return seeds


def test_max_seeds_needs_a_first_look_and_both_rows_of_the_headline_claim():
    with pytest.raises(ValueError, match="'max_seeds' must be 0 .* or at least 3 .*, got 2"):
        care_sep.Params(max_seeds=2)
    with pytest.raises(ValueError, match="rows must hold A and C, got C,D"):
        care_sep.Params(max_seeds=5, rows=("C", "D"))
    assert care_sep.Params(max_seeds=5).max_seeds == 5


def test_seeds_are_added_until_the_budget_and_a_larger_budget_trains_only_the_new_seeds(trained):
    params = care_sep.Params(**QUICK, seeds=(0,), max_seeds=3)
    first = care_sep.run(params, progress=False)
    # One epoch cannot settle C vs A in three seeds: it stops at the budget, one training per row and seed.
    assert first.seeding["seeds"] == [0, 1, 2] and first.seeding["stopped"] == "budget"
    assert sorted(trained) == [0, 0, 1, 1, 2, 2] and first.items["C"].shape[0] == 3
    assert [claim.name.split(":")[0] for claim in first.claims] == ["A uses the query", "C uses the query", "C vs A"]
    for claim in first.claims:
        assert claim.method == "anytime-valid confidence sequence" and claim.n == 3 and claim.unit == "training runs"
        assert re.search(r"^seeds 0, 1, 2 of a budget of 3, added one at a time until C vs A \(CaRE-SEP beats the "
                         r"ST-SED-SEP baseline, mixture-SDR\) was settled \(budget\); a fixed design would need "
                         r"(\d+|n/a) runs for this effect; per training seed", claim.detail)  # fmt: skip
    assert first.summary().splitlines()[0].startswith(
        "recipe: care_sep: tiny on synthetic, rows A,C, seeds [0, 1, 2]: added one at a time (max_seeds 3) until "
        "C vs A (CaRE-SEP beats the ST-SED-SEP baseline, mixture-SDR) was settled by an anytime-valid confidence "
        "sequence; stopped: budget"
    )  # fmt: skip
    # A larger budget: the finished trainings are read back, and only the new seed trains.
    trained.clear()
    second = care_sep.run(params.replace(max_seeds=4), progress=False)
    assert sorted(trained) == [3, 3] and second.seeding["seeds"] == [0, 1, 2, 3] and second.claims[-1].n == 4
    assert second.seeding["history"][:3] == first.seeding["history"]  # the same sequence, continued
    assert np.array_equal(second.items["A"][:3], first.items["A"])
    # The finished run reads back what it decided, training nothing.
    trained.clear()
    again = care_sep.run(params.replace(max_seeds=4), progress=False)
    assert trained == [] and again.summary() == second.summary() and again.seeding == second.seeding


def test_adding_seeds_stops_when_c_vs_a_is_decided(trained, monkeypatch):
    """Scores constructed on top of the real evaluation: C is A + 1 dB (+ a little seed-to-seed spread),
    so the sequence decides at its first look and the budget of 10 is not spent."""
    evaluate, calls = run_module.evaluate, []

    def constructed(system, dataset, params):
        evaluation = evaluate(system, dataset, params)
        shared = system.query_network is None
        calls.append(shared)
        sdr = np.full_like(evaluation.scores.mixture_sdr, 3.0 + (1.0 + 0.002 * (len(calls) % 3) if shared else 0.0))
        return dataclasses.replace(evaluation, scores=dataclasses.replace(evaluation.scores, mixture_sdr=sdr))

    monkeypatch.setattr(run_module, "evaluate", constructed)
    result = care_sep.run(care_sep.Params(**QUICK, seeds=(0,), max_seeds=10), progress=False)
    assert result.seeding["seeds"] == [0, 1, 2] and result.seeding["stopped"] == "decided"
    assert sorted(trained) == [0, 0, 1, 1, 2, 2]  # seeds 3-9 of the budget never trained
    headline = result.claims[-1]
    assert headline.name.startswith("C vs A") and headline.verdict == "holds" and headline.ci_low > 0


def test_rows_are_named_with_the_query_width_their_systems_have():
    params = care_sep.Params(**{**QUICK, "rows": ("A", "C", "CLS")}, seeds=(0, 1))
    result = care_sep.run(params, progress=False)
    widths = {row: system.query_model.embedding_dim for row, system in result.systems.items()}
    assert widths == {"A": 128, "C": 128, "CLS": 128}  # tiny: not the paper's 2048 and 768
    assert result.labels() == {"A": "A 128-d ST-SED-SEP", "C": "C 128-d CaRE-SEP", "CLS": "CLS 128-d CaRE-CLS"}
    assert care_sep.row_label("A") == "A 2048-d ST-SED-SEP" and care_sep.row_label("G", 128) == "G w/o Grad&Shared"
    assert [claim.name for claim in result.claims][:2] == [
        "A uses the query: A 128-d ST-SED-SEP beats the query-blind half mixture",
        "C uses the query: C 128-d CaRE-SEP beats the query-blind half mixture",
    ]
    assert "  A 128-d ST-SED-SEP (Grad ✗ Init ✓ Shared ✗):" in result.summary()
    assert "2048-d" not in result.summary() and "768-d" not in result.summary()
    # The mapping table keeps the paper's names beside them.
    assert [record["name"] for record in result.mapping()] == ["2048-d ST-SED-SEP", "768-d CaRE-SEP", "768-d CaRE-CLS"]
