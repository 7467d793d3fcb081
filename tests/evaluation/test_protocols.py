"""Evaluation protocols on complete and partial data: auto never runs degenerate folds."""

import numpy as np
import pytest

from workbench.errors import UnknownNameError
from workbench.evaluation.protocols import carve_validation, official_problems, official_partitions, plan_protocol


def partial_esc50(seed: int = 0):
    """A fake partial ESC-50 listing: fold 4 complete (400 clips), folds 2/3/5 with 11/1/2 clips, fold 1
    absent; 5 clips per source recording, as ESC-50 cuts them."""
    generator = np.random.default_rng(seed)
    folds, targets, groups = [], [], []
    for clip in range(400):
        folds.append(4)
        targets.append(clip % 50)
        groups.append(f"rec{clip // 5}")  # 5 consecutive clips of one class share a recording... see below
    for fold, size in ((2, 11), (3, 1), (5, 2)):
        for clip in range(size):
            folds.append(fold)
            targets.append(int(generator.integers(0, 7)))
            groups.append(f"f{fold}-rec{clip // 2}")
    targets = np.asarray(targets)
    # give each class's fold-4 clips two recordings of four clips each
    for label in range(50):
        rows = np.flatnonzero((np.asarray(folds) == 4) & (targets == label))
        for position, row in enumerate(rows):
            groups[row] = f"class{label}-rec{position // 4}"
    return targets, np.asarray(folds), np.asarray(groups)


def test_auto_leaves_the_degenerate_official_folds_of_a_partial_copy():
    targets, folds, groups = partial_esc50()
    plan = plan_protocol(targets, protocol="auto", folds=folds, groups=groups)
    assert plan.protocol == "grouped-kfold"
    assert "official folds not usable" in plan.note and "fold 3" in plan.note
    for fold in plan.folds:
        train_groups, test_groups = set(groups[fold.train]), set(groups[fold.test])
        assert not train_groups & test_groups  # every src_file inside one fold
        assert set(targets[fold.test]) <= set(targets[fold.train])
    covered = np.sort(np.concatenate([fold.test for fold in plan.folds]))
    assert covered.tolist() == list(range(len(targets)))  # every clip tested exactly once


def test_explicit_official_on_a_partial_copy_names_the_fold_and_classes():
    targets, folds, groups = partial_esc50()
    with pytest.raises(ValueError, match=r"fold 4: classes .* are tested but never trained on"):
        plan_protocol(targets, protocol="official", folds=folds, classes=[f"c{i}" for i in range(50)])


def test_auto_keeps_complete_official_folds():
    targets = np.tile(np.arange(10), 20)
    folds = np.repeat(np.arange(1, 6), 40)
    plan = plan_protocol(targets, protocol="auto", folds=folds)
    assert plan.protocol == "official" and plan.note == "" and len(plan.folds) == 5
    assert plan.test_sizes == (40,) * 5
    assert official_problems(targets, official_partitions(folds, None)) == []


def test_grouped_kfold_needs_groups_and_kfold_needs_two_clips_per_class():
    targets = np.tile(np.arange(4), 10)
    with pytest.raises(ValueError, match="needs source groups"):
        plan_protocol(targets, protocol="grouped-kfold")
    with pytest.raises(ValueError, match="classes 9 have one"):
        plan_protocol(np.append(targets, 9), protocol="kfold")
    with pytest.raises(UnknownNameError):
        plan_protocol(targets, protocol="folds")


def test_kfold_is_stratified_and_seeded():
    targets = np.tile(np.arange(4), 10)
    first = plan_protocol(targets, protocol="kfold", n_folds=5, seed=3)
    again = plan_protocol(targets, protocol="kfold", n_folds=5, seed=3)
    assert [f.test.tolist() for f in first.folds] == [f.test.tolist() for f in again.folds]
    assert all(np.bincount(targets[f.test], minlength=4).tolist() == [2, 2, 2, 2] for f in first.folds)


def test_official_splits_without_folds():
    splits = np.array(["train"] * 30 + ["valid"] * 5 + ["test"] * 10)
    targets = np.tile(np.arange(5), 9)
    plan = plan_protocol(targets, protocol="auto", splits=splits)
    assert plan.protocol == "official" and len(plan.folds) == 1
    assert len(plan.folds[0].test) == 10 and len(plan.folds[0].train) == 35


def test_validation_is_carved_from_training_rows_by_group():
    targets, folds, groups = partial_esc50()
    train = np.flatnonzero(folds == 4)
    fit, valid = carve_validation(train, targets, groups=groups, fraction=0.1, seed=0)
    assert set(fit) | set(valid) == set(train) and not set(fit) & set(valid)
    assert not set(groups[fit]) & set(groups[valid])
    plain_fit, plain_valid = carve_validation(train, targets, fraction=0.1, seed=0)
    assert len(plain_valid) == 40


def test_carve_validation_with_one_clip_per_class_draws_whole_groups():
    targets = np.arange(4)
    groups = np.array(["a", "b", "c", "d"])
    fit, valid = carve_validation(np.arange(4), targets, groups=groups, fraction=0.25, seed=3)
    assert len(valid) == 1 and len(fit) == 3 and not set(groups[fit]) & set(groups[valid])
