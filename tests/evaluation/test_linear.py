"""Linear evaluation: scores on data with known answers, early stopping, standardisation, protocols."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from workbench.evaluation.embeddings import Embeddings
from workbench.evaluation.linear import (
    LEARNING_RATE_GRID,
    LinearEvalConfig,
    ProbeSpec,
    evaluation_splits,
    linear_evaluation,
    score_predictions,
    train_linear,
    train_linear_batched,
    train_linear_reference,
)
from workbench.evaluation.protocols import ProtocolWarning
from workbench.evaluation.stats import mean_confidence_interval

# Small, fast settings: the data below are easy enough that 40 epochs at lr 1e-2 converge.
FAST = LinearEvalConfig(lr=1e-2, batch_size=32, max_epochs=40, patience=8)


def blobs(count=240, dim=8, n_classes=4, spread=6.0, seed=0):
    """Gaussian blobs with well separated centres; returns (features, labels)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_classes, dim)) * spread
    labels = np.arange(count) % n_classes
    return (centres[labels] + rng.normal(size=(count, dim))).astype(np.float32), labels


def table(features, targets, folds=None, splits=None, classes=None):
    n_classes = int(np.max(targets)) + 1 if np.ndim(targets) == 1 else np.shape(targets)[1]
    return Embeddings(
        features=features, targets=targets, ids=[str(i) for i in range(len(features))],
        classes=classes or tuple(f"class {i}" for i in range(n_classes)), folds=folds, splits=splits,
    )


def test_separated_blobs_score_near_one():
    features, labels = blobs()
    result = linear_evaluation((features, labels, None), seeds=(0, 1), config=FAST)
    assert result.metric == "accuracy" and result.protocol == "kfold" and result.requested_protocol == "auto"
    assert "no official folds" in result.protocol_note
    assert result.mean >= 0.98
    assert len(result.per_seed) == 2 and result.per_fold.keys() == {f"k-fold {k}" for k in range(1, 6)}
    assert result.n_test == 240 and result.n_train + result.n_valid == 192
    np.testing.assert_array_equal(result.test_indices, np.arange(240))
    np.testing.assert_array_equal(result.test_targets, labels[result.test_indices])
    assert (result.predictions == result.test_targets).mean() == pytest.approx(result.per_seed[0])
    assert result.seed_predictions.shape == (2, 240)
    np.testing.assert_allclose(result.correct().mean(axis=1), result.per_seed)


def test_random_labels_score_near_chance():
    rng = np.random.default_rng(1)
    features = rng.normal(size=(500, 16)).astype(np.float32)
    labels = rng.integers(0, 10, size=500)
    result = linear_evaluation((features, labels, None), seeds=(0,), config=FAST)
    assert result.mean < 0.25  # chance is 0.10; 100 test clips


def test_confidence_interval_comes_from_the_per_seed_scores():
    features, labels = blobs(spread=0.6)  # overlapping: scores vary with the seed
    result = linear_evaluation((features, labels, None), seeds=(0, 1, 2), config=FAST)
    mean, half_width = mean_confidence_interval(result.per_seed)
    assert result.mean == pytest.approx(mean) and result.ci95 == pytest.approx(half_width)
    assert result.seeds == (0, 1, 2)
    assert "3 seeds, kfold" in result.summary()


def test_same_seed_same_result_and_global_torch_state_untouched():
    features, labels = blobs(spread=0.6)
    threads = torch.get_num_threads()
    torch.manual_seed(123)
    expected_draw = torch.rand(1)
    torch.manual_seed(123)
    first = linear_evaluation((features, labels, None), seeds=(3,), config=FAST)
    assert torch.rand(1) == expected_draw
    assert torch.get_num_threads() == threads
    second = linear_evaluation((features, labels, None), seeds=(3,), config=FAST)
    assert first.per_seed == second.per_seed
    np.testing.assert_array_equal(first.predictions, second.predictions)


