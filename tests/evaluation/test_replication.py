"""Verdicts over training runs, stratified task claims, the exact MDE and the confidence sequence.

The simulations are the acceptance of the verdict rules: two identical training methods must give a
verdict other than "inconclusive" in at most 5 % of simulated reproductions (plus Monte Carlo error), and
every interval must cover its target at its nominal rate within 2 points where it claims to.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats

from workbench.evaluation.replication import (
    compare_resampled,
    compare_runs,
    compare_stratified,
    crossed_variance,
    paper_size_check,
    per_run_effects,
)
from workbench.evaluation.sequential import (
    confidence_sequence,
    prior_scale_for,
    run_until_settled,
    runs_needed,
    sequence_comparison,
    sequence_critical_value,
)
from workbench.evaluation.stats import compare_paired, exact_minimum_detectable_effect, t_minimum_detectable_effect

SETS = 1000
# One-sided binomial bound on the false-verdict rate: 5 % plus three Monte Carlo standard errors.
FALSE_VERDICT_LIMIT = 0.05 + 3 * math.sqrt(0.05 * 0.95 / SETS)


def _identical_methods(generator: np.random.Generator, seeds: int, items: int, seed_sd: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-item 0/1 correctness of two identical training methods on one shared test set: each training
    run shifts its accuracy by its own seed offset; items differ in difficulty."""
    difficulty = generator.uniform(0.4, 0.95, size=items)  # (items,) shared by every run
    def runs() -> np.ndarray:
        offsets = generator.normal(0.0, seed_sd, size=(seeds, 1))
        probability = np.clip(difficulty[None, :] + offsets, 0.0, 1.0)
        return (generator.random((seeds, items)) < probability).astype(float)  # (seeds, items)
    return runs(), runs()


@pytest.mark.parametrize("seeds", [1, 2, 3, 5])
@pytest.mark.parametrize("items", [96, 800])
@pytest.mark.parametrize("seed_sd", [0.0, 0.03, 0.05])
def test_identical_training_methods_rarely_get_a_verdict(seeds: int, items: int, seed_sd: float) -> None:
    generator = np.random.default_rng(1000 * seeds + items + int(seed_sd * 100))
    verdicts = [compare_runs(*_identical_methods(generator, seeds, items, seed_sd)).verdict for _ in range(SETS)]
    false_rate = float(np.mean([verdict != "inconclusive" for verdict in verdicts]))
    assert false_rate <= FALSE_VERDICT_LIMIT, (seeds, items, seed_sd, false_rate)
    if seeds == 1:
        assert false_rate == 0.0  # one training run per side never decides


def test_one_training_run_per_side_is_inconclusive_however_many_items() -> None:
    generator = np.random.default_rng(0)
    treatment = (generator.random((1, 800)) < 0.60).astype(float)
    control = (generator.random((1, 800)) < 0.50).astype(float)
    comparison = compare_runs(treatment, control)
    assert comparison.verdict == "inconclusive" and comparison.n == 1
    assert math.isinf(comparison.ci_low) and math.isinf(comparison.mde)
    assert comparison.unit == "training runs"
    # probe seeds on one encoder are nested: (runs, probes, items) with one run is still one run
    nested = compare_runs(np.stack([treatment] * 3, axis=1), np.stack([control] * 3, axis=1))
    assert nested.verdict == "inconclusive" and nested.n == 1 and "3 x 800" in nested.nested


def test_two_seeds_that_disagree_are_inconclusive() -> None:
    comparison = compare_runs([3.5, 2.9], [3.0, 3.0])  # per-seed effects +0.5 and -0.1 dB
    assert comparison.verdict == "inconclusive"
    assert comparison.effect == pytest.approx(0.2)


