"""Encoding the text modifier: factories of the sentence encoder, trainable with the adapter
(:func:`small_text_encoder`) or pretrained once and frozen (:func:`frozen_small_text_encoder`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn
from torch.nn import functional

from workbench.models.text import SmallTextEncoder, Vocabulary


TextEncoderFactory = Callable[[Sequence[str]], nn.Module]
"""Builds the sentence encoder from the training sentences (e.g. a :class:`SmallTextEncoder` on their
vocabulary); parameters that require gradients are trained with the adapter, others stay frozen."""


def small_text_encoder(dim: int) -> TextEncoderFactory:
    """A factory of :class:`SmallTextEncoder` (``dim`` outputs) over the training sentences' words."""

    def build(texts: Sequence[str]) -> nn.Module:
        return SmallTextEncoder(Vocabulary(texts), dim)

    return build


def _text_features(text_encoder: nn.Module, texts: Sequence[str]) -> torch.Tensor:
    return text_encoder(list(texts))


_FROZEN_TEXT_ENCODERS: dict[tuple[tuple[str, ...], int, int], nn.Module] = {}


def frozen_small_text_encoder(dim: int, epochs: int = 200, seed: int = 0) -> TextEncoderFactory:
    """A factory of a :class:`SmallTextEncoder` pretrained ONCE and then frozen, standing in for the
    paper's frozen DistilBERT where no language model can be downloaded.

    Pretraining is label-free: from the sentence embedding, a linear head predicts which words of the
    vocabulary the sentence holds (multi-label, BCE), with Adam, ``epochs`` full-batch steps, ``seed``
    fixed. The encoder is kept per (sentences, dim, seed) in this process, so every adapter seed and
    every audio encoder compared meets the very same frozen text encoder.
    """

    def build(texts: Sequence[str]) -> nn.Module:
        key = (tuple(sorted(set(texts))), int(dim), int(seed))
        if key not in _FROZEN_TEXT_ENCODERS:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                vocabulary = Vocabulary(texts)
                encoder = SmallTextEncoder(vocabulary, dim)
                head = nn.Linear(dim, len(vocabulary))
            sentences = list(key[0])
            bags = torch.zeros(len(sentences), len(vocabulary))
            for row, sentence in enumerate(sentences):
                bags[row, vocabulary.encode(sentence)] = 1.0
            optimizer = torch.optim.Adam([*encoder.parameters(), *head.parameters()], lr=1e-2)
            for _ in range(epochs):
                optimizer.zero_grad()
                functional.binary_cross_entropy_with_logits(head(encoder(sentences)), bags).backward()
                optimizer.step()
            for parameter in encoder.parameters():
                parameter.requires_grad_(False)
            _FROZEN_TEXT_ENCODERS[key] = encoder.eval()
        return _FROZEN_TEXT_ENCODERS[key]

    return build