def test_early_stopping_restores_the_best_epoch():
    # Training labels follow the direction 0 degrees, validation labels the direction -60 degrees. The
    # decision boundary turns from its random start towards 0 degrees; when it passes -60 degrees on the
    # way, validation accuracy peaks there and falls afterwards (to about 2/3), and patience stops training.
    rng = np.random.default_rng(0)
    train_x = rng.normal(size=(200, 2)).astype(np.float32)
    train_y = (train_x[:, 0] > 0).astype(int)
    valid_x = rng.normal(size=(400, 2)).astype(np.float32)
    angle = np.deg2rad(-60)
    valid_y = (valid_x @ [np.cos(angle), np.sin(angle)] > 0).astype(int)
    config = LinearEvalConfig(lr=2e-2, batch_size=100, max_epochs=200, patience=5)

    peaked_early = []
    for seed in range(3):
        model, best_score = train_linear(train_x, train_y, valid_x, valid_y, config, seed=seed)
        history = [epoch["valid_score"] for epoch in model.history]
        assert best_score == max(history) == history[model.best_epoch]
        assert len(history) == model.best_epoch + 1 + config.patience < config.max_epochs
        restored = score_predictions(valid_y, model.predict_scores(valid_x))
        assert restored == best_score  # the returned weights are the best epoch's, not the last's
        peaked_early.append(0 < model.best_epoch and history[-1] < best_score - 0.1)
    assert any(peaked_early)  # at least one start passes the -60 degree boundary before converging


def test_standardisation_uses_training_statistics_only():
    rng = np.random.default_rng(2)
    train_x = (rng.normal(size=(120, 5)) * [1, 2, 3, 4, 5] + [10, -3, 0, 7, 1]).astype(np.float32)
    train_x[:, 2] = 4.0  # a constant dimension: scale 1, like scikit-learn's StandardScaler
    train_y = rng.integers(0, 3, size=120)
    valid_x = (rng.normal(size=(40, 5)) * 100 - 50).astype(np.float32)  # very different statistics
    valid_y = rng.integers(0, 3, size=40)
    model, _ = train_linear(train_x, train_y, valid_x, valid_y, LinearEvalConfig(max_epochs=2), seed=0)

    expected_mean = train_x.astype(np.float64).mean(axis=0)
    expected_scale = np.sqrt(((train_x - expected_mean) ** 2).mean(axis=0))
    expected_scale[2] = 1.0
    np.testing.assert_allclose(model.mean.numpy(), expected_mean, rtol=1e-5)
    np.testing.assert_allclose(model.scale.numpy(), expected_scale, rtol=1e-5)
    linear = model.head[0]
    by_hand = ((valid_x - expected_mean) / expected_scale) @ linear.weight.detach().numpy().T
    by_hand += linear.bias.detach().numpy()
    np.testing.assert_allclose(model.predict_scores(valid_x), by_hand, rtol=1e-4, atol=1e-4)


def test_multilabel_targets_give_map():
    rng = np.random.default_rng(3)
    targets = (rng.random((300, 5)) < 0.3).astype(np.float32)
    features = (targets @ rng.normal(size=(5, 12)) * 3 + rng.normal(size=(300, 12))).astype(np.float32)
    result = linear_evaluation((features, targets, None), seeds=(0,), config=FAST)
    assert result.metric == "mAP" and result.mean > 0.9
    assert result.predictions.shape == (result.n_test, 5)
    assert ((result.predictions >= 0) & (result.predictions <= 1)).all()


def test_map_matches_a_brute_force_average_precision():
    rng = np.random.default_rng(4)
    targets = (rng.random((30, 4)) < 0.4).astype(np.float32)
    targets[:, 3] = 0  # a class without positives is left out of the mean
    scores = rng.normal(size=(30, 4))

    def average_precision(truth, score):
        order = np.argsort(-score)
        hits, precisions = 0, []
        for rank, row in enumerate(order, start=1):
            if truth[row]:
                hits += 1
                precisions.append(hits / rank)
        return np.mean(precisions)

    expected = np.mean([average_precision(targets[:, c], scores[:, c]) for c in range(3)])
    assert score_predictions(targets, scores) == pytest.approx(expected)


