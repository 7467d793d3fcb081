"""The linear_eval recipe end to end on a small synthetic world."""

import pytest

from workbench.recipes import linear_eval
from workbench.train.rundir import RunDir

QUICK = dict(n_clips=200, n_seeds=3, max_epochs=40, patience=5, encoders=("logmel-stats",))


def test_run_scores_claims_and_reuses_a_finished_run(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_RUNS", str(tmp_path))
    params = linear_eval.Params.from_dict(QUICK)
    result = linear_eval.run(params)
    score = result.scores["logmel-stats"]
    assert score.metric == "accuracy" and score.protocol == "official" and len(score.per_seed) == 3
    assert result.claims[0].holds and result.claims[0].name == "linear probe on logmel-stats beats chance"
    run = RunDir(result.run_dir)
    assert run.finished and run.read_metrics()["scores"]["logmel-stats"]["mean"] == score.mean
    assert "linear evaluation" not in result.summary() and "logmel-stats: accuracy" in result.summary()

    # An identical rerun trains nothing: it reads the finished run back.
    def fail(*args, **kwargs):
        raise AssertionError("the finished run was recomputed")

    monkeypatch.setattr(linear_eval, "linear_evaluation", fail)
    again = linear_eval.run(params)
    assert again.summary() == result.summary()
    assert again.scores["logmel-stats"].per_fold == score.per_fold


def test_protocol_reaches_the_evaluation_and_is_checked(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_RUNS", str(tmp_path))
    params = linear_eval.Params.from_dict({**QUICK, "n_seeds": 2, "max_epochs": 10, "protocol": "kfold"})
    score = linear_eval.run(params).scores["logmel-stats"]
    assert score.protocol == "kfold" and score.requested_protocol == "kfold" and score.n_test == 200
    # A world too small for its official folds: auto falls back, and the summary says so.
    small = linear_eval.Params.from_dict({**QUICK, "n_clips": 30, "n_seeds": 2, "max_epochs": 5})
    with pytest.warns(UserWarning, match="official folds not usable"):
        result = linear_eval.run(small)
    assert "protocol auto -> kfold: official folds not usable" in result.summary()
    with pytest.raises(KeyError, match="parameter 'protocol': unknown evaluation protocol 'folds'"):
        linear_eval.Params.from_dict({**QUICK, "protocol": "folds"})  # at construction, before any embedding


def test_unknown_dataset_is_named():
    with pytest.raises(KeyError, match="unknown dataset 'nope'"):
        linear_eval.run(linear_eval.Params(dataset="nope"))


@pytest.mark.shared
def test_fsdd_speaker_identification_on_the_real_recordings(shared_dir, tmp_path, monkeypatch):
    """The issue's acceptance check: FSDD speaker ID with a simple front-end embedding, mean ± CI."""
    monkeypatch.setenv("WORKBENCH_RUNS", str(tmp_path))
    params = linear_eval.Params(
        dataset="fsdd", task="speaker", data_root=str(shared_dir / "data" / "fsdd"),
        encoders=("logmel-stats",), n_seeds=3, max_epochs=50,
    )  # fmt: skip
    result = linear_eval.run(params)
    score = result.scores["logmel-stats"]
    assert score.protocol == "official" and score.n_test == 300 and len(result.dataset.classes) == 6
    assert score.mean > 0.9 and 0.0 <= score.ci95 < 0.05
    assert result.claims[0].holds


def test_folder_dataset_with_its_default_task(tmp_path, monkeypatch):
    """Your own audio, one subfolder per class: linear_eval reaches it with task "" (the dataset's own)."""
    import numpy as np

    from workbench.audio.io import save

    monkeypatch.setenv("WORKBENCH_RUNS", str(tmp_path / "runs"))
    rate, rng = 16000, np.random.default_rng(0)
    time = np.arange(rate // 2) / rate
    for label, frequency in (("low", 300.0), ("high", 2000.0)):
        for index in range(10):
            tone = 0.3 * np.sin(2 * np.pi * frequency * (1 + 0.05 * rng.standard_normal()) * time)
            noisy = tone + 0.01 * rng.standard_normal(time.size)
            save(tmp_path / "clips" / label / f"{index}.wav", noisy[None], rate)
    params = linear_eval.Params.from_dict(
        {"dataset": "folder", "data_root": str(tmp_path / "clips"), "encoders": "logmel-stats", "n_seeds": 1}
    )
    result = linear_eval.run(params)
    assert list(result.dataset.classes) == ["high", "low"] and len(result.dataset) == 20
    assert result.scores["logmel-stats"].mean > 0.9 and "on folder (default task)" in result.summary()


def test_a_missing_dataset_leaves_no_run_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_RUNS", str(tmp_path / "runs"))
    with pytest.raises(FileNotFoundError):
        linear_eval.run(linear_eval.Params(dataset="folder", data_root=str(tmp_path / "absent")))
    assert not (tmp_path / "runs").exists()


@pytest.mark.shared
def test_weights_path_with_the_shared_placeholder_loads_that_checkpoint(shared_dir):
    import torch

    params = linear_eval.Params.from_dict({
        "encoders": "logmel-stats,efficientat-mn04",
        "weights_path": "{shared}/weights/efficientat-mn04/mn04_as_mAP_432.pt",
    })  # fmt: skip
    encoder = linear_eval.build_encoders(params)["efficientat-mn04"]
    official = torch.load(shared_dir / "weights/efficientat-mn04/mn04_as_mAP_432.pt", weights_only=True)
    state = encoder.state_dict()
    assert set(state) == set(official)
    assert all(torch.equal(state[key], official[key]) for key in state)
