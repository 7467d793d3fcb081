"""The paper's findings, each a paired comparison over this run's seeds (and tasks) through
:mod:`workbench.evaluation.stats`, with the paper's Table III figures."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from workbench.evaluation.stats import compare_paired
from workbench.recipes import base
from workbench.recipes.layer_fusion.choice import FusionChoice, late_region
from workbench.recipes.layer_fusion.evaluate import TaskScores


PAPER_FUSION_GAINS: dict[str, tuple[str, float]] = {
    "vggish": ("VGGish 47.2 -> VGGish-Fusion#10#15 71.3 %", 0.241),
    "panns-cnn14": ("CNN14 57.0 -> CNN14-Fusion#3#6 72.6 %", 0.156),
    "ast": ("AST 65.5 -> AST-Fusion#5#12 69.8 %", 0.043),
}
"""Table III of Niizumi et al. (EUSIPCO 2022): average accuracy over the nine tasks of each model's last
layer features and of its fusion, and the gain on the 0-1 scale (by model-name prefix)."""


def paper_gain(model: str) -> tuple[str, float | None]:
    """The paper's Table III figure for ``model`` (or a general statement for models it does not cover)."""
    for prefix, (text, gain) in PAPER_FUSION_GAINS.items():
        if model.startswith(prefix) and not model.endswith("-tiny"):  # the paper's trained models only
            return f"Table III average over 9 tasks: {text} (+{gain * 100:.1f} points)", gain
    return "Table III: fusion beats the last-layer features of VGGish, CNN14 and AST on average (+4.3 to +24.1 points)", None


def paired_over_tasks(
    scores: Mapping[str, TaskScores], treatment: Any, control: Any
) -> tuple[list[float], list[float]]:
    """Per-seed scores of two conditions over every task, pair by pair (the same seeds and folds)."""
    treated, controlled = [], []
    for task_scores in scores.values():
        first, second = treatment(task_scores), control(task_scores)
        if first.seeds != second.seeds:
            raise ValueError(f"cannot pair runs of seeds {first.seeds} with runs of seeds {second.seeds}")
        treated += list(first.per_seed)
        controlled += list(second.per_seed)
    return treated, controlled


def fusion_claims(
    scores: Mapping[str, TaskScores], choice: FusionChoice, layer_names: Sequence[str], model: str = ""
) -> list[base.Claim]:
    """The paper's findings, each a paired comparison over this run's seeds (and tasks):

    - the fused M + L feature beats the model's usual embedding (Table III), paired over tasks x seeds;
    - the fused feature beats the last tapped layer, paired over tasks x seeds;
    - a middle layer beats the last layer on some task (Sec. IV-B, Fig. 2-4): the task and its middle
      layer are picked on validation scores (largest validation gain of an early/middle layer over the
      last tapped layer), then that layer's test scores are compared with the last layer's, paired over
      seeds, so the pick does not bias the verdict.
    """
    late = set(late_region(layer_names))
    last_layer = layer_names[-1]
    fused_name = " + ".join(choice.layers)
    claims = []
    fused, usual = paired_over_tasks(scores, lambda s: s.fused, lambda s: s.last)
    text, gain = paper_gain(model)
    per_task = ", ".join(f"{task} {s.fused.mean:.2f} vs {s.last.mean:.2f}" for task, s in scores.items())
    claims.append(base.Claim.from_comparison(
        f"fused {fused_name} beats the model's usual embedding", text, compare_paired(fused, usual),
        measured=f"{np.mean(fused):.3f} vs {np.mean(usual):.3f} over {len(scores)} task(s) x seeds ({per_task})",
        paper_effect=gain,
    ))  # fmt: skip
    fused, last = paired_over_tasks(scores, lambda s: s.fused, lambda s: s.layers[last_layer])
    claims.append(base.Claim.from_comparison(
        f"fused {fused_name} beats the last tapped layer {last_layer}",
        "Sec. IV-C: fusing a middle layer with a late one adds what the late layer lacks (no figure for the "
        "last tapped layer alone)",
        compare_paired(fused, last),
        measured=f"{np.mean(fused):.3f} vs {np.mean(last):.3f} over {len(scores)} task(s) x seeds",
    ))  # fmt: skip
    middle = [name for name in layer_names if name not in late]
    if middle:
        gains = {}
        for task, task_scores in scores.items():
            layer = task_scores.best_valid_layer(middle)
            gains[task] = (task_scores.layers[layer].valid_score - task_scores.layers[last_layer].valid_score, layer)
        task = max(gains, key=lambda name: gains[name][0])
        layer = gains[task][1]
        treated, controlled = scores[task].layers[layer].per_seed, scores[task].layers[last_layer].per_seed
        claims.append(base.Claim.from_comparison(
            "a middle layer beats the last layer on some task",
            "Sec. IV-B, Fig. 2-4: middle layers serve some tasks better (VGGish: accuracy drops after #15)",
            compare_paired(treated, controlled),
            measured=f"{task}: {layer} {np.mean(treated):.3f} vs {last_layer} {np.mean(controlled):.3f} "
            "(task and layer picked on validation scores)",
            detail="validation gain of the best middle layer per task: "
            + ", ".join(f"{name} {gain:+.3f} ({best})" for name, (gain, best) in gains.items()),
        ))  # fmt: skip
    return claims