def test_fold_protocol_tests_each_fold_once_and_validates_inside_training_folds():
    features, labels = blobs(count=150)
    folds = np.arange(150) % 5 + 1
    embeddings = table(features, labels, folds=folds)
    partitions = evaluation_splits(embeddings, "auto", seed=0, config=FAST)
    assert [partition.name for partition in partitions] == [f"fold {k}" for k in range(1, 6)]
    tested = np.concatenate([partition.test for partition in partitions])
    assert sorted(tested.tolist()) == list(range(150))
    for fold, partition in zip(range(1, 6), partitions):
        assert (folds[partition.test] == fold).all()
        assert (folds[partition.train] != fold).all() and (folds[partition.valid] != fold).all()
        assert not set(partition.train) & set(partition.valid)
        assert len(partition.train) + len(partition.valid) == 120
        assert len(partition.valid) == 12
        assert sorted(np.bincount(labels[partition.valid]).tolist()) == [3, 3, 3, 3]  # stratified
    again = evaluation_splits(embeddings, "official", seed=0, config=FAST)
    other_seed = evaluation_splits(embeddings, "official", seed=1, config=FAST)
    assert all((a.valid == b.valid).all() for a, b in zip(partitions, again))
    assert any((a.valid != b.valid).any() for a, b in zip(partitions, other_seed))

    result = linear_evaluation(embeddings, seeds=(0,), config=FAST)
    assert result.protocol == "official" and result.per_fold.keys() == {f"fold {k}" for k in range(1, 6)}
    assert result.n_test == 150 and sorted(result.test_indices.tolist()) == list(range(150))
    assert result.per_seed[0] == pytest.approx(np.mean([scores[0] for scores in result.per_fold.values()]))


def test_split_protocol_uses_official_splits():
    features, labels = blobs(count=120)
    splits = np.array(["train"] * 80 + ["valid"] * 20 + ["test"] * 20)
    embeddings = table(features, labels, splits=splits)
    (partition,) = evaluation_splits(embeddings, "auto", seed=0, config=FAST)
    assert partition.train.tolist() == list(range(80))
    assert partition.valid.tolist() == list(range(80, 100))
    assert partition.test.tolist() == list(range(100, 120))

    without_valid = table(features, labels, splits=np.where(splits == "valid", "train", splits))
    (carved,) = evaluation_splits(without_valid, "official", seed=0, config=FAST)
    assert len(carved.valid) == 10 and set(carved.valid) <= set(range(100))
    assert carved.test.tolist() == list(range(100, 120))
    result = linear_evaluation((features, labels, splits), seeds=(0,), config=FAST)
    assert result.protocol == "official" and result.n_test == 20 and result.mean >= 0.95


def test_kfold_reshuffles_per_seed_and_tests_every_clip_once():
    features, labels = blobs(count=200)
    embeddings = table(features, labels)
    first = evaluation_splits(embeddings, "kfold", seed=0, config=FAST)
    second = evaluation_splits(embeddings, "kfold", seed=1, config=FAST)
    for partitions in (first, second):
        tested = np.concatenate([partition.test for partition in partitions])
        assert sorted(tested.tolist()) == list(range(200))
        for partition in partitions:
            assert np.bincount(labels[partition.test]).tolist() == [10, 10, 10, 10]
            assert not set(partition.test) & (set(partition.train) | set(partition.valid))
    assert any((a.test != b.test).any() for a, b in zip(first, second))
    again = evaluation_splits(embeddings, "kfold", seed=0, config=FAST)
    assert all((a.test == b.test).all() and (a.valid == b.valid).all() for a, b in zip(first, again))


def test_grouped_kfold_keeps_each_source_in_one_fold_and_out_of_validation():
    features, labels = blobs(count=160)
    groups = np.array([f"rec{i // 4}" for i in range(160)])  # 4 clips per recording
    labels = np.repeat(np.arange(4), 40)  # a recording's clips share a class
    embeddings = dataclasses.replace(table(features, labels), groups=groups)
    for partition in evaluation_splits(embeddings, "grouped-kfold", seed=0, config=FAST):
        test_groups, valid_groups = set(groups[partition.test]), set(groups[partition.valid])
        train_groups = set(groups[partition.train])
        assert not test_groups & (train_groups | valid_groups) and not valid_groups & train_groups
    result = linear_evaluation(embeddings, seeds=(0,), config=FAST)
    assert result.protocol == "grouped-kfold" and result.n_test == 160


