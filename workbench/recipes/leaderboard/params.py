"""The leaderboard's parameters: the grid (encoders x tasks, and the layers of the encoders that tap them) and
the linear probe every cell is scored with."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from workbench.data.synthetic import TASKS as SYNTHETIC_TASKS
from workbench.errors import ParameterError
from workbench.recipes import base
from workbench.recipes.layer_fusion.params import REAL_TASKS, check_task_specs

NAME = "leaderboard"
CODE_VERSION = 1
"""The version of a cell's computation; it enters every cell's run id. Bump it (one line) when a change of code
changes what a cell computes from the same parameters and data (README, "When to bump a code version")."""
NOTEBOOK = "06_leaderboard.ipynb"
BUILT_IN = ("logmel-stats", "audiontt-tiny")
"""Encoders that need no file: a log-mel statistics baseline and a small CNN with random weights."""
AT_HAND = ("efficientat-mn04", "byola-d2048")
"""Pretrained encoders evaluated where their weights are already here (a weights mirror or the cache)."""


@dataclass(frozen=True)
class Params(base.Params):
    recipe: ClassVar[str] = NAME

    encoders: tuple[str, ...] = BUILT_IN  # always evaluated (architectures: random weights from encoder_seed)
    encoders_at_hand: tuple[str, ...] = AT_HAND  # pretrained names evaluated where their weights are here, else skipped
    layer_encoders: tuple[str, ...] = AT_HAND  # encoders whose tapped layers get rows of their own ("all" = every one)
    layers: tuple[str, ...] = ("paper",)  # layers tapped ("paper" = the layer-fusion paper's set, "all" = every layer)
    max_layers: int = 6  # at most this many tapped layers per encoder, evenly spaced, first and last kept (0 = all)
    layer_view: Literal["auto", "frames", "cls", "cls-dist"] = "auto"  # per-layer view (auto: AST's [CLS] token)
    encoder_seed: int = 0  # initialisation seed of the encoders built from scratch
    device: str = "auto"  # where the encoders run: auto (cuda when available) | cpu | cuda
    tasks: tuple[str, ...] = SYNTHETIC_TASKS  # synthetic tasks, or "<dataset>[:<task>]" (esc10, fsdd:digit, ...)
    tasks_at_hand: tuple[str, ...] = REAL_TASKS  # real-data tasks run where their files are found, else skipped
    n_clips: int = 240  # clips per synthetic task
    max_real_clips: int = 600  # at most this many clips per real-data task, evenly spread (0 = all)
    world_seed: int = 0  # seed of the synthetic world
    data_root: str = ""  # data root of real datasets ("" = the default, then $WORKBENCH_SHARED/data)
    protocol: Literal["auto", "official", "kfold", "grouped-kfold"] = "auto"  # workbench.evaluation.protocols
    n_folds: int = 5  # folds of protocols kfold and grouped-kfold
    n_seeds: int = 3  # linear-probe seeds: each cell is their mean ± 95 % CI
    max_epochs: int = 60  # linear-probe epochs at most (early stopping decides)
    patience: int = 8  # epochs without validation improvement before stopping
    learning_rate: float = 1e-3  # Adam lr of the probe (0 = chosen per cell on validation clips: 4-5x slower)
    batch_size: int = 64  # linear-probe batch size

    checks: ClassVar[dict[str, Any]] = {
        "encoders": (base.NonEmpty(distinct=True), base.OneOf("encoder", base.encoder_names)),
        "encoders_at_hand": base.OneOf("pretrained encoder", base.pretrained_names),
        "layers": base.NonEmpty(),
        "device": base.Device(),
        "max_real_clips": base.NON_NEGATIVE,
        "max_layers": base.NON_NEGATIVE,
        **dict.fromkeys(("n_clips", "n_seeds", "max_epochs", "patience", "batch_size"), base.AT_LEAST_ONE),
        "n_folds": base.at_least(2),
        "learning_rate": base.NON_NEGATIVE,
    }

    def __post_init__(self) -> None:
        super().__post_init__()
        for parameter, first, second in (("encoders_at_hand", self.encoders, self.encoders_at_hand),
                                         ("tasks_at_hand", self.tasks, self.tasks_at_hand)):  # fmt: skip
            overlap = sorted(set(first) & set(second))
            if overlap:
                raise ParameterError(
                    f"parameter '{parameter}': {', '.join(overlap)} is also in '{parameter.removesuffix('_at_hand')}'; "
                    "keep each in one of them"
                )
        if not self.tasks and not self.tasks_at_hand:
            raise ParameterError("parameters 'tasks' and 'tasks_at_hand' are both empty: name at least one task")
        unknown = sorted(set(self.layer_encoders) - {"all", *self.encoders, *self.encoders_at_hand})
        if unknown:
            raise ParameterError(
                f"parameter 'layer_encoders': {', '.join(unknown)} is in neither 'encoders' nor 'encoders_at_hand'"
            )
        check_task_specs(self.tasks, self.tasks_at_hand)

    def taps_layers_of(self, encoder: str) -> bool:
        """Whether ``encoder``'s tapped layers get rows of their own in the layer view."""
        return tuple(self.layers) != ("none",) and ("all" in self.layer_encoders or encoder in self.layer_encoders)
