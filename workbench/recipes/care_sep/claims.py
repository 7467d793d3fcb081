"""What is compared: first whether each row uses its query (against the query-blind half mixture), then the
paper's comparisons of rows (:data:`COMPARISONS`), each decided over paired training seeds (the unit of
replication) through the shared claim statistics; the test set enters as mixtures, never as examples."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from workbench.evaluation.replication import compare_runs
from workbench.evaluation.stats import Comparison
from workbench.recipes import base
from workbench.recipes.base.seeding import SeedingResult
from workbench.recipes.care_sep.params import ROWS, row_label

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


def per_mixture(values: np.ndarray) -> np.ndarray:
    """``(..., 2 N)`` per-example scores (example ``2 i + j``: source ``j`` of mixture ``i``) -> ``(..., N)``,
    the mean of each mixture's two examples: the two examples cut from one mixture share its sources and
    are not independent, so every interval resamples mixtures, never examples.

    Raises:
        ValueError: an odd number of examples (not two per mixture).
    """
    values = np.asarray(values, dtype=float)
    if values.shape[-1] % 2:
        raise ValueError(f"per-example scores must have two examples per mixture, got {values.shape[-1]} examples")
    return values.reshape(*values.shape[:-1], -1, 2).mean(axis=-1)


def _seed_detail(treatment: np.ndarray, control: np.ndarray) -> str:
    """Per-seed means and, for a reader who wants the test set's own sampling counted too, the crossed
    runs x mixtures interval (``(seeds, mixtures)`` scores), for the claim's detail."""
    means_t, means_c = treatment.mean(axis=1), control.mean(axis=1)
    text = "per training seed " + ", ".join(f"{t:.2f} vs {c:.2f}" for t, c in zip(means_t, means_c))
    if len(means_t) > 1 and treatment.shape[1] > 1:
        crossed = compare_runs(treatment, control, over="runs and items")
        text += f"; over seeds and test mixtures: {crossed.interval(2)} -> {crossed.verdict}"
    return text


def _nested(mixtures: int) -> str:
    return f"{mixtures} test mixtures (two examples each) averaged per seed"


def _compared(treated: np.ndarray, controlled: np.ndarray, seeding: SeedingResult | None) -> tuple[Comparison, str]:
    """The paired t over the training seeds (``(seeds, mixtures)`` scores), or, where the seeds were added one
    at a time (``max_seeds``), the anytime-valid confidence sequence over the same seeds, valid at the number
    of seeds the headline claim chose; with the detail's first words (which seeds, why adding stopped)."""
    nested = _nested(treated.shape[1])
    if seeding is None:
        return compare_runs(treated, controlled, nested=nested), ""
    comparison = seeding.comparison(treated, controlled, unit="training runs", nested=nested)
    return comparison, seeding.line(treated, controlled) + "; "


def _label(row: str, labels: Mapping[str, str] | None) -> str:
    return (labels or {}).get(row) or row_label(row)


def floor_claims(
    items: Mapping[str, np.ndarray], query_blind: np.ndarray, labels: Mapping[str, str] | None = None,
    seeding: SeedingResult | None = None,
) -> list[base.Claim]:  # fmt: skip
    """Per separating row, whether it uses its query: its mixture-SDR against the query-blind half mixture
    (what a separator that ignores the query gets, about +3 dB), paired over the training seeds. Read
    these first: a row that does not clear this floor cannot stand for its row of Table 2. ``labels``: how
    the claims name each row (:func:`~.params.row_label`, with its measured query width); ``seeding``: as
    :func:`separation_claims`."""
    claims = []
    blind_mixtures = per_mixture(query_blind)
    for row, values in items.items():
        scores = per_mixture(values)
        blind = np.broadcast_to(blind_mixtures, scores.shape)
        comparison, seeds = _compared(scores, np.asarray(blind), seeding)
        claims.append(base.Claim.from_comparison(
            f"{row} uses the query: {_label(row, labels)} beats the query-blind half mixture",
            "query-based separation (Sec. 2.1, Eq. 1)", comparison,
            measured=f"half mixture {blind_mixtures.mean():.2f} -> {row} {scores.mean():.2f} dB mixture-SDR",
            detail=seeds + _seed_detail(scores, np.asarray(blind)),
        ))  # fmt: skip
    return claims


def separation_claims(
    items: Mapping[str, np.ndarray], query_blind: np.ndarray, labels: Mapping[str, str] | None = None,
    seeding: SeedingResult | None = None,
) -> list[base.Claim]:  # fmt: skip
    """Whether each row uses its query (:func:`floor_claims`, first), then the paper's comparisons
    (:data:`COMPARISONS`) among the rows run, each decided over the paired training seeds
    (``items[row]``: ``(seeds, examples)`` mixture-SDR, two examples per test mixture; ``query_blind``:
    ``(examples,)``).

    The unit of replication is the training run: per seed, the paired effect on the shared test
    mixtures; then a paired t over seeds (:func:`~workbench.evaluation.replication.compare_runs`). One
    seed per row is always inconclusive, however many test mixtures it was scored on. Where the test
    set's sampling enters (the crossed interval of the detail), the unit is the mixture: its two
    examples are averaged first (:func:`per_mixture`).

    With ``seeding`` (the seeds were added one at a time until the headline claim C vs A was settled,
    ``max_seeds``), every interval is the anytime-valid confidence sequence over the seeds used, and each
    claim's detail says which seeds, why adding them stopped, and what a fixed design would have needed.
    ``labels``: how the claims name each row (default: the paper's names)."""
    claims = floor_claims(items, query_blind, labels, seeding)
    for treatment, control, name, paper in COMPARISONS:
        if treatment not in items or control not in items:
            continue
        treated, controlled = per_mixture(items[treatment]), per_mixture(items[control])
        comparison, seeds = _compared(treated, controlled, seeding)
        paper_effect = ROWS[treatment].paper_mixture_sdr - ROWS[control].paper_mixture_sdr
        claims.append(base.Claim.from_comparison(
            f"{treatment} vs {control}: {name}", paper, comparison,
            measured=f"{control} {controlled.mean():.2f} -> {treatment} {treated.mean():.2f} dB mixture-SDR",
            paper_effect=round(paper_effect, 2), detail=seeds + _seed_detail(treated, controlled),
        ))  # fmt: skip
    return claims
