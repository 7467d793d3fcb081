"""The paper's findings, each a paired comparison over this run's probe trainings, stratified by task
(:func:`~workbench.evaluation.replication.compare_stratified`), with the paper's Table III figures.

The encoder is one fixed pretrained model, so what is re-run is the linear probe (seed x fold): those are
the replicates inside a task. An average over several tasks is stratified by task, never a pool of
task x seed pairs: its interval is about these tasks (the within-task variances), as the paper's Table III
average over its nine tasks reads."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from workbench.evaluation.replication import compare_runs, compare_stratified
from workbench.evaluation.stats import Comparison
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


PROBE_RUNS = "probe trainings"


def stratified(scores: Mapping[str, TaskScores], treatment: Any, control: Any) -> tuple[Comparison, str]:
    """The average effect over the tasks, stratified by task, and each task's own effect in words."""
    tasks = {}
    for task, task_scores in scores.items():
        first, second = treatment(task_scores), control(task_scores)
        if first.seeds != second.seeds:
            raise ValueError(f"cannot pair runs of seeds {first.seeds} with runs of seeds {second.seeds}")
        tasks[task] = (np.asarray(first.per_seed), np.asarray(second.per_seed))
    if len(tasks) == 1:
        (task, (treated, controlled)), = tasks.items()
        comparison = compare_runs(treated, controlled, unit=PROBE_RUNS)
        return comparison, f"{task} {comparison.interval()} -> {comparison.verdict}"
    result = compare_stratified(tasks, unit=PROBE_RUNS)
    return result.overall, "per task: " + "; ".join(result.lines())


def fusion_claims(
    scores: Mapping[str, TaskScores], choice: FusionChoice, layer_names: Sequence[str], model: str = ""
) -> list[base.Claim]:
    """The paper's findings, each a paired comparison over this run's seeds (and tasks):

    - the fused M + L feature beats the model's usual embedding (Table III): per task over the probe
      trainings, the average over tasks stratified by task;
    - the fused feature beats the last tapped layer, likewise;
    - a middle layer beats the last layer on some task (Sec. IV-B, Fig. 2-4): the task and its middle
      layer are picked on validation scores (largest validation gain of an early/middle layer over the
      last tapped layer), then that layer's test scores are compared with the last layer's, paired over
      seeds, so the pick does not bias the verdict.
    """
    late = set(late_region(layer_names))
    last_layer = layer_names[-1]
    fused_name = " + ".join(choice.layers)
    claims = []
    text, gain = paper_gain(model)
    comparison, per_task = stratified(scores, lambda s: s.fused, lambda s: s.last)
    claims.append(base.Claim.from_comparison(
        f"fused {fused_name} beats the model's usual embedding", text, comparison,
        measured=f"{comparison.treatment_mean:.3f} vs {comparison.control_mean:.3f}, mean over {len(scores)} task(s)",
        paper_effect=gain, detail=per_task,
    ))  # fmt: skip
    comparison, per_task = stratified(scores, lambda s: s.fused, lambda s: s.layers[last_layer])
    claims.append(base.Claim.from_comparison(
        f"fused {fused_name} beats the last tapped layer {last_layer}",
        "Sec. IV-C: fusing a middle layer with a late one adds what the late layer lacks (no figure for the "
        "last tapped layer alone)",
        comparison,
        measured=f"{comparison.treatment_mean:.3f} vs {comparison.control_mean:.3f}, mean over {len(scores)} task(s)",
        detail=per_task,
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
            compare_runs(treated, controlled, unit=PROBE_RUNS),
            measured=f"{task}: {layer} {np.mean(treated):.3f} vs {last_layer} {np.mean(controlled):.3f} "
            "(task and layer picked on validation scores)",
            detail="validation gain of the best middle layer per task: "
            + ", ".join(f"{name} {gain:+.3f} ({best})" for name, (gain, best) in gains.items()),
        ))  # fmt: skip
    return claims
