"""Text-modified retrieval scored over adapter seeds (:func:`modifier_retrieval`): splitting the queries,
training an adapter per seed and scoring recall@K on the test queries (:class:`RetrievalResult`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from workbench.evaluation.retrieval.adapter import RetrievalConfig, train_modifier_adapter
from workbench.evaluation.retrieval.pairs import ModifierPairs
from workbench.evaluation.retrieval.ranking import KS, recall_at_k
from workbench.evaluation.retrieval.text import TextEncoderFactory, _text_features, small_text_encoder
from workbench.evaluation.stats import mean_confidence_interval


@dataclass
class RetrievalResult:
    """Recall@K of text-modified retrieval over seeds (adapter initialisations).

    Attributes:
        recall: ``{k: (mean, ci95)}`` over seeds, on the test queries.
        per_seed: ``{k: (recall of each seed,)}``.
        audio_only: ``{k: recall}`` of the query's own audio embedding without text or adapter (a
            reference: the distractors differ from the target only by the named event).
        n_queries: test queries; ``n_gallery``: their gallery items.
    """

    recall: dict[int, tuple[float, float]]
    per_seed: dict[int, tuple[float, ...]]
    audio_only: dict[int, float]
    n_queries: int
    n_gallery: int
    seeds: tuple[int, ...] = field(default_factory=tuple)

    def scalars(self) -> dict[str, Any]:
        """JSON-friendly form (string keys), the inverse of :meth:`from_scalars`."""
        return {
            "recall": {str(k): list(value) for k, value in self.recall.items()},
            "per_seed": {str(k): list(value) for k, value in self.per_seed.items()},
            "audio_only": {str(k): value for k, value in self.audio_only.items()},
            "n_queries": self.n_queries, "n_gallery": self.n_gallery, "seeds": list(self.seeds),
        }  # fmt: skip

    @classmethod
    def from_scalars(cls, scalars: Mapping[str, Any]) -> RetrievalResult:
        return cls(
            recall={int(k): (float(v[0]), float(v[1])) for k, v in scalars["recall"].items()},
            per_seed={int(k): tuple(float(x) for x in v) for k, v in scalars["per_seed"].items()},
            audio_only={int(k): float(v) for k, v in scalars["audio_only"].items()},
            n_queries=int(scalars["n_queries"]),
            n_gallery=int(scalars["n_gallery"]),
            seeds=tuple(int(seed) for seed in scalars["seeds"]),
        )


def _standardiser(features: np.ndarray) -> Callable[[np.ndarray], torch.Tensor]:
    mean, scale = features.mean(axis=0), features.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    return lambda values: torch.from_numpy(((values - mean) / scale).astype(np.float32))


def modifier_retrieval(
    query_embeddings: np.ndarray,
    gallery_embeddings: np.ndarray,
    pairs: ModifierPairs,
    text_encoder_factory: TextEncoderFactory | None = None,
    config: RetrievalConfig | None = None,
    seeds: Sequence[int] = (0, 1, 2),
    ks: Sequence[int] = KS,
    test_split: str = "test",
) -> RetrievalResult:
    """Train the adapter on the training queries, select its epoch on the validation queries, and score
    recall@K on the test ones, per seed.

    Validation queries are those of the ``"valid"`` split; without one, ``config.valid_fraction`` of the
    other non-test queries (drawn once, with seed 0, so every encoder is selected on the same queries).
    Audio embeddings are standardised with the training queries' and gallery's statistics. Each test
    (and validation) query searches its part's gallery (its target, its distractors and those of every
    other query of the part).

    Args:
        query_embeddings: ``(Q, D)`` frozen audio embeddings of ``pairs.query_audio``.
        gallery_embeddings: ``(G, D)`` of ``pairs.gallery_audio``.
        pairs: the queries, sentences and gallery.
        text_encoder_factory: builds the sentence encoder from the training sentences; default
            :func:`small_text_encoder` with ``config.text_dim`` outputs.
        config: adapter settings.
        seeds: one adapter per seed.
        ks: recall cut-offs.
        test_split: the split scored; every other split trains.

    Raises:
        ValueError: embeddings that do not match ``pairs``, or no training or test queries.
    """
    config = config or RetrievalConfig()
    text_encoder_factory = text_encoder_factory or small_text_encoder(config.text_dim)
    if len(query_embeddings) != len(pairs) or len(gallery_embeddings) != len(pairs.gallery_audio):
        raise ValueError(
            f"got {len(query_embeddings)} query and {len(gallery_embeddings)} gallery embeddings for "
            f"{len(pairs)} queries and {len(pairs.gallery_audio)} gallery items"
        )
    test = pairs.splits == test_split

    def parts_of(splits: np.ndarray) -> np.ndarray:
        return np.where(splits == test_split, "test", np.where(splits == "valid", "valid", "train"))

    query_part, gallery_part = parts_of(pairs.splits), parts_of(pairs.gallery_splits)
    # Where every query owns consecutive gallery rows, its target first (synthetic_modifier_pairs), the
    # validation queries can be carved from the training ones together with their gallery items.
    blocks = len(pairs) > 0 and pairs.positives[0] == 0 and bool(np.all(np.diff(pairs.positives) > 0))
    if not (query_part == "valid").any() and blocks:
        candidates = np.flatnonzero(query_part == "train")
        count = int(np.ceil(config.valid_fraction * len(candidates))) if len(candidates) > 1 else 0
        query_part[np.random.default_rng(0).choice(candidates, size=count, replace=False)] = "valid"
        owner = np.repeat(np.arange(len(pairs)), np.diff(np.append(pairs.positives, len(pairs.gallery_audio))))
        gallery_part = query_part[owner]
    train = query_part == "train"
    if not test.any() or not train.any():
        raise ValueError(f"modifier retrieval needs training queries and {test_split!r} queries; got {test.sum()} test of {len(test)}")
    standardise = _standardiser(np.concatenate([query_embeddings[train], gallery_embeddings[gallery_part == "train"]]))
    tags = pairs.tags()

    def part(name: str):
        rows, gallery_rows = query_part == name, gallery_part == name
        renumber = np.cumsum(gallery_rows) - 1  # a positive's row among the part's gallery items
        return (standardise(query_embeddings[rows]), [t for t, keep in zip(pairs.texts, rows) if keep],
                standardise(gallery_embeddings[gallery_rows]), renumber[pairs.positives[rows]], tags[rows])  # fmt: skip

    train_part, valid_part, test_part = part("train"), part("valid"), part("test")
    train_texts, test_texts, test_positives = train_part[1], test_part[1], test_part[3]
    gallery_test = gallery_part == "test"

    per_seed: dict[int, list[float]] = {int(k): [] for k in ks}
    for seed in seeds:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            text_encoder = text_encoder_factory(train_texts)
        adapter = train_modifier_adapter(
            train_part[0], train_texts, train_part[2], train_part[3], train_part[4], len(pairs.class_names),
            text_encoder, config, seed, valid=valid_part if len(valid_part[1]) else None,
        )  # fmt: skip
        with torch.no_grad():
            queries = adapter.query(test_part[0], _text_features(text_encoder, test_texts))
            gallery = adapter.target(test_part[2])
        for k, value in recall_at_k(queries.numpy(), gallery.numpy(), test_positives, ks).items():
            per_seed[k].append(value)
    audio_only = recall_at_k(query_embeddings[test], gallery_embeddings[gallery_test], test_positives, ks)
    return RetrievalResult(
        recall={k: mean_confidence_interval(values) for k, values in per_seed.items()},
        per_seed={k: tuple(values) for k, values in per_seed.items()},
        audio_only=audio_only,
        n_queries=int(test.sum()),
        n_gallery=int(gallery_test.sum()),
        seeds=tuple(int(seed) for seed in seeds),
    )
