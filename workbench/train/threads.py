"""Torch's intra-op thread count for the length of a block: recipes, launched leaves and benchmarks run on
the count their parameters say, and the caller's setting comes back afterwards."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch


@contextlib.contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Run torch on ``count`` intra-op threads (0: leave the setting alone), then restore it."""
    previous = torch.get_num_threads()
    if count > 0:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
