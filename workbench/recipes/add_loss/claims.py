"""The paper's claims, ADD {1,1,1,1} against CE (Table 2's accuracy, Fig. 5's equidistance), each
compared over the paired runs both losses trained through the shared claim statistics.

The interval follows what the runs share. Repeats on one fixed split (one test fold, or the official
split) share no training data across partitions: the paired t over them. Runs on several folds train on
overlapping clips, so their effects correlate: the corrected resampled t over the fold x repeat runs
(Nadeau & Bengio 2003, :func:`~workbench.evaluation.replication.compare_resampled`). Repeats added one at a
time (``max_seeds``): the anytime-valid confidence sequence over the repeats, each repeat's folds averaged
(:class:`~workbench.recipes.base.seeding.SeedingResult`)."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from workbench.evaluation.replication import compare_resampled
from workbench.evaluation.stats import Comparison, compare_paired
from workbench.recipes import base
from workbench.recipes.add_loss.params import Params
from workbench.recipes.add_loss.result import FoldResult, LossRun, run_tag
from workbench.recipes.base.seeding import SeedingResult

TABLE2_ACCURACY = {
    ("esc50", "ast"): (93.97, 94.68), ("esc50", "beats"): (91.05, 92.22),
    ("speech_commands", "ast"): (92.05, 97.54), ("speech_commands", "beats"): (88.94, 90.49),
    ("iemocap", "ast"): (59.91, 61.30), ("iemocap", "beats"): (61.66, 62.73),
}  # fmt: skip
"""Table 2 of the paper: (CE, ADD {1,1,1,1}) accuracy in %, mean of three runs, per (dataset, encoder)."""


def paper_accuracy(dataset: str, encoder: str) -> tuple[float, float] | None:
    """Table 2's (CE, ADD) accuracy in % for this dataset and encoder family, or None where it has none."""
    family = "ast" if encoder.startswith("ast") else "beats" if encoder.startswith("beats") else ""
    return TABLE2_ACCURACY.get((dataset, family))


def paired_values(
    ce: LossRun, add: LossRun, value: Callable[[FoldResult], float]
) -> tuple[list[float], list[float], list[tuple[int | None, int]]]:
    """``value`` of each (fold, repeat) both losses trained, ADD's and CE's in the same order, and
    the pairs' ``(fold, repeat)``; pairs where either value is NaN (a fold too small for a geometry) are left out."""
    by_key = {(result.fold, result.repeat): result for result in ce.folds}
    treated: list[float] = []
    control: list[float] = []
    tags: list[tuple[int | None, int]] = []
    for result in add.folds:
        partner = by_key.get((result.fold, result.repeat))
        if partner is None:
            continue
        a, c = value(result), value(partner)
        if math.isfinite(a) and math.isfinite(c):
            treated.append(a)
            control.append(c)
            tags.append((result.fold, result.repeat))
    return treated, control, tags


CLAIMS = (
    # (summary or "accuracy", what the paper shows, its figure, direction ADD vs CE)
    ("accuracy", "is more accurate than CE", "Table 2", +1),
    ("intra-class equidistance", "lowers the intra-class CV against CE", "Fig. 5b, 5f", -1),
    ("inter-class equidistance", "lowers the inter-class CV against CE", "Fig. 5d, 5f", -1),
    ("inter-class hierarchy", "spreads the class pairs' mean distances less than CE (inter-class hierarchy)",
     "Fig. 5d vs 5e", -1),
)  # fmt: skip


def per_repeat(values: list[float], tags: list[tuple[int | None, int]]) -> dict[int, float]:
    """Repeat -> the mean of its folds' ``values`` (``tags`` the runs' ``(fold, repeat)``)."""
    repeats: dict[int, list[float]] = {}
    for value, (_, repeat) in zip(values, tags, strict=True):
        repeats.setdefault(repeat, []).append(value)
    return {repeat: float(np.mean(scores)) for repeat, scores in repeats.items()}


