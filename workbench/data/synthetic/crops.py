"""Overlapping crops of a background: a crop and a reference crop sharing a stated fraction of samples."""

from __future__ import annotations


def crop_with_overlap(background, start: int, length: int, overlap: float):
    """A crop of a background and a reference crop of the same length sharing ``overlap`` of it.

    For difference-aware BYOL-A ("mixture + reference background"): the reference starts
    ``round((1 - overlap) * length)`` samples after the crop, so ``overlap`` 1.0 gives the same
    samples, 0.5 half of them, 0.0 none (the reference then starts where the crop ends).

    Args:
        background: numpy array or torch tensor ``(..., samples)``.
        start: first sample of the crop.
        length: samples in each crop.
        overlap: shared fraction in [0, 1].

    Returns:
        ``(crop, reference)``, views of ``background`` of shape ``(..., length)``.

    Raises:
        ValueError: overlap outside [0, 1], or crops that do not fit in the background.
    """
    if not 0.0 <= overlap <= 1.0:
        raise ValueError(f"overlap must be a fraction in [0, 1], got {overlap!r}")
    shift = int(round((1.0 - overlap) * length))
    total = background.shape[-1]
    if start < 0 or length < 1 or start + shift + length > total:
        raise ValueError(
            f"a crop of {length} samples at {start} and its reference {shift} samples later need "
            f"{start + shift + length} samples; the background has {total}"
        )
    return background[..., start : start + length], background[..., start + shift : start + shift + length]
