"""Seeds until the verdict is settled, for any recipe: a recipe's ``max_seeds`` budget drives
:func:`~workbench.evaluation.sequential.run_until_settled` over its training seeds.

A recipe gives one function that trains (or reads back) one paired seed and returns the per-run scores of
its headline claim's two sides; :func:`seeds_until_settled` calls it seed after seed, in the order
:func:`seed_order` gives, until the anytime-valid confidence sequence decides the claim, excludes the
paper's effect, resolves an effect of the paper's size, or the budget is spent. Its other claims are
then decided over the seeds that were trained, with the same sequence (:meth:`SeedingResult.comparison`),
which stays valid at a number of runs chosen by another claim's data where a fixed-n t would not.

Each seed is a content-addressed training run, so a later call with a larger budget reads the finished
seeds back and trains only the new ones. The sequence's prior scale is fixed from a planning horizon
(:data:`PLANNING_HORIZON` seeds), never from the budget: the later call continues the SAME sequence, and
its 95 % guarantee covers every look of both calls.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from workbench.evaluation.replication import per_run_effects
from workbench.evaluation.sequential import (
    SequentialResult,
    prior_scale_for,
    run_until_settled,
    runs_needed,
    sequence_comparison,
)
from workbench.evaluation.stats import Comparison

MIN_SEEDS = 3
"""Paired seeds before the first look: the t-mixture sequence has no finite bound with fewer."""
PLANNING_HORIZON = 20
"""Seeds the sequence's prior scale is tuned for (narrowest on average over 3..20 seeds), whatever the
budget of one call: a budget raised later continues the same sequence."""
METHOD = "anytime-valid confidence sequence"


def _finite(bound: float) -> float | None:
    """A bound as strict JSON stores it: None where the sequence has no finite bound yet."""
    return bound if math.isfinite(bound) else None


def seed_order(first: Sequence[int], budget: int) -> list[int]:
    """The seeds in the order they are tried: ``first`` (a recipe's fixed seeds), then the next unused
    integers after the largest of them, ``budget`` in all (``first`` cut to the budget)."""
    order = list(dict.fromkeys(int(seed) for seed in first))[:budget]
    following = max(order, default=-1) + 1
    while len(order) < budget:
        order.append(following)
        following += 1
    return order


@dataclass
class SeedingResult:
    """The seeds one sequential call used and where it stopped.

    Attributes:
        seeds: the training seeds used, in the order trained (the first ``len(seeds)`` of the order).
        sequential: the headline claim's :class:`~workbench.evaluation.sequential.SequentialResult`.
        budget: the most seeds the call could use (``max_seeds``).
        prior_scale: the sequence's prior scale (the same for every call, see :data:`PLANNING_HORIZON`).
        claim: the name of the headline claim the seeds were added for.
    """

    seeds: list[int]
    sequential: SequentialResult
    budget: int
    prior_scale: float
    claim: str = "the headline claim"

    @property
    def stopped(self) -> str:
        return self.sequential.stopped

    def line(self, treatment: Any = None, control: Any = None) -> str:
        """``seeds 0, 1, 2 of a budget of 10, added one at a time until the headline claim was settled
        (decided); a fixed design would need 4 runs for this effect``: for the headline claim, or, given
        another claim's ``(runs, ...)`` scores, for that claim (the runs ITS effect and spread would need)."""
        needed = self.sequential.fixed_design_runs
        if treatment is not None:
            effects = per_run_effects(treatment, control)
            std = float(effects.std(ddof=1)) if effects.size > 1 else 0.0
            needed = runs_needed(float(effects.mean()), std) if std > 0 else None
        return (f"seeds {', '.join(map(str, self.seeds))} of a budget of {self.budget}, added one at a time until "
                f"{self.claim} was settled ({self.stopped}); a fixed design would need "
                f"{'n/a' if needed is None else needed} runs for this effect")  # fmt: skip

    def comparison(self, treatment: Any, control: Any, *, direction: int = 1, unit: str, nested: str = "") -> Comparison:
        """Another claim over the seeds used (``(runs, ...)`` scores in seed order), decided by the same
        confidence sequence, so that the seeds chosen for the headline claim do not bias its level."""
        return sequence_comparison(treatment, control, direction=direction, prior_scale=self.prior_scale,
                                   unit=unit, nested=nested)  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        """What a run's ``metrics.json`` keeps: seeds, budget, why it stopped, the fixed design's runs."""
        return {"claim": self.claim, "seeds": list(self.seeds), "budget": self.budget, "stopped": self.stopped,
                "fixed_design_runs": self.sequential.fixed_design_runs, "method": METHOD,
                "history": [[runs, _finite(low), _finite(high)] for runs, low, high in self.sequential.history]}  # fmt: skip


def seeds_line(seeding: dict[str, Any], fixed_seeds: Sequence[int], noun: str = "seeds") -> str:
    """How a result names the seeds its tables and claims pool: ``"seeds [0, 1, 2]"``, or, where
    ``max_seeds`` added them one at a time (``seeding``: :meth:`SeedingResult.to_dict`), which seeds, why
    adding stopped and the runs a fixed design would have needed."""
    seeds = seeding.get("seeds", list(fixed_seeds))
    if not seeding.get("budget"):
        return f"{noun} {list(seeds)}"
    needed = seeding["fixed_design_runs"]
    return (f"{noun} {list(seeds)}: added one at a time (max_seeds {seeding['budget']}) until {seeding['claim']} was "
            f"settled by an {seeding['method']}; stopped: {seeding['stopped']}; a fixed design would need "
            f"{'n/a' if needed is None else needed} runs for its effect")  # fmt: skip


def seeds_until_settled(
    paired_run: Callable[[int], tuple[float, float]],
    *,
    first_seeds: Sequence[int],
    budget: int,
    direction: int = 1,
    paper_effect: float | None = None,
    precision: float = 0.5,
    min_seeds: int = MIN_SEEDS,
    claim: str = "the headline claim",
) -> SeedingResult:
    """Call ``paired_run(seed) -> (treatment score, control score)`` seed after seed (``first_seeds``
    first, then the next unused integers) until the headline claim is settled or ``budget`` seeds are used.

    ``paired_run`` should train through content-addressed run directories, so that a finished seed is read
    back: a second call with a larger budget then trains only the seeds the first did not reach.

    Raises:
        ValueError: ``budget < min_seeds`` (the sequence needs ``min_seeds`` seeds before its first look).
    """
    if budget < min_seeds:
        raise ValueError(f"a seed budget of {budget} is below the {min_seeds} seeds the confidence sequence "
                         f"needs before its first look: set max_seeds to at least {min_seeds}")  # fmt: skip
    order = seed_order(first_seeds, budget)
    scale = prior_scale_for(PLANNING_HORIZON, min_seeds)
    result = run_until_settled(
        lambda index: paired_run(order[index]), max_runs=budget, min_runs=min_seeds, direction=direction,
        paper_effect=paper_effect, precision=precision, prior_scale=scale,
    )  # fmt: skip
    return SeedingResult(order[: len(result.effects)], result, budget, scale, claim)
