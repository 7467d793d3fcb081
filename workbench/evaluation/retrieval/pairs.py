"""The retrieval pairs (:class:`ModifierPairs`: a query sound, a sentence, the gallery it searches),
made from the synthetic world, and the frozen audio embeddings of their waveforms."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from workbench.data.synthetic.views import SceneDataset
from workbench.models.base import Encoder
from workbench.typing import SampleRate

TEMPLATES: tuple[str, ...] = ("add a {name}", "the same with a {name} added", "plus the sound of a {name}")
"""Sentences saying which event the target adds; one is drawn per pair."""


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
