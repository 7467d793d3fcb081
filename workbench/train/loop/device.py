"""Where a training step runs: batches moved to the device, and the autocast dtype of mixed precision there."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from workbench.train.loop.config import Precision


def autocast_dtype(mixed_precision: Precision, device: torch.device) -> torch.dtype | None:
    """The autocast dtype ``mixed_precision`` means on ``device``, or None for full precision.

    Raises:
        ValueError: ``"bf16"`` on a CUDA device without bfloat16 support.
    """
    if mixed_precision == "off":
        return None
    if mixed_precision == "auto":
        return torch.bfloat16 if device.type == "cuda" and torch.cuda.is_bf16_supported() else None
    if mixed_precision == "bf16":
        if device.type == "cuda" and not torch.cuda.is_bf16_supported():
            raise ValueError(f"mixed_precision='bf16' but {device} does not support bfloat16; use 'fp16' or 'off'")
        return torch.bfloat16
    return torch.float16


def move_to_device(batch: Any, device: torch.device) -> Any:
    """``batch`` with every tensor (inside tuples, lists and dicts too) moved to ``device``."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=device.type == "cuda")
    if isinstance(batch, Mapping):
        return {key: move_to_device(value, device) for key, value in batch.items()}
    if isinstance(batch, (list, tuple)):
        moved = [move_to_device(value, device) for value in batch]
        return type(batch)(moved) if type(batch) in (list, tuple) else moved
    return batch
