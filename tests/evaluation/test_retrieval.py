"""recall@K against a sorting reference, the synthetic text-modified pairs, and the adapter's training."""

import numpy as np
import pytest
import torch

from workbench.data.synthetic import SceneDataset
from workbench.evaluation.retrieval import (
    ModifierPairs,
    RetrievalConfig,
    RetrievalResult,
    modifier_retrieval,
    recall_at_k,
    synthetic_modifier_pairs,
)


def reference_recall(queries, gallery, positives, k):
    """Sort the gallery by cosine similarity for every query and look for the positive in the first k."""
    hits = 0
    for query, positive in zip(queries, positives):
        similarity = [float(np.dot(query, item) / (np.linalg.norm(query) * np.linalg.norm(item))) for item in gallery]
        order = sorted(range(len(gallery)), key=lambda row: -similarity[row])
        hits += positive in order[:k]
    return hits / len(queries)


@pytest.mark.parametrize("seed", (0, 1, 2))
def test_recall_at_k_matches_sorting(seed):
    rng = np.random.default_rng(seed)
    queries, gallery = rng.normal(size=(12, 5)), rng.normal(size=(30, 5))
    positives = rng.integers(0, 30, size=12)
    recalls = recall_at_k(queries, gallery, positives, ks=(1, 3, 10, 30))
    for k, value in recalls.items():
        assert value == pytest.approx(reference_recall(queries, gallery, positives, k))
    assert recalls[30] == 1.0
    assert recall_at_k(gallery[:4], gallery, np.arange(4), ks=(1,))[1] == 1.0  # a query that is its target


def test_recall_at_k_rejects_bad_input():
    with pytest.raises(ValueError, match=r"positives must be gallery rows in \[0, 3\)"):
        recall_at_k(np.ones((2, 4)), np.ones((3, 4)), [0, 3])
    with pytest.raises(ValueError, match=r"queries \(Q, D\) and gallery \(G, D\)"):
        recall_at_k(np.ones((2, 4)), np.ones((3, 5)), [0, 1])
    with pytest.raises(ValueError, match="every k must be at least 1"):
        recall_at_k(np.ones((2, 4)), np.ones((3, 4)), [0, 1], ks=(0,))


def test_synthetic_pairs_differ_by_exactly_the_named_event():
    scenes = SceneDataset(seed=0, n_clips=4, duration=2.0)
    pairs = synthetic_modifier_pairs(scenes, n_distractors=2, seed=5)
    assert len(pairs) == 4 and len(pairs.gallery_audio) == 12
    world = scenes.world
    for index in range(4):
        # Replay the pair's draw of the removed event.
        plan = scenes.plan(index)
        event = plan.events[int(np.random.default_rng([5, index]).integers(len(plan.events)))]
        added = torch.from_numpy(world.render_scene([event], None, plan.duration)[0])
        target = pairs.gallery_audio[pairs.positives[index]]
        torch.testing.assert_close(target - pairs.query_audio[index], added, atol=1e-5, rtol=0)
        assert pairs.modifier_classes[index] == event.class_index
        assert world.events[event.class_index].name in pairs.texts[index]
        for distractor in pairs.gallery_audio[pairs.positives[index] + 1 : pairs.positives[index] + 3]:
            assert not torch.allclose(distractor, target)
        assert pairs.splits[index] == scenes.split_of(index)
    with pytest.raises(ValueError, match="n_distractors must lie in"):
        synthetic_modifier_pairs(scenes, n_distractors=10)


