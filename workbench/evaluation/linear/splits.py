"""Which clips fit, stop and test each probe: the protocol plan of an :class:`Embeddings` table and the
validation clips carved from each training side (:class:`EvaluationSplit`)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from workbench.errors import UnknownNameError
from workbench.evaluation.embeddings import Embeddings
from workbench.evaluation.linear.config import LEGACY_PROTOCOLS, VALID_SPLIT_NAMES, LinearEvalConfig
from workbench.evaluation.protocols import PROTOCOLS, ProtocolPlan, carve_validation, plan_protocol


@dataclass(frozen=True)
class EvaluationSplit:
    """One train/valid/test partition of the rows of an :class:`Embeddings` table."""

    name: str
    """The fold's name in the protocol plan (``"fold <k>"``, ``"k-fold <k>"``, ``"test"``)."""
    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray


def resolve_protocol_name(protocol: str) -> str:
    """``protocol`` itself, or the new name of an earlier one (:data:`LEGACY_PROTOCOLS`, with a warning).

    Raises:
        UnknownNameError: neither a protocol of :data:`PROTOCOLS` nor an earlier name.
    """
    if protocol in LEGACY_PROTOCOLS:
        warnings.warn(
            f"linear evaluation protocol {protocol!r} is now {LEGACY_PROTOCOLS[protocol]!r}",
            DeprecationWarning, stacklevel=3,
        )  # fmt: skip
        return LEGACY_PROTOCOLS[protocol]
    if protocol not in PROTOCOLS:
        raise UnknownNameError("linear evaluation protocol", protocol, PROTOCOLS)
    return protocol


def plan_for(embeddings: Embeddings, protocol: str = "auto", seed: int = 0, n_folds: int = 5) -> ProtocolPlan:
    """The protocol plan of ``embeddings`` for one seed (k-fold partitions are shuffled by ``seed``)."""
    return plan_protocol(
        embeddings.targets, protocol=resolve_protocol_name(protocol), folds=embeddings.folds,
        splits=embeddings.splits, groups=embeddings.groups, classes=embeddings.classes or None,
        n_folds=n_folds, seed=seed,
    )  # fmt: skip


def evaluation_splits(
    embeddings: Embeddings,
    protocol: str,
    seed: int,
    config: LinearEvalConfig | None = None,
    *,
    n_folds: int = 5,
) -> list[EvaluationSplit]:
    """The train/valid/test partitions of one repetition (deterministic given ``seed``).

    The test sides come from :func:`plan_for`; the validation clips are carved from each training side
    (:func:`~workbench.evaluation.protocols.carve_validation`: stratified, grouped by source where
    groups exist), differently per seed, or are the official validation split where the data have one.
    """
    config = config or LinearEvalConfig()
    plan = plan_for(embeddings, protocol, seed, n_folds)
    return _splits_of_plan(embeddings, plan, seed, config)


def _splits_of_plan(
    embeddings: Embeddings, plan: ProtocolPlan, seed: int, config: LinearEvalConfig
) -> list[EvaluationSplit]:
    partitions = []
    for position, fold in enumerate(plan.folds):
        train = fold.train
        official_valid = (
            train[np.isin(embeddings.splits[train], VALID_SPLIT_NAMES)]
            if plan.protocol == "official" and embeddings.splits is not None and embeddings.folds is None
            else np.zeros(0, dtype=np.int64)
        )
        if len(official_valid) and len(official_valid) < len(train):
            fit, valid = np.setdiff1d(train, official_valid), official_valid
        else:
            # One random stream per (seed, fold): each fold's carving is reproducible on its own.
            fit, valid = carve_validation(
                train, embeddings.targets, groups=embeddings.groups, fraction=config.valid_fraction,
                seed=seed * 1_000_003 + position,
            )  # fmt: skip
        partitions.append(EvaluationSplit(fold.name, fit, valid, fold.test))
    return partitions