def test_compare_runs_over_runs_is_the_paired_t_over_per_run_means() -> None:
    generator = np.random.default_rng(3)
    treatment, control = generator.normal(size=(4, 50)) + 0.3, generator.normal(size=(4, 50))
    ours = compare_runs(treatment, control)
    reference = scipy.stats.ttest_rel(treatment.mean(axis=1), control.mean(axis=1)).confidence_interval(0.95)
    assert (ours.ci_low, ours.ci_high) == pytest.approx((reference.low, reference.high))
    assert ours.n == 4 and ours.method == "paired t over runs"
    np.testing.assert_allclose(per_run_effects(treatment, control), (treatment - control).mean(axis=1))


def test_compare_runs_contracts() -> None:
    with pytest.raises(ValueError, match="one control per treatment"):
        compare_runs(np.zeros((3, 4)), np.zeros((3, 5)))
    with pytest.raises(ValueError, match="NaN"):
        compare_runs([1.0, float("nan")], [0.0, 0.0])
    with pytest.raises(ValueError, match="over must be"):
        compare_runs([1.0, 2.0], [0.0, 0.0], over="items")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="needs \\(runs, items\\)"):
        compare_runs([1.0, 2.0], [0.0, 0.0], over="runs and items")


def _coverage(intervals: list[tuple[float, float]], target: float | np.ndarray) -> float:
    targets = np.broadcast_to(np.asarray(target, dtype=float), (len(intervals),))
    return float(np.mean([low <= value <= high for (low, high), value in zip(intervals, targets)]))


@pytest.mark.parametrize("runs", [2, 3, 5])
def test_paired_t_over_runs_covers_the_test_sets_expected_effect(runs: int) -> None:
    generator = np.random.default_rng(runs)
    intervals = []
    for _ in range(2000):
        # items fixed; what varies is the training run: effect 0.02 + run offset + item noise
        differences = 0.02 + generator.normal(0.0, 0.03, size=(runs, 1)) + generator.normal(0.0, 0.4, size=(runs, 200))
        comparison = compare_runs(differences, np.zeros_like(differences))
        intervals.append((comparison.ci_low, comparison.ci_high))
    assert abs(_coverage(intervals, 0.02) - 0.95) <= 0.02


@pytest.mark.parametrize(("runs", "run_sd", "item_sd"), [(3, 0.03, 0.3), (3, 0.005, 0.4), (5, 0.02, 0.2)])
def test_crossed_interval_covers_the_population_effect(runs: int, run_sd: float, item_sd: float) -> None:
    """With the test set's own sampling counted, the target is the effect over runs AND items."""
    generator = np.random.default_rng(int(run_sd * 1000) + runs)
    items = 96
    intervals = []
    for _ in range(2000):
        table = (0.05 + generator.normal(0, run_sd, (runs, 1)) + generator.normal(0, item_sd, (1, items))
                 + generator.normal(0, 0.2, (runs, items)))  # fmt: skip
        comparison = compare_runs(table, np.zeros_like(table), over="runs and items")
        intervals.append((comparison.ci_low, comparison.ci_high))
    assert abs(_coverage(intervals, 0.05) - 0.95) <= 0.02
    # the run-only interval, aimed at the same population target, under-covers when items vary
    if item_sd >= 0.3:
        narrow = []
        for _ in range(500):
            table = (0.05 + generator.normal(0, run_sd, (runs, 1)) + generator.normal(0, item_sd, (1, items))
                     + generator.normal(0, 0.2, (runs, items)))  # fmt: skip
            comparison = compare_runs(table, np.zeros_like(table))
            narrow.append((comparison.ci_low, comparison.ci_high))
        assert _coverage(narrow, 0.05) < 0.9


