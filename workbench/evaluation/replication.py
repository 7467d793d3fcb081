"""Claims about training methods, decided over independent training runs, and claims over several tasks.

A paper's claim is about a training method (a loss, a pre-training, an architecture, a row of an
ablation). What varies when the method is run again is the whole training: initialisation, data order,
augmentation. So the unit of replication is the independent training run (a training seed), and the
verdict comes from the spread of per-run effects (rliable, Agarwal et al. 2021; Bouthillier et al. 2021):

- :func:`compare_runs` takes each side's scores as ``(runs, ...)``: axis 0 the paired training runs
  (seed ``s`` of the treatment beside seed ``s`` of the control), any further axes nested replicates
  inside one run (test items, probe seeds re-trained on one frozen encoder, folds of one run). Nested
  replicates are averaged inside each run: they narrow that run's estimate, never add degrees of
  freedom. One run per side is always inconclusive, however many items or probe seeds it carries.
  The interval is the paired t over runs ("about this test set": the test items are held fixed), or,
  with ``over="runs and items"`` and ``(runs, items)`` scores, a crossed two-way random-effects t
  interval whose variance also counts which items the test set happened to draw (ANOVA estimates of the
  run, item and residual components, Satterthwaite's degrees of freedom). A bootstrap over runs is not
  offered: with 2-5 runs a percentile bootstrap covers far below its nominal level.
- :func:`compare_stratified` decides a claim over several tasks or datasets: per-task effects with
  their run-level intervals, and the average effect with an interval that says what it generalises over,
  ``"these tasks"`` (the stratified within-task variances, Welch-Satterthwaite degrees of freedom) or
  ``"tasks"`` (a t over the task means, as a claim about tasks in general reads). Task x seed pairs are
  never pooled as independent.
- :func:`compare_resampled` decides a claim over runs that share training data: the train/test
  partitions of k-fold cross-validation (each repeated with several seeds). Two folds' training sets
  overlap, so their runs' effects are positively correlated and the paired t over fold x repeat runs is
  too narrow; the corrected resampled t (Nadeau & Bengio 2003) multiplies the variance by
  ``1/J + n_test/n_train`` in place of ``1/J``. Repeats on ONE fixed split share no training data across
  partitions: :func:`compare_runs` (the plain paired t) is right there.
- :func:`paper_size_check` says whether the paper's own effect size lies inside the interval.

Every minimum detectable effect is exact, from the noncentral t (:func:`~workbench.evaluation.stats.
exact_minimum_detectable_effect`) at the standard error and degrees of freedom of the interval used.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import scipy.stats

from workbench.evaluation.stats import (
    Comparison,
    _check_direction,
    _verdict,
    exact_minimum_detectable_effect,
)

TRAINING_RUNS = "training runs"
Over = Literal["runs", "runs and items"]
Generalise = Literal["these tasks", "tasks"]


def _scores(values: Any, what: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim == 0 or array.shape[0] == 0 or array.size == 0:
        raise ValueError(f"{what}: need scores shaped (runs, ...), got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{what}: NaN or infinite scores")
    return array


def _nested_words(shape: tuple[int, ...], nested: str) -> str:
    if nested:
        return nested
    if len(shape) == 1:
        return ""
    return " x ".join(str(size) for size in shape[1:]) + " nested replicates averaged within each run"


def _t_comparison(
    effect: float,
    standard_error: float,
    degrees: float,
    *,
    n: int,
    direction: int,
    confidence: float,
    means: tuple[float, float],
    method: str,
    unit: str,
    nested: str,
) -> Comparison:
    if degrees >= 1 and math.isfinite(standard_error):
        half = float(scipy.stats.t.ppf((1.0 + confidence) / 2.0, degrees)) * standard_error
        low, high = effect - half, effect + half
    else:
        low, high = -math.inf, math.inf
    return Comparison(
        effect=effect, ci_low=low, ci_high=high, n=n,
        mde=exact_minimum_detectable_effect(standard_error, degrees, confidence), method=method,
        direction=direction, confidence=confidence, verdict=_verdict(low, high, direction),
        treatment_mean=means[0], control_mean=means[1], unit=unit, nested=nested,
    )  # fmt: skip


def per_run_effects(treatment: Any, control: Any) -> np.ndarray:
    """``(runs,)`` paired effects: each run's treatment minus control, nested replicates averaged.

    Raises:
        ValueError: shapes differ, no runs, NaN.
    """
    treated = _scores(treatment, "treatment")
    controlled = _scores(control, "control")
    if treated.shape != controlled.shape:
        raise ValueError(
            f"paired training runs need one control per treatment score, got shapes {treated.shape} and "
            f"{controlled.shape} (axis 0: training runs; further axes: items or probe seeds inside a run)"
        )
    return (treated - controlled).reshape(treated.shape[0], -1).mean(axis=1)


def crossed_variance(differences: np.ndarray) -> tuple[float, float]:
    """Variance of the grand mean of a ``(runs, items)`` table of paired differences under the crossed
    random-effects model ``d = mu + run + item + residual``, and its Satterthwaite degrees of freedom.

    ``Var = (MS_runs + MS_items - MS_residual) / (runs * items)`` (unbiased; a negative component is
    clipped so the variance never falls below the run-only one, ``MS_runs / (runs * items)``).
    """
    runs, items = differences.shape
    grand = differences.mean()
    run_means = differences.mean(axis=1)
    item_means = differences.mean(axis=0)
    ms_runs = items * float(((run_means - grand) ** 2).sum()) / (runs - 1)
    ms_items = runs * float(((item_means - grand) ** 2).sum()) / (items - 1)
    residual = differences - run_means[:, None] - item_means[None, :] + grand
    ms_residual = float((residual**2).sum()) / ((runs - 1) * (items - 1))
    combined = ms_runs + ms_items - ms_residual
    if combined <= ms_runs:
        return ms_runs / (runs * items), float(runs - 1)
    denominator = ms_runs**2 / (runs - 1) + ms_items**2 / (items - 1) + ms_residual**2 / ((runs - 1) * (items - 1))
    degrees = combined**2 / denominator if denominator > 0 else float(runs - 1)
    return combined / (runs * items), float(max(degrees, runs - 1))


def compare_runs(
    treatment: Any,
    control: Any,
    *,
    direction: int = 1,
    over: Over = "runs",
    confidence: float = 0.95,
    unit: str = TRAINING_RUNS,
    nested: str = "",
) -> Comparison:
    """Compare two training methods over paired independent training runs.

    Args:
        treatment, control: ``(runs,)`` or ``(runs, ...)`` scores; axis 0 pairs the training runs (same
            seed, same data), later axes are nested replicates inside a run (items, probe seeds).
        direction: ``+1`` when the paper says the treatment scores higher, ``-1`` lower.
        over: ``"runs"``: paired t over the per-run effects (the test items held fixed); ``"runs and
            items"``: scores ``(runs, items)`` or ``(runs, probes, items)`` (probes averaged first), the
            crossed random-effects interval that also counts the test set's sampling.
        confidence: coverage of the two-sided interval.
        unit, nested: the words for what ``n`` counts and what was averaged inside a run.

    Returns:
        A :class:`~workbench.evaluation.stats.Comparison` with ``n`` = training runs; one run gives an
        infinite interval and "inconclusive".

    Raises:
        ValueError: shapes differ, no runs, NaN, an unknown ``over``, a bad direction or confidence.
    """
    direction = _check_direction(direction)
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be strictly between 0 and 1, got {confidence}")
    if over not in ("runs", "runs and items"):
        raise ValueError(f"over must be 'runs' or 'runs and items', got {over!r}")
    treated = _scores(treatment, "treatment")
    controlled = _scores(control, "control")
    effects = per_run_effects(treated, controlled)
    runs = effects.size
    means = (float(treated.mean()), float(controlled.mean()))
    words = _nested_words(treated.shape, nested)
    if over == "runs and items":
        if treated.ndim < 2 or treated.shape[-1] < 2:
            raise ValueError(f"over='runs and items' needs (runs, items) scores, got shape {treated.shape}")
        table = (treated - controlled).reshape(runs, -1, treated.shape[-1]).mean(axis=1)  # (runs, items)
        if runs < 2:
            variance, degrees = math.inf, 0.0
        else:
            variance, degrees = crossed_variance(table)
        return _t_comparison(
            float(table.mean()), math.sqrt(variance), degrees, n=runs, direction=direction, confidence=confidence,
            means=means, method="crossed runs x items t", unit=unit, nested=words,
        )  # fmt: skip
    standard_error = float(effects.std(ddof=1)) / math.sqrt(runs) if runs > 1 else math.inf
    return _t_comparison(
        float(effects.mean()), standard_error, float(runs - 1), n=runs, direction=direction,
        confidence=confidence, means=means, method="paired t over runs", unit=unit, nested=words,
    )  # fmt: skip


CORRECTED_RESAMPLED_T = "corrected resampled t"


def compare_resampled(
    treatment: Any,
    control: Any,
    *,
    test_train_ratio: float,
    direction: int = 1,
    confidence: float = 0.95,
    unit: str = TRAINING_RUNS,
    nested: str = "",
) -> Comparison:
    """Compare two training methods over runs whose training sets overlap: the folds x repeats of
    (repeated) k-fold cross-validation, with the corrected resampled t of Nadeau & Bengio (2003).

    Two runs on different folds train on mostly the same clips, so their effects are positively
    correlated and the sample variance of the ``J`` per-run effects understates the variance of their
    mean. Nadeau & Bengio take the correlation as ``rho = n_test / (n_test + n_train)``, under which the
    variance of the mean is ``(1/J + n_test/n_train) * s**2`` (exactly so for equicorrelated effects;
    Bouckaert & Frank 2004 use it for repeated k-fold); the interval is Student's t with ``J - 1``
    degrees of freedom at that standard error, and the MDE is the exact one at the same.

    Args:
        treatment, control: ``(runs,)`` or ``(runs, ...)`` scores (axis 0: the fold x repeat runs,
            paired; later axes nested replicates averaged within a run, as in :func:`compare_runs`).
        test_train_ratio: ``n_test / n_train`` of one partition (their mean where folds differ in size;
            ``1 / (k - 1)`` for k equal folds).
        direction, confidence, unit, nested: as in :func:`compare_runs`.

    Raises:
        ValueError: ``test_train_ratio`` not positive and finite, or what :func:`compare_runs` raises.
    """
    direction = _check_direction(direction)
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be strictly between 0 and 1, got {confidence}")
    if not (math.isfinite(test_train_ratio) and test_train_ratio > 0):
        raise ValueError(f"test_train_ratio must be n_test / n_train > 0, got {test_train_ratio!r}")
    treated = _scores(treatment, "treatment")
    controlled = _scores(control, "control")
    effects = per_run_effects(treated, controlled)
    runs = effects.size
    variance = (1.0 / runs + test_train_ratio) * float(effects.var(ddof=1)) if runs > 1 else math.inf
    return _t_comparison(
        float(effects.mean()), math.sqrt(variance), float(runs - 1), n=runs, direction=direction,
        confidence=confidence, means=(float(treated.mean()), float(controlled.mean())),
        method=CORRECTED_RESAMPLED_T, unit=unit, nested=_nested_words(treated.shape, nested),
    )  # fmt: skip


@dataclass(frozen=True)
class StratifiedComparison:
    """A claim over several tasks: each task's run-level comparison and the average over tasks.

    Attributes:
        per_task: task name -> its :class:`Comparison` over training runs (or probe runs).
        overall: the average of the task effects, with the interval of ``generalise``.
        generalise: ``"these tasks"`` (the tasks run, stratified variance) or ``"tasks"`` (tasks as a
            sample of tasks: a t over the task means).
    """

    per_task: dict[str, Comparison]
    overall: Comparison
    generalise: str

    def lines(self, digits: int = 3) -> list[str]:
        return [f"{task}: {comparison.interval(digits)} -> {comparison.verdict}" for task, comparison in self.per_task.items()]


def compare_stratified(
    tasks: Mapping[str, tuple[Any, Any]],
    *,
    direction: int = 1,
    generalise: Generalise = "these tasks",
    confidence: float = 0.95,
    unit: str = TRAINING_RUNS,
) -> StratifiedComparison:
    """Compare two methods on several tasks, stratified by task.

    Args:
        tasks: task name -> ``(treatment, control)`` scores shaped ``(runs, ...)`` as in
            :func:`compare_runs` (tasks may have different numbers of runs).
        direction: the paper's direction.
        generalise: ``"these tasks"``: the average over exactly these tasks, its variance the sum of the
            per-task variances of the mean over ``T**2`` (Welch-Satterthwaite degrees of freedom), so only
            run-to-run variation within each task enters; ``"tasks"``: the tasks as a sample of tasks, a
            one-sample t over the ``T`` task means (``n = T``), which is what "fusion helps on tasks"
            claims and needs several tasks.
        confidence: coverage.
        unit: what a task's ``n`` counts.

    Raises:
        ValueError: no tasks, an unknown ``generalise``, or a task's scores as in :func:`compare_runs`.
    """
    direction = _check_direction(direction)
    if not tasks:
        raise ValueError("compare_stratified needs at least one task")
    if generalise not in ("these tasks", "tasks"):
        raise ValueError(f"generalise must be 'these tasks' or 'tasks', got {generalise!r}")
    per_task = {
        name: compare_runs(treat, control, direction=direction, confidence=confidence, unit=unit)
        for name, (treat, control) in tasks.items()
    }
    effects = {name: per_run_effects(treat, control) for name, (treat, control) in tasks.items()}
    count = len(effects)
    task_means = np.array([values.mean() for values in effects.values()])
    means = (
        float(np.mean([comparison.treatment_mean for comparison in per_task.values()])),
        float(np.mean([comparison.control_mean for comparison in per_task.values()])),
    )
    if generalise == "tasks":
        standard_error = float(task_means.std(ddof=1)) / math.sqrt(count) if count > 1 else math.inf
        overall = _t_comparison(
            float(task_means.mean()), standard_error, float(count - 1), n=count, direction=direction,
            confidence=confidence, means=means, method="t over task means", unit="tasks",
            nested=f"{', '.join(f'{name} ({values.size})' for name, values in effects.items())} runs per task",
        )  # fmt: skip
        return StratifiedComparison(per_task, overall, generalise)
    if any(values.size < 2 for values in effects.values()):
        variance, degrees = math.inf, 0.0
    else:
        parts = np.array([values.var(ddof=1) / values.size / count**2 for values in effects.values()])
        variance = float(parts.sum())
        sizes = np.array([values.size for values in effects.values()])
        denominator = float((parts**2 / (sizes - 1)).sum())
        degrees = variance**2 / denominator if denominator > 0 else float((sizes - 1).sum())
    total_runs = int(sum(values.size for values in effects.values()))
    overall = _t_comparison(
        float(task_means.mean()), math.sqrt(variance), degrees, n=total_runs, direction=direction,
        confidence=confidence, means=means, method=f"stratified t over {count} tasks", unit=f"{unit} within {count} tasks",
        nested="equal weight per task",
    )  # fmt: skip
    return StratifiedComparison(per_task, overall, generalise)


def paper_size_check(
    ci_low: float | None, ci_high: float | None, paper_effect: float | None, digits: int = 3
) -> str:
    """Whether the paper's effect size lies inside the measured interval, in words.

    ``""`` when the paper prints no effect on this scale; otherwise e.g. ``"paper's +2.59 inside the
    interval"``, ``"paper's +2.59 excluded: the effect here is smaller"`` or ``"... larger"``, or ``"paper's
    +2.59 not checked: no interval"`` with one run.
    """
    if paper_effect is None:
        return ""
    paper = f"paper's {paper_effect:+.{digits}g}"
    if ci_low is None or ci_high is None or not (math.isfinite(ci_low) and math.isfinite(ci_high)):
        return f"{paper} not checked: no interval"
    if ci_low <= paper_effect <= ci_high:
        return f"{paper} inside the interval"
    if paper_effect > ci_high:
        return f"{paper} excluded: the effect here is {'smaller' if paper_effect > 0 else 'larger'}"
    return f"{paper} excluded: the effect here is {'larger' if paper_effect >= 0 else 'smaller'}"