def _compare(
    treated: list[float],
    control: list[float],
    keys: list[tuple[int | None, int]],
    direction: int,
    test_train_ratio: float | None,
    seeding: SeedingResult | None,
) -> Comparison:
    """The comparison of the paired runs, by what they share (see the module's docstring)."""
    if seeding is not None:
        folds = len({fold for fold, _ in keys})
        return seeding.comparison(*_repeat_arrays(treated, control, keys), direction=direction,
                                  unit="training runs (repeats, added one at a time)",
                                  nested=f"{folds} test fold{'s' if folds != 1 else ''} averaged per repeat" if folds > 1 else "")  # fmt: skip
    if len({fold for fold, _ in keys}) > 1 and test_train_ratio is not None:
        return compare_resampled(treated, control, direction=direction, test_train_ratio=test_train_ratio,
                                 unit="training runs (fold x repeat, sharing training clips)")  # fmt: skip
    return compare_paired(treated, control, direction=direction, unit="training runs (fold x repeat)")


def comparison_claims(
    runs: dict[str, LossRun],
    labels: dict[str, str],
    params: Params | None = None,
    *,
    test_train_ratio: float | None = None,
    seeding: SeedingResult | None = None,
) -> list[base.Claim]:
    """The paper's claims, ADD {1,1,1,1} (variant ``"add"`` or ``"add-1111"``) against CE, each compared
    over the paired runs both trained (same test folds, same repeat seeds); none when either loss was
    not trained.

    Over one fixed split, the paired t (:func:`~workbench.evaluation.stats.compare_paired`); over several
    folds, the corrected resampled t at ``test_train_ratio`` (the folds' mean ``n_test / n_train``); with
    ``seeding`` (repeats added one at a time, ``max_seeds``), the confidence sequence over the repeats.
    Accuracy carries the paper's Table 2 effect where the dataset and encoder are the paper's; the
    geometry claims are the directions of Fig. 5 (the paper prints no number for them).
    """
    add_key = next((key for key in ("add", "add-1111") if key in labels), None)
    if "ce" not in labels or add_key is None:
        return []
    ce, add = runs[labels["ce"]], runs[labels[add_key]]
    paper_table = paper_accuracy(params.dataset, params.encoder) if params is not None else None
    claims = []
    for metric, claimed, figure, direction in CLAIMS:
        if metric == "accuracy":
            def value(result: FoldResult) -> float:
                return result.accuracy
        else:
            def value(result: FoldResult, metric: str = metric) -> float:
                return result.geometry.summaries()[metric]
        treated, control, tags = paired_values(ce, add, value)
        name = f"{add.label} {claimed}"
        paper_effect = None
        paper = f"{'higher' if direction > 0 else 'lower'} with ADD than with CE ({figure})"
        if metric == "accuracy" and paper_table is not None:
            paper_effect = (paper_table[1] - paper_table[0]) / 100
            paper = f"CE {paper_table[0]:.2f} % -> ADD {paper_table[1]:.2f} % (Table 2)"
        if not treated:
            claims.append(base.Claim(name=name, paper=paper, measured="no paired run with a defined value",
                                     paper_effect=paper_effect))  # fmt: skip
            continue
        comparison = _compare(treated, control, tags, direction, test_train_ratio, seeding)
        per_run = ", ".join(f"{run_tag(*tag)} ({c:.3f}, {a:.3f})" for tag, c, a in zip(tags, control, treated, strict=True))
        details = [] if seeding is None else [seeding.line(*_repeat_arrays(treated, control, tags))]
        claims.append(base.Claim.from_comparison(
            name, paper, comparison,
            measured=f"CE {np.mean(control):.3f} -> ADD {np.mean(treated):.3f} ({metric}, {len(treated)} paired runs)",
            paper_effect=paper_effect, detail="; ".join([*details, f"per paired run (CE, ADD): {per_run}"]),
        ))  # fmt: skip
    return claims


def _repeat_arrays(
    treated: list[float], control: list[float], keys: list[tuple[int | None, int]]
) -> tuple[np.ndarray, np.ndarray]:
    """``(repeats,)`` scores of each side in repeat order, each repeat's folds averaged."""
    treated_by, control_by = per_repeat(treated, keys), per_repeat(control, keys)
    repeats = sorted(treated_by)
    return np.array([treated_by[r] for r in repeats]), np.array([control_by[r] for r in repeats])
