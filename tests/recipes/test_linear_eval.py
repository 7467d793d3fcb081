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
    with pytest.raises(KeyError, match="unknown protocol of linear_eval 'folds'"):
        linear_eval.run(linear_eval.Params.from_dict({**QUICK, "protocol": "folds"}))


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
