"""The paper's claims, checked: each ``lambda > 0`` against ``lambda = 0`` on BgKnown ``y_diff`` accuracy
(Table 1) and on retrieval recall (Table 2), through the shared claim statistics."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from workbench.evaluation.bgknown import BgKnownScores, compare_bgknown, compare_bgknown_items, overlap_name
from workbench.evaluation.retrieval import KS, RetrievalResult
from workbench.evaluation.replication import compare_runs
from workbench.evaluation.stats import Comparison
from workbench.recipes import base
from workbench.recipes.base.seeding import SeedingResult
from workbench.recipes.diff_byola.evaluate import Evaluation
from workbench.recipes.diff_byola.params import BGKNOWN_COLUMNS, model_label

PAPER_TABLE1 = {0.0: (55.29, 52.21, 47.92, 47.25), 0.1: (55.54, 52.46, 48.50, 47.39),
                0.2: (57.54, 53.37, 48.67, 47.42), 0.5: (58.96, 54.63, 50.50, 47.33),
                0.8: (59.96, 55.50, 51.96, 45.84)}  # fmt: skip
"""Table 1 of the paper (%): lambda -> (a) 100 %, (b) 50 %, (c) 0 % references, Mix."""


def _bound(value: float | None, signed: bool = True) -> str:
    """A stored interval bound or MDE (None where infinite) as text."""
    if value is None:
        return "unbounded"
    return f"{value:+.3f}" if signed else f"{value:.3f}"


def _averaged(runs: Mapping[str, Sequence[BgKnownScores]], columns: Sequence[str]) -> list[BgKnownScores]:
    """Per pre-training seed, each item's correctness averaged over ``columns`` (the three references)."""
    averaged = []
    for position in range(len(runs[columns[0]])):
        parts = [runs[column][position] for column in columns]
        correct = np.mean([part.correct.astype(float) for part in parts], axis=0)
        averaged.append(BgKnownScores(parts[0].ids, correct, correct.mean(axis=1), parts[0].epochs, parts[0].best_epochs))
    return averaged


def _paper_reference_gain(weight: float) -> float | None:
    """Table 1's gain of the mean of the (a)-(c) references over lambda = 0, as a share (0.0289 at 0.5)."""
    if weight not in PAPER_TABLE1:
        return None
    return (float(np.mean(PAPER_TABLE1[weight][:3])) - float(np.mean(PAPER_TABLE1[0.0][:3]))) / 100


def _recall_per_run(results: Sequence[RetrievalResult]) -> np.ndarray:
    """``(pre-training runs, adapter seeds)`` mean recall@1/5/10: adapters re-trained on one frozen
    encoder are nested replicates of that encoder's pre-training run."""
    return np.array([[float(np.mean([result.per_seed[k][i] for k in KS])) for i in range(len(result.per_seed[KS[0]]))]
                     for result in results])  # fmt: skip


def _stacked(scores: Sequence[BgKnownScores]) -> np.ndarray:
    """``(runs, probe seeds, items)`` correctness of one side."""
    return np.stack([part.correct for part in scores]).astype(float)


def _decided(comparison: Comparison, treated: np.ndarray, controlled: np.ndarray, seeding: SeedingResult | None) -> Comparison:
    """``comparison`` (the paired t over a fixed set of runs), or, when the seeds were added one at a
    time, the confidence sequence over the same runs: valid at the number of seeds the sequence chose."""
    if seeding is None:
        return comparison
    return seeding.comparison(treated, controlled, direction=comparison.direction, unit=comparison.unit,
                              nested=comparison.nested)  # fmt: skip


