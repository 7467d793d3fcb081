"""Retrieval: recall@K, and audio retrieval with a text modifier ("this sound, plus a bark").

Takeuchi et al., "Towards Learning a Difference-Aware General-Purpose Audio Representation", test
whether a representation supports composed retrieval: a query sound and a sentence describing a
difference should find the target sound. With the audio and text encoders frozen, a small adapter
(the paper's Figure 3, as read here) fuses the query's audio embedding with the sentence embedding into
a joint space where the target's (linearly projected) audio embedding should be nearest. It is trained
with a contrastive loss (InfoNCE over the training gallery, hard distractors included) plus a
classification loss on the event the sentence names; retrieval is scored by recall@1/5/10 on held-out
queries against their gallery.

The synthetic world makes the pairs (:func:`synthetic_modifier_pairs`): a scene without one of its
events is the query, the same scene with it is the target, and the same scene with an event of
another class in its place is a distractor, so that only the sentence tells target and distractors
apart and only the audio tells scenes apart. The sentence encoder is the small trainable
:class:`~workbench.models.text.SmallTextEncoder` (trained with the adapter), the same encoder pretrained
once and frozen (:func:`frozen_small_text_encoder`, standing in for a pretrained language model where
none can be downloaded), or frozen DistilBERT from local files (:func:`~workbench.models.text.load_distilbert`).

Training follows the paper's Sec. 5.3 (after Takeuchi et al., Interspeech 2022): the adapter uses GELU,
the loss is contrastive plus multi-label classification (the target scene's event tags, BCE), the
queries of the ``"valid"`` split (or 10 % of the training queries) select the epoch with the smallest
validation loss, whose weights are kept for the test.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional

from workbench.data.synthetic.views import SceneDataset
from workbench.evaluation.stats import mean_confidence_interval
from workbench.models.base import Encoder
from workbench.models.text import SmallTextEncoder, Vocabulary
from workbench.typing import SampleRate

KS: tuple[int, ...] = (1, 5, 10)
ACTIVATIONS = {"gelu": nn.GELU, "relu": nn.ReLU}
TEMPLATES: tuple[str, ...] = ("add a {name}", "the same with a {name} added", "plus the sound of a {name}")
"""Sentences saying which event the target adds; one is drawn per pair."""


def recall_at_k(
    queries: np.ndarray | torch.Tensor,
    gallery: np.ndarray | torch.Tensor,
    positives: Sequence[int] | np.ndarray,
    ks: Sequence[int] = KS,
) -> dict[int, float]:
    """Share of queries whose positive gallery item is among the ``k`` most cosine-similar, for each ``k``.

    The rank of a positive is one plus the number of gallery items strictly more similar to the query,
    so ties count in the query's favour.

    Args:
        queries: ``(Q, D)`` query embeddings.
        gallery: ``(G, D)`` gallery embeddings.
        positives: ``(Q,)`` the gallery row of each query's target.
        ks: the cut-offs.

    Returns:
        ``{k: recall}`` with recalls in [0, 1].

    Raises:
        ValueError: shapes that do not agree, positives outside the gallery, or a non-positive ``k``.
    """
    queries = torch.as_tensor(np.asarray(queries), dtype=torch.float64)
    gallery = torch.as_tensor(np.asarray(gallery), dtype=torch.float64)
    positives = torch.as_tensor(np.asarray(positives), dtype=torch.long)
    if queries.ndim != 2 or gallery.ndim != 2 or queries.shape[1] != gallery.shape[1]:
        raise ValueError(
            f"recall_at_k expects queries (Q, D) and gallery (G, D), got {tuple(queries.shape)} and {tuple(gallery.shape)}"
        )
    if positives.shape != (queries.shape[0],):
        raise ValueError(f"positives must be ({queries.shape[0]},) gallery rows, got shape {tuple(positives.shape)}")
    if len(positives) and (positives.min() < 0 or positives.max() >= gallery.shape[0]):
        raise ValueError(f"positives must be gallery rows in [0, {gallery.shape[0]})")
    if any(int(k) < 1 for k in ks):
        raise ValueError(f"every k must be at least 1, got {list(ks)}")
    similarity = functional.normalize(queries, dim=1) @ functional.normalize(gallery, dim=1).T  # (Q, G)
    positive_similarity = similarity.gather(1, positives[:, None])  # (Q, 1)
    ranks = (similarity > positive_similarity).sum(dim=1) + 1  # (Q,)
    return {int(k): float((ranks <= int(k)).double().mean()) for k in ks}


# --------------------------------------------------------------------------------------------------
# Pairs


@dataclass
class ModifierPairs:
    """Queries (sound + sentence), the gallery they search, and which gallery item each one wants.

    Attributes:
        query_audio: ``Q`` mono waveforms ``(samples,)``.
        texts: ``Q`` sentences describing the difference to the target.
        positives: ``(Q,)`` gallery row of each query's target.
        modifier_classes: ``(Q,)`` class index of the event the sentence names.
        class_names: names of those classes.
        splits: ``(Q,)`` ``"train"``, ``"valid"`` or ``"test"`` of each query.
        gallery_audio: ``G`` mono waveforms ``(samples,)``.
        gallery_splits: ``(G,)`` the split of the query each gallery item was made for.
        sample_rate: of every waveform.
    """

    query_audio: list[torch.Tensor]
    texts: list[str]
    positives: np.ndarray
    modifier_classes: np.ndarray
    class_names: tuple[str, ...]
    splits: np.ndarray
    gallery_audio: list[torch.Tensor]
    gallery_splits: np.ndarray
    sample_rate: SampleRate
    target_tags: np.ndarray | None = None
    """``(Q, n_classes)`` multi-hot event classes of each query's target (the multi-label classification
    task); None: the named event's class alone."""

    def __len__(self) -> int:
        return len(self.texts)

    def tags(self) -> np.ndarray:
        """``(Q, n_classes)`` float32 multi-hot classification targets."""
        if self.target_tags is not None:
            return np.asarray(self.target_tags, dtype=np.float32)
        return np.eye(len(self.class_names), dtype=np.float32)[self.modifier_classes]


