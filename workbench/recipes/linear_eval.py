"""Linear evaluation of frozen encoders on any registered dataset: the workbench's quickstart recipe.

The protocol every recipe reuses to score a representation (EVAR / BYOL-A style): embeddings of a
frozen encoder are standardised with training statistics, one linear layer is trained with Adam and
early stopping on a validation split, over the dataset's folds or official splits, for several seeds;
the score is the mean with a 95 % confidence interval.

Defaults run in seconds on the synthetic world; ``-p dataset=fsdd -p task=speaker`` evaluates speaker
identification on the Free Spoken Digit recordings, for example.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar

from workbench import data
from workbench.data.records import AudioDataset
from workbench.errors import UnknownNameError
from workbench.evaluation.embeddings import Embeddings, extract_embeddings
from workbench.evaluation.linear import LinearEvalConfig, LinearEvalResult, linear_evaluation
from workbench.evaluation.protocols import PROTOCOLS
from workbench.evaluation.stats import compare_to_value
from workbench.models.zoo import build_encoder
from workbench.recipes import base
from workbench.train.rundir import RunDir
from workbench.train.seed import seed_everything

NAME = "linear_eval"


@dataclass(frozen=True)
class Params(base.Params):
    recipe: ClassVar[str] = NAME

    dataset: str = "synthetic"  # a name from workbench.data.names()
    task: str = "event"  # the dataset's task option ("" for datasets without one)
    n_clips: int = 400  # clips in the synthetic world (synthetic datasets only)
    world_seed: int = 0  # seed of the synthetic world (synthetic datasets only)
    data_root: str = ""  # data root for real datasets ("" = the default, see data/README.md)
    encoders: tuple[str, ...] = ("logmel-stats", "audiontt-tiny")  # names from workbench.models.zoo
    encoder_seed: int = 0  # initialisation seed of encoders built from scratch
    n_seeds: int = 3  # linear-probe seeds; the score is their mean with a 95 % CI
    max_epochs: int = 100  # linear-probe epochs at most (early stopping decides)
    patience: int = 10  # epochs without validation improvement before stopping
    learning_rate: float = 1e-3  # Adam learning rate of the linear probe
    batch_size: int = 64  # linear-probe batch size
    protocol: str = "auto"  # auto | official | kfold | grouped-kfold (workbench.evaluation.protocols)


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
        notes = {f"protocol {s.requested_protocol} -> {s.protocol}: {s.protocol_note}" for s in self.scores.values()
                 if s.protocol_note and s.requested_protocol == "auto" and s.protocol != "official"}  # fmt: skip
        lines += sorted(notes)  # a fallback from the official folds is never silent
        lines += [f"claim {claim.line()}" for claim in self.claims]
        return "\n".join(lines)


def build_dataset(params: Params) -> AudioDataset:
    options: dict[str, Any] = {}
    if params.task:
        options["task"] = params.task
    if params.dataset.startswith("synthetic"):
        options.update(n_clips=params.n_clips, seed=params.world_seed)
    return data.get(params.dataset, root=params.data_root or None, **options)


def run(params: Params) -> LinearEvalRun:
    """Embed the dataset with each encoder, probe it linearly, and check the probes beat chance.

    An identical rerun finds the finished run directory and reads its scores back instead of
    training the probes again (embeddings come from the embedding cache).
    """
    if params.protocol not in PROTOCOLS:  # before minutes of embedding, not after
        raise UnknownNameError("protocol of linear_eval", params.protocol, PROTOCOLS)
    seed_everything(params.encoder_seed)
    run_dir = RunDir.open(NAME, params.to_dict())
    dataset = build_dataset(params)
    embeddings = {
        name: extract_embeddings(build_encoder(name, seed=params.encoder_seed), dataset)
        for name in params.encoders
    }
    if run_dir.finished:
        stored = run_dir.read_metrics()["scores"]
        scores = {
            name: LinearEvalResult.from_parts(stored[name], run_dir.load_arrays(f"scores-{index}"))
            for index, name in enumerate(params.encoders)
        }
    else:
        run_dir.log("start", params=params.to_dict())
        config = LinearEvalConfig(
            lr=params.learning_rate,
            batch_size=params.batch_size,
            max_epochs=params.max_epochs,
            patience=params.patience,
        )
        scores = {}
        for index, name in enumerate(params.encoders):
            scores[name] = linear_evaluation(
                embeddings[name], seeds=tuple(range(params.n_seeds)), config=config, protocol=params.protocol
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
        comparison = compare_to_value(score.per_seed, chance)
        claims.append(base.Claim.from_comparison(
            f"linear probe on {name} beats chance",
            f"> {chance:.2f} (chance, 1 / {n_classes} classes)",
            comparison,
            measured=f"{score.mean:.2f} over {len(score.per_seed)} seed(s)",
        ))  # fmt: skip
    return claims
