"""A front-end's identity for cache keys (its class and every constructor parameter) and the sample rate
it declares."""

from __future__ import annotations

import hashlib
import inspect
import math
from typing import Any

import torch
from torch import nn

from workbench.typing import SampleRate


def _stable_repr(value: Any, owner: str, name: str) -> str:
    """A text for ``value`` that is the same in every process (no ids, no memory addresses)."""
    if value is None or isinstance(value, (bool, int, str)):
        return repr(value)
    if isinstance(value, float):
        return repr(value)  # shortest round-trip form: identical for identical floats
    if isinstance(value, (tuple, list)):
        return "(" + ",".join(_stable_repr(item, owner, name) for item in value) + ")"
    if isinstance(value, torch.Tensor):
        values = value.detach().to("cpu", torch.float64).contiguous().numpy().tobytes()
        return f"tensor{tuple(value.shape)}:{hashlib.sha256(values).hexdigest()[:16]}"
    if isinstance(value, nn.Module):
        return frontend_fingerprint(value)
    raise ValueError(
        f"cannot fingerprint parameter {name!r} of {owner}: {type(value).__name__} values have no "
        f"stable text; use numbers, strings, tuples or tensors"
    )


def frontend_fingerprint(module: nn.Module) -> str:
    """A stable text naming the class and every constructor parameter of a front-end, for cache keys.

    Works for any module whose constructor arguments are stored as attributes of the same names
    (every front-end here, :class:`~workbench.audio.normalize.Normalizer`,
    :class:`~workbench.audio.augment.SpecAugment`) and for ``nn.Sequential`` chains of them. Tensors
    (e.g. normalisation statistics) enter through a hash of their values.

    Returns:
        e.g. ``"LogMelSpectrogram(sample_rate=16000,n_fft=1024,...,center=True)"``.

    Raises:
        ValueError: a constructor argument is not stored under its name, or has no stable text.
    """
    owner = type(module).__name__
    if isinstance(module, nn.Sequential):
        return f"{owner}(" + ",".join(frontend_fingerprint(child) for child in module) + ")"
    parts = []
    for name, parameter in inspect.signature(type(module).__init__).parameters.items():
        if name == "self" or parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        if not hasattr(module, name):
            raise ValueError(
                f"cannot fingerprint {owner}: its constructor argument {name!r} is not stored as "
                f"an attribute of the same name"
            )
        parts.append(f"{name}={_stable_repr(getattr(module, name), owner, name)}")
    return f"{owner}({','.join(parts)})"


def frontend_sample_rate(module: nn.Module) -> SampleRate | None:
    """The ``sample_rate`` a front-end (or the first front-end in a chain) declares, else None."""
    for submodule in module.modules():
        rate = getattr(submodule, "sample_rate", None)
        if isinstance(rate, (int, float)) and not isinstance(rate, bool) and math.isfinite(rate):
            return int(rate)
    return None
