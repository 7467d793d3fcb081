"""What a recipe's parameters point at when it runs: the shared folder in path parameters, and the torch
device."""

from __future__ import annotations

from typing import TYPE_CHECKING

from workbench.paths import shared_dir

if TYPE_CHECKING:
    import torch

SHARED_PLACEHOLDER = "{shared}"
"""Replaced in path parameters (``weights_path``, ``data_root``) by :func:`workbench.paths.shared_dir`, so
presets that read the shared real clips and weights work on any checkout."""


def expand_shared(path: str) -> str:
    """``path`` with :data:`SHARED_PLACEHOLDER` replaced by the shared folder (``""`` stays ``""``)."""
    return path.replace(SHARED_PLACEHOLDER, str(shared_dir())) if path else path


def resolve_device(device: str) -> torch.device:
    """``"auto"`` -> CUDA when available, else the CPU; anything else as torch reads it."""
    import torch  # here, so that listing recipes and presets never imports torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)
