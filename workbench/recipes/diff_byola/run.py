"""The recipe's orchestration, read first: pre-train every (lambda, seed), evaluate every encoder, pool
the tables and check the claims, all in one run directory."""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch

from workbench.data.synthetic.views import SceneDataset
from workbench.evaluation.bgknown import overlap_name
from workbench.evaluation.retrieval import synthetic_modifier_pairs
from workbench.recipes import base
from workbench.recipes.base.seeding import SeedingResult, seeds_until_settled
from workbench.recipes.diff_byola.claims import _paper_reference_gain, bgknown_paired, evaluation_claims
from workbench.recipes.diff_byola.data import (
    bgknown_builder,
    general_datasets,
    log_mel_clips,
    pretraining_dataset,
    recipe_frontend,
)
from workbench.recipes.diff_byola.evaluate import Evaluation, evaluate, pooled_tables
from workbench.recipes.diff_byola.params import CODE_VERSION, BGKNOWN_COLUMNS, NAME, PRETRAIN_NAME, SCENE_SECONDS, Params, model_label
from workbench.recipes.diff_byola.result import DiffBYOLARun
from workbench.recipes.diff_byola.train import pretrain, pretraining_params
from workbench.train.convergence import loss_plateau
from workbench.train.rundir import RunDir
from workbench.train.seed import seed_everything
from workbench.train.threads import torch_threads


def run(params: Params, progress: bool = True) -> DiffBYOLARun:
    """Pre-train every (lambda, seed), evaluate every encoder, and check the paper's claims.

    A finished run directory with the same parameters is read back instead of evaluated again (its
    pre-trainings are re-used in any case, from their own run directories). Torch runs on
    ``params.cpu_threads`` threads meanwhile, and the caller's setting is restored afterwards.
    """
    with torch_threads(params.cpu_threads):
        return _run(params, progress)


