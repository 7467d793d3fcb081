"""Comparing two encoders on the same BgKnown test items (:func:`compare_bgknown`): what is compared,
through the shared claim statistics of :mod:`workbench.evaluation.stats`."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from workbench.evaluation.bgknown.probe import BgKnownScores
from workbench.evaluation.stats import Comparison, compare_paired_items


def compare_bgknown(
    treatment: BgKnownScores | Sequence[BgKnownScores], control: BgKnownScores | Sequence[BgKnownScores],
    *, direction: int = 1, seed: int = 0,
) -> Comparison:  # fmt: skip
    """Paired comparison of two encoders on the SAME BgKnown test items: each item's correctness, averaged
    over the paired runs (probe seeds, and the pre-training seeds when sequences are given, matched in
    order), compared with a paired bootstrap over items.

    Raises:
        ValueError: the two sides scored different items, or different numbers of runs.
    """
    treated = [treatment] if isinstance(treatment, BgKnownScores) else list(treatment)
    controlled = [control] if isinstance(control, BgKnownScores) else list(control)
    if len(treated) != len(controlled) or not treated:
        raise ValueError(f"paired BgKnown comparison needs as many runs on each side, got {len(treated)} and {len(controlled)}")
    for one, other in zip(treated, controlled):
        if not np.array_equal(one.ids, other.ids) or one.correct.shape != other.correct.shape:
            raise ValueError("paired BgKnown comparison: the two encoders were not scored on the same test items")
        if not np.array_equal(one.ids, treated[0].ids):
            raise ValueError("paired BgKnown comparison: runs of one side were scored on different test items")
    return compare_paired_items(
        np.concatenate([scores.correct for scores in treated]).astype(float),
        np.concatenate([scores.correct for scores in controlled]).astype(float),
        direction=direction, seed=seed,
    )  # fmt: skip