@pytest.mark.parametrize(("folds", "repeats"), [(5, 3), (5, 1), (3, 2), (10, 1)])
def test_corrected_resampled_t_covers_where_the_plain_t_over_correlated_folds_does_not(folds: int, repeats: int) -> None:
    """k-fold runs share training data: each pair of runs' effects correlates (Nadeau & Bengio's
    rho = n_test / (n_test + n_train) = 1 / folds). The plain paired t over the fold x repeat runs takes
    them as independent and under-covers the method's effect; the corrected resampled t holds its level."""
    generator = np.random.default_rng(100 * folds + repeats)
    runs, rho, effect, spread = folds * repeats, 1.0 / folds, 0.03, 0.05
    plain, corrected = [], []
    for _ in range(2000):
        shared = generator.normal()  # what every run inherits from the shared training data
        effects = effect + spread * (math.sqrt(rho) * shared + math.sqrt(1 - rho) * generator.normal(size=runs))
        scores = np.stack([effects, np.zeros(runs)])
        for intervals, comparison in ((plain, compare_runs(*scores)),
                                      (corrected, compare_resampled(*scores, test_train_ratio=1 / (folds - 1)))):
            intervals.append((comparison.ci_low, comparison.ci_high))
    assert abs(_coverage(corrected, effect) - 0.95) <= 0.02, _coverage(corrected, effect)
    assert _coverage(plain, effect) < 0.9, _coverage(plain, effect)  # 0.64 at 5 x 3, 0.86 at 5 x 1


def test_corrected_resampled_t_formula_label_and_contracts() -> None:
    effects = np.array([0.02, 0.05, -0.01, 0.04, 0.03, 0.01])
    comparison = compare_resampled(effects, np.zeros(6), test_train_ratio=0.25, unit="training runs (fold x repeat)")
    standard_error = math.sqrt((1 / 6 + 0.25) * effects.var(ddof=1))
    half = scipy.stats.t.ppf(0.975, 5) * standard_error
    assert comparison.effect == pytest.approx(effects.mean())
    assert (comparison.ci_low, comparison.ci_high) == pytest.approx((effects.mean() - half, effects.mean() + half))
    assert comparison.mde == pytest.approx(exact_minimum_detectable_effect(standard_error, 5))
    assert comparison.method == "corrected resampled t" and comparison.n == 6
    plain = compare_runs(effects, np.zeros(6))
    assert comparison.ci_high - comparison.ci_low > plain.ci_high - plain.ci_low  # always wider than the plain t
    one = compare_resampled([0.5], [0.1], test_train_ratio=0.25)
    assert one.verdict == "inconclusive" and not math.isfinite(one.ci_low)
    for ratio in (0.0, -1.0, math.nan):
        with pytest.raises(ValueError, match="test_train_ratio must be n_test / n_train > 0"):
            compare_resampled(effects, np.zeros(6), test_train_ratio=ratio)


def test_crossed_variance_matches_the_anova_formula() -> None:
    generator = np.random.default_rng(5)
    table = generator.normal(size=(4, 30))
    variance, degrees = crossed_variance(table)
    runs, items = table.shape
    ms_runs = items * table.mean(axis=1).var(ddof=1)
    ms_items = runs * table.mean(axis=0).var(ddof=1)
    residual = table - table.mean(axis=1, keepdims=True) - table.mean(axis=0, keepdims=True) + table.mean()
    ms_residual = (residual**2).sum() / ((runs - 1) * (items - 1))
    expected = max(ms_runs + ms_items - ms_residual, ms_runs) / (runs * items)
    assert variance == pytest.approx(expected)
    assert degrees >= runs - 1


def test_exact_mde_from_the_noncentral_t() -> None:
    # the shortcut (t_crit + t_power) * sd / sqrt(n) said 9.96 and 3.10 sd; the exact values are 11.55 and 3.26
    assert t_minimum_detectable_effect(1.0, 2) == pytest.approx(11.55, abs=0.01)
    assert t_minimum_detectable_effect(1.0, 3) == pytest.approx(3.264, abs=0.002)
    # at the MDE, a simulated paired t test rejects with 80 % power
    generator = np.random.default_rng(0)
    n, sd = 4, 1.0
    mde = t_minimum_detectable_effect(sd, n)
    rejections = np.mean([compare_paired(generator.normal(mde, sd, n), np.zeros(n)).verdict == "holds" for _ in range(4000)])
    assert abs(rejections - 0.8) < 0.025
    assert exact_minimum_detectable_effect(0.1, 0.5) == math.inf
    assert exact_minimum_detectable_effect(0.0, 3) == 0.0


