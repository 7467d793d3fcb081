"""Text encoders for text-modified audio retrieval: a small trainable one (the embedded default) and
DistilBERT when its weights are present locally.

Difference-aware retrieval (Takeuchi et al., "Towards Learning a Difference-Aware General-Purpose Audio
Representation") pairs a query sound with a sentence describing how the wanted sound differs ("add a
bark"). The paper encodes the sentence with a pretrained language model; the workbench must work
without downloads, so its default is :class:`SmallTextEncoder`: a word vocabulary built from the
training sentences, mean-pooled word embeddings and a two-layer MLP, trained together with the
retrieval adapter (the short, templated sentences of the synthetic world need no more).

:func:`load_distilbert` loads DistilBERT (Sanh et al., 2019) through Hugging Face ``transformers``
from a local folder only (``cache_dir()/weights/distilbert-base-uncased`` by default, holding the
files of the ``distilbert-base-uncased`` model: ``config.json``, the weights and the tokenizer files).
``transformers`` is not a dependency of the workbench: install it yourself to use this path.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import torch
from torch import nn

from workbench.errors import MissingFileError
from workbench.paths import cache_dir

UNKNOWN = "<unk>"
DISTILBERT_NAME = "distilbert-base-uncased"
_WORD = re.compile(r"[a-z0-9]+")


def words(text: str) -> list[str]:
    """Lower-case alphanumeric words of ``text`` (``"Add a bark-like!"`` -> ``["add", "a", "bark", "like"]``)."""
    return _WORD.findall(text.lower())


class Vocabulary:
    """Word -> index, with index 0 for every unknown word.

    Args:
        texts: sentences whose words make the vocabulary (sorted, so the same texts give the same indices).

    Raises:
        ValueError: no word in ``texts``.
    """

    def __init__(self, texts: Iterable[str]):
        found = sorted({word for text in texts for word in words(text)})
        if not found:
            raise ValueError("cannot build a vocabulary: the texts hold no words")
        self.tokens: tuple[str, ...] = (UNKNOWN, *found)
        self.index = {token: position for position, token in enumerate(self.tokens)}

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, text: str) -> list[int]:
        """Word indices of ``text`` (unknown words -> 0); an empty text gives ``[0]``."""
        return [self.index.get(word, 0) for word in words(text)] or [0]


class SmallTextEncoder(nn.Module):
    """Mean of word embeddings followed by ``Linear -> ReLU -> Linear``: a sentence in ``dim`` numbers.

    Args:
        vocabulary: the words it knows.
        dim: output size (and the word embeddings' size).

    Shape:
        ``forward(texts)``: a list of ``batch`` strings -> ``(batch, dim)``.
    """

    def __init__(self, vocabulary: Vocabulary, dim: int = 64):
        super().__init__()
        self.vocabulary = vocabulary
        self.embedding_dim = dim
        self.word_embeddings = nn.EmbeddingBag(len(vocabulary), dim, mode="mean")
        self.mlp = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, dim))

    def forward(self, texts: Sequence[str]) -> torch.Tensor:
        if isinstance(texts, str):
            raise TypeError("SmallTextEncoder takes a list of sentences, not one string")
        encoded = [self.vocabulary.encode(text) for text in texts]
        device = self.word_embeddings.weight.device
        flat = torch.tensor([index for sentence in encoded for index in sentence], dtype=torch.long, device=device)
        lengths = torch.tensor([0] + [len(sentence) for sentence in encoded[:-1]], dtype=torch.long)
        offsets = lengths.cumsum(0).to(device)
        return self.mlp(self.word_embeddings(flat, offsets))  # (B, dim)


def distilbert_dir() -> Path:
    """Where :func:`load_distilbert` looks by default: ``cache_dir()/weights/distilbert-base-uncased``."""
    return cache_dir() / "weights" / DISTILBERT_NAME


class DistilBertTextEncoder(nn.Module):
    """Frozen DistilBERT: the mean of the last hidden states over the sentence's tokens, 768 numbers.

    Build it with :func:`load_distilbert`.

    Shape:
        ``forward(texts)``: a list of ``batch`` strings -> ``(batch, 768)``.
    """

    def __init__(self, model: nn.Module, tokenizer: object):
        super().__init__()
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.embedding_dim = int(model.config.dim)
        for parameter in self.model.parameters():
            parameter.requires_grad_(False)

    @torch.no_grad()
    def forward(self, texts: Sequence[str]) -> torch.Tensor:
        tokens = self.tokenizer(list(texts), padding=True, truncation=True, return_tensors="pt")
        device = next(self.model.parameters()).device
        tokens = {name: value.to(device) for name, value in tokens.items()}
        hidden = self.model(**tokens).last_hidden_state  # (B, tokens, 768)
        mask = tokens["attention_mask"].unsqueeze(-1).to(hidden.dtype)  # (B, tokens, 1)
        return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp_min(1.0)  # (B, 768)


def load_distilbert(path: str | os.PathLike | None = None) -> DistilBertTextEncoder:
    """DistilBERT from a local folder, through ``transformers``; nothing is downloaded.

    Args:
        path: folder with the ``distilbert-base-uncased`` files (``config.json``, ``model.safetensors``
            or ``pytorch_model.bin``, ``vocab.txt``/``tokenizer.json``); default :func:`distilbert_dir`.

    Raises:
        MissingFileError: the folder or its ``config.json`` is absent; the message says where the files go.
        ImportError: ``transformers`` is not installed; the message says what to install.
    """
    folder = Path(path).expanduser() if path is not None else distilbert_dir()
    if not (folder / "config.json").is_file():
        raise MissingFileError(
            f"DistilBERT weights not found in {folder} (no config.json). Put the files of the Hugging Face model "
            f"'{DISTILBERT_NAME}' (config.json, model.safetensors, vocab.txt, tokenizer files) in that folder, "
            f"or pass its path; without them the retrieval uses the small trainable text encoder"
        )
    try:
        import transformers
    except ImportError as error:
        raise ImportError(
            "the DistilBERT text encoder needs the 'transformers' package, which the workbench does not "
            f"install: run `pip install transformers` in this environment (weights are read from {folder})"
        ) from error
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    model = transformers.AutoModel.from_pretrained(str(folder), local_files_only=True)
    return DistilBertTextEncoder(model, tokenizer)
