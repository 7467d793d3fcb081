"""The paper's claims this run checks: each fusion against the baseline and the combination against the
stronger single method, on the SVM accuracy paired over training seeds."""

from __future__ import annotations

from collections.abc import Sequence

from workbench.evaluation.replication import TRAINING_RUNS
from workbench.evaluation.stats import compare_paired
from workbench.recipes import base
from workbench.recipes.asc_tagging.params import PAPER_ACCURACY, PAPER_SOURCE
from workbench.recipes.asc_tagging.result import AscTaggingRun, ModelScore


CONCAT_PREFERENCE = ("transform_concat", "concat", "codecat")
"""Which concatenation variant stands for "concatenation" in the claims: the paper's best first (Table 2)."""


def claim_representatives(variants: Sequence[str]) -> dict[str, str]:
    """The variant that stands for each fusion group in the claims, fixed in advance (the paper's best
    configuration of the group), never chosen on the test scores the claim is judged by."""
    chosen = {}
    concatenation = next((name for name in CONCAT_PREFERENCE if name in variants), None)
    if concatenation is not None:
        chosen["concatenation"] = concatenation
    for group in ("attention", "combined"):
        if group in variants:
            chosen[group] = group
    return chosen


def fusion_claims(result: AscTaggingRun) -> list[base.Claim]:
    """The paper's claims that this run checks, on the SVM back-end's accuracy (the paper's figure), each
    fusion against the baseline and the combination against the stronger single method, paired over the
    training seeds (:func:`~workbench.evaluation.stats.compare_paired`; one seed is always inconclusive).
    The softmax head's means are in each claim's detail."""
    scores = result.scores
    if "baseline" not in result.variants:
        return []
    baseline = scores["baseline"]
    chosen = claim_representatives(result.variants)
    runs = len(baseline.svm_accuracy)

    def claim(name: str, group: str, treated: ModelScore, control: ModelScore, control_group: str) -> base.Claim:
        comparison = compare_paired(treated.svm_accuracy, control.svm_accuracy, direction=+1, unit=TRAINING_RUNS)
        paper_effect = (PAPER_ACCURACY[group] - PAPER_ACCURACY[control_group]) / 100
        return base.Claim.from_comparison(
            name,
            f"{PAPER_ACCURACY[group]:.2f} % ({PAPER_SOURCE[group]}) vs {PAPER_ACCURACY[control_group]:.2f} % "
            f"({PAPER_SOURCE[control_group]}), SVM back-end",
            comparison,
            measured=(f"SVM {100 * treated.svm_mean:.1f} % ({treated.label}) vs {100 * control.svm_mean:.1f} % "
                      f"({control.label})"),
            paper_effect=paper_effect,
            detail=(f"SVM accuracy per seed {treated.svm_accuracy} vs {control.svm_accuracy}; softmax head "
                    f"{100 * treated.mean:.1f} % vs {100 * control.mean:.1f} %; {runs} paired run(s) (test fold x seed)"),
        )  # fmt: skip

    claims = [claim(f"{group} of tag vectors beats the baseline", group, scores[name], baseline, "baseline")
              for group, name in chosen.items()]  # fmt: skip
    single = "attention" if "attention" in chosen else "concatenation" if "concatenation" in chosen else None
    if "combined" in chosen and single is not None:
        claims.append(claim(f"combining concatenation and attention beats {single} alone", "combined",
                            scores["combined"], scores[chosen[single]], single))  # fmt: skip
    return claims