def synthetic_modifier_pairs(scenes: SceneDataset, n_distractors: int = 2, seed: int = 0) -> ModifierPairs:
    """One query per scene of ``scenes``: the scene without one of its events, "add a <that event>".

    The target is the scene itself; ``n_distractors`` gallery items are the same scene with that event
    (same onset, length, gain, instance) of another, randomly drawn class instead. Each query's event,
    sentence and distractor classes come from ``numpy.random.default_rng([seed, index])``.

    Raises:
        ValueError: ``n_distractors`` negative or not below the number of event classes.
    """
    n_classes = len(scenes.world.events)
    if not 0 <= n_distractors < n_classes:
        raise ValueError(f"n_distractors must lie in [0, {n_classes - 1}] (other event classes), got {n_distractors}")
    world = scenes.world
    query_audio, texts, positives, modifier_classes, splits, tags = [], [], [], [], [], []
    gallery_audio: list[torch.Tensor] = []
    gallery_splits: list[str] = []

    def render(plan) -> torch.Tensor:
        return torch.from_numpy(world.render_plan(plan, channels=1)[0])

    for index in range(len(scenes)):
        rng = np.random.default_rng([seed, index])
        plan = scenes.plan(index)
        position = int(rng.integers(len(plan.events)))
        event = plan.events[position]
        base = plan.without_event(position)
        others = [c for c in range(n_classes) if c != event.class_index]
        distractor_classes = rng.choice(others, size=n_distractors, replace=False).tolist()
        split = scenes.split_of(index)
        query_audio.append(render(base))
        texts.append(str(rng.choice(TEMPLATES)).format(name=world.events[event.class_index].name))
        modifier_classes.append(event.class_index)
        tags.append(plan.tags(n_classes))
        splits.append(split)
        positives.append(len(gallery_audio))
        gallery_audio.append(render(plan))
        for other in distractor_classes:
            gallery_audio.append(render(base.with_event(dataclasses.replace(event, class_index=int(other)))))
        gallery_splits += [split] * (1 + n_distractors)
    return ModifierPairs(
        query_audio=query_audio,
        texts=texts,
        positives=np.asarray(positives, dtype=np.int64),
        modifier_classes=np.asarray(modifier_classes, dtype=np.int64),
        class_names=tuple(event_class.name for event_class in world.events),
        splits=np.asarray(splits),
        gallery_audio=gallery_audio,
        gallery_splits=np.asarray(gallery_splits),
        sample_rate=scenes.sample_rate,
        target_tags=np.asarray(tags, dtype=np.float32),
    )


