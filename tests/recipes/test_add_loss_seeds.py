"""add_loss's repeats trained together as one vectorised model (``seed_parallel="on"``) equal their sequential
runs: weights, optimiser state and test scores per repeat, the same run ids, and results either path reads."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from workbench.recipes import add_loss
from workbench.train.rundir import RunDir

TINY = dict(n_clips=60, clip_seconds=0.5, epochs=2, batch_size=16, repeats=3, keep_checkpoints=True)
"""Three repeats of a tiny AST, two epochs of three steps each: 48 training and 12 test clips."""

LOSSES = {
    "add with mixup and SpecAugment": dict(loss="add", mixup=0.5, freq_mask=8, time_mask=10),
    "focal": dict(loss="focal"),
    "opl": dict(loss="opl", weight_decay=0.01),
    "ce, tiny BEATs": dict(loss="ce", encoder="beats-tiny", repeats=2),
}


def train(root, monkeypatch, **settings) -> add_loss.AddLossResult:
    monkeypatch.setenv("WORKBENCH_RUNS", str(root))
    return add_loss.run(add_loss.Params(**{**TINY, **settings}))


def models(result: add_loss.AddLossResult) -> list[dict]:
    """Each repeat's kept checkpoint (the Trainer's format, whichever path trained it)."""
    (loss_run,) = result.losses.values()
    found = []
    for fold in loss_run.folds:
        directory = RunDir(loss_run.run_dir / "models" / add_loss.run_tag(fold.fold, fold.repeat))
        found.append(directory.load_checkpoint(directory.latest_checkpoint()))
    return found


def log_events(result: add_loss.AddLossResult, tag: str) -> list[dict]:
    (loss_run,) = result.losses.values()
    return [json.loads(line) for line in (loss_run.run_dir / "models" / tag / "log.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("settings", list(LOSSES.values()), ids=list(LOSSES))
def test_repeats_trained_together_equal_their_sequential_runs(tmp_path, monkeypatch, settings):
    together = train(tmp_path / "together", monkeypatch, seed_parallel="on", **settings)
    sequential = train(tmp_path / "sequential", monkeypatch, seed_parallel="off", **settings)
    (ours,), (theirs,) = together.losses.values(), sequential.losses.values()
    assert ours.run_dir.name == theirs.run_dir.name  # the same run id: seed_parallel is not part of it
    assert "together_with" in log_events(together, "fold1-repeat1")[0]
    assert "together_with" not in log_events(sequential, "fold1-repeat1")[0]
    for fold, reference in zip(ours.folds, theirs.folds, strict=True):
        assert (fold.fold, fold.repeat) == (reference.fold, reference.repeat)
        assert int((fold.predictions != reference.predictions).sum()) <= 1
        assert abs(fold.accuracy - reference.accuracy) <= 1 / len(fold.targets) + 1e-12
        np.testing.assert_allclose(fold.embeddings, reference.embeddings, atol=1e-4)
    for checkpoint, reference in zip(models(together), models(sequential), strict=True):
        # Adam divides by the root of the second moment: where a gradient is near zero, a float-level difference
        # (batched against separate products) moves the update by up to the learning rate, so the bound is a
        # small part of lr x steps (6e-3) for the largest difference, and float level for the typical one.
        differences = torch.cat([(checkpoint["model"][name] - value).abs().flatten()
                                 for name, value in reference["model"].items() if value.is_floating_point()])  # fmt: skip
        assert differences.max() < 1e-3 and differences.mean() < 1e-6
        assert checkpoint["step"] == reference["step"] and checkpoint["config"] == reference["config"]
        assert [record["loss"] for record in checkpoint["history"]] == pytest.approx(
            [record["loss"] for record in reference["history"]], abs=1e-4
        )
        for number, entries in reference["optimizer"]["state"].items():
            for name, value in entries.items():
                assert torch.allclose(checkpoint["optimizer"]["state"][number][name], value, atol=1e-5), (number, name)
        for generator, expected in zip(checkpoint["generators"], reference["generators"], strict=True):
            assert torch.equal(generator, expected)  # each repeat read its batches in its sequential order


def test_either_path_reads_the_other_ones_finished_repeats(tmp_path, monkeypatch):
    first = train(tmp_path, monkeypatch, seed_parallel="on", loss="ce", repeats=2, keep_checkpoints=False)

    def fail(*args, **kwargs):
        raise AssertionError("a finished repeat was trained again")

    monkeypatch.setattr(add_loss.train, "_train_fold", fail)
    monkeypatch.setattr(add_loss.repeats, "_train_together", fail)
    again = train(tmp_path, monkeypatch, seed_parallel="off", loss="ce", repeats=2, keep_checkpoints=False)
    assert again.summary() == first.summary()


def test_auto_trains_one_after_another_on_the_cpu(tmp_path, monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("auto trained the repeats together on the CPU")

    monkeypatch.setattr(add_loss.repeats, "_train_together", fail)
    result = train(tmp_path, monkeypatch, loss="ce", repeats=2, epochs=1, keep_checkpoints=False)
    assert len(result.losses["CE"].folds) == 2
    assert add_loss.Params().seed_parallel == "auto"
    with pytest.raises(ValueError, match="seed_parallel"):
        add_loss.Params(seed_parallel="sometimes")


def test_a_model_that_draws_random_numbers_in_its_forward_trains_one_after_another(tmp_path, monkeypatch):
    """AudioNTT2020 has dropout: under vmap it would draw other masks than its sequential runs, so the probe
    refuses it and ``on`` says why before training the repeats one after another."""
    with pytest.warns(UserWarning, match="train one after another: the forward cannot run under vmap.*random"):
        result = train(tmp_path, monkeypatch, seed_parallel="on", encoder="audiontt-tiny", loss="ce", repeats=2,
                       epochs=1, keep_checkpoints=False)  # fmt: skip
    assert len(result.losses["CE"].folds) == 2
    assert "together_with" not in log_events(result, "fold1-repeat0")[0]
