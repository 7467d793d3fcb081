"""The recipe's orchestration, read first: :func:`run` trains one loss or each variant of a comparison on
the same folds and seeds, then computes the claims; :func:`compare` is ``run`` with the notebook's variants."""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Sequence

from tqdm.auto import tqdm

from workbench.recipes.add_loss.claims import comparison_claims
from workbench.recipes.add_loss.data import FoldInputs, build_dataset, plan_partitions
from workbench.recipes.add_loss.params import CODE_VERSION, DEFAULT_VARIANTS, NAME, Params, identity, parse_variant
from workbench.recipes.add_loss.result import AddLossResult, LossRun
from workbench.recipes.add_loss.systems import build_criterion, encoder_rate
from workbench.recipes.add_loss.repeats import train_loss
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
    seed_everything(params.seed)
    dataset = build_dataset(params, encoder_rate(params))
    _, protocol_note = plan_partitions(dataset, params.folds, params.protocol, params.n_folds, params.seed)
    if protocol_note:
        warnings.warn(f"add_loss: {protocol_note}", stacklevel=2)
    if not variants:
        loss_run = train_loss(params, dataset)
        return AddLossResult(
            recipe=NAME, params=params.to_dict(), run_dir=loss_run.run_dir,
            metrics=RunDir(loss_run.run_dir).read_metrics(), claims=[], losses={loss_run.label: loss_run},
            classes=tuple(dataset.classes), dataset=dataset, protocol_note=protocol_note,
        )  # fmt: skip
    runs: dict[str, LossRun] = {}
    prepared: dict[int | None, FoldInputs] = {}  # the variants differ in their loss only: read the data once
    for variant in tqdm(variants, desc="losses", leave=False):
        loss_run = train_loss(params.replace(**variant.changes), dataset, prepared)
        runs[loss_run.label] = loss_run
    claims = comparison_claims(runs, {variant.key: variant.label(params) for variant in variants}, params)
    run_dir = RunDir.open(NAME, identity(params), data=dataset, code=CODE_VERSION)
    metrics = {"losses": {label: {**run.metrics(), "run_dir": str(run.run_dir)} for label, run in runs.items()},
               "claims": [dataclasses.asdict(claim) for claim in claims], "protocol_note": protocol_note}  # fmt: skip
    if not run_dir.finished:
        run_dir.write_metrics(metrics)
    return AddLossResult(
        recipe=NAME, params=params.to_dict(), run_dir=run_dir.path, metrics=metrics, claims=claims,
        losses=runs, classes=tuple(dataset.classes), dataset=dataset, protocol_note=protocol_note,
    )  # fmt: skip


def compare(params: Params, variants: Sequence[str] = DEFAULT_VARIANTS) -> AddLossResult:
    """:func:`run` with ``params.variants`` set to ``variants``: several losses, trained side by side."""
    return run(params.replace(variants=tuple(variants)))
