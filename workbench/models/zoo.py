"""Encoders by name: architectures built from scratch (random initialisation) and pretrained weights.

Recipes take an encoder name as a plain-string parameter, so a notebook or the CLI can swap the
model without code: ``build_encoder("audiontt-tiny")``, ``build_encoder("logmel-stats")``, any
name from :func:`workbench.models.registry.names` (loaded with its weights), or a module that follows
the HEAR 2021 API, ``"hear:<module>[@<weights file>]"`` (:mod:`workbench.models.hear_module`).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from workbench.errors import UnknownNameError
from workbench.models import registry
from workbench.models.ast import ASTConfig, AudioSpectrogramTransformer
from workbench.models.audiontt import AudioNTT2020, AudioNTTConfig
from workbench.models.base import Encoder
from workbench.models.beats import BEATs, BEATsConfig
from workbench.models.cnn14 import Cnn14, Cnn14Config
from workbench.models.hear_module import check_hear_name, is_hear_name, load_hear_encoder
from workbench.models.vggish import VGGish, VGGishConfig
from workbench.models.stats import LogMelStats

_ARCHITECTURES: dict[str, Callable[[], Encoder]] = {
    "logmel-stats": LogMelStats,
    "audiontt-tiny": lambda: AudioNTT2020(AudioNTTConfig.tiny()),
    "audiontt": lambda: AudioNTT2020(AudioNTTConfig()),
    "ast-tiny": lambda: AudioSpectrogramTransformer(ASTConfig.tiny()),
    "ast": lambda: AudioSpectrogramTransformer(ASTConfig()),
    "beats-tiny": lambda: BEATs(BEATsConfig.tiny()),
    "beats": lambda: BEATs(BEATsConfig.iter3_plus()),
    "cnn14-tiny": lambda: Cnn14(Cnn14Config.tiny()),
    "vggish-tiny": lambda: VGGish(VGGishConfig.tiny()),
}


def architecture_names() -> list[str]:
    return sorted(_ARCHITECTURES)


def encoder_names() -> list[str]:
    """Every name :func:`build_encoder` accepts."""
    return sorted({*_ARCHITECTURES, *registry.names()})


def check_encoder_name(name: str) -> None:
    """Check that :func:`build_encoder` accepts ``name`` without building it (a ``hear:`` module is
    found, not imported).

    Raises:
        UnknownNameError: not a registered name nor a ``hear:`` name (the message lists the names).
        ParameterError: a ``hear:`` name whose module cannot be found or whose weights file is missing.
    """
    if is_hear_name(name):
        check_hear_name(name)
    elif name not in encoder_names():
        raise UnknownNameError("encoder", name, [*encoder_names(), "hear:<module>[@<weights file>]"])


def build_encoder(name: str, seed: int = 0) -> Encoder:
    """An encoder in eval mode: a fresh architecture initialised from ``seed``, pretrained weights, or a
    HEAR-API module (``hear:<module>[@<weights>]``, whose ``load_model`` runs with the seed ``seed``)."""
    if name in _ARCHITECTURES or is_hear_name(name):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            encoder = load_hear_encoder(name) if is_hear_name(name) else _ARCHITECTURES[name]()
        return encoder.eval()
    if name in registry.names():
        return registry.load_pretrained(name)
    raise UnknownNameError("encoder", name, [*encoder_names(), "hear:<module>[@<weights file>]"])
