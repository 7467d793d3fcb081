"""The difference-aware BYOL-A recipe: the learner's step, a tiny end-to-end run, re-use, presets, claims."""

from pathlib import Path

import pytest
import torch
import yaml

from workbench.audio.byola_augment import byola_augmentation
from workbench.errors import UnknownNameError
from workbench.models.audiontt import AudioNTT2020, AudioNTTConfig
from workbench.models.byola import BYOLConfig, BYOLNetworks
from workbench.paths import notebooks_dir
from workbench.recipes import diff_byola
from workbench.train.rundir import RunDir

TINY = dict(
    channels=4, embedding_dim=32, projection_dim=16, hidden_dim=32, pretrain_tasks=("event", "pitch"),
    n_pretrain_clips=24, epochs=1, batch_size=16, memory_size=32, n_bgknown_clips=30, n_backgrounds=2,
    n_retrieval_scenes=20, retrieval_epochs=10, general_tasks=("event",), n_general_clips=30, n_probe_seeds=1, n_adapter_seeds=1,
    max_epochs=5, patience=2,
)  # fmt: skip


@pytest.fixture(autouse=True)
def one_thread():
    """Small convolutions on one thread: far faster than two threads on a busy machine."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def learner(weight, mixing="normalized"):
    torch.manual_seed(0)
    networks = BYOLNetworks(
        AudioNTT2020(AudioNTTConfig.tiny(channels=4)), BYOLConfig.tiny(difference_predictor=weight > 0)
    )
    return diff_byola.DifferenceAwareBYOLA(networks, byola_augmentation("v1", memory_size=8), weight, mixing=mixing)


@pytest.mark.parametrize("mixing", ("normalized", "power"))
def test_learner_step_mixes_both_losses(mixing):
    batch = torch.randn(6, 64, 24, generator=torch.Generator().manual_seed(1))
    plain_loss, plain_metrics = learner(0.0)(batch)
    assert set(plain_metrics) == {"byol_loss"} and plain_loss.item() == pytest.approx(plain_metrics["byol_loss"])
    model = learner(0.5, mixing)
    loss, metrics = model(batch)
    assert set(metrics) == {"byol_loss", "difference_loss"}
    assert loss.item() == pytest.approx(0.5 * metrics["byol_loss"] + 0.5 * metrics["difference_loss"], rel=1e-5)
    loss.backward()
    assert model.networks.difference_predictor.net[0].weight.grad is not None
    assert all(p.grad is None for p in model.networks.target_encoder.parameters())


def test_learner_needs_a_difference_predictor_for_lambda_above_zero():
    torch.manual_seed(0)
    networks = BYOLNetworks(AudioNTT2020(AudioNTTConfig.tiny(channels=4)), BYOLConfig.tiny())
    with pytest.raises(ValueError, match="needs BYOLNetworks built with a difference predictor"):
        diff_byola.DifferenceAwareBYOLA(networks, byola_augmentation("v1"), 0.5)


def test_tiny_run_end_to_end_then_reuse(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_RUNS", str(tmp_path))
    params = diff_byola.Params.from_dict(TINY)
    result = diff_byola.run(params, progress=False)
    assert list(result.bgknown) == ["λ=0", "λ=0.5"]
    assert set(result.bgknown["λ=0"]) == {"diff-100", "diff-50", "diff-0", "mix"}
    assert set(result.retrieval["λ=0.5"]) == {1, 5, 10} and set(result.general["λ=0"]) == {"event"}
    assert [claim.name for claim in result.claims] == [
        "BgKnown y_diff accuracy, λ=0.5 vs λ=0", "text-modified retrieval recall, λ=0.5 vs λ=0"
    ]
    assert result.difference_points["λ=0"].shape == (30, 2) and result.difference_labels.shape == (30,)
    assert set(result.histories["λ=0.5"]) == {"loss", "byol_loss", "difference_loss"}
    assert "BgKnown accuracy" in result.summary() and RunDir(result.run_dir).finished
    pretrainings = sorted((tmp_path / diff_byola.PRETRAIN_NAME).iterdir())
    assert len(pretrainings) == 2 and all(RunDir(path).finished for path in pretrainings)

    def fail(*args, **kwargs):
        raise AssertionError("recomputed what a finished run directory holds")

    # The same parameters: everything is read back.
    monkeypatch.setattr(diff_byola, "evaluate", fail)
    again = diff_byola.run(params, progress=False)
    assert again.summary() == result.summary()
    # Another evaluation setting: evaluated anew, on the same pre-trained encoders.
    monkeypatch.undo()
    monkeypatch.setenv("WORKBENCH_RUNS", str(tmp_path))
    monkeypatch.setattr(diff_byola.Trainer, "fit", fail)
    other = diff_byola.run(params.replace(retrieval_epochs=5, general_tasks=("pitch",)), progress=False)
    assert other.bgknown == result.bgknown and other.run_dir != result.run_dir


def test_claims_compare_every_positive_lambda_with_zero():
    row = lambda value: {column: (value, 0.01) for column in diff_byola.BGKNOWN_COLUMNS}  # noqa: E731
    recall = lambda value: {k: (value, 0.0) for k in (1, 5, 10)}  # noqa: E731
    bgknown = {"λ=0": row(0.5), "λ=0.2": row(0.6), "λ=0.8": row(0.4)}
    retrieval = {"λ=0": recall(0.3), "λ=0.2": recall(0.2), "λ=0.8": recall(0.5)}
    claims = diff_byola.difference_claims(bgknown, retrieval, (0.0, 0.2, 0.8), n_pretrain_seeds=3)
    assert [(claim.name, claim.holds) for claim in claims] == [
        ("BgKnown y_diff accuracy, λ=0.2 vs λ=0", True), ("text-modified retrieval recall, λ=0.2 vs λ=0", False),
        ("BgKnown y_diff accuracy, λ=0.8 vs λ=0", False), ("text-modified retrieval recall, λ=0.8 vs λ=0", True),
    ]  # fmt: skip
    assert claims[0].measured == "0.600 vs 0.500 (3 pre-training seeds)"
    assert diff_byola.difference_claims({"λ=0.5": row(0.5)}, {"λ=0.5": recall(0.5)}, (0.5,)) == []


def test_params_reject_impossible_settings():
    with pytest.raises(ValueError, match="must lie in \\[0, 1\\], got 1.5"):
        diff_byola.Params(difference_weights=(0.0, 1.5))
    with pytest.raises(UnknownNameError, match="unknown text encoder 'bert'; valid: distilbert, small"):
        diff_byola.Params(text_encoder="bert")
    with pytest.raises(UnknownNameError, match="unknown synthetic task 'scene'"):
        diff_byola.Params(general_tasks=("scene",))
    with pytest.raises(UnknownNameError, match="unknown difference-branch mixing 'linear'"):
        diff_byola.Params(mixing="linear")


def test_presets_are_valid_parameters():
    folder = notebooks_dir() / "params" / Path(diff_byola.NOTEBOOK).stem
    presets = sorted(folder.glob("*.yaml"))
    assert {path.stem for path in presets} >= {"lambda-sweep", "paper-scale"}
    for path in presets:
        params = diff_byola.Params.from_dict(yaml.safe_load(path.read_text()))
        assert 0.0 in params.difference_weights, path.name
    sweep = diff_byola.Params.from_dict(yaml.safe_load((folder / "lambda-sweep.yaml").read_text()))
    assert sweep.difference_weights == (0.0, 0.1, 0.2, 0.5, 0.8)
