"""add_loss's runs: repeats added one at a time until the headline claim is settled (``max_seeds``), the
corrected resampled t over folds, and runs keyed by the pretrained weights they read (issues 23, 25)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from workbench.errors import MissingFileError, ParameterError
from workbench.recipes import add_loss
from workbench.recipes.add_loss import train
from workbench.train.rundir import RunDir

ITEM_OFFSETS = [4, -3, 2, -1, 0, 1, -2, 3, 0, 0]
"""Per repeat, the test clips ADD gets right beyond CE's, less 6: effects of (6 + offset) / 40 clips."""


@pytest.fixture
def runs_root(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path / "cache"))
    return tmp_path / "runs"


@pytest.fixture
def scripted_training(monkeypatch):
    """Stands in for one model's training: CE gets half of the 40 test clips of fold 1 right, ADD 6 more plus
    the repeat's :data:`ITEM_OFFSETS`; the test arrays are saved as a trained model's are. Returns the
    (loss, repeat) pairs trained."""
    calls: list[tuple[str, int]] = []

    def fake(params, dataset, split, repeat, run_dir, fold_data):
        calls.append((params.loss, repeat))
        targets = np.asarray(dataset.targets(), dtype=np.int64)[split.test]
        right = len(targets) // 2 + (6 + ITEM_OFFSETS[repeat] if params.loss == "add" else 0)
        predictions = targets.copy()
        predictions[right:] = (targets[right:] + 1) % dataset.n_classes
        embeddings = np.random.default_rng(repeat).normal(size=(len(targets), 8)).astype(np.float32)
        result = add_loss.FoldResult(
            fold=split.fold, repeat=repeat, accuracy=float((predictions == targets).mean()),
            indices=np.asarray(split.test), ids=np.asarray(add_loss.clip_ids(dataset, split.test)), targets=targets,
            predictions=predictions, embeddings=embeddings, geometry=train.fold_geometry(embeddings, targets, dataset, params),
        )  # fmt: skip
        run_dir.save_arrays(f"test-{add_loss.run_tag(split.fold, repeat)}", **result.arrays())
        return result, fold_data

    monkeypatch.setattr(train, "_train_fold", fake)
    return calls


def test_max_seeds_adds_repeats_until_decided_and_a_larger_budget_continues(runs_root, scripted_training):
    params = add_loss.Params(variants=("ce", "add"), repeats=3, max_seeds=4)
    first = add_loss.run(params)
    assert first.seeding["seeds"] == [0, 1, 2, 3] and first.seeding["stopped"] == "budget"
    accuracy = first.claims[0]
    assert accuracy.method == "anytime-valid confidence sequence" and accuracy.n == 4 and accuracy.verdict == "inconclusive"
    assert "seeds 0, 1, 2, 3 of a budget of 4" in accuracy.detail
    assert sorted(scripted_training) == sorted((loss, repeat) for loss in ("ce", "add") for repeat in range(4))
    # Each loss's repeat is its own content-addressed run: four run directories per loss, none holding `repeats`.
    per_repeat = [RunDir(path).params for path in (runs_root / "add_loss").iterdir() if "repeat" in RunDir(path).params]
    assert sorted((p["loss"], p["repeat"]) for p in per_repeat) == sorted(scripted_training)
    assert all("repeats" not in p and "max_seeds" not in p for p in per_repeat)  # the budget is not what a run trains
    # `workbench launch` trains the first `repeats` of each loss as leaves that open these same run directories.
    leaves = add_loss.plan(params).stages[0].leaves
    assert sorted(leaf.label for leaf in leaves) == sorted(f"{loss} repeat {r}" for loss in ("ce", "add") for r in range(3))
    assert {leaf.id for leaf in leaves} <= {path.name for path in (runs_root / "add_loss").iterdir()}

    scripted_training.clear()
    second = add_loss.run(params.replace(max_seeds=10))
    trained = sorted({repeat for _, repeat in scripted_training})
    assert trained and trained[0] == 4  # repeats 0-3 read back, not trained again
    assert second.seeding["stopped"] == "decided" and len(second.seeding["seeds"]) < 10
    assert second.seeding["seeds"] == list(range(4 + len(trained)))
    effects = [(6 + offset) / 40 for offset in ITEM_OFFSETS[: len(second.seeding["seeds"])]]
    accuracy = second.claims[0]
    assert accuracy.verdict == "holds" and accuracy.effect == pytest.approx(np.mean(effects))
    assert [claim.n for claim in second.claims] == [len(effects)] * 4
    assert second.summary().splitlines()[0].endswith(
        f"{len(effects)} repeat(s) (seeds {', '.join(map(str, second.seeding['seeds']))}, added one at a time up to "
        "max_seeds 10 until ADD {1,1,1,1} vs CE accuracy was settled: decided)"
    )
    # The same call again trains nothing: every repeat is read back.
    scripted_training.clear()
    assert add_loss.run(params.replace(max_seeds=10)).summary() == second.summary() and scripted_training == []