def embed_waveforms(
    encoder: Encoder, waveforms: Sequence[torch.Tensor], sample_rate: SampleRate, batch_size: int = 32
) -> np.ndarray:
    """``encoder.embed`` over mono waveforms of equal length, in eval mode, ``(N, dim)`` float32.

    Raises:
        ValueError: waveforms of different lengths, or a sample rate other than the encoder's.
    """
    if sample_rate != encoder.sample_rate:
        raise ValueError(f"the waveforms are at {sample_rate} Hz but the encoder expects {encoder.sample_rate} Hz")
    lengths = {int(waveform.shape[-1]) for waveform in waveforms}
    if len(lengths) > 1:
        raise ValueError(f"embed_waveforms needs waveforms of one length, got lengths {sorted(lengths)}")
    was_training = encoder.training
    encoder.eval()
    try:
        with torch.no_grad():
            chunks = [
                encoder.embed(torch.stack(list(waveforms[start : start + batch_size]))).float().numpy()
                for start in range(0, len(waveforms), batch_size)
            ]
    finally:
        encoder.train(was_training)
    return np.concatenate(chunks)


# --------------------------------------------------------------------------------------------------
# Adapter and its training


@dataclass(frozen=True)
class RetrievalConfig:
    """The adapter's sizes and training.

    Args:
        joint_dim: size of the joint space where queries meet gallery items.
        hidden_dim: hidden width of the fusion MLP.
        text_dim: output size of the small trainable text encoder.
        epochs: full-batch optimisation steps on the training queries (the paper: 300).
        lr: Adam learning rate.
        temperature: InfoNCE temperature.
        classification_weight: weight of the multi-label classification loss beside the contrastive loss.
        activation: ``"gelu"`` (the paper's Figure 3b) or ``"relu"``.
        valid_fraction: share of the training queries held out for model selection when the pairs have
            no ``"valid"`` split (the paper: 10 %).
    """

    joint_dim: int = 64
    hidden_dim: int = 128
    text_dim: int = 32
    epochs: int = 150
    lr: float = 3e-3
    temperature: float = 0.1
    classification_weight: float = 0.5
    activation: str = "gelu"
    valid_fraction: float = 0.1

    def __post_init__(self) -> None:
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"RetrievalConfig.activation must be one of {list(ACTIVATIONS)}, got {self.activation!r}")
        if not 0 < self.valid_fraction < 1:
            raise ValueError(f"RetrievalConfig.valid_fraction must lie in (0, 1), got {self.valid_fraction!r}")
        for name in ("joint_dim", "hidden_dim", "text_dim", "epochs"):
            if getattr(self, name) < 1:
                raise ValueError(f"RetrievalConfig.{name} must be at least 1, got {getattr(self, name)!r}")
        if not (self.lr > 0 and self.temperature > 0 and self.classification_weight >= 0):
            raise ValueError("RetrievalConfig.lr and temperature must be positive, classification_weight >= 0")


