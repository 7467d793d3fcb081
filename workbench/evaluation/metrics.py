"""Scores shared by the evaluations and recipes: tagging mAP.

:func:`mean_average_precision` is the one mAP of the workbench: the linear evaluation of multi-label
tasks, the ASC recipe's tagger and CaRE-SEP's tagging head all report it.
"""

from __future__ import annotations

import numpy as np


def mean_average_precision(scores: np.ndarray, targets: np.ndarray) -> float:
    """Macro-averaged average precision over the classes that have at least one positive clip.

    AP is undefined for a class without positives, so such classes are left out of the mean.

    Args:
        scores: ``(clips, classes)`` logits or probabilities.
        targets: ``(clips, classes)`` multi-hot, or ``(clips,)`` class indices.

    Raises:
        ValueError: shapes that do not fit, class indices out of range, or no class with a positive clip.
    """
    from sklearn.metrics import average_precision_score

    scores = np.asarray(scores, dtype=np.float64)
    targets = np.asarray(targets)
    if scores.ndim != 2:
        raise ValueError(f"scores must be (clips, classes), got shape {scores.shape}")
    if targets.ndim == 1:
        if targets.size and (targets.min() < 0 or targets.max() >= scores.shape[1]):
            raise ValueError(f"class indices must lie in [0, {scores.shape[1]}), got {targets.min()}..{targets.max()}")
        targets = np.eye(scores.shape[1], dtype=np.int64)[targets]
    if targets.shape != scores.shape:
        raise ValueError(f"targets {targets.shape} do not match scores {scores.shape}")
    present = [column for column in range(scores.shape[1]) if targets[:, column].any()]
    if not present:
        raise ValueError("cannot compute mAP: no class has a positive clip")
    return float(np.mean([average_precision_score(targets[:, column], scores[:, column]) for column in present]))
