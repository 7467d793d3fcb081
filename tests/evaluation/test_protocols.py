"""Evaluation protocols on complete and partial data: auto never runs degenerate folds."""

import re

import numpy as np
import pytest

from workbench.errors import UnknownNameError
from workbench.evaluation.protocols import (
    PROTOCOLS,
    ProtocolInputs,
    ProtocolWarning,
    carve_validation,
    official_partitions,
    official_problems,
    one_warning_per_cause,
    plan_dataset_protocol,
    plan_protocol,
)


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


def one_source_esc50():
    """:func:`partial_esc50` with class 7 (washing_machine) cut from one source recording, as in issue 25."""
    targets, folds, groups = partial_esc50()
    groups = groups.copy()
    groups[targets == 7] = "washing-machine-src"
    classes = [f"c{index}" for index in range(50)]
    classes[7] = "washing_machine"
    return targets, folds, groups, classes


def test_auto_scores_a_partial_copy_with_a_one_source_class_and_names_the_class_left_out():
    targets, folds, groups, classes = one_source_esc50()
    plan = plan_protocol(targets, protocol="auto", folds=folds, groups=groups, classes=classes)
    assert plan.protocol == "grouped-kfold" and plan.left_official
    assert plan.scored_line == "49 of 50 classes scored; washing_machine: one source recording"
    assert plan.scored_line in plan.note and [cls.name for cls in plan.excluded] == ["washing_machine"]
    scored = np.flatnonzero(targets != 7)
    covered = np.sort(np.concatenate([fold.test for fold in plan.folds]))
    assert covered.tolist() == scored.tolist()  # every other clip tested once, washing_machine never
    for fold in plan.folds:
        assert 7 not in targets[fold.train] and not set(groups[fold.train]) & set(groups[fold.test])
    # The same data under grouped-kfold follows the same rule; only official stops, saying what works.
    grouped = plan_protocol(targets, protocol="grouped-kfold", folds=folds, groups=groups, classes=classes)
    assert grouped.excluded == plan.excluded and not grouped.left_official


def test_without_groups_auto_leaves_out_a_one_clip_class_and_kfold_names_what_works():
    targets = np.append(np.tile(np.arange(4), 10), 4)  # class 4 has a single clip
    plan = plan_protocol(targets, protocol="auto", classes=["a", "b", "c", "d", "lonely"])
    assert plan.protocol == "kfold" and plan.scored_line == "4 of 5 classes scored; lonely: one clip"
    assert plan.leaked_test_clips is None  # no groups: nothing to count
    with pytest.raises(ValueError, match=r"classes lonely have one\. What would work here: protocol 'auto' \(kfold; "
                                         r"4 of 5 classes scored; lonely: one clip\)$"):  # fmt: skip
        plan_protocol(targets, protocol="kfold", classes=["a", "b", "c", "d", "lonely"])


def brute_force_leak(plan, groups):
    return sum(1 for fold in plan.folds for row in fold.test if groups[row] in set(groups[fold.train]))


def test_kfold_on_grouped_data_counts_the_test_clips_sharing_a_source_and_warns_once(recwarn):
    targets, folds, groups, classes = one_source_esc50()
    inputs = ProtocolInputs(targets, folds, None, groups, tuple(classes))
    plan = inputs.plan("kfold", seed=1)
    assert plan.leaked_test_clips == brute_force_leak(plan, groups) > 0
    assert f"{plan.leaked_test_clips} of 414 test clips share a source recording with training clips" in plan.note
    with one_warning_per_cause():
        for _ in range(3):  # three encoders or layers of one run: one warning
            plan_dataset_protocol(inputs, "kfold", seeds=(1, 2))
    (warning,) = [w for w in recwarn.list if issubclass(w.category, ProtocolWarning)]
    assert warning.filename == __file__  # at the user's call, not inside workbench
    expected = (r"protocol 'kfold' ignores source groups: \d+ of 414 test clips share a source recording "
                r"with training clips \(the result's protocol_note explains\)")
    assert re.fullmatch(expected, str(warning.message))
    assert plan_protocol(targets, protocol="kfold").leaked_test_clips is None  # no groups given: no count


def suggested(message: str) -> tuple[list[str], list[int]]:
    """The protocols and n_folds an error suggests."""
    tail = message.split("What would work here: ")[1]
    return re.findall(r"protocol '([a-z-]+)'", tail), [int(n) for n in re.findall(r"n_folds=(\d+)", tail)]


ERROR_CASES = ["official on a partial copy", "grouped-kfold without groups", "kfold, a lonely class",
               "grouped-kfold, one source per class", "grouped-kfold, 4 folds too many"]


@pytest.mark.parametrize("case", ERROR_CASES)
def test_errors_suggest_only_what_works(case):
    targets, folds, groups, classes = one_source_esc50()
    lonely = np.append(np.tile(np.arange(4), 10), 4)
    arguments = {
        "official on a partial copy": dict(targets=targets, protocol="official", folds=folds, groups=groups),
        "grouped-kfold without groups": dict(targets=targets[folds == 4], protocol="grouped-kfold"),
        "kfold, a lonely class": dict(targets=lonely, protocol="kfold"),
        # Every class from one recording: grouped k-fold cannot score anything, plain k-fold can.
        "grouped-kfold, one source per class": dict(targets=np.tile(np.arange(3), 6), protocol="grouped-kfold",
                                                    groups=np.tile(np.array(["x", "y", "z"]), 6)),  # fmt: skip
        # With 4 folds, both recordings of class 0 fall into fold 1 (seed 0); 2 folds keep them apart.
        "grouped-kfold, 4 folds too many": dict(
            targets=np.array([1, 1, 2, 1, 2, 0, 1, 0, 2, 0, 2, 2]), protocol="grouped-kfold", n_folds=4,
            groups=np.array(["1", "3", "2", "2", "3", "0", "1", "1", "3", "0", "1", "1"]),
        ),
    }[case]
    with pytest.raises(ValueError, match="What would work here|No protocol works") as raised:
        plan_protocol(**arguments)
    if "No protocol works" in str(raised.value):
        for protocol in PROTOCOLS:  # the message is right: nothing works
            with pytest.raises(ValueError):
                plan_protocol(**{**arguments, "protocol": protocol})
        return
    protocols, fold_counts = suggested(str(raised.value))
    assert protocols or fold_counts
    for protocol in protocols:
        plan_protocol(**{**arguments, "protocol": protocol})  # each suggestion works as suggested
    for count in fold_counts:
        plan_protocol(**{**arguments, "n_folds": count})
    if case == "grouped-kfold, 4 folds too many":
        assert fold_counts == [2] and "classes 0 are tested but never trained on" in str(raised.value)


def test_nothing_works_on_two_lonely_clips():
    with pytest.raises(ValueError, match="No protocol works on this data as it is"):
        plan_protocol(np.array([0, 1]), protocol="auto")
