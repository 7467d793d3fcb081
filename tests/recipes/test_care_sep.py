"""The care_sep recipe: pairs and triplets, ablation rows, a tiny end-to-end run that is reused, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import yaml

from workbench.errors import DatasetNotFoundError, UnknownNameError
from workbench.models.care_sep import CaReSep
from workbench.models.stsed_sep import ResUNetSeparator, StSedQueryNet
from workbench.paths import notebooks_dir
from workbench.recipes import care_sep
from workbench.train.rundir import RunDir

# Seconds on a CPU: 48 training and 12 test pairs of 0.5 s, one epoch each; a 6-class Init source of 48 clips.
QUICK = dict(n_mixtures=60, duration=0.5, n_anchors=3, epochs=1, pretrain_epochs=1, batch_size=8,
             n_figure_points=6, figure_classes=(0, 1), n_event_classes=4, init_classes=6, init_clips=48)  # fmt: skip
PAPER_TABLE_2 = {  # ID: (Model, Grad, Init, Shared encoder), Table 2 of the paper
    "A": ("2048-d ST-SED-SEP", False, True, False), "B": ("w/ Grad", True, True, False),
    "C": ("768-d CaRE-SEP", True, True, True), "D": ("w/o Grad", False, True, True),
    "E": ("w/o Init", True, False, True), "F": ("w/o Grad&Init", False, False, True),
    "G": ("w/o Grad&Shared", False, True, False),
}  # fmt: skip


@pytest.fixture(autouse=True)
def one_thread(tmp_path, monkeypatch):
    """As run() does (cpu_threads=1): direct trainings here would otherwise oversubscribe a busy machine.
    Every test gets its own Init cache."""
    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path / "cache"))
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def test_rows_are_the_papers_tables():
    for row, (name, grad, init, shared) in PAPER_TABLE_2.items():
        flags = care_sep.ROWS[row]
        assert (flags.name, flags.grad, flags.init, flags.shared) == (name, grad, init, shared), row
        assert not flags.tagging, row  # only CaRE-CLS+SEP and CaRE-CLS train the tagging head
    assert [care_sep.ROWS[row].separator for row in "ABG"] == ["resunet", "resunet", "swin-unet"]
    assert care_sep.ROWS["CLS+SEP"].tagging and care_sep.ROWS["CLS"].separator == "none"
    assert care_sep.row_label("C") == "C 768-d CaRE-SEP" and care_sep.ROWS["A"].flags() == "Grad ✗ Init ✓ Shared ✗"
    assert (care_sep.BASELINE, care_sep.CARE_SEP) == ("A", "C")


def test_synthetic_pairs_and_triplets():
    params = care_sep.Params(**QUICK)
    dataset = care_sep.separation_data(params)
    train, test = dataset.train, dataset.test
    assert len(train) + len(test) == 60 and len(test) == 12
    assert train.sources.shape == (48, 2, 8000)
    assert (train.classes[:, 0] != train.classes[:, 1]).all()
    energy = train.sources.pow(2).mean(dim=-1)
    assert torch.allclose(energy[:, 0], energy[:, 1], rtol=1e-3)  # energy-normalised pairs
    assert set(train.anchors) == set(range(4)) and train.anchors[0].shape == (3, 8000)
    assert not torch.equal(train.anchors[2], test.anchors[2])  # test queries come from unseen anchors
    torch.manual_seed(0)
    mixture, target, clips, label = care_sep.Triplets(train, query_clips=2)[5]
    assert torch.equal(mixture, train.sources[5].sum(dim=0))
    j = int(np.flatnonzero(train.classes[5] == label)[0])
    assert torch.equal(target, train.sources[5, j]) and clips.shape == (2, 8000)
    assert any(torch.equal(clips[0], anchor) for anchor in train.anchors[label])


def _quick_init(params):
    return care_sep.init_classifiers(params.replace(rows=tuple(care_sep.ROWS)), progress=False)


def test_init_classifiers_come_from_the_cache_and_are_pretrained(tmp_path, monkeypatch):
    params = care_sep.Params(**QUICK)
    init = _quick_init(params)
    assert set(init) == {"care", "stsed"}
    for kind in init:
        path = care_sep.init_cache_path(params, kind)
        assert path.is_file() and str(path).startswith(str(tmp_path / "cache" / "care_sep-init"))
        assert "train_accuracy" in json.loads(path.with_suffix(".json").read_text())
    # A second call reads the cache: nothing is trained.
    monkeypatch.setattr(care_sep.Trainer, "fit", lambda *args, **kwargs: pytest.fail("Init was trained again"))
    again = _quick_init(params)
    for kind in init:
        assert all(torch.equal(again[kind][name], tensor) for name, tensor in init[kind].items())
    # Another source is another cache entry.
    assert care_sep.init_cache_path(params.replace(init_clips=49), "care") != care_sep.init_cache_path(params, "care")
    dataset = care_sep.separation_data(params)
    fresh = care_sep.build_system(params, "E", 0, dataset, {})  # w/o Init
    for row, model in (("C", lambda s: s.separator), ("A", lambda s: s.query_network)):
        system = care_sep.build_system(params, row, 0, dataset, init)
        kind = "care" if row == "C" else "stsed"
        state = model(system).state_dict()
        name = next(key for key in init[kind] if key.endswith("attn.qkv.weight"))
        assert torch.equal(state[name], init[kind][name]), row  # the Init weights, from the cache
        # The head keeps the Init vocabulary's first classes (the pairs' classes are the world's first ones).
        head = "tagging_head.conv.weight" if row == "C" else "tagging_head.weight"
        assert torch.equal(state[head], init[kind][head][: dataset.n_classes])
    name = next(key for key in init["care"] if key.endswith("attn.qkv.weight"))
    assert not torch.equal(fresh.separator.state_dict()[name], init["care"][name])  # differs from a fresh one


def test_baseline_is_a_separate_network_of_another_architecture():
    params = care_sep.Params(**QUICK)
    dataset = care_sep.separation_data(params)
    init = _quick_init(params)
    baseline = care_sep.build_system(params, "A", 0, dataset, init)
    assert isinstance(baseline.query_network, StSedQueryNet) and isinstance(baseline.separator, ResUNetSeparator)
    assert not isinstance(baseline.query_network, CaReSep)
    assert not any(p.requires_grad for p in baseline.query_network.parameters())  # frozen in row A
    assert isinstance(care_sep.build_system(params, "G", 0, dataset, init).separator, CaReSep)
    batch = next(iter(torch.utils.data.DataLoader(care_sep.Triplets(dataset.train, 2), batch_size=4)))
    for row, reaches in (("A", False), ("B", True)):
        system = care_sep.build_system(params, row, 0, dataset, init)
        system.zero_grad()
        loss, metrics = system(batch)
        loss.backward()
        grads = [p.grad for p in system.query_network.parameters() if p.grad is not None]
        assert (len(grads) > 0 and any(g.abs().sum() > 0 for g in grads)) == reaches, row
        assert system.separator.mask.weight.grad.abs().sum() > 0  # the separator trains in both
        assert "tagging_bce" not in metrics


def test_shared_rows_follow_their_flags_and_only_cls_sep_tags():
    params = care_sep.Params(**QUICK)
    dataset = care_sep.separation_data(params)
    init = _quick_init(params)
    batch = next(iter(torch.utils.data.DataLoader(care_sep.Triplets(dataset.train, 2), batch_size=4)))
    for row, reaches, tags in (("D", False, False), ("C", True, False), ("CLS+SEP", True, True)):
        system = care_sep.build_system(params, row, 0, dataset, init)
        assert system.query_network is None and system.query_model is system.separator
        system.zero_grad()
        loss, metrics = system(batch)
        loss.backward()
        query_path = system.separator.connector_norm.weight.grad  # used only by the pooled query
        assert (query_path is not None and query_path.abs().sum() > 0) == reaches, row
        assert ("tagging_bce" in metrics) == tags, row  # row C (CaRE-SEP) trains for separation only
    classifier = care_sep.build_system(params, "CLS", 0, dataset, init)
    assert classifier.separator is None and not classifier.query_network.config.separator
    loss, metrics = classifier(batch)
    assert set(metrics) == {"tagging_bce"} and loss.requires_grad


def test_run_trains_evaluates_and_reuses_finished_work(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_RUNS", str(tmp_path))
    params = care_sep.Params(**QUICK, rows=("A", "C", "CLS"), seeds=(0, 1))
    result = care_sep.run(params, progress=False)
    assert list(result.table) == ["A", "C", "CLS"]
    for row in ("A", "C"):
        assert set(result.table[row]) == {"mixture_sdr", "clean_sdr", "silence_sdr", "sdri", "map"}
        assert all(np.isfinite(mean) for mean, _ in result.table[row].values())
        assert result.items[row].shape == (2, 24)  # (seeds, test examples): the claims' paired data
    assert np.isnan(result.table["CLS"]["mixture_sdr"][0]) and 0 <= result.table["CLS"]["map"][0] <= 1
    assert result.input_sdr == pytest.approx(0.0, abs=0.5) and result.query_blind == pytest.approx(3.0, abs=0.5)
    names = [claim.name.split(":")[0] for claim in result.claims]
    assert names == ["C vs A", "C uses the query"]
    first = result.claims[0]
    assert first.n == 2 and first.unit == "training runs"  # the seeds, not the 24 test examples
    assert "24 test examples" in first.nested and first.paper_effect == pytest.approx(2.59) and "Table 2" in first.paper
    expected = float((result.items["C"] - result.items["A"]).mean())
    assert first.effect == pytest.approx(expected) and first.ci_low <= first.effect <= first.ci_high
    summary = result.summary()
    assert "A 2048-d ST-SED-SEP (Grad ✗ Init ✓ Shared ✗)" in summary and "CLS 768-d CaRE-CLS" in summary
    assert [record["row"] for record in result.mapping()] == ["A", "C", "CLS"]
    assert set(result.panels["A"]) == {"separation", "query"} and set(result.panels["CLS"]) == {"query"}
    points, classes = result.panels["C"]["query"]
    assert points.shape == (12, 2) and sorted(set(classes.tolist())) == [0, 1]
    a, b = result.class_names[:2]
    assert set(result.kl["C"]) == {f"separation: {a} | {b}", f"query: {a} | {b}", f"query | separation: {a}",
                                   f"query | separation: {b}"}  # fmt: skip
    estimate = result.separate("A", result.data.test.mixture(0), int(result.data.test.classes[0, 1]))
    assert estimate.shape == (8000,) and torch.isfinite(estimate).all()
    with pytest.raises(UnknownNameError, match="separating row"):
        result.separate("CLS", result.data.test.mixture(0), 0)
    stored = RunDir(result.run_dir).read_metrics()
    assert stored["table"]["C"]["mixture_sdr"][0] == result.table["C"]["mixture_sdr"][0]

    monkeypatch.setattr(care_sep.Trainer, "fit", lambda *args, **kwargs: pytest.fail("finished work was trained again"))
    again = care_sep.run(params, progress=False)
    assert again.summary() == result.summary()
    assert np.array_equal(again.panels["C"]["query"][0], points)
    assert np.array_equal(again.items["A"], result.items["A"])
    mixture = result.data.test.mixture(0)
    assert torch.equal(again.separate("C", mixture, 1), result.separate("C", mixture, 1))
    # Another evaluation setting is a new run, but the rows' trainings are re-used.
    other = care_sep.run(params.replace(n_figure_points=5), progress=False)
    assert other.run_dir != result.run_dir and other.table["A"]["mixture_sdr"] == result.table["A"]["mixture_sdr"]


def test_care_sep_uses_the_query_over_paired_seeds(tmp_path, monkeypatch):
    """CaRE-SEP beats ignoring the query (half the mixture, +3 dB for equal-energy pairs): the claim's
    paired interval over two seeds and the same test examples lies above zero."""
    monkeypatch.setenv("WORKBENCH_RUNS", str(tmp_path))
    params = care_sep.Params(**{**QUICK, "n_mixtures": 160, "n_anchors": 4, "epochs": 4, "rows": ("C",),
                                "seeds": (0, 1), "n_figure_points": 4, "init_classes": 4, "init_clips": 160,
                                "pretrain_epochs": 4})  # fmt: skip
    result = care_sep.run(params, progress=False)
    claim = result.claims[-1]
    assert claim.name.startswith("C uses the query") and claim.n == 2  # training seeds, not test items
    assert claim.verdict == "holds" and claim.ci_low > 0, result.summary()


def test_separation_claims_count_training_runs_not_test_items():
    """One training seed per row, or two seeds that disagree, never decide a claim, however many test
    mixtures each was scored on; consistent seeds do."""
    generator = np.random.default_rng(0)
    noise = generator.normal(0.0, 2.0, size=(1, 400))
    one_seed = care_sep.separation_claims({"C": 10.4 + noise, "A": 10.0 + noise * 0.9}, np.full(400, 3.0))
    assert one_seed[0].name.startswith("C vs A") and one_seed[0].n == 1
    assert [claim.verdict for claim in one_seed] == ["inconclusive", "inconclusive"]
    noise = generator.normal(0.0, 2.0, size=(2, 400))
    disagree = care_sep.separation_claims(
        {"C": np.array([[10.5], [9.9]]) + noise, "A": np.array([[10.0], [10.0]]) + noise}, np.full(400, 3.0)
    )
    assert disagree[0].verdict == "inconclusive" and disagree[0].n == 2
    agree = care_sep.separation_claims(
        {"C": np.array([[10.5], [10.52], [10.49]]) + noise[:1], "A": np.array([[10.0], [10.0], [10.0]]) + noise[:1]},
        np.full(400, 3.0),
    )
    assert agree[0].verdict == "holds" and agree[0].n == 3


def test_an_interrupted_training_resumes_exactly(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_RUNS", str(tmp_path / "interrupted"))
    params = care_sep.Params(**{**QUICK, "epochs": 2, "rows": ("E",), "schedule": "paper"})
    dataset = care_sep.separation_data(params)
    original = care_sep.Trainer._run_epoch

    def crash_in_second_epoch(self, epoch, *args):
        if epoch == 1:
            raise KeyboardInterrupt("stopped by the test")
        return original(self, epoch, *args)

    monkeypatch.setattr(care_sep.Trainer, "_run_epoch", crash_in_second_epoch)
    with pytest.raises(KeyboardInterrupt):
        care_sep.train_row(params, "E", 0, dataset, {}, progress=False)
    monkeypatch.setattr(care_sep.Trainer, "_run_epoch", original)
    resumed = care_sep.train_row(params, "E", 0, dataset, {}, progress=False)
    starts = [event for event in resumed.run_dir.read_log() if event["event"] == "fit_start"]
    assert starts[-1]["resumed_from"].endswith(".pt") and starts[-1]["epoch"] == 1
    assert resumed.history["lr"] == pytest.approx([0.05 * params.learning_rate, 0.1 * params.learning_rate])
    monkeypatch.setenv("WORKBENCH_RUNS", str(tmp_path / "straight"))
    straight = care_sep.train_row(params, "E", 0, dataset, {}, progress=False)
    assert resumed.history == straight.history
    for name, tensor in straight.system.state_dict().items():
        assert torch.equal(resumed.system.state_dict()[name], tensor), name


def test_paper_schedule_and_optimiser():
    config = care_sep.train_config(30, care_sep.Params(schedule="paper"), seed=0)
    assert (config.optimizer, config.betas, config.weight_decay) == ("adamw", (0.9, 0.999), 5e-4)
    assert (config.schedule, config.warmup_factors, config.step_epochs, config.step_gamma, config.min_factor) == (
        "warmup_step", (0.05, 0.1, 0.2), 10, 0.5, 0.05)
    assert care_sep.train_config(3, care_sep.Params(), seed=0).schedule == "constant"
    for preset in ("paper-esc50", "paper-large-synthetic"):
        assert care_sep.Params.from_preset(preset).schedule == "paper", preset


def test_bad_parameters_are_named(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_RUNS", str(tmp_path))
    with pytest.raises(UnknownNameError, match="parameter 'rows': unknown ablation row of recipe 'care_sep' 'H'; valid: A, B, C"):
        care_sep.Params(rows=("B", "H"))
    with pytest.raises(ValueError, match="at least one separating row besides CLS"):
        care_sep.Params(rows=("CLS",))
    with pytest.raises(UnknownNameError, match="unknown schedule of recipe 'care_sep' 'cosine'"):
        care_sep.Params(schedule="cosine")
    with pytest.raises(UnknownNameError, match="unknown Init classifier kind 'beats'"):
        care_sep.init_settings(care_sep.Params(), "beats")
    with pytest.raises(UnknownNameError, match="unknown model_size"):
        care_sep.Params(model_size="huge")
    with pytest.raises(ValueError, match="parameter 'duration' must be at least 0.032 s"):
        care_sep.Params(duration=0.01)
    with pytest.raises(UnknownNameError, match="unknown parameter of recipe 'care_sep' 'epoch'"):
        care_sep.Params.from_dict({"epoch": 3})
    with pytest.raises(UnknownNameError, match="unknown dataset 'nowhere'"):
        care_sep.run(care_sep.Params(dataset="nowhere"))
    with pytest.raises(DatasetNotFoundError, match="esc10"):
        care_sep.run(care_sep.Params(dataset="esc10", data_root=str(tmp_path)))
    with pytest.raises(ValueError, match="figure_classes': class 7 is not among the 4 classes"):
        care_sep.run(care_sep.Params(**{**QUICK, "figure_classes": (0, 7)}))


def test_presets_are_valid_params():
    presets = sorted((notebooks_dir() / "params" / "04_care_sep").glob("*.yaml"))
    assert len(presets) >= 3
    for path in presets:
        params = care_sep.Params.from_dict(yaml.safe_load(path.read_text()))
        assert params.rows, path.name


@pytest.mark.shared
def test_esc10_mixtures_from_the_shared_clips(shared_dir, monkeypatch):
    """ESC-50-style mixtures of the 83 real ESC-10 clips: each clip plus a clip of another class."""
    params = care_sep.Params(dataset="esc10", data_root=str(shared_dir / "data"), duration=1.0, pairs_per_clip=2)
    dataset = care_sep.separation_data(params)
    assert dataset.n_classes == 10 and "dog" in dataset.class_names
    train, test = dataset.train, dataset.test
    assert len(train) >= 2 * 55 and len(test) >= 15
    assert (train.classes[:, 0] != train.classes[:, 1]).all() and (test.classes[:, 0] != test.classes[:, 1]).all()
    levels = train.sources.pow(2).mean(dim=-1).sqrt()
    assert torch.allclose(levels[:, 0], levels[:, 1], rtol=1e-3)  # equal energy unless peak-limited together
    # exclude[i, j] is the source itself among its class's anchors (so a training query never uses it).
    def unit(clip):
        return clip / clip.pow(2).mean().sqrt()

    for index in range(len(train)):
        for j in range(2):
            anchor = train.anchors[int(train.classes[index, j])][train.exclude[index, j]]
            assert torch.allclose(unit(anchor), unit(train.sources[index, j]), atol=1e-4)


@pytest.mark.parametrize("row", ["A", "G"])
def test_a_frozen_query_network_never_changes_while_its_row_trains(tmp_path, monkeypatch, row):
    """Rows A and G freeze ST-SED's query network: its weights AND its BatchNorm buffers stay as the
    Init left them through a training epoch, and its queries are those of eval mode."""
    monkeypatch.setenv("WORKBENCH_RUNS", str(tmp_path))
    params = care_sep.Params(**{**QUICK, "epochs": 1, "rows": (row,)})
    dataset = care_sep.separation_data(params)
    init = _quick_init(params)
    before = {name: tensor.clone() for name, tensor in care_sep.build_system(params, row, 0, dataset, init).query_network.state_dict().items()}
    trained = care_sep.train_row(params, row, 0, dataset, init, progress=False)
    after = trained.system.query_network.state_dict()
    assert any("running_mean" in name for name in after)  # the network has BatchNorm buffers to protect
    for name, tensor in before.items():
        assert torch.equal(after[name], tensor), name
    trained.system.train()
    assert not trained.system.query_network.training and trained.system.separator.training
