"""What a run returns: each fusion setting's scores per seed (:class:`ModelScore`), the ablation table
(:class:`GridResult`) and the run's result (:class:`AscTaggingRun`) with its summary."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from workbench.data.records import AudioDataset
from workbench.evaluation.stats import mean_confidence_interval
from workbench.models.tag_fusion import PAPER_LETTER, FusionConfig
from workbench.recipes import base
from workbench.recipes.asc_tagging.params import GRID_AXES, PAPER_TABLE, Params


@dataclass
class ModelScore:
    """Test accuracy of one fusion setting, per training seed (in ``Params.seeds`` order, so two models'
    lists are paired), through both back-ends: the SVM on the codes (the paper's figure, the headline)
    and the network's own softmax head."""

    name: str
    fusion: FusionConfig
    accuracy: list[float] = field(default_factory=list)
    svm_accuracy: list[float] = field(default_factory=list)

    @property
    def mean(self) -> float:
        """Mean softmax-head accuracy over seeds."""
        return float(np.mean(self.accuracy))

    @property
    def svm_mean(self) -> float:
        """Mean SVM back-end accuracy over seeds (the headline)."""
        return float(np.mean(self.svm_accuracy))

    @property
    def label(self) -> str:
        letter = PAPER_LETTER[self.fusion.variant]
        return self.name if letter == "-" or self.name != self.fusion.variant else f"({letter}) {self.name}"

    def scalars(self) -> dict[str, Any]:
        ci95 = mean_confidence_interval(self.accuracy)[1]
        return {"fusion": dataclasses.asdict(self.fusion), "accuracy": self.accuracy,
                "svm_accuracy": self.svm_accuracy, "mean": self.mean, "ci95": ci95,
                "svm_mean": self.svm_mean}  # fmt: skip

    @classmethod
    def from_scalars(cls, name: str, values: dict[str, Any]) -> ModelScore:
        return cls(name, FusionConfig(**values["fusion"]), list(values["accuracy"]), list(values["svm_accuracy"]))


@dataclass
class GridResult:
    """One ablation table: the mean SVM back-end accuracy of the model in each cell (the paper's figure),
    and the softmax head's beside it."""

    kind: str
    rows: list[int]
    columns: list[int]
    names: list[list[str]]
    accuracy: np.ndarray
    """``(rows, columns)`` mean SVM accuracy over seeds."""
    softmax_accuracy: np.ndarray | None = None
    """``(rows, columns)`` mean softmax-head accuracy over seeds."""

    @property
    def axes(self) -> tuple[str, str]:
        return GRID_AXES[self.kind]

    def best(self) -> tuple[str, float]:
        row, column = np.unravel_index(int(np.argmax(self.accuracy)), self.accuracy.shape)
        return self.names[row][column], float(self.accuracy[row, column])

    def scalars(self) -> dict[str, Any]:
        softmax = None if self.softmax_accuracy is None else self.softmax_accuracy.tolist()
        return {"kind": self.kind, "rows": self.rows, "columns": self.columns, "names": self.names,
                "accuracy": self.accuracy.tolist(), "softmax_accuracy": softmax}  # fmt: skip

    @classmethod
    def from_scalars(cls, values: dict[str, Any]) -> GridResult:
        softmax = values.get("softmax_accuracy")
        return cls(values["kind"], list(values["rows"]), list(values["columns"]), values["names"],
                   np.asarray(values["accuracy"], dtype=np.float64),
                   None if softmax is None else np.asarray(softmax, dtype=np.float64))  # fmt: skip


def grid_result(
    params: Params, scores: dict[str, ModelScore], cell_names: dict[tuple[int, int], str]
) -> GridResult | None:
    """The ablation table of ``params.grid`` from the models' scores (None without a grid)."""
    if params.grid == "none":
        return None
    names = [[cell_names[row, column] for column in params.grid_columns] for row in params.grid_rows]
    accuracy = np.array([[scores[name].svm_mean for name in row] for row in names])
    softmax = np.array([[scores[name].mean for name in row] for row in names])
    return GridResult(params.grid, list(params.grid_rows), list(params.grid_columns), names, accuracy, softmax)


@dataclass
class AscTaggingRun(base.Result):
    """Scores per model, the grid, and what the notebook draws (first seed's test predictions,
    attention maps averaged per scene, the test clips' tag vectors)."""

    scores: dict[str, ModelScore] = field(default_factory=dict)
    variants: list[str] = field(default_factory=list)
    grid: GridResult | None = None
    classes: list[str] = field(default_factory=list)
    tag_names: list[str] = field(default_factory=list)
    tagger_map: float | None = None
    """Tagger mAP on the test scenes' true event tags (synthetic scenes only)."""
    test_indices: np.ndarray | None = None
    """Dataset indices of the test clips, in the order of every test array."""
    test_targets: np.ndarray | None = None
    test_tags: np.ndarray | None = None
    """``(test clips, n_tags)`` tag vectors the models were given."""
    test_true_tags: np.ndarray | None = None
    predictions: dict[str, np.ndarray] = field(default_factory=dict)
    """Model name -> softmax-head predictions on the test clips (first seed)."""
    attention_by_scene: dict[str, np.ndarray] = field(default_factory=dict)
    """Model name -> ``(scenes, heads, filters // heads)`` attention map averaged over each scene's test clips."""
    dataset: AudioDataset | None = None

    def best_fusion(self) -> str | None:
        """The fusion variant of highest mean SVM accuracy (for display: the claims do not choose on it)."""
        fusions = [name for name in self.variants if name != "baseline"]
        return max(fusions, key=lambda name: self.scores[name].svm_mean) if fusions else None

    def summary(self) -> str:
        params = self.params
        tagger = params["tagger"] + (f", mAP {self.tagger_map:.2f} on the test scenes" if self.tagger_map else "")
        note = (self.metrics or {}).get("protocol_note")
        described = (self.metrics or {}).get("tagger_description")
        lines = [f"recipe: asc_tagging on {params['dataset']} (tagger {tagger}; seeds {params['seeds']})"
                 + (f"; {note}" if note else ""), *([f"tagger: {described}"] if described else []),
                 f"test accuracy, SVM {params['svm_kernel']} (the paper's back-end) | softmax head:"]  # fmt: skip
        width = max(len(self.scores[name].label) for name in self.variants)
        for name in self.variants:
            score = self.scores[name]
            lines.append(f"  {score.label:{width}}  {score.svm_mean:.2f} | {score.mean:.2f}")
        if self.grid is not None:
            name, accuracy = self.grid.best()
            lines.append(f"grid {self.grid.kind} ({PAPER_TABLE[self.grid.kind]}): best {name} SVM {accuracy:.2f}")
        best = self.best_fusion()
        if best is not None and "baseline" in self.scores:
            lines.append(f"best fusion: {self.scores[best].label} SVM {self.scores[best].svm_mean:.2f} vs baseline "
                         f"{self.scores['baseline'].svm_mean:.2f}")  # fmt: skip
        lines += [f"claim {claim.line()}" for claim in self.claims]
        return "\n".join(lines)
