"""What :func:`~workbench.recipes.diff_byola.run` returns: the tables per model, the claims, what the
notebook draws, and the summary text."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from workbench.evaluation.bgknown import BgKnownBuilder
from workbench.evaluation.retrieval import KS
from workbench.recipes import base
from workbench.recipes.diff_byola.claims import _bound
from workbench.recipes.diff_byola.params import BGKNOWN_COLUMNS


@dataclass
class DiffBYOLARun(base.Result):
    """Tables per model label (``"λ=0"`` ...), pooled over pre-training seeds, plus what the notebook draws.

    Attributes:
        bgknown: model -> column (``"diff-100"``, ``"diff-50"``, ``"diff-0"``, ``"mix"``) -> (mean, ci95).
        retrieval: model -> k -> (mean, ci95) recall@k; ``retrieval_audio_only``: model -> k -> recall
            of the bare query audio (no text, no adapter).
        general: model -> task -> (mean, ci95).
        histories: model -> pre-training loss curves of its first pre-training seed.
        difference_points: model -> ``(N, 2)`` projection of ``y_diff`` (100 %); ``difference_labels``
            ``(N,)`` the foreground classes, ``class_names`` their names.
        builder: the BgKnown items (to listen to mixture, references and foreground).
    """

    bgknown: dict[str, dict[str, tuple[float, float]]] = field(default_factory=dict)
    retrieval: dict[str, dict[int, tuple[float, float]]] = field(default_factory=dict)
    retrieval_audio_only: dict[str, dict[int, float]] = field(default_factory=dict)
    general: dict[str, dict[str, tuple[float, float]]] = field(default_factory=dict)
    histories: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    difference_points: dict[str, np.ndarray] = field(default_factory=dict)
    difference_labels: np.ndarray | None = None
    class_names: tuple[str, ...] = ()
    builder: BgKnownBuilder | None = None
    bgknown_paired: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    """model -> column -> the paired comparison with λ=0 on the same test items (effect, ci_low, ci_high,
    n, mde, verdict: :meth:`~workbench.evaluation.stats.Comparison.to_dict`)."""
    convergence: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    """model -> pre-training seed -> whether its BYOL loss had flattened when training ended
    (:meth:`~workbench.train.convergence.Plateau.to_dict`: the slope over the last quarter of the epochs)."""

    seeding: dict[str, Any] = field(default_factory=dict)
    """The pre-training seeds used (``seeds``) and, where ``max_seeds`` added them one at a time
    (:meth:`~workbench.recipes.base.seeding.SeedingResult.to_dict`), the budget, why adding stopped and the
    runs a fixed design would have needed."""

    def seeds_line(self) -> str:
        """Which pre-training seeds the tables and claims pool, and how they were chosen."""
        return base.seeding.seeds_line(self.seeding, self.params["pretrain_seeds"], "pre-training seeds")

    def still_falling(self) -> list[str]:
        """``"λ=0.5 seed 1"`` for every pre-training whose BYOL loss was still falling at its last epoch."""
        return [f"{model} seed {seed}" for model, seeds in self.convergence.items()
                for seed, plateau in seeds.items() if not plateau["flat"]]  # fmt: skip

    def convergence_lines(self) -> list[str]:
        """Per model and pre-training seed, how much the monitor loss (the BYOL loss of fixed views; the
        training loss for pre-trainings finished before the monitor) still fell over the last quarter of
        its epochs, and a caution naming every pre-training that had not flattened."""
        if not self.convergence:
            return []
        lines = ["pre-training BYOL loss of fixed views (the monitor): the fall of a line fitted to the last quarter "
                 "of the epochs, relative to its mean (flat under 5 %):"]
        lines += [f"  {model}: " + "; ".join(f"seed {seed} {100 * p['change']:+.1f} %"
                                              + ("" if p["flat"] else " (not flat)") for seed, p in seeds.items())
                  for model, seeds in self.convergence.items()]  # fmt: skip
        falling = self.still_falling()
        if falling:
            lines.append(f"  caution: {', '.join(falling)} had not converged; the claims compare encoders "
                         "that more pre-training would change (raise `epochs`)")  # fmt: skip
        return lines

    def summary(self) -> str:
        def cell(value: tuple[float, float]) -> str:
            return f"{value[0]:.2f}±{value[1]:.2f}"

        lines = [f"recipe: {self.recipe}; {self.seeds_line()}"]
        lines += self.convergence_lines()
        lines.append("BgKnown accuracy: " + " | ".join(BGKNOWN_COLUMNS))
        lines += [f"  {model}: " + " | ".join(cell(row[column]) for column in BGKNOWN_COLUMNS)
                  for model, row in self.bgknown.items()]  # fmt: skip
        for model, row in self.bgknown_paired.items():
            lines.append(f"  {model} - λ=0 on the same items: " + " | ".join(
                f"{column} {row[column]['effect']:+.3f} [{_bound(row[column]['ci_low'])}, {_bound(row[column]['ci_high'])}] "
                f"MDE {_bound(row[column]['mde'], signed=False)}" for column in BGKNOWN_COLUMNS if column in row))  # fmt: skip
        lines.append("retrieval recall: " + " | ".join(f"R@{k}" for k in KS))
        lines += [f"  {model}: " + " | ".join(cell(row[k]) for k in KS) for model, row in self.retrieval.items()]
        tasks = list(self.params["general_tasks"])
        lines.append("general accuracy: " + " | ".join(tasks))
        lines += [f"  {model}: " + " | ".join(cell(row[task]) for task in tasks) for model, row in self.general.items()]
        lines += [f"claim {claim.line()}" for claim in self.claims]
        return "\n".join(lines)


def mean_over(row: Mapping[str, tuple[float, float]], columns: Sequence[str]) -> float:
    return float(np.mean([row[column][0] for column in columns]))
