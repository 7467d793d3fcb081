"""Linear evaluation of frozen encoders on any registered dataset: the workbench's quickstart recipe.

The protocol every recipe reuses to score a representation (EVAR / BYOL-A style): embeddings of a
frozen encoder are standardised with training statistics, one linear layer is trained with Adam and
early stopping on a validation split, over the dataset's folds or official splits, for several seeds;
the score is the mean with a 95 % confidence interval.

Defaults run in seconds on the synthetic world; ``-p dataset=fsdd -p task=speaker`` evaluates speaker
identification on the Free Spoken Digit recordings, for example, and ``-p dataset=folder -p
data_root=/my/clips`` your own audio (one subfolder per class, or a labels CSV in ``folder_labels``).
``task=""`` is each dataset's own default task.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar

from workbench import data
from workbench.data.records import AudioDataset
from workbench.errors import ParameterError
from workbench.evaluation.embeddings import Embeddings, extract_embeddings
from workbench.evaluation.linear import LinearEvalConfig, LinearEvalResult, linear_evaluation
from workbench.evaluation.protocols import PROTOCOLS, one_warning_per_cause, plan_dataset_protocol
from workbench.evaluation.stats import compare_to_value
from workbench.models import registry
from workbench.models.base import Encoder
from workbench.models.digest import encoder_weights
from workbench.models.zoo import build_encoder
from workbench.recipes import base
from workbench.recipes.base.explain import common
from workbench.train.rundir import RunDir, failures_marked
from workbench.train.seed import seed_everything

NAME = "linear_eval"
CODE_VERSION = 1
"""The version of this recipe's computation; it enters every run id and cache key of the recipe, its sub-runs
included. Bump it (one line) when a change of code changes what a run computes from the same parameters and
data, so that finished runs are computed again instead of read back (README, "When to bump a code version")."""


@dataclass(frozen=True)
class Params(base.Params):
    recipe: ClassVar[str] = NAME

    dataset: str = "synthetic"  # a name from workbench.data.names()
    task: str = ""  # the dataset's task ("" = its default; synthetic: event | speaker | word | pitch)
    n_clips: int = 400  # clips in the synthetic world (synthetic datasets only)
    world_seed: int = 0  # seed of the synthetic world (synthetic datasets only)
    data_root: str = ""  # data root for real datasets ("" = the default); for "folder": the folder of audio
    folder_labels: str = ""  # "folder" only: CSV filename,label[,fold][,split] ("" = one subfolder per class)
    encoders: tuple[str, ...] = ("logmel-stats", "audiontt-tiny")  # names from workbench.models.zoo, or hear:<module>[@weights]
    weights_path: str = ""  # local checkpoint of the one pretrained name in encoders ("" = cache; "{shared}/...")
    encoder_seed: int = 0  # initialisation seed of encoders built from scratch
    n_seeds: int = 3  # linear-probe seeds; the score is their mean with a 95 % CI
    max_epochs: int = 100  # linear-probe epochs at most (early stopping decides)
    patience: int = 10  # epochs without validation improvement before stopping
    learning_rate: float = 1e-3  # Adam learning rate of the linear probe
    batch_size: int = 64  # linear-probe batch size
    protocol: str = "auto"  # auto | official | kfold | grouped-kfold (workbench.evaluation.protocols)
    n_folds: int = 5  # folds of protocols kfold and grouped-kfold (and of auto's k-fold fallback)

    checks: ClassVar[dict[str, Any]] = {
        "dataset": base.OneOf("dataset", base.dataset_names),
        "n_clips": base.AT_LEAST_ONE,
        "encoders": (base.NonEmpty(distinct=True), base.EncoderName()),
        "n_seeds": base.AT_LEAST_ONE,
        "max_epochs": base.AT_LEAST_ONE,
        "patience": base.AT_LEAST_ONE,
        "learning_rate": base.POSITIVE,
        "batch_size": base.AT_LEAST_ONE,
        "protocol": base.OneOf("evaluation protocol", PROTOCOLS),
        "n_folds": base.at_least(2),
    }

    def __post_init__(self) -> None:
        super().__post_init__()
        base.check_task(self.dataset, self.task)
        if self.dataset == "folder" and not self.data_root:
            raise ParameterError("parameter 'data_root': dataset 'folder' needs data_root=<the folder of your audio>")
        if self.folder_labels and self.dataset != "folder":
            raise ParameterError(f"parameter 'folder_labels' is for dataset 'folder', not {self.dataset!r}")
        if self.weights_path:
            pretrained = [name for name in self.encoders if name in base.pretrained_names()]
            if len(pretrained) != 1:
                raise ParameterError(
                    f"parameter 'weights_path' loads one pretrained encoder, but encoders names "
                    f"{len(pretrained)} ({', '.join(pretrained) or 'none'}); pretrained names: "
                    f"{', '.join(base.pretrained_names())}"
                )


FIELD_HELP = {
    **common("dataset", "task", "world_seed", "folder_labels", "weights_path", "protocol", "n_folds", "max_epochs",
             "patience"),
    "data_root": 'folder holding the real datasets ("" = $WORKBENCH_DATA, else ./data; "{shared}/data" = the '
    'shared copy); for dataset "folder": the folder of your audio itself ("{shared}/..." allowed)',
    "n_clips": "clips rendered in the synthetic world (synthetic datasets only)",
    "encoders": "encoders compared, each frozen: architectures (random weights), pretrained names from "
    "`workbench weights`, or HEAR-API modules as hear:<module>[@<weights file>]",
    "encoder_seed": "initialisation seed of the encoders built from scratch",
    "n_seeds": "linear-probe seeds; the score is their mean with a 95 % CI (BYOL-A / EVAR: 3)",
    "learning_rate": "Adam learning rate of the linear probe (BYOL-A / EVAR: 1e-3)",
    "batch_size": "linear-probe batch size, in clips",
}
"""One line per parameter (``workbench params linear_eval --explain``, :mod:`workbench.recipes.base.explain`)."""


@dataclass
class LinearEvalRun(base.Result):
    """Scores per encoder, the embeddings they were computed from, and the dataset (for listening)."""

    scores: dict[str, LinearEvalResult] = field(default_factory=dict)
    embeddings: dict[str, Embeddings] = field(default_factory=dict)
    dataset: AudioDataset | None = None

    def summary(self) -> str:
        lines = [f"recipe: {self.recipe} on {self.params['dataset']} ({self.params['task'] or 'default task'})"]
        for name, score in self.scores.items():
            lines.append(f"{name}: {score.metric} {score.mean:.2f} ± {score.ci95:.2f}")
        # A fallback from the official folds, a class left unscored, a source shared by training and test
        # clips: never silent.
        notes = {f"protocol {s.requested_protocol} -> {s.protocol}: {s.protocol_note}" for s in self.scores.values()
                 if s.protocol_note and (s.protocol != "official" and s.requested_protocol == "auto"
                                         or s.scored_line or s.leaked_test_clips)}  # fmt: skip
        lines += sorted(notes)
        lines += [f"claim {claim.line()}" for claim in self.claims]
        return "\n".join(lines)


def build_dataset(params: Params) -> AudioDataset:
    """The dataset ``params`` names; for ``folder``, ``data_root`` is the folder of audio itself."""
    options: dict[str, Any] = {}
    if params.task:
        options["task"] = params.task
    if params.dataset.startswith("synthetic"):
        options.update(n_clips=params.n_clips, seed=params.world_seed)
    root = base.expand_shared(params.data_root) or None
    if params.dataset == "folder":
        options.update(path=root, labels=base.expand_shared(params.folder_labels) or None)
        root = None
    return data.get(params.dataset, root=root, **options)


def build_encoders(params: Params) -> dict[str, Encoder]:
    """Each named encoder; the one pretrained name loads ``weights_path`` when it is given."""
    encoders = {}
    for name in params.encoders:
        if params.weights_path and name in registry.names():
            encoders[name] = registry.load_pretrained(name, path=base.expand_shared(params.weights_path))
        else:
            encoders[name] = build_encoder(name, seed=params.encoder_seed)
    return encoders


def run(params: Params) -> LinearEvalRun:
    """Embed the dataset with each encoder, probe it linearly, and check the probes beat chance.

    The protocol is planned from the dataset's labels, folds and groups before any encoder is built or
    clip embedded: a protocol the data cannot support fails at once (naming what would work), and a
    fallback is warned about once per run. An identical rerun finds the finished run directory and
    reads its scores back instead of training the probes again (embeddings come from the embedding cache);
    a run that stops on an error is marked failed, and the next identical run retries it in its folder.
    """
    with one_warning_per_cause(), failures_marked():
        return _run(params)


def _run(params: Params) -> LinearEvalRun:
    seed_everything(params.encoder_seed)
    dataset = build_dataset(params)  # before the run directory: a missing dataset leaves no orphan run
    seeds = tuple(range(params.n_seeds))
    plan = plan_dataset_protocol(dataset, params.protocol, n_folds=params.n_folds, seeds=seeds)
    encoders = build_encoders(params)
    # The weights files are read as much as the clips: a checkpoint overwritten in place is a new run.
    run_dir = RunDir.open(NAME, params.to_dict(), data=[dataset, *encoder_weights(encoders)], code=CODE_VERSION)
    embeddings = {name: extract_embeddings(encoder, dataset) for name, encoder in encoders.items()}
    if run_dir.finished:
        stored = run_dir.read_metrics()["scores"]
        scores = {
            name: LinearEvalResult.from_parts(stored[name], run_dir.load_arrays(f"scores-{index}"))
            for index, name in enumerate(params.encoders)
        }
    else:
        run_dir.log("start", params=params.to_dict())
        if plan is not None and plan.note:
            run_dir.log("protocol", requested=plan.requested, used=plan.protocol, note=plan.note)
        config = LinearEvalConfig(
            lr=params.learning_rate,
            batch_size=params.batch_size,
            max_epochs=params.max_epochs,
            patience=params.patience,
        )
        scores = {}
        for index, name in enumerate(params.encoders):
            scores[name] = linear_evaluation(
                embeddings[name], seeds=seeds, config=config, protocol=params.protocol, n_folds=params.n_folds
            )
            run_dir.save_arrays(f"scores-{index}", **scores[name].arrays())
            run_dir.log("scored", encoder=name, summary=scores[name].summary())
    claims = chance_claims(scores, dataset.n_classes)
    metrics = {"scores": {name: score.scalars() for name, score in scores.items()},
               "claims": [dataclasses.asdict(claim) for claim in claims]}  # fmt: skip
    if not run_dir.finished:
        run_dir.write_metrics(metrics)
        run_dir.log("finished")
    return LinearEvalRun(
        recipe=NAME,
        params=params.to_dict(),
        run_dir=run_dir.path,
        metrics=metrics,
        claims=claims,
        scores=scores,
        embeddings=embeddings,
        dataset=dataset,
    )


def chance_claims(scores: dict[str, LinearEvalResult], n_classes: int) -> list[base.Claim]:
    """For each single-label score: is accuracy above chance (1 / classes)? A one-sample t interval over
    the seeds' scores; one seed is never a verdict."""
    chance = 1.0 / max(1, n_classes)
    claims = []
    for name, score in scores.items():
        if score.metric != "accuracy":
            continue
        comparison = compare_to_value(score.per_seed, chance, unit="probe trainings")
        claims.append(base.Claim.from_comparison(
            f"linear probe on {name} beats chance",
            f"> {chance:.2f} (chance, 1 / {n_classes} classes)",
            comparison,
            measured=f"{score.mean:.2f} over {len(score.per_seed)} seed(s)",
        ))  # fmt: skip
    return claims
