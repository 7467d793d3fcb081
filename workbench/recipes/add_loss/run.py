"""The recipe's orchestration, read first: :func:`run` trains one loss or each variant of a comparison on
the same folds and seeds, then computes the claims; :func:`compare` is ``run`` with the notebook's variants."""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Sequence

import numpy as np

from workbench.data.records import AudioDataset
from workbench.progress import tqdm
from workbench.recipes.add_loss.claims import comparison_claims, paper_accuracy
from workbench.recipes.add_loss.data import FoldInputs, build_dataset, plan_partitions
from workbench.recipes.add_loss.params import CODE_VERSION, DEFAULT_VARIANTS, NAME, Params, Variant, identity, parse_variant
from workbench.recipes.add_loss.result import AddLossResult, LossRun
from workbench.recipes.add_loss.systems import build_criterion, encoder_rate, weights_data
from workbench.recipes.add_loss.repeats import train_loss
from workbench.recipes.base.seeding import SeedingResult, seeds_until_settled
from workbench.train.rundir import RunDir
from workbench.train.seed import seed_everything


def run(params: Params) -> AddLossResult:
    """Fine-tune with ``params.loss``, or with each of ``params.variants``, and analyse the embeddings.

    Each loss trains in its own run directory (shared by any comparison that trains it again); with
    ``variants`` the comparison's run directory holds the table and the claims.

    Raises:
        UnknownNameError: an unknown dataset, encoder or variant.
        DatasetNotFoundError: a real dataset whose files are absent.
        ValueError: impossible settings (see :func:`build_criterion`, :func:`plan_splits`,
            :func:`build_fine_tuned_encoder`).
    """
    variants = [parse_variant(key) for key in params.variants]
    build_criterion(params)  # fail on impossible loss settings before any data is read
    for variant in variants:
        build_criterion(params.replace(**variant.changes))
    weights_data(params)  # a checkpoint that is not there fails here, before any data is read (its sha256 is kept)
    seed_everything(params.seed)
    dataset = build_dataset(params, encoder_rate(params))
    splits, protocol_note = plan_partitions(dataset, params.folds, params.protocol, params.n_folds, params.seed)
    if protocol_note:
        warnings.warn(f"add_loss: {protocol_note}", stacklevel=2)
    if not variants:
        loss_run = train_loss(params, dataset)
        return AddLossResult(
            recipe=NAME, params=params.to_dict(), run_dir=loss_run.run_dir,
            metrics=RunDir(loss_run.run_dir).read_metrics(), claims=[], losses={loss_run.label: loss_run},
            classes=tuple(dataset.classes), dataset=dataset, protocol_note=protocol_note,
        )  # fmt: skip
    prepared: dict[int | None, FoldInputs] = {}  # the variants differ in their loss only: read the data once
    labels = {variant.key: variant.label(params) for variant in variants}
    seeding = None
    if params.max_seeds:
        runs, seeding = _repeats_until_settled(params, variants, dataset, prepared)
    else:
        runs = {}
        for variant in tqdm(variants, desc="losses", leave=False):
            loss_run = train_loss(params.replace(**variant.changes), dataset, prepared)
            runs[loss_run.label] = loss_run
    ratio = float(np.mean([len(split.test) / len(split.train) for split in splits]))
    claims = comparison_claims(runs, labels, params, test_train_ratio=ratio, seeding=seeding)
    run_dir = RunDir.open(NAME, identity(params), data=[dataset, *weights_data(params)], code=CODE_VERSION)
    metrics = {"losses": {label: {**run.metrics(), "run_dir": str(run.run_dir)} for label, run in runs.items()},
               "claims": [dataclasses.asdict(claim) for claim in claims], "protocol_note": protocol_note,
               "seeds": seeding.to_dict() if seeding is not None else {"repeats": params.repeats, "budget": 0}}  # fmt: skip
    if not run_dir.finished:
        run_dir.write_metrics(metrics)
    return AddLossResult(
        recipe=NAME, params=params.to_dict(), run_dir=run_dir.path, metrics=metrics, claims=claims,
        losses=runs, classes=tuple(dataset.classes), dataset=dataset, protocol_note=protocol_note,
        seeding=seeding.to_dict() if seeding is not None else None,
    )  # fmt: skip


def _repeats_until_settled(
    params: Params, variants: list[Variant], dataset: AudioDataset, prepared: dict[int | None, FoldInputs]
) -> tuple[dict[str, LossRun], SeedingResult]:
    """Add repeats one at a time (``repeats`` first, ``max_seeds`` at most), each loss's repeat its own
    content-addressed run (every chosen fold), until the headline claim, ADD {1,1,1,1} against CE on
    accuracy (each repeat's folds averaged), is settled by the anytime-valid confidence sequence. A larger
    ``max_seeds`` later reads the finished repeats back and trains only the new ones."""
    trained: dict[str, list[LossRun]] = {}
    add_key = next(key for key in ("add", "add-1111") if key in params.variants)
    labels = {variant.key: variant.label(params) for variant in variants}

    def paired_run(seed: int) -> tuple[float, float]:
        for variant in variants:
            loss_run = train_loss(params.replace(**variant.changes), dataset, prepared, repeat=seed - params.seed)
            trained.setdefault(variant.key, []).append(loss_run)
        add, ce = (float(np.mean([fold.accuracy for fold in trained[key][-1].folds])) for key in (add_key, "ce"))
        return add, ce

    table = paper_accuracy(params.dataset, params.encoder)
    seeding = seeds_until_settled(
        paired_run, first_seeds=[params.seed + repeat for repeat in range(params.repeats)], budget=params.max_seeds,
        paper_effect=None if table is None else (table[1] - table[0]) / 100,
        claim=f"{labels[add_key]} vs CE accuracy",
    )  # fmt: skip
    runs = {}
    for variant in variants:
        first = trained[variant.key][0]
        folds = [fold for loss_run in trained[variant.key] for fold in loss_run.folds]
        runs[first.label] = LossRun(first.label, first.params, first.run_dir, folds)
    return runs, seeding


def compare(params: Params, variants: Sequence[str] = DEFAULT_VARIANTS) -> AddLossResult:
    """:func:`run` with ``params.variants`` set to ``variants``: several losses, trained side by side."""
    return run(params.replace(variants=tuple(variants)))
