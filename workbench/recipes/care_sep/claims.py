"""What is compared: the paper's comparisons of rows (:data:`COMPARISONS`) and CaRE-SEP against ignoring
the query, each decided over paired training seeds (the unit of replication) through the shared claim statistics."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from workbench.evaluation.replication import compare_runs
from workbench.recipes import base
from workbench.recipes.care_sep.params import CARE_SEP, ROWS

COMPARISONS: tuple[tuple[str, str, str, str], ...] = (
    ("C", "A", "CaRE-SEP beats the ST-SED-SEP baseline", "13.14 vs 10.55 dB mixture-SDR (Table 2, C vs A)"),
    ("G", "A", "the Swin-UNET separator with ST-SED's query is comparable to the CNN's",
     "10.34 vs 10.55 dB (Table 2, G vs A; Sec. 4.3)"),
    ("C", "B", "sharing the encoder beats a separate query network trained with gradient",
     "13.14 vs 10.77 dB (Table 2, C vs B)"),
    ("D", "F", "Init helps the shared encoder (no query gradient)", "10.09 vs 9.14 dB (Table 2, D vs F)"),
    ("E", "D", "the query gradient helps the shared encoder", "11.33 vs 10.09 dB (Table 2, E vs D; Sec. 4.3)"),
    ("C", "CLS+SEP", "separation alone beats joint CLS+SEP training", "13.14 vs 11.48 dB (Table 1)"),
)
"""(treatment, control, claim, the paper's figures): each is checked where both rows were run."""


def _seed_detail(treatment: np.ndarray, control: np.ndarray) -> str:
    """Per-seed means and, for a reader who wants the test set's own sampling counted too, the crossed
    runs x items interval, for the claim's detail."""
    means_t, means_c = treatment.mean(axis=1), control.mean(axis=1)
    text = "per training seed " + ", ".join(f"{t:.2f} vs {c:.2f}" for t, c in zip(means_t, means_c))
    if len(means_t) > 1 and treatment.shape[1] > 1:
        crossed = compare_runs(treatment, control, over="runs and items")
        text += f"; over seeds and test mixtures: {crossed.interval(2)} -> {crossed.verdict}"
    return text


def separation_claims(items: Mapping[str, np.ndarray], query_blind: np.ndarray) -> list[base.Claim]:
    """The paper's comparisons (:data:`COMPARISONS`) among the rows run, and CaRE-SEP against ignoring the
    query, each decided over the paired training seeds (``items[row]``: ``(seeds, examples)``
    mixture-SDR; ``query_blind``: ``(examples,)``).

    The unit of replication is the training run: per seed, the paired effect on the shared test
    mixtures; then a paired t over seeds (:func:`~workbench.evaluation.replication.compare_runs`). One
    seed per row is always inconclusive, however many test mixtures it was scored on."""
    claims = []
    for treatment, control, name, paper in COMPARISONS:
        if treatment not in items or control not in items:
            continue
        examples = items[treatment].shape[1]
        comparison = compare_runs(items[treatment], items[control], nested=f"{examples} test examples averaged per seed")
        paper_effect = ROWS[treatment].paper_mixture_sdr - ROWS[control].paper_mixture_sdr
        claims.append(base.Claim.from_comparison(
            f"{treatment} vs {control}: {name}", paper, comparison,
            measured=f"{control} {items[control].mean():.2f} -> {treatment} {items[treatment].mean():.2f} dB mixture-SDR",
            paper_effect=round(paper_effect, 2), detail=_seed_detail(items[treatment], items[control]),
        ))  # fmt: skip
    if CARE_SEP in items:
        blind = np.broadcast_to(query_blind, items[CARE_SEP].shape)
        comparison = compare_runs(items[CARE_SEP], blind, nested=f"{blind.shape[1]} test examples averaged per seed")
        claims.append(base.Claim.from_comparison(
            "C uses the query: CaRE-SEP beats half the mixture", "query-based separation (Sec. 2.1, Eq. 1)",
            comparison, measured=f"half mixture {query_blind.mean():.2f} -> C {items[CARE_SEP].mean():.2f} dB",
            detail=_seed_detail(items[CARE_SEP], np.asarray(blind)),
        ))  # fmt: skip
    return claims
