"""Pretrained encoders for a smoke run: the cached checkpoint when it is there, else the same architecture
with random weights (never a download: a smoke run measures cost, and may run offline)."""

from __future__ import annotations

from torch import nn

from workbench.models import registry


def encoder_or_random(name: str, path: str | None = None) -> tuple[nn.Module, str]:
    """The encoder registered as ``name`` and a note for the smoke table: ``""`` when its weights were
    loaded (from ``path`` or the cache), else what was built instead."""
    if path or registry.weights_path(name).is_file():
        return registry.load_pretrained(name, path=path or None), ""
    return registry.spec(name).build(), f"{name}: random weights (no checkpoint at {registry.weights_path(name)})"
