"""Paired comparisons behind every verdict: checked against scipy.stats and on simulated runs."""

import math

import numpy as np
import pytest
import scipy.stats

from workbench.evaluation.stats import (
    compare_paired,
    compare_paired_items,
    compare_to_value,
    t_minimum_detectable_effect,
    weighted_fold_mean,
)
from workbench.recipes.base import Claim

TREATMENT = np.array([0.71, 0.74, 0.69, 0.77, 0.73])
CONTROL = np.array([0.68, 0.70, 0.69, 0.72, 0.70])


def test_paired_t_equals_scipy_on_fixed_data():
    comparison = compare_paired(TREATMENT, CONTROL)
    differences = TREATMENT - CONTROL
    interval = scipy.stats.ttest_rel(TREATMENT, CONTROL).confidence_interval(0.95)
    assert comparison.method == "paired t" and comparison.n == 5
    assert comparison.effect == pytest.approx(differences.mean())
    assert (comparison.ci_low, comparison.ci_high) == pytest.approx((interval.low, interval.high), rel=1e-10)
    assert comparison.verdict == "holds"
    assert compare_paired(TREATMENT, CONTROL, direction=-1).verdict == "contradicted"
    assert (comparison.treatment_mean, comparison.control_mean) == pytest.approx((TREATMENT.mean(), CONTROL.mean()))


def test_one_sample_interval_equals_scipy():
    values = np.array([0.31, 0.28, 0.35, 0.30])
    comparison = compare_to_value(values, 0.25)
    interval = scipy.stats.ttest_1samp(values, 0.25).confidence_interval(0.95)  # of the mean; ours of mean - 0.25
    assert (comparison.ci_low, comparison.ci_high) == pytest.approx((interval.low - 0.25, interval.high - 0.25))
    assert comparison.method == "one-sample t" and comparison.verdict == "holds"
    assert compare_to_value(values, 0.40).verdict == "contradicted"


def test_minimum_detectable_effect_matches_the_noncentral_t_power():
    # The MDE formula approximates the effect at which a two-sided paired t test has 80 % power; check the
    # exact power there (noncentral t) is close to 0.8.
    std, n = 0.02, 5
    mde = t_minimum_detectable_effect(std, n)
    degrees, critical = n - 1, scipy.stats.t.ppf(0.975, n - 1)
    noncentrality = mde / (std / math.sqrt(n))
    power = scipy.stats.nct.sf(critical, degrees, noncentrality) + scipy.stats.nct.cdf(-critical, degrees, noncentrality)
    assert 0.75 < power < 0.85
    assert compare_paired(TREATMENT, CONTROL).mde == pytest.approx(
        t_minimum_detectable_effect(float(np.std(TREATMENT - CONTROL, ddof=1)), 5)
    )


def test_one_run_is_never_a_verdict():
    comparison = compare_paired([0.9], [0.1])
    assert comparison.verdict == "inconclusive"
    assert math.isinf(comparison.ci_low) and math.isinf(comparison.mde)
    assert comparison.to_dict()["ci_low"] is None and comparison.to_dict()["mde"] is None
    assert compare_to_value([0.99], 0.1).verdict == "inconclusive"
    assert compare_paired_items(np.ones(1), np.zeros(1)).verdict == "inconclusive"


def test_no_true_difference_is_inconclusive_in_at_least_95_percent_of_200_sets():
    generator = np.random.default_rng(20261203)
    verdicts = []
    for _ in range(200):
        seed_effects = generator.normal(0.0, 0.02, size=5)  # what both conditions share per seed
        control = 0.7 + seed_effects + generator.normal(0.0, 0.01, size=5)
        treatment = 0.7 + seed_effects + generator.normal(0.0, 0.01, size=5)
        verdicts.append(compare_paired(treatment, control).verdict)
    assert verdicts.count("inconclusive") >= 190
    assert verdicts.count("holds") <= 10  # nominal 2.5 % false "holds"


def test_power_near_nominal_at_the_minimum_detectable_effect():
    generator = np.random.default_rng(7)
    std, n = 0.01, 6
    mde = t_minimum_detectable_effect(std, n)
    holds = 0
    for _ in range(400):
        differences = generator.normal(mde, std, size=n)
        holds += compare_paired(0.5 + differences, np.full(n, 0.5)).verdict == "holds"
    assert 0.72 < holds / 400 < 0.88


def test_bootstrap_is_chosen_for_many_skewed_pairs_and_covers_the_effect():
    generator = np.random.default_rng(3)
    differences = generator.exponential(0.05, size=40) - 0.01
    comparison = compare_paired(differences, np.zeros(40))
    assert comparison.method == "paired bootstrap"
    assert comparison.ci_low < differences.mean() < comparison.ci_high
    assert compare_paired(differences[:5], np.zeros(5)).method == "paired t"  # few pairs: t, whatever the skew
    again = compare_paired(differences, np.zeros(40))
    assert (again.ci_low, again.ci_high) == (comparison.ci_low, comparison.ci_high)  # deterministic


def test_per_item_comparison_pairs_items_over_runs():
    generator = np.random.default_rng(0)
    control = (generator.random((3, 800)) < 0.55).astype(float)
    better = np.maximum(control, (generator.random((3, 800)) < 0.15).astype(float))
    comparison = compare_paired_items(better, control)
    assert comparison.n == 800 and comparison.method == "paired bootstrap over items"
    assert comparison.effect == pytest.approx((better - control).mean())
    assert comparison.verdict == "holds"
    assert compare_paired_items(control, control).verdict == "inconclusive"
    with pytest.raises(ValueError, match="one shape"):
        compare_paired_items(control, control[:, :10])


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: compare_paired([1, 2], [1]), "one control per treatment run"),
        (lambda: compare_paired([1, float("nan")], [1, 2]), "NaN"),
        (lambda: compare_paired([1, 2], [1, 2], direction=0), "direction"),
        (lambda: compare_paired([], []), "no values"),
        (lambda: weighted_fold_mean([0.5, 0.7], [1]), "one positive size"),
    ],
)
def test_bad_input_is_an_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_fold_scores_are_weighted_by_fold_size():
    assert weighted_fold_mean([1.0, 0.0], [1, 399]) == pytest.approx(1 / 400)


def test_claim_carries_the_comparison_and_prints_it():
    claim = Claim.from_comparison(
        "ADD is more accurate than CE", "+1.2 points (Table 2)", compare_paired(TREATMENT, CONTROL),
        measured="CE 0.70 -> ADD 0.73", paper_effect=0.012,
    )
    assert claim.verdict == "holds" and claim.holds and claim.n == 5
    line = claim.line()
    assert line.startswith("ADD is more accurate than CE: paper +1.2 points (Table 2); measured CE 0.70 -> ADD 0.73")
    assert "n=5 paired runs, paired t" in line and "MDE" in line
    assert line.endswith("-> holds; paper's +0.012 inside the interval")
    assert Claim.from_dict({**claim.__dict__}).line() == line
    with pytest.raises(ValueError, match="verdict"):
        Claim("x", "y", "z", verdict="yes")
