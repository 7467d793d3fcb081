"""The plan of an ADD-loss table for ``workbench launch``: one run directory per loss (its folds and
repeats inside), or, under ``max_seeds``, one per loss and repeat for the first ``repeats`` (the seeds the
confidence sequence needs before its first look); :func:`~workbench.recipes.add_loss.run.run` compares them
and adds any further repeats one at a time."""

from __future__ import annotations

from typing import Any

from workbench.launch.plan import Plan, Stage, run_leaf
from workbench.recipes.add_loss.data import build_dataset
from workbench.recipes.add_loss.params import CODE_VERSION, NAME, Params, canonical, identity, parse_variant
from workbench.recipes.add_loss.systems import encoder_rate, weights_data
from workbench.recipes.add_loss.repeats import train_loss
from workbench.train.rundir import run_id
from workbench.train.seed import seed_everything


def _loss_params(params: Params, variant: str | None) -> Params:
    return canonical(params.replace(**parse_variant(variant).changes) if variant else params)


def plan(params: Params) -> Plan:
    """Stage ``losses``: each of ``params.variants`` (or ``params.loss`` alone), per repeat under ``max_seeds``."""
    dataset = build_dataset(params, encoder_rate(params))
    data = [dataset, *weights_data(params)]
    repeats: list[int | None] = list(range(params.repeats)) if params.max_seeds else [None]
    leaves = [
        run_leaf(f"{__name__}:loss_leaf", {"params": params.to_dict(), "variant": variant, "repeat": repeat}, NAME,
                 run_id(NAME, identity(_loss_params(params, variant), repeat), data=data, code=CODE_VERSION),
                 (variant or params.loss) + ("" if repeat is None else f" repeat {repeat}"))
        for variant in (params.variants or (None,))
        for repeat in repeats
    ]  # fmt: skip
    return Plan(NAME, [Stage("losses", leaves)])


def loss_leaf(params: dict[str, Any], variant: str | None, repeat: int | None = None) -> None:
    """Train one loss on every fold and repeat (or on one ``repeat``), as :func:`run` would."""
    settings = Params.from_dict(params)
    seed_everything(settings.seed)
    train_loss(_loss_params(settings, variant), build_dataset(settings, encoder_rate(settings)), repeat=repeat)
