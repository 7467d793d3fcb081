"""Encoders and heads, one architecture per file, and the one registry of pretrained weights.

``load_pretrained(name, path=None)`` -> an :class:`Encoder` in eval mode; ``names()`` lists the
registered pretrained models and ``spec(name)`` says where each comes from; model files and
recipes add theirs with ``register_pretrained``.
"""

from workbench.models.base import Encoder
from workbench.models.registry import (
    PretrainedSpec,
    download_weights,
    load_pretrained,
    names,
    register_pretrained,
    spec,
)

# Importing a model file registers its pretrained weights.
from workbench.models import asc_raw, ast, beats, byola, cnn14, efficientat, tagger, vggish  # noqa: E402, F401  (after the registry they register into)

__all__ = [
    "Encoder",
    "PretrainedSpec",
    "download_weights",
    "load_pretrained",
    "names",
    "register_pretrained",
    "spec",
]
