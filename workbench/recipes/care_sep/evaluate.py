"""Evaluation of one trained system on the test pairs (three SDRs per test example, the tagging mAP, the
Figure-3 embeddings), the pooling of a row's seeds into the table, and the Figure-3 analysis (t-SNE, KL)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from workbench.evaluation.metrics import mean_average_precision
from workbench.evaluation.projection import project
from workbench.evaluation.separation import SeparationScores, evaluate_separation, symmetric_gaussian_kl
from workbench.evaluation.stats import mean_confidence_interval
from workbench.recipes.care_sep.claims import per_mixture
from workbench.recipes.care_sep.data import PairSet, SeparationData
from workbench.recipes.care_sep.params import METRICS, Params
from workbench.recipes.care_sep.systems import SeparationSystem, _device_of


@dataclass
class RowEvaluation:
    """Everything measured for one trained system on the test pairs."""

    scores: SeparationScores | None
    """None for CaRE-CLS (no separator)."""
    tagging_map: float
    figure: dict[str, np.ndarray]
    """``query-<a>``, ``query-<b>``, ``separation-<a>``, ``separation-<b>``: Figure-3 embeddings."""


def test_queries(system: SeparationSystem, pairs: PairSet) -> torch.Tensor:
    """``(pairs, 2, dim)``: each source's class query (the mean embedding of the class's anchors)."""
    by_class = {label: system.class_query(clips).cpu() for label, clips in pairs.anchors.items()}
    return torch.stack([torch.stack([by_class[int(label)] for label in row]) for row in pairs.classes])


@torch.no_grad()
def evaluate(system: SeparationSystem, dataset: SeparationData, params: Params) -> RowEvaluation:
    """Three SDRs per test example, tagging mAP and the Figure-3 embeddings of one system on the test pairs."""
    system.eval()
    device = _device_of(system)
    pairs = dataset.test
    queries = test_queries(system, pairs)
    scores = None
    if system.separator is not None:
        def separate(inputs: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
            return system.separator.separate(inputs.to(device), query.to(device))

        scores = evaluate_separation(separate, pairs.sources, queries, pairs.classes, batch_size=params.batch_size)
    clips, labels = pairs.single_sources()
    logits = torch.cat(
        [system.query_model.tag_logits(part.to(device)).cpu() for part in clips.split(params.batch_size)]
    )
    tagging_map = mean_average_precision(logits.numpy(), labels)
    figure: dict[str, np.ndarray] = {}
    for label in params.figure_classes:
        members = np.argwhere(pairs.classes == label)[: params.n_figure_points]  # (pair, j) rows
        if len(members) == 0:
            continue
        sources = torch.stack([pairs.sources[pair, j] for pair, j in members])
        mixtures = torch.stack([pairs.mixture(pair) for pair, _ in members])
        member_queries = torch.stack([queries[pair, j] for pair, j in members])
        query_embeddings, separation_features = [], []
        for start in range(0, len(members), params.batch_size):
            part = slice(start, start + params.batch_size)
            query_embeddings.append(system.query_model.embed_query(sources[part].to(device)).cpu())
            if system.separator is not None:
                _, features = system.separator.separate(mixtures[part].to(device), member_queries[part].to(device),
                                                        return_features=True)  # fmt: skip
                separation_features.append(features.cpu())
        figure[f"query-{label}"] = torch.cat(query_embeddings).numpy()
        if separation_features:
            figure[f"separation-{label}"] = torch.cat(separation_features).numpy()
    return RowEvaluation(scores, tagging_map, figure)


def _pool(evaluations: Sequence[RowEvaluation]) -> dict[str, tuple[float, float]]:
    """Mean and 95 % CI per metric over the seeds' test mixtures (each mixture's two examples averaged
    first: they are not independent); the tagging mAP over seeds."""
    nan = (float("nan"), float("nan"))
    row = {
        metric: nan if evaluations[0].scores is None else mean_confidence_interval(np.concatenate([
            per_mixture(evaluation.scores.improvement if metric == "sdri" else getattr(evaluation.scores, metric))
            for evaluation in evaluations
        ]))
        for metric in METRICS
    }  # fmt: skip
    row["map"] = mean_confidence_interval([evaluation.tagging_map for evaluation in evaluations])
    return row


FIGURE_KINDS = ("separation", "query")
"""The two panels of each row in Figure 3: (a)/(c) separation feature, (b)/(d) query embedding."""


def figure_analysis(figure: Mapping[str, np.ndarray], classes: Sequence[int], class_names: Sequence[str], seed: int = 0
                    ) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], dict[str, float]]:  # fmt: skip
    """Figure 3 for one row: a t-SNE panel per kind (separation feature, query embedding) of the two classes,
    each with its class-vs-class symmetric Gaussian KL, and the query-vs-separation KL per class.

    Returns:
        ``(panels, kl)``: panels ``{kind: (points (M, 2), class index per point (M,))}``; kl
        ``{"separation: a | b", "query: a | b", "query | separation: a", "query | separation: b"}`` in nats
        (:func:`~workbench.evaluation.separation.gaussian_kl`); the last two only where both have one width.
        A kind is left out when a class has fewer than 3 clips.
    """
    first, second = (int(label) for label in classes)
    a, b = class_names[first], class_names[second]
    panels: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    kl: dict[str, float] = {}
    for kind in FIGURE_KINDS:
        one, two = figure.get(f"{kind}-{first}"), figure.get(f"{kind}-{second}")
        if one is None or two is None or min(len(one), len(two)) < 3:
            continue
        points = project(np.concatenate([one, two]), method="tsne", seed=seed)
        panels[kind] = (points, np.concatenate([np.full(len(one), first), np.full(len(two), second)]))
        kl[f"{kind}: {a} | {b}"] = symmetric_gaussian_kl(one, two)
    if set(panels) == set(FIGURE_KINDS):
        for label, name in ((first, a), (second, b)):
            query, separation = figure[f"query-{label}"], figure[f"separation-{label}"]
            if query.shape[1] == separation.shape[1]:
                kl[f"query | separation: {name}"] = symmetric_gaussian_kl(query, separation)
    return panels, kl
