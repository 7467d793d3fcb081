"""Seeds until the verdict is settled: an anytime-valid confidence sequence over training runs.

Adding training seeds one at a time and stopping as soon as the fixed-n interval excludes zero inflates
its error far beyond 5 %. A confidence sequence is an interval at every number of runs at once whose
coverage holds simultaneously (Howard, Ramdas, McAuliffe and Sekhon 2021; Waudby-Smith and Ramdas 2023),
so a researcher may look after every seed and stop when it looks decided.

The sequence here is Lai's (1976) t-mixture for the mean of Gaussian per-run effects with unknown spread,
the likelihood ratio of the scale-invariant statistic mixed over a normal prior on the standardised effect
(variance ``c``), the Bayes factor of the one-sample t test:

    BF_n(mu) = (1 + n c) ** -0.5 * ((1 + t**2 / nu) / (1 + t**2 / (nu (1 + n c)))) ** (n / 2),

with ``t`` the one-sample t statistic of the first ``n`` effects against ``mu`` and ``nu = n - 1``. Under
the null it is a nonnegative martingale in the filtration of the scale-invariant data (Perez-Ortiz,
Lardy, de Heide and Grunwald 2024), so by Ville's inequality ``{mu : BF_n(mu) < 1 / alpha}`` covers the
true mean at every ``n`` simultaneously with probability at least ``1 - alpha``. Solved for ``t``, the
set is ``mean +- t*_n s / sqrt(n)`` with a closed form (:func:`sequence_critical_value`). The prior
scale ``c`` is fixed before any data, from the seed budget only (:func:`prior_scale_for`): finite from the
first look on and narrowest on average over the budget.

Like every t interval it assumes per-run effects roughly normal; runs are paired training seeds.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from workbench.evaluation.replication import TRAINING_RUNS, paper_size_check, per_run_effects
from workbench.evaluation.stats import Comparison, _check_direction, _verdict, t_minimum_detectable_effect

ALPHA = 0.05
MIN_RUNS = 2


def sequence_critical_value(n: int, alpha: float = ALPHA, prior_scale: float = 100.0) -> float:
    """The ``t*_n`` of the t-mixture confidence sequence after ``n`` runs (infinite where the sequence
    has no finite bound yet)."""
    if n < MIN_RUNS:
        return math.inf
    growth = 1.0 + n * prior_scale
    target = (1.0 / alpha) ** (2.0 / n) * growth ** (1.0 / n)
    if target >= growth:
        return math.inf
    ratio = (target - 1.0) / (1.0 - target / growth)  # t**2 / nu at the boundary
    return math.sqrt((n - 1) * ratio)


@functools.lru_cache(maxsize=64)  # a grid search over the budget alone: the same answer every call
def prior_scale_for(max_runs: int, min_runs: int = 3, alpha: float = ALPHA) -> float:
    """The prior scale ``c`` whose sequence is finite from ``min_runs`` on and narrowest on average over
    ``min_runs..max_runs`` (searched on a log grid; it depends on the budget only, never on the data)."""
    grid = np.logspace(-1, 5, 121)
    best, best_width = 100.0, math.inf
    for scale in grid:
        widths = [sequence_critical_value(n, alpha, float(scale)) for n in range(min_runs, max_runs + 1)]
        if math.isfinite(widths[0]) and float(np.mean(widths)) < best_width:
            best, best_width = float(scale), float(np.mean(widths))
    return best


def confidence_sequence(effects: Sequence[float], alpha: float = ALPHA, prior_scale: float = 100.0) -> tuple[float, float]:
    """The anytime-valid interval for the mean of the per-run ``effects`` seen so far."""
    values = np.asarray(effects, dtype=np.float64)
    n = values.size
    critical = sequence_critical_value(n, alpha, prior_scale)
    if not math.isfinite(critical):
        return -math.inf, math.inf
    half = critical * float(values.std(ddof=1)) / math.sqrt(n)
    mean = float(values.mean())
    return mean - half, mean + half


def runs_needed(effect: float, std: float, confidence: float = 0.95, limit: int = 1000) -> int | None:
    """Paired runs a fixed design needs for its exact MDE to reach ``|effect|`` at this spread (None when
    more than ``limit`` or no effect)."""
    if effect == 0.0 or not math.isfinite(effect):
        return None
    def resolves(n: int) -> bool:
        return t_minimum_detectable_effect(std, n, confidence) <= abs(effect)

    if not resolves(limit):
        return None
    low, high = 1, limit  # the MDE falls as runs are added: bisect for the first n that resolves
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if resolves(middle) else (middle, high)
    return high


@dataclass
class SequentialResult:
    """Where adding seeds stopped and why.

    Attributes:
        comparison: the final anytime-valid interval as a :class:`Comparison` (method ``"confidence
            sequence"``), over the runs used.
        effects: the per-run effects in the order they were trained.
        stopped: ``"decided"`` (the sequence excludes zero), ``"paper size excluded"`` (the sequence
            excludes the paper's effect: a smaller effect, if any, than the paper's), ``"precise"`` (the
            sequence is narrower than ``precision`` times the paper's effect) or ``"budget"``.
        fixed_design_runs: the paired runs a fixed-n t design would have needed for its MDE to reach the
            observed effect at the observed spread (None when unbounded or undefined).
        history: ``(runs, low, high)`` after each run.
    """

    comparison: Comparison
    effects: list[float]
    stopped: str
    fixed_design_runs: int | None
    history: list[tuple[int, float, float]] = field(default_factory=list)

    def line(self, digits: int = 3) -> str:
        needed = "n/a" if self.fixed_design_runs is None else str(self.fixed_design_runs)
        return (f"{len(self.effects)} training runs used ({self.stopped}); {self.comparison.interval(digits)} "
                f"-> {self.comparison.verdict}; a fixed design would need {needed} runs for this effect")  # fmt: skip


def run_until_settled(
    paired_run: Callable[[int], tuple[float, float]],
    *,
    max_runs: int = 10,
    min_runs: int = 3,
    direction: int = 1,
    paper_effect: float | None = None,
    precision: float = 0.5,
    alpha: float = ALPHA,
    first_seed: int = 0,
    prior_scale: float | None = None,
) -> SequentialResult:
    """Train paired runs (``paired_run(seed) -> (treatment score, control score)``) one seed at a time
    until the claim is settled or the budget is spent.

    After each run from ``min_runs`` on, the confidence sequence decides: stop when it excludes zero, when
    it excludes the paper's effect, or when its width falls below ``precision`` times ``|paper_effect|``
    (the test bed then resolves an effect of the paper's size either way). ``paired_run`` should open a
    content-addressed run per seed, so that a later call with a larger budget reads the finished seeds
    back and continues where this one stopped. The sequence's prior scale comes from the budget
    (:func:`prior_scale_for`) unless ``prior_scale`` fixes it: fix it (from a planning horizon, not the
    budget) where a later call may raise the budget, so that the later call continues the SAME sequence
    and its guarantee covers both calls' looks.

    Raises:
        ValueError: ``max_runs < min_runs`` or ``min_runs < 2``.
    """
    direction = _check_direction(direction)
    if min_runs < MIN_RUNS or max_runs < min_runs:
        raise ValueError(f"need 2 <= min_runs <= max_runs, got min_runs={min_runs}, max_runs={max_runs}")
    scale = prior_scale_for(max_runs, min_runs, alpha) if prior_scale is None else float(prior_scale)
    treated: list[float] = []
    controlled: list[float] = []
    history: list[tuple[int, float, float]] = []
    stopped = "budget"
    for seed in range(first_seed, first_seed + max_runs):
        treatment, control = paired_run(seed)
        treated.append(float(treatment))
        controlled.append(float(control))
        effects = np.subtract(treated, controlled)
        low, high = confidence_sequence(effects, alpha, scale)
        history.append((effects.size, low, high))
        if effects.size < min_runs:
            continue
        if _verdict(low, high, direction) != "inconclusive":
            stopped = "decided"
            break
        if paper_effect is not None and paper_size_check(low, high, paper_effect).startswith("paper's") and (
            "excluded" in paper_size_check(low, high, paper_effect)
        ):
            stopped = "paper size excluded"
            break
        if paper_effect is not None and math.isfinite(high - low) and high - low < precision * abs(paper_effect):
            stopped = "precise"
            break
    comparison = sequence_comparison(
        treated, controlled, direction=direction, alpha=alpha, prior_scale=scale,
        unit=TRAINING_RUNS, nested=f"seeds added one at a time, {stopped}",
    )  # fmt: skip
    effects = np.subtract(treated, controlled)
    std = float(effects.std(ddof=1)) if effects.size > 1 else math.inf
    needed = runs_needed(float(effects.mean()), std, 1.0 - alpha) if effects.size > 1 and std > 0 else None
    return SequentialResult(comparison, effects.tolist(), stopped, needed, history)


def sequence_comparison(
    treatment: Sequence[float] | np.ndarray,
    control: Sequence[float] | np.ndarray,
    *,
    direction: int = 1,
    alpha: float = ALPHA,
    prior_scale: float = 100.0,
    unit: str = TRAINING_RUNS,
    nested: str = "",
) -> Comparison:
    """The confidence sequence's interval after the paired runs given (``(runs, ...)`` scores, nested
    replicates averaged within each run) as a :class:`Comparison`.

    Valid at ANY number of runs, including one chosen by looking at other data (another claim's sequence
    that decided when to stop adding seeds): that is what a claim decided over seeds added sequentially
    for another claim needs, where a fixed-n t interval would not hold its level.
    """
    direction = _check_direction(direction)
    treated = np.asarray(treatment, dtype=np.float64)
    controlled = np.asarray(control, dtype=np.float64)
    effects = per_run_effects(treated, controlled)
    low, high = confidence_sequence(effects, alpha, prior_scale)
    std = float(effects.std(ddof=1)) if effects.size > 1 else math.inf
    return Comparison(
        effect=float(effects.mean()), ci_low=low, ci_high=high, n=int(effects.size),
        mde=t_minimum_detectable_effect(std, effects.size, 1.0 - alpha) if effects.size > 1 else math.inf,
        method="anytime-valid confidence sequence", direction=direction, confidence=1.0 - alpha,
        verdict=_verdict(low, high, direction), treatment_mean=float(np.mean(treated)),
        control_mean=float(np.mean(controlled)), unit=unit, nested=nested,
    )  # fmt: skip
