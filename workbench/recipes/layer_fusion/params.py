"""The recipe's parameters: :class:`Params` (model, tasks, layers, fusion, probe) and the task specs it
checks (``"<synthetic task>"`` or ``"<dataset>[:<task>]"``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from workbench.data.synthetic import TASKS as SYNTHETIC_TASKS
from workbench.errors import ParameterError
from workbench.recipes import base

NAME = "layer_fusion"
CODE_VERSION = 1
"""The version of this recipe's computation; it enters every run id and cache key of the recipe, its sub-runs
included. Bump it (one line) when a change of code changes what a run computes from the same parameters and
data, so that finished runs are computed again instead of read back (README, "When to bump a code version")."""
NOTEBOOK = "05_layer_fusion.ipynb"
REAL_TASKS = ("fsdd:digit", "fsdd:speaker", "esc10")
"""The real clips at hand by default: FSDD's digits and speakers and ESC-10, read from ``data_root`` or else
``$WORKBENCH_SHARED/data`` (:func:`~workbench.recipes.layer_fusion.data.build_dataset`)."""


@dataclass(frozen=True)
class Params(base.Params):
    recipe: ClassVar[str] = NAME

    model: str = "efficientat-mn04"  # a name from workbench.models.zoo.encoder_names() (architecture or pretrained)
    weights_path: str = ""  # checkpoint file ("" = $WORKBENCH_WEIGHTS, $WORKBENCH_SHARED/weights, cache, download)
    weights: Literal["pretrained", "random"] = "pretrained"  # pretrained | random (the architecture, model_seed)
    if_weights_absent: Literal["random", "error"] = "random"  # weights not found: random (labelled) | error
    model_seed: int = 0  # initialisation seed of models built from scratch
    device: str = "auto"  # where the model runs: auto (cuda when available) | cpu | cuda
    tasks: tuple[str, ...] = SYNTHETIC_TASKS  # synthetic tasks, or "<dataset>[:<task>]" (esc10, fsdd:digit, ...)
    tasks_at_hand: tuple[str, ...] = REAL_TASKS  # real-data tasks run where their files are found, else skipped
    n_clips: int = 240  # clips per synthetic task
    max_real_clips: int = 600  # at most this many clips per real-data task, evenly spread (0 = all)
    world_seed: int = 0  # seed of the synthetic world
    data_root: str = ""  # data root of real datasets ("" = the default, then $WORKBENCH_SHARED/data)
    layers: tuple[str, ...] = ("paper",)  # layers to tap ("paper" = the paper's set, "all" = every layer)
    max_layers: int = 6  # at most this many of the "paper"/"all" layers, evenly spaced, first and last kept (0 = all)
    layer_view: Literal["auto", "frames", "cls", "cls-dist"] = "auto"  # per-layer view (auto: AST [CLS] token)
    n_frames: int = 0  # T_o of Eq. 1 (0 = the paper's: VGGish 6 per example, else the fewest frames)
    fuse_layers: tuple[str, ...] = ("auto",)  # layers to fuse ("auto" = M + L chosen on validation scores)
    protocol: Literal["auto", "official", "kfold", "grouped-kfold"] = "auto"  # workbench.evaluation.protocols
    n_folds: int = 5  # folds of protocols kfold and grouped-kfold
    n_seeds: int = 3  # linear-probe seeds; scores are their mean ± 95 % CI, claims pair them
    max_epochs: int = 60  # linear-probe epochs at most (early stopping decides)
    patience: int = 8  # epochs without validation improvement before stopping
    learning_rate: float = 1e-3  # Adam lr of the probe (0 = chosen per task and feature set on validation: 4-5x slower)
    batch_size: int = 64  # linear-probe batch size

    checks: ClassVar[dict[str, Any]] = {
        "model": base.OneOf("encoder", base.encoder_names),
        "device": base.Device(),
        "tasks": base.NonEmpty(distinct=True),
        "max_real_clips": base.NON_NEGATIVE,
        "max_layers": base.NON_NEGATIVE,
        "layers": base.NonEmpty(),
        "fuse_layers": base.NonEmpty(),
        **dict.fromkeys(("n_clips", "n_seeds", "max_epochs", "patience", "batch_size"), base.AT_LEAST_ONE),
        "n_folds": base.at_least(2),
        "learning_rate": base.NON_NEGATIVE,  # 0: chosen from a grid on validation clips
    }

    def __post_init__(self) -> None:
        super().__post_init__()
        overlap = sorted(set(self.tasks) & set(self.tasks_at_hand))
        if overlap:
            raise ParameterError(
                f"parameter 'tasks_at_hand': {', '.join(overlap)} is also in 'tasks'; keep each task in one of them"
            )
        check_task_specs(self.tasks, self.tasks_at_hand)


def check_task_specs(tasks: tuple[str, ...], tasks_at_hand: tuple[str, ...]) -> None:
    """Every spec of ``tasks`` and ``tasks_at_hand`` names a registered dataset and one of its tasks.

    Raises:
        ParameterError, UnknownNameError: naming the parameter and the spec.
    """
    for parameter, spec in [*(("tasks", s) for s in tasks), *(("tasks_at_hand", s) for s in tasks_at_hand)]:
        dataset, options = parse_task(spec)
        base.OneOf("dataset", base.dataset_names)(parameter, dataset)
        base.check_task(dataset, options.get("task", ""), parameter=parameter)


def parse_task(spec: str) -> tuple[str, dict[str, Any]]:
    """A task spec -> ``(dataset name, options)``: ``"word"`` -> ``("synthetic", {"task": "word"})``,
    ``"fsdd:speaker"`` -> ``("fsdd", {"task": "speaker"})``, ``"esc10"`` -> ``("esc10", {})``.

    Raises:
        ValueError: an empty spec.
    """
    spec = spec.strip()
    if not spec:
        raise ValueError("a task spec is empty; give a synthetic task or '<dataset>[:<task>]'")
    if spec in SYNTHETIC_TASKS:
        return "synthetic", {"task": spec}
    dataset, _, task = spec.partition(":")
    return dataset, ({"task": task} if task else {})