def difference_claims(
    bgknown: Mapping[str, Mapping[str, Sequence[BgKnownScores]]],
    retrieval: Mapping[str, Sequence[RetrievalResult]],
    weights: Sequence[float],
    seeding: SeedingResult | None = None,
) -> list[base.Claim]:
    """For each lambda > 0 against lambda = 0, through the shared claim statistics:

    - BgKnown (Table 1): per pre-training run, each test item's correctness averaged over the three
      references, the probe seeds and the items; then a paired t over the pre-training runs
      (:func:`~workbench.evaluation.bgknown.compare_bgknown`: the unit of replication is the pre-training
      run, so one run per side is inconclusive); the detail gives each reference's effect and the
      item-level comparison of these fixed encoders (about these checkpoints only);
    - retrieval (Table 2): mean recall@1/5/10 per pre-training run, adapter seeds averaged inside it,
      paired t over the pre-training runs.

    Without a lambda = 0 model there is nothing to claim. With ``seeding`` (the pre-training seeds were
    added one at a time until the first lambda > 0's BgKnown claim was settled, ``max_seeds``), every
    interval is the anytime-valid confidence sequence over the seeds used, and each claim's detail says
    which seeds, why adding them stopped, and what a fixed design would have needed.

    Args:
        bgknown: model label -> column -> one :class:`BgKnownScores` per pre-training seed.
        retrieval: model label -> one :class:`RetrievalResult` per pre-training seed.
    """
    if 0.0 not in weights:
        return []
    baseline = model_label(0.0)
    columns = [overlap_name(overlap) for overlap in (1.0, 0.5, 0.0)]
    claims = []
    for weight in weights:
        if weight == 0:
            continue
        model = model_label(weight)
        treated, controlled = _averaged(bgknown[model], columns), _averaged(bgknown[baseline], columns)
        comparison = _decided(compare_bgknown(treated, controlled), _stacked(treated), _stacked(controlled), seeding)
        details = [] if seeding is None else [seeding.line(_stacked(treated), _stacked(controlled))]
        for column in columns:
            per_column = _decided(compare_bgknown(bgknown[model][column], bgknown[baseline][column]),
                                  _stacked(bgknown[model][column]), _stacked(bgknown[baseline][column]), seeding)  # fmt: skip
            details.append(f"{column} {per_column.effect:+.3f} [{_bound(per_column.ci_low)}, {_bound(per_column.ci_high)}] "
                           f"MDE {_bound(per_column.mde, signed=False)}")  # fmt: skip
        seeds = len(treated)
        fixed = compare_bgknown_items(treated, controlled)
        details.append(f"these {seeds} fixed encoder pair{'s' if seeds != 1 else ''} on the shared test items: "
                       f"{fixed.effect:+.3f} [{_bound(fixed.ci_low)}, {_bound(fixed.ci_high)}] -> {fixed.verdict} "
                       "(about these checkpoints only)")  # fmt: skip
        paper_gain = _paper_reference_gain(weight)
        paper = ("higher with λ > 0 (Table 1, mean of the (a) 100 / (b) 50 / (c) 0 % references: "
                 + (f"{np.mean(PAPER_TABLE1[0.0][:3]):.2f} -> {np.mean(PAPER_TABLE1[weight][:3]):.2f} % at λ={weight:g})"
                    if paper_gain is not None else "51.81 % at λ=0, 54.70 % at λ=0.5)"))  # fmt: skip
        claims.append(base.Claim.from_comparison(
            f"BgKnown y_diff accuracy, {model} vs λ=0", paper, comparison,
            measured=f"λ=0 {comparison.control_mean:.3f} -> {model} {comparison.treatment_mean:.3f} "
                     f"({seeds} pre-training seed{'s' if seeds != 1 else ''}, {len(treated[0].ids)} test items)",
            paper_effect=paper_gain, detail="; ".join(details),
        ))  # fmt: skip
        recall, base_recall = _recall_per_run(retrieval[model]), _recall_per_run(retrieval[baseline])
        adapters = recall.shape[1]
        recall_comparison = _decided(compare_runs(
            recall, base_recall, unit="pre-training runs",
            nested=f"{adapters} adapter seed{'s' if adapters != 1 else ''} averaged per run",
        ), recall, base_recall, seeding)  # fmt: skip
        claims.append(base.Claim.from_comparison(
            f"text-modified retrieval recall, {model} vs λ=0",
            "higher with λ > 0 (Table 2, e.g. Rain R@1 50.23 -> 52.76 %, Traffic 36.86 -> 39.73 % at λ=0.5)",
            recall_comparison,
            measured=f"mean R@1/5/10 {np.mean(base_recall):.3f} -> {np.mean(recall):.3f} "
                     f"({recall.shape[0]} pre-training x {adapters} adapter seeds)",
            detail="" if seeding is None else seeding.line(recall, base_recall),
        ))  # fmt: skip
    return claims


def bgknown_paired(
    evaluations: Mapping[str, Sequence[Evaluation]], seeding: SeedingResult | None = None
) -> dict[str, dict[str, dict[str, Any]]]:
    """Model -> BgKnown column -> its paired comparison with λ=0 on the same test items
    (:meth:`~workbench.evaluation.stats.Comparison.to_dict`), the runs paired by pre-training and probe
    seed (the confidence sequence when ``seeding`` added the seeds one at a time); empty without a λ=0 model.

    Args:
        evaluations: model label -> one :class:`~workbench.recipes.diff_byola.evaluate.Evaluation` per
            pre-training seed.
    """
    baseline = model_label(0.0)
    if baseline not in evaluations:
        return {}

    def paired(runs: Sequence[Evaluation], column: str) -> dict[str, Any]:
        treated, controlled = [e.bgknown[column] for e in runs], [e.bgknown[column] for e in evaluations[baseline]]
        return _decided(compare_bgknown(treated, controlled), _stacked(treated), _stacked(controlled), seeding).to_dict()

    return {label: {column: paired(runs, column) for column in BGKNOWN_COLUMNS}
            for label, runs in evaluations.items() if label != baseline}  # fmt: skip


def evaluation_claims(
    evaluations: Mapping[str, Sequence[Evaluation]], weights: Sequence[float], seeding: SeedingResult | None = None
) -> list[base.Claim]:
    """:func:`difference_claims` over the evaluations (model label -> one per pre-training seed)."""
    return difference_claims(
        {label: {column: [e.bgknown[column] for e in runs] for column in BGKNOWN_COLUMNS}
         for label, runs in evaluations.items()},
        {label: [e.retrieval for e in runs] for label, runs in evaluations.items()},
        weights,
        seeding,
    )  # fmt: skip
