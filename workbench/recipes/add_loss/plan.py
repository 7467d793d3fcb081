"""The plan of an ADD-loss table for ``workbench launch``: one run directory per loss (its folds and
repeats inside); :func:`~workbench.recipes.add_loss.run.run` compares them."""

from __future__ import annotations

from typing import Any

from workbench.launch.plan import Plan, Stage, run_leaf
from workbench.recipes.add_loss.data import build_dataset
from workbench.recipes.add_loss.params import CODE_VERSION, NAME, Params, canonical, identity, parse_variant
from workbench.recipes.add_loss.systems import encoder_rate
from workbench.recipes.add_loss.repeats import train_loss
from workbench.train.rundir import run_id
from workbench.train.seed import seed_everything


def _loss_params(params: Params, variant: str | None) -> Params:
    return canonical(params.replace(**parse_variant(variant).changes) if variant else params)


def plan(params: Params) -> Plan:
    """Stage ``losses``: each of ``params.variants`` (or ``params.loss`` alone)."""
    dataset = build_dataset(params, encoder_rate(params))
    leaves = [
        run_leaf(f"{__name__}:loss_leaf", {"params": params.to_dict(), "variant": variant}, NAME,
                 run_id(NAME, identity(_loss_params(params, variant)), data=dataset, code=CODE_VERSION), variant or params.loss)
        for variant in (params.variants or (None,))
    ]  # fmt: skip
    return Plan(NAME, [Stage("losses", leaves)])


def loss_leaf(params: dict[str, Any], variant: str | None) -> None:
    """Train one loss on every fold and repeat, as :func:`run` would."""
    settings = Params.from_dict(params)
    seed_everything(settings.seed)
    train_loss(_loss_params(settings, variant), build_dataset(settings, encoder_rate(settings)))