def _run(params: Params, progress: bool) -> DiffBYOLARun:
    seed_everything(params.world_seed)
    run_dir = RunDir.open(NAME, params.to_dict(), data=[pretraining_dataset(params), bgknown_builder(params).foregrounds, *general_datasets(params).values()], code=CODE_VERSION)
    builder = bgknown_builder(params)
    labels = [model_label(weight) for weight in params.difference_weights]
    histories: dict[str, dict[str, list[float]]] = {}
    if run_dir.finished:
        metrics = run_dir.read_metrics()
        arrays = run_dir.load_arrays("difference")
        points = {label: arrays[f"points-{index}"] for index, label in enumerate(labels)}
        histories = metrics["histories"]
        bgknown = {m: {c: tuple(v) for c, v in row.items()} for m, row in metrics["bgknown"].items()}
        retrieval = {m: {int(k): tuple(v) for k, v in row.items()} for m, row in metrics["retrieval"].items()}
        audio_only = {m: {int(k): v for k, v in row.items()} for m, row in metrics["retrieval_audio_only"].items()}
        general = {m: {t: tuple(v) for t, v in row.items()} for m, row in metrics["general"].items()}
        difference_labels = arrays["labels"]
        claims = [base.Claim.from_dict(claim) for claim in metrics["claims"]]
        paired = {model: {column: row[column] for column in BGKNOWN_COLUMNS if column in row}
                  for model, row in metrics.get("bgknown_paired", {}).items()}  # fmt: skip
        convergence = metrics.get("pretraining_convergence", {})
        seeds = metrics.get("seeds", {"seeds": list(params.pretrain_seeds), "budget": 0})
    else:
        run_dir.log("start", params=params.to_dict())
        frontend = recipe_frontend(params)
        pairs = synthetic_modifier_pairs(
            SceneDataset(seed=params.world_seed, n_clips=params.n_retrieval_scenes, duration=SCENE_SECONDS),
            n_distractors=params.n_distractors, seed=params.world_seed,
        )  # fmt: skip
        general_sets = general_datasets(params)
        evaluations: dict[str, list[Evaluation]] = {label: [] for label in labels}
        convergence: dict[str, dict[str, dict[str, Any]]] = {}
        clips: list[torch.Tensor] | None = None
        falling: list[str] = []  # warned from here, at one depth below the caller of run(), however seeds were added

        def one_seed(seed: int) -> dict[str, Evaluation]:
            """Pre-train (or read back) every lambda at ``seed`` and evaluate each encoder."""
            nonlocal clips
            evaluated = {}
            for weight, label in zip(params.difference_weights, labels):
                pretrained_dir = RunDir.open(PRETRAIN_NAME, pretraining_params(params, weight, seed), data=pretraining_dataset(params), code=CODE_VERSION)
                if clips is None and not pretrained_dir.finished:
                    clips = log_mel_clips(pretraining_dataset(params), frontend, params.unit_frames)
                pretrained = pretrain(params, weight, seed, clips, progress=progress)
                histories.setdefault(label, pretrained.history)
                plateau = loss_plateau(convergence_curve(pretrained.history))
                convergence.setdefault(label, {})[str(seed)] = plateau.to_dict()
                run_dir.log("pretrained", model=label, seed=seed, byol_loss=plateau.line())
                if not plateau.flat:
                    falling.append(f"diff_byola: the BYOL loss of {label} seed {seed} was not shown to flatten when "
                                   f"pre-training ended ({plateau.line()}); raise `epochs` (now {params.epochs}) before trusting the comparison")  # fmt: skip
                evaluated[label] = evaluate(pretrained.encoder, params, builder, pairs, general_sets)
                evaluations[label].append(evaluated[label])
                run_dir.log("evaluated", model=label, seed=seed)
            return evaluated

        seeding = None
        if params.max_seeds:
            seeding = headline_seeds(params, one_seed, run_dir)
        else:
            for seed in params.pretrain_seeds:
                one_seed(seed)
        for message in falling:
            warnings.warn(message, stacklevel=3)  # at the caller of run(): the notebook cell or script
        bgknown, retrieval, audio_only, general = pooled_tables(evaluations, params.general_tasks)
        points = {label: runs[0].difference_points for label, runs in evaluations.items()}
        difference_labels = np.asarray(builder.foregrounds.targets())
        run_dir.save_arrays(
            "difference", labels=difference_labels, **{f"points-{i}": points[label] for i, label in enumerate(labels)}
        )
        paired = bgknown_paired(evaluations, seeding)
        claims = evaluation_claims(evaluations, params.difference_weights, seeding)
        seeds = seeding.to_dict() if seeding is not None else {"seeds": list(params.pretrain_seeds), "budget": 0}
    metrics = {
        "bgknown": bgknown, "retrieval": {m: {str(k): v for k, v in row.items()} for m, row in retrieval.items()},
        "retrieval_audio_only": {m: {str(k): v for k, v in row.items()} for m, row in audio_only.items()},
        "general": general, "histories": histories, "claims": [dataclasses.asdict(claim) for claim in claims],
        "bgknown_paired": paired, "pretraining_convergence": convergence, "seeds": seeds,
    }  # fmt: skip
    if not run_dir.finished:
        run_dir.write_metrics(metrics)
        run_dir.log("finished")
    return DiffBYOLARun(
        recipe=NAME, params=params.to_dict(), run_dir=run_dir.path, metrics=metrics, claims=claims,
        bgknown=bgknown, retrieval=retrieval, retrieval_audio_only=audio_only, general=general,
        histories=histories, difference_points=points, difference_labels=difference_labels,
        class_names=tuple(builder.classes), builder=builder, bgknown_paired=paired, convergence=convergence,
        seeding=seeds,
    )  # fmt: skip


def convergence_curve(history: Mapping[str, list[float]]) -> list[float]:
    """The curve the convergence check reads: the BYOL loss of fixed views after each epoch
    (:func:`~workbench.recipes.diff_byola.train.monitor_views`), else, for a pre-training finished before
    the monitor existed, the epoch-mean training BYOL loss."""
    return history.get("monitor_byol_loss") or history["byol_loss"]


def headline_seeds(params: Params, one_seed: Callable[[int], Mapping[str, Evaluation]], run_dir: RunDir) -> SeedingResult:
    """Add pre-training seeds one at a time (``pretrain_seeds`` first, ``max_seeds`` at most) until the
    headline claim, the first lambda > 0 against lambda = 0 on BgKnown ``y_diff`` accuracy (the mean of the
    three references), is settled by the anytime-valid confidence sequence. Finished pre-trainings are read
    back, so a larger ``max_seeds`` later trains only the seeds this call did not reach."""
    weight = next(weight for weight in params.difference_weights if weight > 0)
    treated, control = model_label(weight), model_label(0.0)
    columns = [overlap_name(overlap) for overlap in (1.0, 0.5, 0.0)]

    def paired_run(seed: int) -> tuple[float, float]:
        evaluated = one_seed(seed)
        treated_score, control_score = (float(np.mean([evaluated[label].bgknown[column].correct for column in columns]))
                                        for label in (treated, control))  # fmt: skip
        return treated_score, control_score

    seeding = seeds_until_settled(
        paired_run, first_seeds=params.pretrain_seeds, budget=params.max_seeds,
        paper_effect=_paper_reference_gain(weight), claim=f"BgKnown y_diff accuracy, {treated} vs λ=0",
    )  # fmt: skip
    run_dir.log("seeds", **seeding.to_dict())
    return seeding
