"""The recipes' seed driver: seeds added one at a time until the headline claim is settled, within a
budget, continuing from the seeds a previous call finished."""

import math

import numpy as np
import pytest

from workbench.evaluation.sequential import confidence_sequence
from workbench.recipes import base
from workbench.recipes.base.seeding import seed_order, seeds_until_settled


class FakeTraining:
    """Paired training runs kept by seed, as content-addressed run directories keep them: a seed asked
    for again is read back, and ``trained`` lists the seeds that were actually trained."""

    def __init__(self, effects: dict[int, float] | None = None, noise: float = 0.0) -> None:
        self.effects = effects or {}
        self.noise = np.random.default_rng(7).normal(0.0, noise, 100)
        self.finished: dict[int, tuple[float, float]] = {}
        self.trained: list[int] = []

    def __call__(self, seed: int) -> tuple[float, float]:
        if seed not in self.finished:
            self.trained.append(seed)
            effect = self.effects.get(seed, 0.0) + float(self.noise[seed])
            self.finished[seed] = (0.5 + effect, 0.5)
        return self.finished[seed]


def test_seed_order_tries_the_fixed_seeds_first_then_the_next_unused() -> None:
    assert seed_order((0,), 4) == [0, 1, 2, 3]
    assert seed_order((5, 2), 4) == [5, 2, 6, 7]
    assert seed_order((3, 1, 4), 2) == [3, 1]
    assert seed_order((1, 1), 3) == [1, 2, 3]


def test_stops_as_soon_as_the_claim_is_decided() -> None:
    training = FakeTraining({seed: 0.10 + 0.002 * (seed % 3) for seed in range(20)})
    result = seeds_until_settled(training, first_seeds=(0,), budget=10)
    assert result.stopped == "decided" and result.seeds == [0, 1, 2] and training.trained == [0, 1, 2]
    assert result.sequential.comparison.verdict == "holds"
    assert result.sequential.comparison.method == base.seeding.METHOD == "anytime-valid confidence sequence"
    assert "seeds 0, 1, 2 of a budget of 10, added one at a time until the headline claim was settled (decided)" in result.line()


def test_stops_at_the_budget_when_nothing_settles_it() -> None:
    training = FakeTraining(noise=0.05)
    result = seeds_until_settled(training, first_seeds=(3,), budget=5)
    assert result.stopped == "budget" and result.seeds == [3, 4, 5, 6, 7] == training.trained
    assert result.sequential.comparison.verdict == "inconclusive" and result.sequential.comparison.n == 5
    needed = result.sequential.fixed_design_runs
    assert f"a fixed design would need {'n/a' if needed is None else needed} runs" in result.line()
    stored = result.to_dict()
    assert stored["seeds"] == [3, 4, 5, 6, 7] and stored["budget"] == 5 and stored["stopped"] == "budget"
    assert stored["history"][0] == [1, None, None]  # no finite bound after one run: strict JSON, not Infinity


def test_stops_when_an_effect_of_the_papers_size_is_resolved_either_way() -> None:
    tiny = FakeTraining({seed: 0.001 * (seed % 2) for seed in range(20)})
    result = seeds_until_settled(tiny, first_seeds=(0,), budget=10, paper_effect=1.0)
    assert result.stopped in ("paper size excluded", "precise") and len(result.seeds) == 3


def test_a_larger_budget_continues_where_the_last_call_stopped() -> None:
    training = FakeTraining(noise=0.05)
    first = seeds_until_settled(training, first_seeds=(0,), budget=4)
    assert first.stopped == "budget" and training.trained == [0, 1, 2, 3]
    second = seeds_until_settled(training, first_seeds=(0,), budget=7)
    assert training.trained == [0, 1, 2, 3, 4, 5, 6]  # the finished seeds were read back, not trained
    assert second.seeds == [0, 1, 2, 3, 4, 5, 6]
    # The same sequence, whatever the budget: the first call's looks are the second call's first looks.
    assert second.prior_scale == first.prior_scale
    assert second.sequential.history[:4] == first.sequential.history
    # A third call within what is finished trains nothing.
    again = seeds_until_settled(training, first_seeds=(0,), budget=7)
    assert training.trained == [0, 1, 2, 3, 4, 5, 6] and again.sequential.history == second.sequential.history


def test_other_claims_use_the_same_sequence_over_the_seeds_used() -> None:
    training = FakeTraining(noise=0.05)
    result = seeds_until_settled(training, first_seeds=(0,), budget=5)
    generator = np.random.default_rng(3)
    treated, control = generator.normal(0.6, 0.05, (5, 4)), generator.normal(0.5, 0.05, (5, 4))
    other = result.comparison(treated, control, unit="pre-training runs", nested="4 adapter seeds averaged per run")
    low, high = confidence_sequence((treated - control).mean(axis=1), prior_scale=result.prior_scale)
    assert (other.ci_low, other.ci_high) == pytest.approx((low, high))
    assert other.method == "anytime-valid confidence sequence" and other.unit == "pre-training runs" and other.n == 5
    assert other.nested == "4 adapter seeds averaged per run"
    assert "a fixed design would need" in result.line(treated, control)


def test_a_budget_below_the_first_look_is_refused() -> None:
    with pytest.raises(ValueError, match="set max_seeds to at least 3"):
        seeds_until_settled(FakeTraining(), first_seeds=(0,), budget=2)


def test_the_fixed_prior_keeps_its_level_when_peeking_after_every_seed() -> None:
    """Two identical methods, seeds added until decided or 10: at most 5 % (+ Monte Carlo error) decided."""
    generator = np.random.default_rng(11)
    sets, decided = 400, 0
    for _ in range(sets):
        noise = generator.normal(0.0, 1.0, 10)
        result = seeds_until_settled(lambda seed: (float(noise[seed]), 0.0), first_seeds=(0,), budget=10)
        decided += result.stopped == "decided"
    assert decided / sets <= 0.05 + 2 * math.sqrt(0.05 * 0.95 / sets)

