"""The difference-aware BYOL-A recipe: the learner's step, a tiny end-to-end run, re-use, presets, claims."""

import importlib
import re
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from workbench.audio.byola_augment import byola_augmentation
from workbench.errors import UnknownNameError
from workbench.evaluation.bgknown import BgKnownScores
from workbench.evaluation.retrieval import RetrievalResult
from workbench.models.audiontt import AudioNTT2020, AudioNTTConfig
from workbench.models.byola import BYOLConfig, BYOLNetworks
from workbench.paths import notebooks_dir
from workbench.recipes import diff_byola
from workbench.train.rundir import RunDir
from workbench.viz import difference as difference_viz

TINY = dict(
    channels=4, embedding_dim=32, projection_dim=16, hidden_dim=32, pretrain_tasks=("event", "pitch"),
    n_pretrain_clips=24, epochs=1, batch_size=16, memory_size=32, n_bgknown_clips=30, n_backgrounds=2,
    n_retrieval_scenes=20, retrieval_epochs=10, general_tasks=("event",), n_general_clips=30, n_probe_seeds=1, n_adapter_seeds=1,
    max_epochs=5, patience=2, bgknown_max_epochs=5, bgknown_patience=2, n_bgknown_probe_seeds=1,
    background_seconds=2.0, pretrain_seeds=(0,), lr_schedule="constant",
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
    with pytest.warns(UserWarning, match=r"BYOL loss of λ=0 seed 0 was not shown to flatten .* raise `epochs`"):
        result = diff_byola.run(params, progress=False)
    assert list(result.bgknown) == ["λ=0", "λ=0.5"]
    # A pre-training of a few epochs is never called converged, and the summary says so.
    assert set(result.convergence) == {"λ=0", "λ=0.5"} and not result.convergence["λ=0"]["0"]["flat"]
    assert result.still_falling() == ["λ=0 seed 0", "λ=0.5 seed 0"]
    assert "caution: λ=0 seed 0, λ=0.5 seed 0 had not converged" in result.summary()
    assert set(result.bgknown["λ=0"]) == {"diff-100", "diff-50", "diff-0", "mix"}
    assert set(result.retrieval["λ=0.5"]) == {1, 5, 10} and set(result.general["λ=0"]) == {"event"}
    assert [claim.name for claim in result.claims] == [
        "BgKnown y_diff accuracy, λ=0.5 vs λ=0", "text-modified retrieval recall, λ=0.5 vs λ=0"
    ]
    # one pre-training run per lambda: the 12 shared test items of folds 4 and 5 never stand in for runs
    assert result.claims[0].n == 1 and "12 test items" in result.claims[0].nested
    assert all(claim.verdict == "inconclusive" for claim in result.claims)
    items = [result.builder.item(index) for index in range(30)]
    assert not {i.background_group for i in items if i.pool == "train"} & {i.background_group for i in items if i.pool == "test"}
    assert result.bgknown_paired["λ=0.5"]["diff-100"]["n"] == 1 and set(result.bgknown_paired["λ=0.5"]) == set(
        diff_byola.BGKNOWN_COLUMNS)
    assert "recordings in both pools: none" in difference_viz.background_pools_markdown(result.builder)
    assert difference_viz.paired_markdown(result.bgknown_paired).startswith("| model - λ=0 | diff-100 |")
    assert result.difference_points["λ=0"].shape == (30, 2) and result.difference_labels.shape == (30,)
    assert set(result.histories["λ=0.5"]) == {"loss", "byol_loss", "difference_loss", "monitor_byol_loss"}
    assert "BgKnown accuracy" in result.summary() and RunDir(result.run_dir).finished
    pretrainings = sorted((tmp_path / diff_byola.PRETRAIN_NAME).iterdir())
    assert len(pretrainings) == 2 and all(RunDir(path).finished for path in pretrainings)

    def fail(*args, **kwargs):
        raise AssertionError("recomputed what a finished run directory holds")

    # The same parameters: everything is read back. (The package's ``run`` is the function; its module is
    # where ``run`` looks ``evaluate`` up.)
    monkeypatch.setattr(importlib.import_module("workbench.recipes.diff_byola.run"), "evaluate", fail)
    again = diff_byola.run(params, progress=False)
    assert again.summary() == result.summary()
    # Another evaluation setting: evaluated anew, on the same pre-trained encoders.
    monkeypatch.undo()
    monkeypatch.setenv("WORKBENCH_RUNS", str(tmp_path))
    monkeypatch.setattr(diff_byola.train.Trainer, "fit", fail)
    other = diff_byola.run(params.replace(retrieval_epochs=5, general_tasks=("pitch",)), progress=False)
    assert other.bgknown == result.bgknown and other.run_dir != result.run_dir


def _scores(correct_share: float, seed: int, items: int = 200, probe_seeds: int = 3) -> BgKnownScores:
    rng = np.random.default_rng(seed)
    correct = rng.random((probe_seeds, items)) < correct_share
    return BgKnownScores(np.asarray([f"item{i}" for i in range(items)]), correct, correct.mean(axis=1), (9,) * probe_seeds,
                         (4,) * probe_seeds)  # fmt: skip


def _retrieval(value: float, seed: int) -> RetrievalResult:
    per_seed = {k: tuple(value + 0.01 * np.random.default_rng([seed, k]).normal(size=3)) for k in (1, 5, 10)}
    return RetrievalResult(recall={k: (value, 0.0) for k in (1, 5, 10)}, per_seed=per_seed, audio_only={}, n_queries=9,
                           n_gallery=27)  # fmt: skip


def test_claims_compare_every_positive_lambda_with_zero_on_the_same_items():
    def model(share, recall, offset):
        return ({column: [_scores(share, 100 * offset + seed) for seed in range(3)] for column in diff_byola.BGKNOWN_COLUMNS},
                [_retrieval(recall, 100 * offset + seed) for seed in range(3)])  # fmt: skip

    models = {"λ=0": model(0.5, 0.3, 0), "λ=0.5": model(0.8, 0.2, 1), "λ=0.8": model(0.5, 0.3, 2)}
    claims = diff_byola.difference_claims(
        {label: value[0] for label, value in models.items()}, {label: value[1] for label, value in models.items()},
        (0.0, 0.5, 0.8),
    )  # fmt: skip
    assert [claim.name for claim in claims] == [
        "BgKnown y_diff accuracy, λ=0.5 vs λ=0", "text-modified retrieval recall, λ=0.5 vs λ=0",
        "BgKnown y_diff accuracy, λ=0.8 vs λ=0", "text-modified retrieval recall, λ=0.8 vs λ=0",
    ]  # fmt: skip
    # 0.8 vs 0.5 correct on 200 shared items: a clear gain; recall 0.2 vs 0.3: a clear loss.
    assert [claim.verdict for claim in claims[:2]] == ["holds", "contradicted"]
    assert claims[0].n == 3 and claims[0].unit == "pre-training runs"  # runs decide, not the 200 items
    assert claims[0].effect == pytest.approx(0.3, abs=0.05)
    assert claims[0].paper_effect == pytest.approx((54.6967 - 51.8067) / 100, abs=1e-4)  # Table 1 at λ=0.5
    assert "these 3 fixed encoder pairs on the shared test items" in claims[0].detail and "diff-0 " in claims[0].detail
    assert re.search(r"diff-100 [+-]\d\.\d{3} \[[+-]\d\.\d{3}, [+-]\d\.\d{3}\] MDE \d\.\d{3}", claims[0].detail)
    assert claims[1].n == 3 and "3 adapter seeds averaged" in claims[1].nested  # adapters are nested in a run
    assert claims[2].effect == pytest.approx(0.0, abs=0.05)  # same share correct: no effect to find
    assert claims[2].paper_effect == pytest.approx(0.04, abs=1e-3)
    shuffled = {**models["λ=0.8"][0], "diff-100": [BgKnownScores(s.ids[::-1], s.correct, s.accuracy, s.epochs, s.best_epochs)
                                                   for s in models["λ=0.8"][0]["diff-100"]]}  # fmt: skip
    with pytest.raises(ValueError, match="same test items"):
        diff_byola.difference_claims({"λ=0": models["λ=0"][0], "λ=0.8": shuffled},
                                     {"λ=0": models["λ=0"][1], "λ=0.8": models["λ=0.8"][1]}, (0.0, 0.8))  # fmt: skip
    assert diff_byola.difference_claims({"λ=0.5": models["λ=0.5"][0]}, {"λ=0.5": models["λ=0.5"][1]}, (0.5,)) == []


def test_params_reject_impossible_settings():
    with pytest.raises(ValueError, match="must lie in \\[0, 1\\], got 1.5"):
        diff_byola.Params(difference_weights=(0.0, 1.5))
    with pytest.raises(UnknownNameError, match="unknown text encoder 'bert'; valid: distilbert, frozen, small"):
        diff_byola.Params(text_encoder="bert")
    with pytest.raises(UnknownNameError, match="unknown synthetic task 'scene'"):
        diff_byola.Params(general_tasks=("scene",))
    with pytest.raises(UnknownNameError, match="unknown difference-branch mixing 'linear'"):
        diff_byola.Params(mixing="linear")
    with pytest.raises(UnknownNameError, match="unknown BgKnown backgrounds 'pink'"):
        diff_byola.Params(bgknown_backgrounds="pink")
    with pytest.raises(UnknownNameError, match="unknown pre-training backgrounds 'all'"):
        diff_byola.Params(pretrain_backgrounds="all")
    with pytest.raises(UnknownNameError, match="unknown pre-training learning-rate schedule 'step'"):
        diff_byola.Params(lr_schedule="step")
    with pytest.raises(ValueError, match="'max_seeds' must be 0 .* or at least 3 .*, got 2"):
        diff_byola.Params(max_seeds=2)
    with pytest.raises(ValueError, match="difference_weights must hold 0 and a lambda > 0, got \\[0.5\\]"):
        diff_byola.Params(max_seeds=5, difference_weights=(0.5,))
    with pytest.raises(ValueError, match="'n_mels' must be a multiple of 8 .*, got 20"):
        diff_byola.Params(n_mels=20)


def test_seeds_are_added_until_the_headline_claim_is_settled_and_a_larger_budget_continues(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_RUNS", str(tmp_path))
    trained: list[int] = []
    fit = diff_byola.train.Trainer.fit

    def counted(trainer, loader):
        trained.append(trainer.config.seed)
        return fit(trainer, loader)

    monkeypatch.setattr(diff_byola.train.Trainer, "fit", counted)
    params = diff_byola.Params.from_dict({**TINY, "max_seeds": 3})
    with pytest.warns(UserWarning, match="not shown to flatten"):
        first = diff_byola.run(params, progress=False)
    # The tiny test bed cannot settle λ=0.5 vs λ=0 in 3 seeds: it stops at the budget, one pre-training per
    # lambda and seed, and says so.
    assert first.seeding["seeds"] == [0, 1, 2] and first.seeding["stopped"] == "budget"
    assert sorted(trained) == [0, 0, 1, 1, 2, 2]
    headline, retrieval = first.claims
    assert headline.name == "BgKnown y_diff accuracy, λ=0.5 vs λ=0" and headline.n == retrieval.n == 3
    assert {headline.method, retrieval.method} == {"anytime-valid confidence sequence"}
    assert headline.unit == "pre-training runs" and headline.verdict == "inconclusive"
    for claim in first.claims:
        assert re.search(r"seeds 0, 1, 2 of a budget of 3, added one at a time until BgKnown y_diff accuracy, "
                         r"λ=0.5 vs λ=0 was settled \(budget\); a fixed design would need (\d+|n/a) runs", claim.detail)
    assert first.summary().startswith("recipe: diff_byola; pre-training seeds [0, 1, 2]: added one at a time "
                                      "(max_seeds 3) until BgKnown y_diff accuracy, λ=0.5 vs λ=0 was settled by an "
                                      "anytime-valid confidence sequence; stopped: budget; a fixed design would need")
    assert set(first.bgknown_paired["λ=0.5"]["diff-100"]) >= {"effect", "ci_low"}
    # A larger budget: the finished pre-trainings are read back, and only the new seed is trained.
    trained.clear()
    with pytest.warns(UserWarning, match="not shown to flatten"):
        second = diff_byola.run(params.replace(max_seeds=4), progress=False)
    assert trained == [3, 3] and second.seeding["seeds"] == [0, 1, 2, 3] and second.claims[0].n == 4
    # The same scores read back, the same sequence: the first call's looks open the second's.
    assert second.seeding["history"][:3] == first.seeding["history"]
    assert len(list((tmp_path / diff_byola.PRETRAIN_NAME).iterdir())) == 8


def test_a_cosine_schedule_anneals_the_pretraining_and_is_part_of_its_identity(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_RUNS", str(tmp_path))
    constant = diff_byola.Params.from_dict({**TINY, "epochs": 3})
    cosine = constant.replace(lr_schedule="cosine")
    assert "lr_schedule" not in diff_byola.pretraining_params(constant, 0.5, 0)  # earlier run ids stay valid
    assert diff_byola.pretraining_params(cosine, 0.5, 0)["lr_schedule"] == "cosine"
    pretrained = diff_byola.pretrain(cosine, 0.5, 0, progress=False)
    rates = [row["lr"] for row in pretrained.run_dir.read_log() if row["event"] == "epoch"]
    assert len(rates) == 3 and rates[0] > rates[1] > rates[2]  # annealed towards 0, not the constant 1e-3


def test_presets_are_valid_parameters():
    folder = notebooks_dir() / "params" / Path(diff_byola.NOTEBOOK).stem
    presets = sorted(folder.glob("*.yaml"))
    assert {path.stem for path in presets} >= {"lambda-sweep", "paper-scale"}
    for path in presets:
        params = diff_byola.Params.from_dict(yaml.safe_load(path.read_text()))
        assert 0.0 in params.difference_weights, path.name
    sweep = diff_byola.Params.from_dict(yaml.safe_load((folder / "lambda-sweep.yaml").read_text()))
    assert sweep.difference_weights == (0.0, 0.1, 0.2, 0.5, 0.8)


def test_pretraining_backgrounds_are_rendered_once_and_unchanged(monkeypatch):
    """Issue 26: every background feeds each task's mixtures and the clip list, but is rendered once, and
    the mixtures are the same as when each mixture set rendered its own backgrounds."""
    from workbench.data.synthetic.backgrounds import LongBackgroundDataset

    params = diff_byola.Params.from_dict({**TINY, "n_pretrain_clips": 3, "pretrain_backgrounds": "synthetic",
                                          "n_pretrain_backgrounds": 2})  # fmt: skip
    renders: list[int] = []
    render = LongBackgroundDataset.__getitem__
    monkeypatch.setattr(LongBackgroundDataset, "__getitem__", lambda self, index: renders.append(index) or render(self, index))
    sets = diff_byola.pretraining_dataset(params)
    waveforms = [dataset[index][0] for dataset in sets for index in range(len(dataset))]
    assert sorted(renders) == [0, 1]  # two task sets of mixtures plus the backgrounds as clips: each rendered once
    monkeypatch.setattr(LongBackgroundDataset, "__getitem__", render)

    def unshared() -> LongBackgroundDataset:  # the backgrounds as each mixture set rendered them before
        return LongBackgroundDataset(params.world_seed + diff_byola.PRETRAIN_BACKGROUND_SEED, "train", 2, params.background_seconds)

    tasks = [dataset for dataset in sets if isinstance(dataset, diff_byola.BackgroundMixtures)]
    separate = [diff_byola.BackgroundMixtures(mixtures.clips, [unshared()], seed=params.world_seed) for mixtures in tasks]
    fresh = unshared()
    expected = [dataset[index][0] for dataset in separate for index in range(len(dataset))]
    expected += [fresh[index][0] for index in range(len(fresh))]
    assert len(waveforms) == len(expected) == 2 * 3 + 2
    for got, want in zip(waveforms, expected):
        assert torch.equal(got, want)
    assert diff_byola.RenderedOnce(fresh).fingerprint() == fresh.fingerprint()  # wrapping changes no run id


def test_shared_placeholder_in_every_path_parameter(tmp_path, monkeypatch):
    """``{shared}`` in data_root, bgknown_root and background_root points at $WORKBENCH_SHARED (issue 25)."""
    from workbench import data

    monkeypatch.setenv("WORKBENCH_SHARED", str(tmp_path))
    asked: list[tuple[str, dict]] = []

    def get(name: str, **options) -> None:  # records where the recipe looks, and stops there
        asked.append((name, options))
        raise StopIteration

    monkeypatch.setattr(data, "get", get)
    for params in (diff_byola.Params(pretrain_dataset="esc50", data_root="{shared}/data"),
                   diff_byola.Params(pretrain_dataset="folder", data_root="{shared}/mine")):  # fmt: skip
        with pytest.raises(StopIteration):
            diff_byola.pretraining_dataset(params)
    with pytest.raises(StopIteration):
        diff_byola.bgknown_builder(diff_byola.Params(bgknown_dataset="esc50", bgknown_root="{shared}/data"))
    assert asked == [("esc50", {"root": f"{tmp_path}/data"}), ("folder", {"path": f"{tmp_path}/mine"}),
                     ("esc50", {"root": f"{tmp_path}/data"})]  # fmt: skip


def test_the_monitor_loss_is_recorded_and_leaves_the_training_unchanged(tmp_path, monkeypatch):
    """The convergence check reads the BYOL loss of fixed views after each epoch; measuring it draws no
    random numbers and changes no buffer, so the trained encoder is the one trained without it."""
    from workbench.recipes.diff_byola import train

    params = diff_byola.Params.from_dict({**TINY, "epochs": 2})
    monkeypatch.setenv("WORKBENCH_RUNS", str(tmp_path / "with"))
    monitored = diff_byola.pretrain(params, 0.5, 0, progress=False)
    curve = monitored.history["monitor_byol_loss"]
    assert len(curve) == 2 and all(np.isfinite(curve)) and curve != monitored.history["byol_loss"]
    views = train.monitor_views([torch.randn(64, 120) for _ in range(5)], params, seed=3)
    again = train.monitor_views([torch.randn(64, 120) for _ in range(5)], params, seed=3)
    assert views[0].shape == (5, 64, params.unit_frames) and not torch.equal(views[0], views[1])
    assert not torch.equal(views[0], again[0])  # other clips, other views; the same clips give the same views:
    torch.manual_seed(0)
    clips = [torch.randn(64, 120) for _ in range(5)]
    assert all(torch.equal(a, b) for a, b in zip(train.monitor_views(clips, params, 3), train.monitor_views(clips, params, 3)))

    monkeypatch.setenv("WORKBENCH_RUNS", str(tmp_path / "without"))
    monkeypatch.setattr(train, "monitor_loss", lambda views: lambda model, epoch: {})
    unmonitored = diff_byola.pretrain(params, 0.5, 0, progress=False)
    for name, value in unmonitored.encoder.state_dict().items():
        assert torch.equal(value, monitored.encoder.state_dict()[name]), name
    assert unmonitored.history["byol_loss"] == monitored.history["byol_loss"]


def test_the_mixtures_of_every_clip_set_share_one_rendered_copy_of_the_backgrounds(monkeypatch):
    from workbench.recipes.diff_byola import data as byola_data

    params = diff_byola.Params(pretrain_dataset="synthetic", pretrain_backgrounds="synthetic", n_pretrain_clips=4,
                               n_pretrain_backgrounds=3, background_seconds=1.0)  # fmt: skip
    datasets = diff_byola.pretraining_dataset(params)
    mixtures = [dataset for dataset in datasets if isinstance(dataset, byola_data.BackgroundMixtures)]
    assert len(mixtures) >= 2  # one per synthetic clip set
    reads = []
    background = datasets[-1]
    original = type(background).__getitem__
    monkeypatch.setattr(type(background), "__getitem__", lambda self, index: reads.append(index) or original(self, index))
    for mixture in mixtures:
        waveform, _, meta = mixture[0]
        assert waveform.shape[0] == 1 and 0.0 <= meta["snr_db"] <= 6.0
    assert sorted(reads) == [0, 1, 2]  # each background rendered once for all the mixtures