def _tasks(generator: np.random.Generator, effects: dict[str, float], runs: int, sd: float) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    return {name: (effect + generator.normal(0.0, sd, runs), np.zeros(runs)) for name, effect in effects.items()}


def test_stratified_over_these_tasks_covers_their_mean_effect() -> None:
    generator = np.random.default_rng(11)
    effects = {"event": 0.04, "speaker": -0.01, "word": 0.02, "pitch": 0.0}
    intervals = []
    for _ in range(2000):
        result = compare_stratified(_tasks(generator, effects, 3, 0.02))
        intervals.append((result.overall.ci_low, result.overall.ci_high))
    assert abs(_coverage(intervals, np.mean(list(effects.values()))) - 0.95) <= 0.02


def test_stratified_over_tasks_covers_the_task_population_mean() -> None:
    generator = np.random.default_rng(12)
    intervals, targets = [], []
    for _ in range(2000):
        effects = {f"task{i}": float(generator.normal(0.01, 0.03)) for i in range(6)}  # tasks drawn from a population
        result = compare_stratified(_tasks(generator, effects, 3, 0.01), generalise="tasks")
        assert result.overall.n == 6 and result.overall.unit == "tasks"
        intervals.append((result.overall.ci_low, result.overall.ci_high))
        targets.append(0.01)
    assert abs(_coverage(intervals, np.asarray(targets)) - 0.95) <= 0.02


def test_stratified_is_narrower_than_pooling_task_by_seed_pairs_and_reports_each_task() -> None:
    generator = np.random.default_rng(2)
    tasks = _tasks(generator, {"a": 0.10, "b": -0.05, "c": 0.02, "d": 0.08}, 3, 0.004)
    stratified = compare_stratified(tasks)
    pooled = compare_paired(np.concatenate([t for t, _ in tasks.values()]), np.concatenate([c for _, c in tasks.values()]))
    assert stratified.overall.ci_high - stratified.overall.ci_low < (pooled.ci_high - pooled.ci_low) / 2
    assert set(stratified.per_task) == {"a", "b", "c", "d"}
    assert stratified.per_task["b"].verdict == "contradicted" and stratified.per_task["a"].verdict == "holds"
    one_run = compare_stratified({"a": ([0.1], [0.0]), "b": ([0.2, 0.3], [0.0, 0.0])})
    assert one_run.overall.verdict == "inconclusive"  # a task with one run has no spread to add


def test_paper_size_check_words() -> None:
    assert paper_size_check(-0.1, 0.5, 2.59) == "paper's +2.59 excluded: the effect here is smaller"
    assert paper_size_check(2.0, 3.0, 2.59) == "paper's +2.59 inside the interval"
    assert paper_size_check(3.0, 4.0, 2.59) == "paper's +2.59 excluded: the effect here is larger"
    assert paper_size_check(-0.3, -0.1, -0.5) == "paper's -0.5 excluded: the effect here is smaller"
    assert paper_size_check(None, None, 0.029) == "paper's +0.029 not checked: no interval"
    assert paper_size_check(0.0, 1.0, None) == ""


def test_confidence_sequence_keeps_its_level_when_peeking_after_every_seed() -> None:
    generator = np.random.default_rng(21)
    max_runs = 10
    scale = prior_scale_for(max_runs)
    misses = 0
    fixed_misses = 0
    for _ in range(SETS):
        effects = generator.normal(0.3, 1.0, max_runs)
        for n in range(2, max_runs + 1):
            low, high = confidence_sequence(effects[:n], prior_scale=scale)
            if not low <= 0.3 <= high:
                misses += 1
                break
        for n in range(2, max_runs + 1):  # the fixed-n t interval, peeked at the same way
            mean, sd = effects[:n].mean(), effects[:n].std(ddof=1)
            half = scipy.stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n)
            if not mean - half <= 0.3 <= mean + half:
                fixed_misses += 1
                break
    assert misses / SETS <= FALSE_VERDICT_LIMIT
    assert fixed_misses / SETS > 0.1  # why the sequence is needed: peeking breaks the fixed interval


