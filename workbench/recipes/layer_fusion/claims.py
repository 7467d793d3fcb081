"""The paper's findings, each a paired comparison over this run's probe trainings, stratified by task
(:func:`~workbench.evaluation.replication.compare_stratified`), and the same per task, with the paper's Table
III figures beside them (per model; models the paper does not cover say so).

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
from workbench.recipes.layer_fusion.choice import FusionChoice, late_region, layer_region
from workbench.recipes.layer_fusion.evaluate import TaskScores
from workbench.recipes.layer_fusion.systems import RANDOM_WEIGHTS


PAPER_FUSION_GAINS: dict[str, tuple[str, float]] = {
    "vggish": ("VGGish 47.2 -> VGGish-Fusion#10#15 71.3 %", 0.241),
    "panns-cnn14": ("CNN14 57.0 -> CNN14-Fusion#3#6 72.6 %", 0.156),
    "ast": ("AST 65.5 -> AST-Fusion#5#12 69.8 %", 0.043),
}
"""Table III of Niizumi et al. (EUSIPCO 2022): average accuracy over the nine tasks of each model's last
layer features and of its fusion, and the gain on the 0-1 scale (by model-name prefix)."""

PAPER_TASK_GAINS: dict[str, dict[str, tuple[float, float, float]]] = {
    "ESC-50": {"vggish": (68.2, 86.5, 18.2), "panns-cnn14": (90.1, 93.0, 2.9), "ast": (93.5, 94.2, 0.6)},
    "US8K": {"vggish": (75.1, 80.9, 5.8), "panns-cnn14": (82.0, 85.8, 3.8), "ast": (85.5, 85.5, 0.0)},
    "SPCV2": {"vggish": (14.3, 91.4, 77.1), "panns-cnn14": (51.4, 91.3, 39.9), "ast": (71.8, 80.4, 8.6)},
    "VC1": {"vggish": (9.0, 54.5, 45.5), "panns-cnn14": (8.0, 50.6, 42.7), "ast": (16.5, 24.9, 8.4)},
    "VF": {"vggish": (75.7, 91.6, 16.0), "panns-cnn14": (75.0, 90.5, 15.5), "ast": (81.2, 87.6, 6.4)},
    "CRM-D": {"vggish": (44.4, 59.3, 15.0), "panns-cnn14": (50.7, 59.0, 8.3), "ast": (57.9, 60.7, 2.8)},
    "GTZAN": {"vggish": (75.3, 70.8, -4.5), "panns-cnn14": (79.7, 77.4, -2.3), "ast": (84.3, 82.9, -1.4)},
    "NSynth": {"vggish": (53.9, 73.6, 19.7), "panns-cnn14": (66.0, 73.8, 7.8), "ast": (73.2, 77.6, 4.5)},
    "Surge": {"vggish": (8.8, 33.3, 24.5), "panns-cnn14": (10.4, 32.4, 22.0), "ast": (25.8, 34.6, 8.9)},
}
"""Table III per task: (last-layer features, fusion, printed difference) accuracy in % of VGGish, CNN14 and AST
(the printed difference is the paper's, from unrounded accuracies)."""

PAPER_TASK_OF: dict[str, str] = {
    "esc50": "ESC-50", "esc10": "ESC-50", "event": "ESC-50", "urbansound8k": "US8K",
    "speech_commands": "SPCV2", "fsdd:digit": "SPCV2", "fsdd": "SPCV2", "word": "SPCV2",
    "voxceleb1": "VC1", "fsdd:speaker": "VC1", "speaker": "VC1", "voxforge": "VF", "cremad": "CRM-D",
    "gtzan": "GTZAN", "nsynth": "NSynth", "surge": "Surge", "pitch": "Surge",
}  # fmt: skip
"""Our task spec -> the Table III task it stands closest to (same kind of label: sound events, spoken words,
speakers, pitch); a spec not listed (or a ``dataset:task`` whose dataset is) falls back to its dataset."""


def _model_key(model: str) -> str | None:
    """The Table III model ``model`` is (by name prefix; the ``-tiny`` stand-ins are not), else None."""
    for prefix in PAPER_FUSION_GAINS:
        if model.startswith(prefix) and not model.endswith("-tiny"):
            return prefix
    return None


def paper_gain(model: str) -> tuple[str, float | None]:
    """The paper's Table III figure for ``model`` (or a general statement for models it does not cover)."""
    key = _model_key(model)
    if key is not None:
        text, gain = PAPER_FUSION_GAINS[key]
        return f"Table III average over 9 tasks: {text} (+{gain * 100:.1f} points)", gain
    return (f"Table III: fusion beats the last-layer features of VGGish, CNN14 and AST on average (+4.3 to +24.1 "
            f"points); {model} is not in the paper"), None  # fmt: skip


def paper_task_gain(model: str, task: str) -> tuple[str, float | None]:
    """Table III's per-model figures on the paper's task closest to ``task``, and ``model``'s own gain (0-1
    scale) where the paper has the model; models it does not cover (EfficientAT mn04, the stand-ins) say so."""
    column = PAPER_TASK_OF.get(task) or PAPER_TASK_OF.get(task.partition(":")[0])
    if column is None:
        return f"Table III has no task like {task}; {paper_gain(model)[0]}", None
    figures = PAPER_TASK_GAINS[column]
    names = {"vggish": "VGGish", "panns-cnn14": "CNN14", "ast": "AST"}
    listed = ", ".join(f"{names[key]} {last:.1f} -> {fused:.1f} ({gain:+.1f})" for key, (last, fused, gain) in figures.items())
    key = _model_key(model)
    own = "" if key is not None else f"; {model} is not in the paper"
    gain = None if key is None else figures[key][2] / 100
    return f"Table III {column} (closest to {task}), last layer -> fusion %: {listed}{own}", gain


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
    scores: Mapping[str, TaskScores],
    choice: FusionChoice,
    layer_names: Sequence[str],
    model: str = "",
    *,
    pretrained: bool = True,
) -> list[base.Claim]:
    """The paper's findings, each a paired comparison over this run's probe trainings:

    - the fused M + L feature beats the model's usual embedding (Table III), and, separately, beats the last
      tapped layer: first the average over tasks stratified by task, then one claim per task, each with
      Table III's per-model figures on the paper's closest task beside it (:func:`paper_task_gain`);
    - an early or middle layer beats the last layer on some task (Sec. IV-B, Fig. 2-4): the task and its
      layer are picked on validation scores (largest validation gain over the last tapped layer), then that
      layer's test scores are compared with the last layer's, paired over seeds, so the pick does not bias
      the verdict; the layer's region is named by :func:`~workbench.recipes.layer_fusion.choice.layer_region`.

    With ``pretrained=False`` (random weights) every claim's name and paper figure start with
    ``[random weights: says nothing about pre-training]``: the verdicts are about the architecture's random
    features, never about the pre-training the paper studies.
    """
    last_layer = layer_names[-1]
    fused_name = " + ".join(choice.layers)
    label = "" if pretrained else f"[{RANDOM_WEIGHTS}] "
    claims = []

    def claim(name: str, paper: str, comparison: Comparison, **fields: Any) -> None:
        claims.append(base.Claim.from_comparison(label + name, label + paper, comparison, **fields))

    text, gain = paper_gain(model)
    last_paper = "Sec. IV-C: fusing a middle layer with a late one adds what the late layer lacks (no figure for the " \
                 "last tapped layer alone)"  # fmt: skip
    baselines = {
        "the model's usual embedding": (lambda s: s.last, text, gain),
        f"the last tapped layer {last_layer}": (lambda s: s.layers[last_layer], last_paper, None),
    }
    for baseline, (control, paper, effect) in baselines.items():
        comparison, per_task = stratified(scores, lambda s: s.fused, control)
        claim(f"fused {fused_name} beats {baseline}", paper, comparison,
              measured=f"{comparison.treatment_mean:.3f} vs {comparison.control_mean:.3f}, mean over "
                       f"{len(scores)} task(s)", paper_effect=effect, detail=per_task)  # fmt: skip
    for task, task_scores in scores.items():
        paper, effect = paper_task_gain(model, task)
        for baseline, (control, _, _) in baselines.items():
            treated, controlled = task_scores.fused.per_seed, control(task_scores).per_seed
            claim(f"on {task}: fused {fused_name} beats {baseline}",
                  paper if baseline.startswith("the model's") else last_paper,
                  compare_runs(treated, controlled, unit=PROBE_RUNS),
                  measured=f"{np.mean(treated):.3f} vs {np.mean(controlled):.3f}",
                  paper_effect=effect if baseline.startswith("the model's") else None)  # fmt: skip
    late = set(late_region(layer_names))
    earlier = [name for name in layer_names if name not in late]
    if earlier:
        gains = {}
        for task, task_scores in scores.items():
            layer = task_scores.best_valid_layer(earlier)
            gains[task] = (task_scores.layers[layer].valid_score - task_scores.layers[last_layer].valid_score, layer)
        task = max(gains, key=lambda name: gains[name][0])
        layer = gains[task][1]
        region = layer_region(layer_names, layer)
        treated, controlled = scores[task].layers[layer].per_seed, scores[task].layers[last_layer].per_seed
        claim("an early or middle layer beats the last layer on some task",
              "Sec. IV-B, Fig. 2-4: middle layers serve some tasks better (VGGish: accuracy drops after #15)",
              compare_runs(treated, controlled, unit=PROBE_RUNS),
              measured=f"{task}: {layer} ({region}) {np.mean(treated):.3f} vs {last_layer} {np.mean(controlled):.3f} "
                       "(task and layer picked on validation scores)",
              detail="validation gain of the best early or middle layer per task: "
                     + ", ".join(f"{name} {gain:+.3f} ({best}, {layer_region(layer_names, best)})"
                                 for name, (gain, best) in gains.items()))  # fmt: skip
    return claims