def ideal_pairs(n_queries=60, n_classes=4, n_distractors=2, seed=0):
    """Embeddings where a target is its query plus its class's vector: text + audio determine it exactly."""
    rng = np.random.default_rng(seed)
    class_vectors = 2.0 * rng.normal(size=(n_classes, 16))
    names = tuple(f"sound{c}" for c in range(n_classes))
    queries, gallery, texts, positives, classes, splits, gallery_splits = [], [], [], [], [], [], []
    for index in range(n_queries):
        scene = rng.normal(size=16)
        chosen = int(rng.integers(n_classes))
        others = rng.choice([c for c in range(n_classes) if c != chosen], size=n_distractors, replace=False)
        split = "test" if index % 3 == 0 else "train"
        queries.append(scene)
        texts.append(f"add a {names[chosen]}")
        classes.append(chosen)
        splits.append(split)
        positives.append(len(gallery))
        gallery += [scene + class_vectors[chosen], *(scene + class_vectors[other] for other in others)]
        gallery_splits += [split] * (1 + n_distractors)
    silent = torch.zeros(1)
    pairs = ModifierPairs(
        query_audio=[silent] * n_queries, texts=texts, positives=np.asarray(positives),
        modifier_classes=np.asarray(classes), class_names=names, splits=np.asarray(splits),
        gallery_audio=[silent] * len(gallery), gallery_splits=np.asarray(gallery_splits), sample_rate=16000,
    )  # fmt: skip
    return np.asarray(queries, dtype=np.float32), np.asarray(gallery, dtype=np.float32), pairs


def test_the_adapter_learns_to_use_the_sentence():
    queries, gallery, pairs = ideal_pairs()
    result = modifier_retrieval(queries, gallery, pairs, config=RetrievalConfig(epochs=150), seeds=(0, 1))
    assert result.n_queries == 20 and result.n_gallery == 60
    assert result.recall[1][0] > 0.8 > result.audio_only[1]  # the audio alone cannot tell the variants apart
    assert len(result.per_seed[5]) == 2
    assert RetrievalResult.from_scalars(result.scalars()) == result
    with pytest.raises(ValueError, match="got 3 query and 180 gallery embeddings"):
        modifier_retrieval(queries[:3], gallery, pairs)


def test_adapter_uses_gelu_multilabel_targets_and_keeps_its_best_validation_epoch():
    from workbench.evaluation.retrieval import ModifierAdapter, frozen_small_text_encoder, train_modifier_adapter

    queries, gallery, pairs = ideal_pairs()
    assert any(isinstance(layer, torch.nn.GELU) for layer in ModifierAdapter(8, 4, 3, RetrievalConfig()).fusion)
    assert pairs.tags().shape == (len(pairs), len(pairs.class_names)) and np.all(pairs.tags().sum(axis=1) == 1)
    factory = frozen_small_text_encoder(8, epochs=50)
    encoder = factory(pairs.texts)
    assert factory(list(reversed(pairs.texts))) is encoder  # pretrained once, then shared
    assert not any(parameter.requires_grad for parameter in encoder.parameters())
    before = [parameter.clone() for parameter in encoder.parameters()]
    rows = np.arange(len(pairs))
    fit, valid = rows[rows % 3 != 0], rows[rows % 3 == 0]

    def part(selected):
        gallery_rows = np.concatenate([np.arange(p, p + 3) for p in pairs.positives[selected]])
        renumber = {row: i for i, row in enumerate(gallery_rows)}
        return (torch.from_numpy(queries[selected]), [pairs.texts[i] for i in selected], torch.from_numpy(gallery[gallery_rows]),
                np.asarray([renumber[p] for p in pairs.positives[selected]]), pairs.tags()[selected])  # fmt: skip

    train_part = part(fit)
    adapter = train_modifier_adapter(*train_part, len(pairs.class_names), encoder, RetrievalConfig(epochs=60, lr=0.03),
                                     valid=part(valid))  # fmt: skip
    assert len(adapter.valid_losses) == 60 and adapter.best_epoch == int(np.argmin(adapter.valid_losses))
    assert all(torch.equal(a, b) for a, b in zip(before, encoder.parameters()))  # frozen: untouched by training
    with pytest.raises(ValueError, match="activation must be one of"):
        RetrievalConfig(activation="tanh")


def test_synthetic_pairs_carry_the_targets_event_tags():
    pairs = synthetic_modifier_pairs(SceneDataset(seed=0, n_clips=6, duration=1.0), n_distractors=1)
    tags = pairs.tags()
    assert tags.shape == (6, len(pairs.class_names))
    assert all(tags[i, pairs.modifier_classes[i]] == 1 for i in range(6))  # the added event is among the tags
