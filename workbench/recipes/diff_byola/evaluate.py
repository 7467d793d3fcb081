"""The evaluations of one frozen encoder: BgKnown (Table 1), text-modified retrieval (Table 2) and
general-purpose linear evaluation (Table 3)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from workbench.data.records import AudioDataset
from workbench.evaluation.bgknown import BgKnownBuilder, BgKnownProtocol, BgKnownScores, bgknown_embeddings, probe_bgknown
from workbench.evaluation.embeddings import extract_embeddings
from workbench.evaluation.linear import LinearEvalConfig, LinearEvalResult, linear_evaluation
from workbench.evaluation.projection import project
from workbench.evaluation.retrieval import (
    KS,
    ModifierPairs,
    RetrievalConfig,
    RetrievalResult,
    TextEncoderFactory,
    embed_waveforms,
    frozen_small_text_encoder,
    modifier_retrieval,
    small_text_encoder,
)
from workbench.evaluation.stats import mean_confidence_interval
from workbench.models.audiontt import AudioNTT2020
from workbench.models.text import load_distilbert
from workbench.recipes.diff_byola.params import BGKNOWN_COLUMNS, Params


def pooled(results: Sequence[LinearEvalResult]) -> tuple[float, float]:
    """Mean and 95 % CI over every fold and probe seed of every pre-training seed.

    Folds rather than seeds alone: two probe seeds give a t-interval too wide to say anything
    (t = 12.7 at one degree of freedom), while the folds' spread is the test-set noise that matters.
    """
    return mean_confidence_interval(
        [score for result in results for scores in result.per_fold.values() for score in scores]
    )


def bgknown_protocol(params: Params) -> BgKnownProtocol:
    """The paper's BgKnown protocol (Sec. 5.2) with the epochs, patience and probe seeds of ``params``."""
    return BgKnownProtocol(max_epochs=params.bgknown_max_epochs, patience=params.bgknown_patience,
                           probe_seeds=tuple(range(params.n_bgknown_probe_seeds)))  # fmt: skip


def text_encoder_factory(params: Params, config: RetrievalConfig) -> TextEncoderFactory:
    """The sentence encoder of the retrieval: the small one pretrained once and frozen (the paper freezes
    its text encoder, Sec. 5.3), the small one trained with the adapter, or frozen local DistilBERT."""
    if params.text_encoder == "distilbert":
        encoder = load_distilbert()
        return lambda texts: encoder
    if params.text_encoder == "frozen":
        return frozen_small_text_encoder(config.text_dim)
    return small_text_encoder(config.text_dim)


def probe_config(params: Params) -> LinearEvalConfig:
    return LinearEvalConfig(max_epochs=params.max_epochs, patience=params.patience)


@dataclass
class Evaluation:
    """Every score of one pre-trained encoder."""

    bgknown: dict[str, BgKnownScores]
    retrieval: RetrievalResult
    general: dict[str, LinearEvalResult]
    difference_points: np.ndarray
    """2-D PCA projection of every item's ``y_diff`` (100 % reference), for the picture."""


def evaluate(
    encoder: AudioNTT2020, params: Params, builder: BgKnownBuilder, pairs: ModifierPairs,
    general: Mapping[str, AudioDataset],
) -> Evaluation:  # fmt: skip
    """BgKnown, retrieval and general linear evaluation of one frozen encoder."""
    seeds = tuple(range(params.n_probe_seeds))
    config = probe_config(params)
    tables = bgknown_embeddings(encoder, builder, progress=False)
    protocol = bgknown_protocol(params)
    bgknown = {column: probe_bgknown(tables[column], protocol) for column in BGKNOWN_COLUMNS}
    retrieval_config = RetrievalConfig(epochs=params.retrieval_epochs)
    retrieval = modifier_retrieval(
        embed_waveforms(encoder, pairs.query_audio, pairs.sample_rate),
        embed_waveforms(encoder, pairs.gallery_audio, pairs.sample_rate),
        pairs, text_encoder_factory(params, retrieval_config), retrieval_config,
        seeds=tuple(range(params.n_adapter_seeds)),
    )  # fmt: skip
    # No embedding cache: its key would render every clip once more for the ids, and a finished run
    # directory already keeps the scores.
    general_scores = {
        task: linear_evaluation(extract_embeddings(encoder, dataset, cache=False, progress=False), seeds=seeds,
                                config=config, protocol=params.protocol)
        for task, dataset in general.items()
    }  # fmt: skip
    return Evaluation(bgknown, retrieval, general_scores, project(tables["diff-100"].features, method="pca"))


def pooled_tables(
    evaluations: Mapping[str, Sequence[Evaluation]], general_tasks: Sequence[str]
) -> tuple[dict[str, dict[str, tuple[float, float]]], dict[str, dict[int, tuple[float, float]]],
           dict[str, dict[int, float]], dict[str, dict[str, tuple[float, float]]]]:  # fmt: skip
    """The tables of :class:`~workbench.recipes.diff_byola.DiffBYOLARun`, per model pooled over its
    pre-training seeds: BgKnown accuracy per column and retrieval recall@k (mean, ci95 over every probe or
    adapter seed of every pre-training), the bare query audio's recall (mean), and general accuracy
    (:func:`pooled`).

    Args:
        evaluations: model label -> one :class:`Evaluation` per pre-training seed.
    """
    bgknown = {label: {column: mean_confidence_interval([float(a) for e in runs for a in e.bgknown[column].accuracy])
                       for column in BGKNOWN_COLUMNS}
               for label, runs in evaluations.items()}  # fmt: skip
    retrieval = {
        label: {k: mean_confidence_interval([v for e in runs for v in e.retrieval.per_seed[k]]) for k in KS}
        for label, runs in evaluations.items()
    }
    audio_only = {label: {k: float(np.mean([e.retrieval.audio_only[k] for e in runs])) for k in KS}
                  for label, runs in evaluations.items()}  # fmt: skip
    general = {label: {task: pooled([e.general[task] for e in runs]) for task in general_tasks}
               for label, runs in evaluations.items()}  # fmt: skip
    return bgknown, retrieval, audio_only, general