def test_auto_leaves_degenerate_official_folds_with_a_warning_and_weights_folds_by_size():
    features, labels = blobs(count=200)
    groups = np.array([f"rec{i}" for i in range(200)])
    folds = np.where(np.arange(200) < 196, 4, 2)  # fold 2: 4 clips, fold 4: 196 clips
    embeddings = dataclasses.replace(table(features, labels, folds=folds), groups=groups)
    with pytest.warns(ProtocolWarning, match="'auto' used grouped-kfold: official folds not usable") as caught:
        result = linear_evaluation(embeddings, seeds=(0,), config=FAST)
    assert [warning.filename for warning in caught] == [__file__]  # one short line, at this call
    assert len(str(caught[0].message)) < 200
    assert result.protocol == "grouped-kfold" and "official folds not usable (fold 2" in result.protocol_note
    assert result.scalars()["protocol_note"] == result.protocol_note

    official = linear_evaluation(embeddings, seeds=(0,), config=FAST, protocol="official")
    assert official.fold_sizes == {"fold 2": 4, "fold 4": 196}
    scores = [official.per_fold["fold 2"][0], official.per_fold["fold 4"][0]]
    assert official.per_seed[0] == pytest.approx((4 * scores[0] + 196 * scores[1]) / 200)
    assert official.per_seed[0] == pytest.approx(official.correct()[0].mean())


def assert_engines_agree(features, targets, probes, config):
    """The batched engine and the one-probe-at-a-time reference stop at the same epochs and agree on the
    restored probe's validation score and loss and its test logits (within float rounding)."""
    for fast, slow in zip(train_linear_batched(features, targets, probes, config),
                          train_linear_reference(features, targets, probes, config), strict=True):  # fmt: skip
        assert (fast.best_epoch, fast.epochs) == (slow.best_epoch, slow.epochs)
        assert fast.valid_score == pytest.approx(slow.valid_score, abs=1e-6)
        assert fast.valid_loss == pytest.approx(slow.valid_loss, rel=1e-5)
        np.testing.assert_allclose(fast.test_logits, slow.test_logits, atol=1e-4)


def test_batched_probes_equal_the_single_probe_reference():
    features, labels = blobs(count=300, dim=24, n_classes=6, spread=0.5)
    folds = np.arange(300) % 5 + 1
    config = LinearEvalConfig(lr=3e-3, batch_size=32, max_epochs=25, patience=4, learning_rates=(1e-3, 1e-2))
    batched = linear_evaluation((features, labels, folds), seeds=(0, 1, 2), config=config)
    reference = linear_evaluation((features, labels, folds), seeds=(0, 1, 2), config=config, engine="reference")
    assert batched.per_seed == pytest.approx(reference.per_seed, abs=1e-9)
    np.testing.assert_array_equal(batched.seed_predictions, reference.seed_predictions)
    assert batched.learning_rate == reference.learning_rate
    assert batched.valid_by_learning_rate == pytest.approx(reference.valid_by_learning_rate)

    rng = np.random.default_rng(5)
    targets = (rng.random((200, 5)) < 0.3).astype(np.float32)
    multi = (targets @ rng.normal(size=(5, 12)) + rng.normal(size=(200, 12)) * 2).astype(np.float32)
    decayed = LinearEvalConfig(lr=1e-2, batch_size=32, max_epochs=15, patience=4, weight_decay=1e-3)
    probes = [ProbeSpec(np.arange(0, 150), np.arange(150, 170), seed, 1e-2, np.arange(170, 200)) for seed in (0, 1)]
    assert_engines_agree(multi, targets, probes, decayed)


