"""Comparing two encoders on the same BgKnown test items, through the shared claim statistics.

:func:`compare_bgknown` compares two pre-training METHODS: one :class:`BgKnownScores` per pre-training
run on each side, matched in order (seed ``s`` beside seed ``s``). The unit of replication is the
pre-training run; the probe seeds re-trained on one frozen encoder and the test items are nested inside
it (averaged), so they narrow each run's estimate but never add degrees of freedom. One pre-training run
per side is always inconclusive.

:func:`compare_bgknown_items` compares two FIXED encoders (these checkpoints) on the shared items, with
a paired bootstrap over items: a statement about these models only.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from workbench.evaluation.bgknown.probe import BgKnownScores
from workbench.evaluation.replication import compare_runs
from workbench.evaluation.stats import Comparison, compare_paired_items


def _paired_runs(
    treatment: BgKnownScores | Sequence[BgKnownScores], control: BgKnownScores | Sequence[BgKnownScores]
) -> tuple[list[BgKnownScores], list[BgKnownScores]]:
    treated = [treatment] if isinstance(treatment, BgKnownScores) else list(treatment)
    controlled = [control] if isinstance(control, BgKnownScores) else list(control)
    if len(treated) != len(controlled) or not treated:
        raise ValueError(f"paired BgKnown comparison needs as many runs on each side, got {len(treated)} and {len(controlled)}")
    for one, other in zip(treated, controlled):
        if not np.array_equal(one.ids, other.ids) or one.correct.shape != other.correct.shape:
            raise ValueError("paired BgKnown comparison: the two encoders were not scored on the same test items")
        if not np.array_equal(one.ids, treated[0].ids) or one.correct.shape != treated[0].correct.shape:
            raise ValueError("paired BgKnown comparison: runs of one side were scored on different test items")
    return treated, controlled


def compare_bgknown(
    treatment: BgKnownScores | Sequence[BgKnownScores], control: BgKnownScores | Sequence[BgKnownScores],
    *, direction: int = 1,
) -> Comparison:  # fmt: skip
    """Paired comparison of two pre-training methods over their pre-training runs (``n`` = runs).

    Each side gives one :class:`BgKnownScores` per pre-training run, matched in order; each run's
    correctness ``(probe seeds, items)`` is averaged before the paired t over runs.

    Raises:
        ValueError: the two sides scored different items, or different numbers of runs.
    """
    treated, controlled = _paired_runs(treatment, control)
    probes, items = treated[0].correct.shape
    return compare_runs(
        np.stack([scores.correct for scores in treated]).astype(float),
        np.stack([scores.correct for scores in controlled]).astype(float),
        direction=direction, unit="pre-training runs",
        nested=f"{probes} probe seed{'s' if probes != 1 else ''} x {items} test items averaged per run",
    )  # fmt: skip


def compare_bgknown_items(
    treatment: BgKnownScores | Sequence[BgKnownScores], control: BgKnownScores | Sequence[BgKnownScores],
    *, direction: int = 1, seed: int = 0,
) -> Comparison:  # fmt: skip
    """Paired comparison of two FIXED encoders on the same test items (``n`` = items): each item's
    correctness averaged over the probe seeds (and runs, if several), a paired bootstrap over items.

    Raises:
        ValueError: the two sides scored different items, or different numbers of runs.
    """
    treated, controlled = _paired_runs(treatment, control)
    return compare_paired_items(
        np.concatenate([scores.correct for scores in treated]).astype(float),
        np.concatenate([scores.correct for scores in controlled]).astype(float),
        direction=direction, seed=seed,
    )  # fmt: skip