class ModifierAdapter(nn.Module):
    """Fuses a query's audio embedding with a sentence embedding; projects gallery audio to the same space.

    ``query = normalize(A a + MLP([a; t]))`` (the MLP with GELU, Figure 3b), ``target = normalize(B g)``, and a
    linear classifier reads the target's event classes (multi-label logits) from ``MLP([a; t])``.

    Shape:
        ``query(audio (B, audio_dim), text (B, text_dim))`` -> ``(B, joint_dim)``;
        ``target(audio (G, audio_dim))`` -> ``(G, joint_dim)``.
    """

    def __init__(self, audio_dim: int, text_dim: int, n_classes: int, config: RetrievalConfig):
        super().__init__()
        self.query_audio = nn.Linear(audio_dim, config.joint_dim)
        self.fusion = nn.Sequential(
            nn.Linear(audio_dim + text_dim, config.hidden_dim), ACTIVATIONS[config.activation](),
            nn.Linear(config.hidden_dim, config.joint_dim),
        )
        self.target_audio = nn.Linear(audio_dim, config.joint_dim)
        self.classifier = nn.Linear(config.joint_dim, n_classes)

    def fused(self, audio: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        return self.fusion(torch.cat([audio, text], dim=1))  # (B, joint)

    def query(self, audio: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        return functional.normalize(self.query_audio(audio) + self.fused(audio, text), dim=1)

    def target(self, audio: torch.Tensor) -> torch.Tensor:
        return functional.normalize(self.target_audio(audio), dim=1)


TextEncoderFactory = Callable[[Sequence[str]], nn.Module]
"""Builds the sentence encoder from the training sentences (e.g. a :class:`SmallTextEncoder` on their
vocabulary); parameters that require gradients are trained with the adapter, others stay frozen."""


def small_text_encoder(dim: int) -> TextEncoderFactory:
    """A factory of :class:`SmallTextEncoder` (``dim`` outputs) over the training sentences' words."""

    def build(texts: Sequence[str]) -> nn.Module:
        return SmallTextEncoder(Vocabulary(texts), dim)

    return build


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


def _text_features(text_encoder: nn.Module, texts: Sequence[str]) -> torch.Tensor:
    return text_encoder(list(texts))


def _multi_hot(classes: np.ndarray, n_classes: int) -> torch.Tensor:
    classes = np.asarray(classes)
    if classes.ndim == 1:
        return torch.from_numpy(np.eye(n_classes, dtype=np.float32)[classes])
    return torch.as_tensor(classes, dtype=torch.float32)


def _adapter_loss(adapter: ModifierAdapter, text_encoder: nn.Module, queries: torch.Tensor, texts: Sequence[str],
                  gallery: torch.Tensor, targets: torch.Tensor, tags: torch.Tensor, config: RetrievalConfig) -> torch.Tensor:  # fmt: skip
    text = _text_features(text_encoder, texts)  # (Q, T)
    joint = adapter.query(queries, text)  # (Q, J)
    contrastive = functional.cross_entropy(joint @ adapter.target(gallery).T / config.temperature, targets)
    classification = functional.binary_cross_entropy_with_logits(adapter.classifier(adapter.fused(queries, text)), tags)
    return contrastive + config.classification_weight * classification


def train_modifier_adapter(
    query_features: torch.Tensor,
    texts: Sequence[str],
    gallery_features: torch.Tensor,
    positives: np.ndarray,
    modifier_classes: np.ndarray,
    n_classes: int,
    text_encoder: nn.Module,
    config: RetrievalConfig,
    seed: int = 0,
    *,
    valid: tuple[torch.Tensor, Sequence[str], torch.Tensor, np.ndarray, np.ndarray] | None = None,
) -> ModifierAdapter:
    """Train the adapter (and the text encoder's trainable parameters) on the training queries, full batch.

    Loss: cross-entropy of each query against every training gallery item (InfoNCE, the target the
    positive) plus ``classification_weight`` times the multi-label BCE of the target's event classes
    (``modifier_classes``: ``(Q, n_classes)`` multi-hot, or ``(Q,)`` class indices read as one-hot).
    With ``valid = (queries, texts, gallery, positives, classes)`` the same loss is computed on them after
    every step and the parameters of the step with the smallest validation loss are restored (the
    paper's model selection); ``adapter.valid_losses`` and ``adapter.best_epoch`` record it.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        adapter = ModifierAdapter(query_features.shape[1], text_encoder.embedding_dim, n_classes, config)
    trainable = [*adapter.parameters(), *(p for p in text_encoder.parameters() if p.requires_grad)]
    optimizer = torch.optim.Adam(trainable, lr=config.lr)
    targets = torch.as_tensor(positives, dtype=torch.long)
    tags = _multi_hot(modifier_classes, n_classes)
    if valid is not None:
        valid_targets = torch.as_tensor(valid[3], dtype=torch.long)
        valid_tags = _multi_hot(valid[4], n_classes)
    adapter.valid_losses, adapter.best_epoch = [], -1
    best_loss, best_state = float("inf"), None
    previous_threads = torch.get_num_threads()
    # Hundreds of small steps: thread synchronisation would cost more than it saves (as for linear probes).
    torch.set_num_threads(1)
    try:
        for epoch in range(config.epochs):
            adapter.train()
            text_encoder.train()
            optimizer.zero_grad()
            _adapter_loss(adapter, text_encoder, query_features, texts, gallery_features, targets, tags, config).backward()
            optimizer.step()
            if valid is None:
                continue
            adapter.eval()
            text_encoder.eval()
            with torch.no_grad():
                loss = float(_adapter_loss(adapter, text_encoder, valid[0], valid[1], valid[2], valid_targets,
                                           valid_tags, config))  # fmt: skip
            adapter.valid_losses.append(loss)
            if loss < best_loss:
                best_loss, adapter.best_epoch = loss, epoch
                best_state = ({k: v.clone() for k, v in adapter.state_dict().items()},
                              {k: v.clone() for k, v in text_encoder.state_dict().items()})  # fmt: skip
    finally:
        torch.set_num_threads(previous_threads)
    if best_state is not None:
        adapter.load_state_dict(best_state[0])
        text_encoder.load_state_dict(best_state[1])
    adapter.eval()
    text_encoder.eval()
    return adapter


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
