"""Layer-wise evaluation of a pre-trained model and the fusion of its middle and late layers.

Niizumi, Takeuchi, Ohishi, Harada and Kashino, "Composing General Audio Representation by Fusing
Multilayer Features of a Pre-trained Model", EUSIPCO 2022 (arXiv:2205.08138). The paper finds that
the middle layers of supervised audio models (VGGish, PANNs CNN14, AST) serve some tasks better than
the last layer everyone extracts, and composes a general-purpose feature from one middle layer M and
one late layer L: each layer's output is max-pooled in time with channels and frequency flattened
(Eq. 1), M and L are concatenated frame by frame (Eq. 2), and mean + max over time gives one vector per
clip (Eq. 3). The paper reports that the fused feature beats the last-layer embedding on most of its
nine tasks (VGGish on Speech Commands V2: 14.3 % -> 91.4 %).

What :func:`run` does, per task:

1. one forward pass per batch gives every tapped layer's clip vector (Eq. 1 + 3, after the model's
   layer view: AST's blocks give their 768-d [CLS] token; VGGish pools T_o = 6 frames per 0.96-s
   example; see :mod:`workbench.features.views`) together with the model's usual embedding, the
   baseline; the whole table is cached on disk (:func:`~workbench.evaluation.embeddings.extract_embeddings`),
   so the layer-wise sweep and any later fusion never run the model again. The tapped layers default
   to the paper's sets (``layers="paper"``; ``"all"`` taps every layer);
2. every layer is scored with the foundation's linear evaluation (standardised features, one linear
   layer, early stopping, the ``protocol``'s folds, mean ± 95 % CI over seeds); the probe's learning
   rate is chosen per task and per feature set from a small grid on validation clips carved from the
   training folds (the paper tuned it per test between 1e-5 and 1e-2, Sec. IV "Linear evaluation
   details"), unless ``learning_rate`` fixes it;
3. M and L are chosen from the layers' *validation* scores (:func:`choose_fusion_layers`; never from
   the test scores they are then judged by), or pinned with ``fuse_layers`` (the ``paper-*`` presets
   pin the paper's pairs), and the fused feature (Eq. 2 + 3: the concatenation of the two layers'
   cached vectors, :func:`~workbench.features.compose.fuse_pooled`) is scored against the last
   tapped layer and the model's usual embedding;
4. the claims compare paired runs (the same seeds and folds) through
   :mod:`workbench.evaluation.stats`: fused vs the usual embedding, fused vs the last tapped layer, and
   a middle layer vs the last layer on the task that validation picks.

Tasks are the synthetic world's ``event``, ``speaker``, ``word`` and ``pitch`` by default, or any
registered dataset as ``"<dataset>"`` or ``"<dataset>:<task>"`` (``esc50``, ``esc10``, ``fsdd:digit``,
``fsdd:speaker``, ``speech_commands``). The default model is a randomly initialised ``cnn14-tiny``, so
the notebook runs anywhere in about a minute; the presets select the real EfficientAT mn04 weights
(``weights_path``) and the paper's models on GPU machines.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np
import torch

from workbench import data
from workbench.data.records import AudioDataset
from workbench.data.synthetic import TASKS as SYNTHETIC_TASKS
from workbench.errors import UnknownNameError
from workbench.evaluation.embeddings import Embeddings, extract_embeddings
from workbench.evaluation.linear import LEARNING_RATE_GRID, LinearEvalConfig, LinearEvalResult, linear_evaluation
from workbench.evaluation.stats import compare_paired
from workbench.features.compose import fuse_pooled
from workbench.features.views import EMBEDDING, LayerVectorEncoder, paper_layers
from workbench.models.base import Encoder
from workbench.models.registry import load_pretrained
from workbench.models.zoo import build_encoder
from workbench.recipes import base
from workbench.recipes.base import expand_shared, resolve_device
from workbench.train.rundir import RunDir
from workbench.train.seed import seed_everything

NAME = "layer_fusion"
NOTEBOOK = "05_layer_fusion.ipynb"

LATE_FRACTION = 1 / 3
"""Share of a model's tapped layers (the last ones, at least one) that count as *late*; the layers before
them are the early and middle ones M is chosen from."""


@dataclass(frozen=True)
class Params(base.Params):
    recipe: ClassVar[str] = NAME

    model: str = "cnn14-tiny"  # a name from workbench.models.zoo.encoder_names() (architecture or pretrained)
    weights_path: str = ""  # checkpoint file of a pretrained model ("" = the registry cache; "{shared}/..." allowed)
    model_seed: int = 0  # initialisation seed of models built from scratch
    device: str = "auto"  # where the model runs: auto (cuda when available) | cpu | cuda
    tasks: tuple[str, ...] = SYNTHETIC_TASKS  # synthetic tasks, or "<dataset>[:<task>]" (esc10, fsdd:digit, ...)
    n_clips: int = 240  # clips per synthetic task
    world_seed: int = 0  # seed of the synthetic world
    data_root: str = ""  # data root of real datasets ("" = the default; "{shared}/data" = the shared clips)
    layers: tuple[str, ...] = ("paper",)  # layers to tap ("paper" = the paper's set, "all" = every layer)
    layer_view: Literal["auto", "frames", "cls", "cls-dist"] = "auto"  # per-layer view (auto: AST [CLS] token)
    n_frames: int = 0  # T_o of Eq. 1 (0 = the paper's: VGGish 6 per example, else the fewest frames)
    fuse_layers: tuple[str, ...] = ("auto",)  # layers to fuse ("auto" = M + L chosen on validation scores)
    protocol: Literal["auto", "official", "kfold", "grouped-kfold"] = "auto"  # workbench.evaluation.protocols
    n_folds: int = 5  # folds of protocols kfold and grouped-kfold
    n_seeds: int = 3  # linear-probe seeds; scores are their mean ± 95 % CI, claims pair them
    max_epochs: int = 60  # linear-probe epochs at most (early stopping decides)
    patience: int = 8  # epochs without validation improvement before stopping
    learning_rate: float = 0.0  # Adam lr of the probe (0 = chosen per task and feature set on validation)
    batch_size: int = 64  # linear-probe batch size

    checks: ClassVar[dict[str, Any]] = {
        "model": base.OneOf("encoder", base.encoder_names),
        "device": base.Device(),
        "tasks": base.NonEmpty(distinct=True),
        "layers": base.NonEmpty(),
        "fuse_layers": base.NonEmpty(),
        **dict.fromkeys(("n_clips", "n_seeds", "max_epochs", "patience", "batch_size"), base.AT_LEAST_ONE),
        "n_folds": base.at_least(2),
        "learning_rate": base.NON_NEGATIVE,  # 0: chosen from a grid on validation clips
    }

    def __post_init__(self) -> None:
        super().__post_init__()
        for spec in self.tasks:
            dataset, options = parse_task(spec)
            base.OneOf("dataset", base.dataset_names)("tasks", dataset)
            base.check_task(dataset, options.get("task", ""), parameter="tasks")


@dataclass
class TaskScores:
    """Linear-evaluation scores of one task: every layer, the fused layers and the usual embedding."""

    layers: dict[str, LinearEvalResult]
    fused: LinearEvalResult
    last: LinearEvalResult
    """The model's usual last-layer embedding (``encoder.embed``), the paper's baseline."""

    def best_layer(self) -> str:
        """The layer with the highest mean test score (the earliest one on ties): for display only;
        choices use :meth:`best_valid_layer`."""
        return max(self.layers, key=lambda name: self.layers[name].mean)

    def best_valid_layer(self, among: Sequence[str] | None = None) -> str:
        """The layer (of ``among``, default all) with the highest validation score, earliest on ties."""
        names = list(self.layers if among is None else among)
        return max(names, key=lambda name: self.layers[name].valid_score)


@dataclass(frozen=True)
class FusionChoice:
    """Which layers are fused and why.

    Attributes:
        layers: the fused layers, in feature order (M then L when chosen automatically).
        automatic: chosen by :func:`choose_fusion_layers` rather than given.
        winners: task -> its best layer by validation score.
        middle_tasks: tasks whose best layer is an early/middle one (M was chosen on them).
        late_tasks: tasks whose best layer is a late one (L was chosen on them).
    """

    layers: tuple[str, ...]
    automatic: bool
    winners: dict[str, str] = field(default_factory=dict)
    middle_tasks: tuple[str, ...] = ()
    late_tasks: tuple[str, ...] = ()


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
        return linear_evaluation(
            fused_table(self.features[task], layers), seeds=seeds_of(self.params), config=self.config,
            protocol=self.params["protocol"], n_folds=int(self.params["n_folds"]),
        )  # fmt: skip

    def summary(self) -> str:
        fused = " + ".join(self.choice.layers) if self.choice else ""
        how = "chosen on validation scores" if self.choice and self.choice.automatic else "given"
        lines = [
            f"recipe: {self.recipe}: {self.model}, {len(self.layer_names)} layers, fused {fused} ({how})",
            "task [protocol, probe lr]: best layer (test) | last tapped layer | usual embedding | fused",
        ]
        last_layer = self.layer_names[-1] if self.layer_names else ""
        for task, scores in self.scores.items():
            best = scores.best_layer()
            lines.append(
                f"{task} [{scores.fused.protocol}, lr {scores.fused.learning_rate:g}]: {best} "
                f"{scores.layers[best].mean:.2f} | {scores.layers[last_layer].mean:.2f} | {scores.last.mean:.2f} | "
                f"{scores.fused.mean:.2f}"
            )
            if scores.fused.protocol_note:
                lines.append(f"  note: {scores.fused.protocol_note}")
        lines += [f"claim {claim.line()}" for claim in self.claims]
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------------
# Building blocks


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


def build_dataset(spec: str, params: Params) -> AudioDataset:
    """The dataset of one task spec (synthetic tasks get ``n_clips`` and ``world_seed``).

    Raises:
        UnknownNameError: an unknown dataset or option.
        DatasetNotFoundError: a real dataset whose files are absent (the message says how to get them).
    """
    name, options = parse_task(spec)
    if name.startswith("synthetic"):
        options.update(n_clips=params.n_clips, seed=params.world_seed)
    return data.get(name, root=expand_shared(params.data_root) or None, **options)


def build_model(params: Params) -> Encoder:
    """The model in eval mode: pretrained weights from ``weights_path`` when given, else
    :func:`~workbench.models.zoo.build_encoder` (an architecture from ``model_seed``, or the registry cache).

    Raises:
        UnknownNameError: an unknown model (with ``weights_path``: one that is not a pretrained model).
        MissingFileError: ``weights_path`` does not exist.
        CheckpointError: the file does not fit the model.
    """
    if params.weights_path:
        encoder = load_pretrained(params.model, path=expand_shared(params.weights_path))
    else:
        encoder = build_encoder(params.model, seed=params.model_seed)
    return encoder.to(resolve_device(params.device)).eval()


def tapped_layers(encoder: Encoder, layers: Sequence[str]) -> list[str]:
    """``("paper",)`` -> the paper's layer set (:func:`~workbench.features.views.paper_layers`),
    ``("all",)`` -> every layer of the encoder; otherwise the names themselves (checked later)."""
    if tuple(layers) in ((), ("paper",)):
        return paper_layers(encoder)
    return list(encoder.layer_names) if tuple(layers) == ("all",) else list(layers)


def layer_tables(stack: LayerVectorEncoder, table: Embeddings) -> dict[str, Embeddings]:
    """One :class:`Embeddings` per column of a :class:`LayerVectorEncoder` table (features are views)."""
    return {
        name: dataclasses.replace(table, features=features) for name, features in stack.split(table.features).items()
    }


def fused_table(columns: Mapping[str, Embeddings], layers: Sequence[str]) -> Embeddings:
    """Eq. 2 + 3 from cached clip vectors: the concatenation of the chosen layers' tables.

    Raises:
        UnknownNameError: a layer not among ``columns``.
        ValueError: no layers.
    """
    vectors = {name: torch.from_numpy(table.features) for name, table in columns.items()}
    fused = fuse_pooled(vectors, list(layers)).numpy()
    return dataclasses.replace(next(iter(columns.values())), features=fused)


def late_region(layer_names: Sequence[str]) -> list[str]:
    """The late layers: the last ``ceil(LATE_FRACTION * count)`` ones (at least one)."""
    count = max(1, math.ceil(LATE_FRACTION * len(layer_names)))
    return list(layer_names[-count:])


def choose_fusion_layers(layer_names: Sequence[str], accuracy: Mapping[str, Mapping[str, float]]) -> FusionChoice:
    """Choose the middle layer M and the late layer L from layer-wise scores, as the paper does (Sec.
    IV-C: L where the average over the tasks that peak late is highest, M likewise for the others).

    Pass validation scores (:attr:`~workbench.evaluation.linear.LinearEvalResult.valid_score`), never
    the test scores the fusion is then judged by. Each task's best layer makes it a *middle* task (best layer among the early/middle layers) or a
    *late* task (best layer among :func:`late_region`). M is the early/middle layer with the best mean
    score over the middle tasks, L the late layer with the best mean score over the late tasks; a
    region that no task prefers is judged on all tasks. Ties go to the earlier layer.

    Args:
        layer_names: the tapped layers in forward order (at least two).
        accuracy: task -> layer -> mean score.

    Returns:
        :class:`FusionChoice` with ``layers == (M, L)``.

    Raises:
        ValueError: fewer than two layers, no tasks, or a task without a score for some layer.
    """
    names = list(layer_names)
    if len(names) < 2:
        raise ValueError(f"fusing a middle and a late layer needs at least two layers, got {names}")
    if not accuracy:
        raise ValueError("choose_fusion_layers needs the scores of at least one task")
    for task, scores in accuracy.items():
        missing = [name for name in names if name not in scores]
        if missing:
            raise ValueError(f"task {task!r} has no score for layers {missing}")
    late = late_region(names)
    middle = [name for name in names if name not in late]
    winners = {task: max(names, key=lambda name: scores[name]) for task, scores in accuracy.items()}
    middle_tasks = tuple(task for task, winner in winners.items() if winner in middle)
    late_tasks = tuple(task for task, winner in winners.items() if winner in late)

    def best(region: list[str], tasks: tuple[str, ...]) -> str:
        judged = tasks or tuple(accuracy)
        return max(region, key=lambda name: float(np.mean([accuracy[task][name] for task in judged])))

    return FusionChoice(
        layers=(best(middle, middle_tasks), best(late, late_tasks)), automatic=True, winners=winners,
        middle_tasks=middle_tasks, late_tasks=late_tasks,
    )  # fmt: skip


def seeds_of(params: Mapping[str, Any]) -> tuple[int, ...]:
    return tuple(range(int(params["n_seeds"])))


def probe_config(params: Mapping[str, Any]) -> LinearEvalConfig:
    """The probe settings: a fixed ``learning_rate``, or (0) the grid :data:`LEARNING_RATE_GRID` chosen
    from on validation clips per task and feature set."""
    rate = float(params["learning_rate"])
    return LinearEvalConfig(
        lr=rate if rate > 0 else 1e-3, learning_rates=() if rate > 0 else LEARNING_RATE_GRID,
        batch_size=int(params["batch_size"]), max_epochs=int(params["max_epochs"]), patience=int(params["patience"]),
    )  # fmt: skip


# --------------------------------------------------------------------------------------------------
# Claims


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


# --------------------------------------------------------------------------------------------------
# The run


def _save_task_arrays(run_dir: RunDir, position: int, scores: TaskScores) -> None:
    arrays: dict[str, np.ndarray] = {}
    for column, result in [*scores.layers.items(), ("__fused", scores.fused), ("__last", scores.last)]:
        arrays.update({f"{column}//{key}": value for key, value in result.arrays().items()})
    run_dir.save_arrays(f"scores-{position}", **arrays)


def _load_task_scores(
    run_dir: RunDir, position: int, stored: Mapping[str, Any], layer_names: Sequence[str]
) -> TaskScores:
    arrays = run_dir.load_arrays(f"scores-{position}")

    def part(column: str, scalars: Mapping[str, Any]) -> LinearEvalResult:
        return LinearEvalResult.from_parts(
            scalars, {key: arrays[f"{column}//{key}"] for key in LinearEvalResult.ARRAY_FIELDS}
        )

    return TaskScores(
        # metrics.json sorts its keys: the forward order of the layers comes from the model.
        layers={layer: part(layer, stored["layers"][layer]) for layer in layer_names},
        fused=part("__fused", stored["fused"]),
        last=part("__last", stored["last"]),
    )


def _scalars(scores: TaskScores) -> dict[str, Any]:
    return {
        "layers": {layer: result.scalars() for layer, result in scores.layers.items()},
        "fused": scores.fused.scalars(),
        "last": scores.last.scalars(),
    }


def extract_task_features(
    stack: LayerVectorEncoder, dataset: AudioDataset, params: Params
) -> dict[str, Embeddings]:
    """Per-layer (and usual-embedding) tables of one task, from the disk cache when it has them."""
    return layer_tables(stack, extract_embeddings(stack, dataset))


def run(params: Params) -> LayerFusionRun:
    """Score every layer of ``params.model`` on each task, fuse M + L, and compare with the last layer.

    An identical rerun finds the finished run directory and reads its scores back (features come
    from the embedding cache), so the notebook's figures and widget cost no training.

    Raises:
        UnknownNameError: an unknown model, layer, dataset, task option, or fuse layer.
        DatasetNotFoundError: a real dataset whose files are absent.
        MissingFileError, CheckpointError: a ``weights_path`` that is absent or does not fit.
        ValueError: no tasks, or fewer than two layers for the automatic choice.
    """
    if not params.tasks:
        raise ValueError("no tasks: give at least one in 'tasks' (e.g. event,speaker,word,pitch)")
    seed_everything(params.model_seed)
    run_dir = RunDir.open(NAME, params.to_dict(), data=[build_dataset(spec, params) for spec in params.tasks])
    encoder = build_model(params)
    stack = LayerVectorEncoder(
        encoder, tapped_layers(encoder, params.layers), view=params.layer_view, n_frames=params.n_frames or None
    )
    layer_names = stack.names
    automatic = tuple(params.fuse_layers) in ((), ("auto",))
    if automatic and len(layer_names) < 2:  # checked now, not after the layer-wise evaluation
        raise ValueError(
            f"choosing a middle and a late layer needs at least two tapped layers, {params.model} has {layer_names}; "
            "tap more ('layers': all) or give 'fuse_layers'"
        )
    for layer in () if automatic else params.fuse_layers:
        if layer not in stack.columns:  # checked now, not after minutes of layer-wise evaluation
            raise UnknownNameError(f"layer to fuse of {params.model}", layer, stack.columns)
    features = {task: extract_task_features(stack, build_dataset(task, params), params) for task in params.tasks}
    settings = params.to_dict()
    config = probe_config(settings)

    def evaluate(table: Embeddings) -> LinearEvalResult:
        return linear_evaluation(
            table, seeds=seeds_of(settings), config=config, protocol=params.protocol, n_folds=params.n_folds
        )

    if run_dir.finished:
        stored = run_dir.read_metrics()
        kept = stored["choice"]
        choice = FusionChoice(
            layers=tuple(kept["layers"]), automatic=kept["automatic"],
            winners={task: kept["winners"][task] for task in params.tasks if task in kept["winners"]},
            middle_tasks=tuple(kept["middle_tasks"]), late_tasks=tuple(kept["late_tasks"]),
        )  # fmt: skip
        scores = {
            task: _load_task_scores(run_dir, position, stored["scores"][task], layer_names)
            for position, task in enumerate(params.tasks)
        }
    else:
        run_dir.log("start", params=settings, layers=layer_names, view=stack.view, dims=stack.dims)
        layer_results: dict[str, dict[str, LinearEvalResult]] = {}
        for task in params.tasks:
            layer_results[task] = {layer: evaluate(features[task][layer]) for layer in layer_names}
            run_dir.log("layers scored", task=task, means={k: v.mean for k, v in layer_results[task].items()})
        if automatic:  # on validation scores: the test scores judge the choice, they do not make it
            valid = {task: {k: v.valid_score for k, v in results.items()} for task, results in layer_results.items()}
            choice = choose_fusion_layers(layer_names, valid)
        else:
            choice = FusionChoice(layers=tuple(params.fuse_layers), automatic=False)
        scores = {}
        for position, task in enumerate(params.tasks):
            scores[task] = TaskScores(
                layers=layer_results[task],
                fused=evaluate(fused_table(features[task], choice.layers)),
                last=evaluate(features[task][EMBEDDING]),
            )
            _save_task_arrays(run_dir, position, scores[task])
            run_dir.log("fused scored", task=task, fused=scores[task].fused.mean, last=scores[task].last.mean)
    claims = fusion_claims(scores, choice, layer_names, params.model)
    metrics = {
        "model": params.model, "layers": layer_names, "view": stack.view, "dims": stack.dims,
        "choice": dataclasses.asdict(choice), "scores": {task: _scalars(s) for task, s in scores.items()},
        "claims": [dataclasses.asdict(claim) for claim in claims],
    }  # fmt: skip
    if not run_dir.finished:
        run_dir.write_metrics(metrics)
        run_dir.log("finished")
    return LayerFusionRun(
        recipe=NAME, params=settings, run_dir=run_dir.path, metrics=metrics, claims=claims, model=params.model,
        layer_names=layer_names, tasks=list(params.tasks), scores=scores, choice=choice, features=features,
        config=config,
    )  # fmt: skip