def test_max_seeds_needs_three_seeds_and_both_losses():
    with pytest.raises(ParameterError, match=r"'max_seeds' must be 0 \(train exactly `repeats`\) or at least 3 .*got 2"):
        add_loss.Params(variants=("ce", "add"), max_seeds=2)
    with pytest.raises(ParameterError, match="variants must hold ce and add, got \\['ce', 'opl'\\]"):
        add_loss.Params(variants=("ce", "opl"), max_seeds=5)


def test_runs_on_several_folds_use_the_corrected_resampled_t_and_one_split_the_paired_t(runs_root, scripted_training):
    import scipy.stats

    params = add_loss.Params(variants=("ce", "add"), repeats=2, folds="1,2")
    result = add_loss.run(params)
    accuracy = result.claims[0]
    assert accuracy.method == "corrected resampled t" and accuracy.n == 4
    assert accuracy.unit == "training runs (fold x repeat, sharing training clips)"
    effects = np.array([fold_add.accuracy - fold_ce.accuracy for fold_add, fold_ce in
                        zip(result.losses["ADD {1,1,1,1}"].folds, result.losses["CE"].folds)])  # fmt: skip
    splits = add_loss.plan_splits(result.dataset, "1,2", "auto")
    ratio = np.mean([len(split.test) / len(split.train) for split in splits])
    half = scipy.stats.t.ppf(0.975, 3) * np.sqrt((1 / 4 + ratio) * effects.var(ddof=1))
    assert (accuracy.ci_low, accuracy.ci_high) == pytest.approx((effects.mean() - half, effects.mean() + half))
    one_split = add_loss.run(params.replace(folds="1")).claims[0]
    assert one_split.method == "paired t" and one_split.n == 2


def _mn04_copy(tmp_path, shared_dir, monkeypatch):
    """A lab's shared folder holding a copy of the mn04 checkpoint, as ``{shared}/weights/mn04.pt``."""
    lab = tmp_path / "lab"
    (lab / "weights").mkdir(parents=True)
    shutil.copy(shared_dir / "weights/efficientat-mn04/mn04_as_mAP_432.pt", lab / "weights/mn04.pt")
    monkeypatch.setenv("WORKBENCH_SHARED", str(lab))
    return lab / "weights/mn04.pt"


@pytest.mark.shared
def test_a_checkpoint_overwritten_in_place_is_a_new_run(tmp_path, shared_dir, runs_root, monkeypatch):
    from workbench.models.digest import file_sha256

    checkpoint = _mn04_copy(tmp_path, shared_dir, monkeypatch)
    params = add_loss.Params(encoder="efficientat-mn04", pretrained_path="{shared}/weights/mn04.pt", n_clips=60,
                             epochs=1, batch_size=16, loss="ce")  # fmt: skip
    before = add_loss.run(params)
    state = torch.load(checkpoint, weights_only=True)
    name = next(key for key, value in state.items() if value.is_floating_point())
    state[name] = state[name] + 0.5  # other weights, saved over the same file
    torch.save(state, checkpoint)
    after = add_loss.run(params)
    assert after.run_dir != before.run_dir
    for result in (before, after):
        (weights,) = [entry for entry in json.loads((result.run_dir / "provenance.json").read_text())["data"]["datasets"]
                      if entry.get("kind") == "weights"]  # fmt: skip
        assert weights["name"] == "efficientat-mn04" and weights["recorded"]["path"] == str(checkpoint.resolve())
    assert weights["sha256"] == file_sha256(checkpoint)
    with pytest.raises(MissingFileError, match=r"parameter 'pretrained_path': checkpoint file not found: .*nothing.pt"):
        add_loss.run(params.replace(pretrained_path="{shared}/weights/nothing.pt"))


@pytest.mark.shared
def test_data_root_reads_the_shared_placeholder(shared_dir, monkeypatch):
    monkeypatch.setenv("WORKBENCH_SHARED", str(shared_dir))
    params = add_loss.Params(dataset="esc10", data_root="{shared}/data", clip_seconds=5.0)
    dataset = add_loss.build_dataset(params, 16000)
    assert len(dataset) > 0 and str(shared_dir) in str(getattr(dataset, "root", shared_dir))
