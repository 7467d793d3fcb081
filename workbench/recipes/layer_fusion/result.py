"""What :func:`~workbench.recipes.layer_fusion.run` returns: :class:`LayerFusionRun`, with its summary and
the scoring of any other fusion from the cached features."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from workbench.errors import UnknownNameError
from workbench.evaluation.embeddings import Embeddings
from workbench.evaluation.linear import LinearEvalConfig, LinearEvalResult
from workbench.recipes import base
from workbench.recipes.layer_fusion.choice import FusionChoice, layer_region
from workbench.recipes.layer_fusion.evaluate import TaskScores, evaluate_table
from workbench.recipes.layer_fusion.systems import RANDOM_WEIGHTS, fused_table
from workbench.recipes.layer_fusion.params import NAME


@dataclass
class LayerFusionRun(base.Result):
    """Layer-wise and fused scores per task, the chosen layers, and the cached per-layer features.

    ``features[task][column]`` is the :class:`Embeddings` table of one layer (or of
    :data:`~workbench.features.views.EMBEDDING`), so :meth:`evaluate_fusion` scores any other
    combination of layers without running the model.
    """

    model: str = ""
    layer_names: list[str] = field(default_factory=list)
    tasks: list[str] = field(default_factory=list)
    scores: dict[str, TaskScores] = field(default_factory=dict)
    choice: FusionChoice | None = None
    features: dict[str, dict[str, Embeddings]] = field(default_factory=dict)
    config: LinearEvalConfig = field(default_factory=LinearEvalConfig)
    pretrained: bool = True
    weights_note: str = ""
    """Where the weights came from, or why they are random (:func:`~workbench.recipes.layer_fusion.resolve_weights`)."""
    skipped: dict[str, str] = field(default_factory=dict)
    """Tasks at hand whose files are not here: spec -> why."""

    def layer_scores(self) -> dict[str, dict[str, LinearEvalResult]]:
        """task -> layer -> score, for the layer-wise curves."""
        return {task: scores.layers for task, scores in self.scores.items()}

    def evaluate_fusion(self, task: str, layers: Sequence[str]) -> LinearEvalResult:
        """Linear evaluation of the fusion of ``layers`` on ``task`` from the cached features.

        Uses the run's seeds, protocol and classifier settings, so the score is comparable with the
        run's own.

        Raises:
            UnknownNameError: a task or layer that the run does not have.
        """
        if task not in self.features:
            raise UnknownNameError(f"task of this {NAME} run", task, self.features)
        return evaluate_table(fused_table(self.features[task], layers), self.params, self.config)

    def summary(self) -> str:
        fused = " + ".join(self.choice.layers) if self.choice else ""
        how = "chosen on validation scores" if self.choice and self.choice.automatic else "given"
        weights = "pretrained weights" if self.pretrained else RANDOM_WEIGHTS
        lines = [
            f"recipe: {self.recipe}: {self.model} ({weights}), {len(self.layer_names)} layers, fused {fused} ({how})",
            "task [protocol, probe lr]: best layer on validation (its region): test score | last tapped layer | "
            "usual embedding | fused (test scores)",
        ]
        last_layer = self.layer_names[-1] if self.layer_names else ""
        for task, scores in self.scores.items():
            best = scores.best_valid_layer()
            lines.append(
                f"{task} [{scores.fused.protocol}, lr {scores.fused.learning_rate:g}]: {best} "
                f"({layer_region(self.layer_names, best)}) {scores.layers[best].mean:.2f} | "
                f"{scores.layers[last_layer].mean:.2f} | {scores.last.mean:.2f} | {scores.fused.mean:.2f}"
            )
            if scores.fused.protocol_note:
                lines.append(f"  note: {scores.fused.protocol_note}")
        lines += [f"note: {why}" for why in self.skipped.values()]
        lines += [f"claim {claim.line()}" for claim in self.claims]
        return "\n".join(lines)