def test_sequence_is_finite_from_the_first_look() -> None:
    scale = prior_scale_for(10, min_runs=3)
    assert math.isfinite(sequence_critical_value(3, prior_scale=scale))
    assert sequence_critical_value(1, prior_scale=scale) == math.inf
    assert sequence_critical_value(10, prior_scale=scale) > scipy.stats.t.ppf(0.975, 9)  # the price of peeking


def test_run_until_settled_stops_when_decided_and_at_the_budget() -> None:
    trained: list[int] = []

    def clear_effect(seed: int) -> tuple[float, float]:
        trained.append(seed)
        return 1.0 + 0.01 * ((seed * 7) % 5), 0.0

    result = run_until_settled(clear_effect, max_runs=10)
    assert result.stopped == "decided" and result.comparison.verdict == "holds"
    assert trained == [0, 1, 2] and len(result.effects) == 3  # decided at the first look
    assert result.comparison.method == "anytime-valid confidence sequence"

    generator = np.random.default_rng(4)
    noise = generator.normal(0.0, 1.0, 20)
    result = run_until_settled(lambda seed: (float(noise[seed]), 0.0), max_runs=6)
    assert result.stopped == "budget" and len(result.effects) == 6 and result.comparison.verdict == "inconclusive"
    assert "6 training runs used (budget)" in result.line()

    small = run_until_settled(lambda seed: (0.01 + 0.02 * ((seed * 3) % 4) / 3, 0.0), max_runs=10, paper_effect=2.59)
    assert small.stopped in ("decided", "paper size excluded")
    with pytest.raises(ValueError, match="min_runs"):
        run_until_settled(clear_effect, max_runs=2, min_runs=3)


def test_runs_needed_for_a_fixed_design() -> None:
    needed = runs_needed(0.5, 1.0)
    assert needed is not None and t_minimum_detectable_effect(1.0, needed) <= 0.5 < t_minimum_detectable_effect(1.0, needed - 1)
    assert runs_needed(0.0, 1.0) is None


def test_sequence_comparison_is_the_sequences_interval_over_runs_with_nested_replicates() -> None:
    generator = np.random.default_rng(9)
    treated, control = generator.normal(0.5, 0.05, (6, 3)), generator.normal(0.5, 0.05, (6, 3))
    means = (treated - control).mean(axis=1)
    stopped = run_until_settled(lambda seed: (float(treated[seed].mean()), float(control[seed].mean())),
                                max_runs=6, prior_scale=7.0)  # fmt: skip
    assert stopped.stopped == "budget" and stopped.comparison.n == 6
    comparison = sequence_comparison(treated, control, prior_scale=7.0, unit="pre-training runs", nested="3 items")
    assert comparison.n == 6 and comparison.effect == pytest.approx(stopped.comparison.effect)
    assert comparison.method == "anytime-valid confidence sequence"
    assert (comparison.ci_low, comparison.ci_high) == pytest.approx((stopped.comparison.ci_low, stopped.comparison.ci_high))
    assert (comparison.ci_low, comparison.ci_high) == pytest.approx(confidence_sequence(means, prior_scale=7.0))
    assert comparison.unit == "pre-training runs" and comparison.nested == "3 items"
    # A fixed prior scale, not the budget's: a larger budget looks at the same sequence.
    longer = run_until_settled(lambda seed: (float(treated[seed % 6].mean()), float(control[seed % 6].mean())),
                               max_runs=12, prior_scale=7.0)  # fmt: skip
    assert longer.history[: len(stopped.history)] == stopped.history