def test_stopping_on_the_validation_loss_restores_the_lowest_loss_epoch_in_both_engines():
    features, labels = blobs(count=240, dim=16, n_classes=4, spread=0.3, seed=1)
    config = LinearEvalConfig(lr=5e-2, batch_size=16, max_epochs=200, patience=5, monitor="loss")
    model, _ = train_linear(features[:80], labels[:80], features[80:160], labels[80:160], config, seed=0)
    losses = [epoch["valid_loss"] for epoch in model.history]
    assert model.best_epoch == int(np.argmin(losses))
    assert len(losses) == model.best_epoch + 1 + config.patience < config.max_epochs
    by_score, _ = train_linear(features[:80], labels[:80], features[80:160], labels[80:160],
                               dataclasses.replace(config, monitor="score"), seed=0)  # fmt: skip
    assert by_score.best_epoch != model.best_epoch  # the monitor decides which epoch is kept
    probes = [ProbeSpec(np.arange(80), np.arange(80, 160), seed, 5e-2, np.arange(160, 240)) for seed in (0, 1, 2)]
    assert_engines_agree(features, labels, probes, config)
    with pytest.raises(ValueError, match="LinearEvalConfig.monitor"):
        LinearEvalConfig(monitor="accuracy")


def test_learning_rate_is_chosen_on_validation_clips_only():
    features, labels = blobs(count=200, spread=0.8)
    splits = np.array(["train"] * 120 + ["valid"] * 40 + ["test"] * 40)
    config = dataclasses.replace(FAST, learning_rates=LEARNING_RATE_GRID)
    result = linear_evaluation((features, labels, splits), seeds=(0, 1), config=config)
    assert set(result.valid_by_learning_rate) == {repr(rate) for rate in LEARNING_RATE_GRID}
    best = max(result.valid_by_learning_rate.values())
    assert result.valid_by_learning_rate[repr(result.learning_rate)] == best

    perturbed = features.copy()
    perturbed[160:] = np.random.default_rng(9).permutation(perturbed[160:]) * 5 + 3  # only the test clips
    changed = linear_evaluation((perturbed, labels, splits), seeds=(0, 1), config=config)
    assert changed.learning_rate == result.learning_rate
    assert changed.valid_by_learning_rate == result.valid_by_learning_rate
    assert changed.per_seed != result.per_seed  # the test clips did change: only the choice ignores them


def test_hidden_layers_make_an_mlp_that_still_learns():
    features, labels = blobs(count=160)
    config = LinearEvalConfig(lr=1e-2, batch_size=32, max_epochs=30, patience=8, hidden=(16,))
    result = linear_evaluation((features, labels, None), seeds=(0,), config=config)
    assert result.mean >= 0.95


def test_result_round_trips_through_scalars_and_arrays():
    import json

    from workbench.evaluation.linear import LinearEvalResult, linear_evaluation

    rng = np.random.default_rng(0)
    features = rng.normal(size=(60, 4)).astype(np.float32)
    targets = np.repeat(np.arange(3), 20)
    features[:, 0] += 3 * targets
    result = linear_evaluation((features, targets, None), seeds=(0, 1), config=LinearEvalConfig(max_epochs=5))
    scalars = json.loads(json.dumps(result.scalars()))
    restored = LinearEvalResult.from_parts(scalars, result.arrays())
    assert restored.scalars() == result.scalars()
    for name, array in result.arrays().items():
        np.testing.assert_array_equal(getattr(restored, name), array)


def test_batched_probes_in_memory_bounded_chunks_give_the_same_outcomes(monkeypatch):
    from workbench.evaluation.linear import batched

    features, labels = blobs(count=120, spread=0.7)
    config = LinearEvalConfig(lr=1e-2, batch_size=32, max_epochs=10, patience=3)
    probes = [
        ProbeSpec(np.arange(0, 80 + 10 * k), np.arange(100, 110), seed, 1e-2, np.arange(110, 120))
        for k in range(2) for seed in (0, 1)
    ]  # fmt: skip
    together = train_linear_batched(features, labels, probes, config)
    monkeypatch.setattr(batched, "MEMORY_BUDGET_BYTES", 1)  # one training set per chunk
    apart = train_linear_batched(features, labels, probes, config)
    for first, second in zip(together, apart):
        assert (first.best_epoch, first.valid_score) == (second.best_epoch, second.valid_score)
        np.testing.assert_allclose(first.test_logits, second.test_logits, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="use train_linear for hidden layers"):
        train_linear_batched(features, labels, probes, LinearEvalConfig(hidden=(4,)))
