"""The care_sep recipe: pairs and triplets, ablation rows, a tiny end-to-end run that is reused, errors."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import yaml

from workbench.errors import DatasetNotFoundError, UnknownNameError
from workbench.evaluation.replication import compare_runs
from workbench.evaluation.stats import mean_confidence_interval
from workbench.models.care_sep import CaReSep, classifier_config
from workbench.models.stsed_sep import ResUNetSeparator, StSedQueryNet
from workbench.paths import notebooks_dir
from workbench.recipes import care_sep
from workbench.recipes.care_sep.evaluate import _pool
from workbench.train.loop.optim import warmup_step_factor
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
    assert names == ["A uses the query", "C uses the query", "C vs A"]  # whether each row uses its query comes first
    summary_claims = [line for line in result.summary().splitlines() if line.startswith("claim ")]
    assert summary_claims[0].startswith("claim A uses the query: A 128-d ST-SED-SEP beats the query-blind half mixture")
    floor = result.claims[1]
    assert floor.n == 2 and floor.effect == pytest.approx(float(result.items["C"].mean() - result.query_blind))
    first = result.claims[2]
    assert first.n == 2 and first.unit == "training runs"  # the seeds, not the 12 test mixtures
    assert "12 test mixtures" in first.nested and first.paper_effect == pytest.approx(2.59) and "Table 2" in first.paper
    expected = float((result.items["C"] - result.items["A"]).mean())
    assert first.effect == pytest.approx(expected) and first.ci_low <= first.effect <= first.ci_high
    summary = result.summary()
    assert "A 128-d ST-SED-SEP (Grad ✗ Init ✓ Shared ✗)" in summary and "CLS 128-d CaRE-CLS" in summary  # measured widths
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
                                "pretrain_epochs": 4, "schedule": "constant", "learning_rate": 2e-3})  # fmt: skip
    result = care_sep.run(params, progress=False)
    claim = result.claims[0]
    assert claim.name.startswith("C uses the query") and claim.n == 2  # training seeds, not test items
    assert claim.verdict == "holds" and claim.ci_low > 0, result.summary()


def test_separation_claims_count_training_runs_not_test_items():
    """One training seed per row, or two seeds that disagree, never decide a claim, however many test
    mixtures each was scored on; consistent seeds do."""
    generator = np.random.default_rng(0)

    def compared(claims):
        return next(claim for claim in claims if claim.name.startswith("C vs A"))

    noise = generator.normal(0.0, 2.0, size=(1, 400))
    one_seed = care_sep.separation_claims({"C": 10.4 + noise, "A": 10.0 + noise * 0.9}, np.full(400, 3.0))
    assert [claim.name.split(":")[0] for claim in one_seed] == ["C uses the query", "A uses the query", "C vs A"]
    assert compared(one_seed).n == 1
    assert [claim.verdict for claim in one_seed] == ["inconclusive"] * 3
    noise = generator.normal(0.0, 2.0, size=(2, 400))
    disagree = care_sep.separation_claims(
        {"C": np.array([[10.5], [9.9]]) + noise, "A": np.array([[10.0], [10.0]]) + noise}, np.full(400, 3.0)
    )
    assert compared(disagree).verdict == "inconclusive" and compared(disagree).n == 2
    agree = care_sep.separation_claims(
        {"C": np.array([[10.5], [10.52], [10.49]]) + noise[:1], "A": np.array([[10.0], [10.0], [10.0]]) + noise[:1]},
        np.full(400, 3.0),
    )
    assert compared(agree).verdict == "holds" and compared(agree).n == 3


def test_intervals_resample_mixtures_not_examples():
    """The two test examples cut from one mixture are one unit: scores whose two examples swing in opposite
    directions around each mixture's value give exactly the intervals of the mixtures alone (counting the
    examples as units would let the swing widen the crossed interval's item term)."""
    generator = np.random.default_rng(1)
    mixtures = {"C": 6.0 + generator.normal(0, 2, (3, 30)), "A": 5.0 + generator.normal(0, 2, (3, 30))}
    swing = np.stack([generator.normal(0, 3, 30), np.zeros(30)], axis=1)
    swing[:, 1] = -swing[:, 0]
    examples = {row: np.repeat(values, 2, axis=1) + swing.reshape(-1) * (row == "C") for row, values in mixtures.items()}
    assert np.allclose(care_sep.per_mixture(examples["C"]), mixtures["C"])
    claim = next(claim for claim in care_sep.separation_claims(examples, np.full(60, 3.0)) if claim.name.startswith("C vs A"))
    crossed = compare_runs(mixtures["C"], mixtures["A"], over="runs and items")
    assert f"over seeds and test mixtures: {crossed.interval(2)}" in claim.detail
    by_examples = compare_runs(examples["C"], examples["A"], over="runs and items")
    assert by_examples.ci_high - by_examples.ci_low > crossed.ci_high - crossed.ci_low + 0.05
    assert "30 test mixtures" in claim.nested
    # The table's intervals too: one value per mixture and seed.
    scores = [SimpleNamespace(scores=SimpleNamespace(mixture_sdr=row, clean_sdr=row, silence_sdr=row, improvement=row),
                              tagging_map=0.5) for row in examples["C"]]  # fmt: skip
    table = _pool(scores)
    assert table["mixture_sdr"] == pytest.approx(mean_confidence_interval(mixtures["C"].reshape(-1)))
    with pytest.raises(ValueError, match="two examples per mixture"):
        care_sep.per_mixture(np.zeros(5))


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
    config = care_sep.train_config(30, care_sep.Params(schedule="paper", step_epochs=10), seed=0)
    assert (config.optimizer, config.betas, config.weight_decay) == ("adamw", (0.9, 0.999), 5e-4)
    assert (config.schedule, config.warmup_factors, config.step_epochs, config.step_gamma, config.min_factor) == (
        "warmup_step", (0.05, 0.1, 0.2), 10, 0.5, 0.05)
    assert care_sep.train_config(3, care_sep.Params(schedule="constant"), seed=0).schedule == "constant"
    default = care_sep.Params()
    scaled = care_sep.train_config(default.epochs, default, seed=0)  # the paper's shape, scaled to the CPU bed
    assert (scaled.schedule, scaled.warmup_factors, scaled.step_epochs) == ("warmup_step", (0.05, 0.1, 0.2),
                                                                            default.step_epochs)  # fmt: skip
    factors = [warmup_step_factor(scaled, epoch) for epoch in range(default.epochs)]
    assert factors[:3] == [0.05, 0.1, 0.2] and factors[-1] == 0.1  # warm-up, then halved within the run
    ablation = care_sep.Params.from_preset("ablation")
    assert ablation.schedule == "paper" and warmup_step_factor(care_sep.train_config(ablation.epochs, ablation, 0),
                                                               ablation.epochs - 1) < 0.2  # fmt: skip
    for preset in ("paper-esc50", "paper-large-synthetic"):
        paper = care_sep.Params.from_preset(preset)
        assert (paper.schedule, paper.step_epochs) == ("paper", 10), preset


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


def test_wo_grad_frozen_encoder_freezes_the_shared_encoder(tmp_path, monkeypatch):
    """``wo_grad="frozen-encoder"`` reads "Grad ... (not freezing)" literally for rows D and F: the shared
    encoder (everything the query is made with) gets no gradient from either pass and its BatchNorm
    buffers never move, while the decoder and the query conditioning train; ``"query-branch"`` only stops
    the query's gradient, so the encoder still trains through the separation."""
    monkeypatch.setenv("WORKBENCH_RUNS", str(tmp_path))
    params = care_sep.Params(**{**QUICK, "rows": ("D",), "wo_grad": "frozen-encoder"})
    dataset = care_sep.separation_data(params)
    init = _quick_init(params)
    batch = next(iter(torch.utils.data.DataLoader(care_sep.Triplets(dataset.train, 2), batch_size=4)))
    frozen = care_sep.build_system(params, "D", 0, dataset, init)
    classifier = CaReSep(classifier_config(frozen.separator.config))
    names = [name for name, _ in care_sep.shared_encoder_parameters(frozen.separator)]
    assert set(names) == {name for name, _ in classifier.named_parameters()}  # the classifier half, exactly
    for system, encoder_trains in ((frozen, False), (care_sep.build_system(params.replace(wo_grad="query-branch"),
                                                                           "D", 0, dataset, init), True)):  # fmt: skip
        system.train()
        system.zero_grad()
        system(batch)[0].backward()
        encoder = dict(care_sep.shared_encoder_parameters(system.separator))
        reached = [name for name, p in encoder.items() if p.grad is not None and p.grad.abs().sum() > 0]
        assert bool(reached) == encoder_trains, reached[:3]
        assert all(p.requires_grad for p in encoder.values()) == encoder_trains
        assert system.separator.mask_head.weight.grad.abs().sum() > 0  # the decoder trains in both readings
        conditions = [p.grad for name, p in system.separator.named_parameters() if ".condition." in name]
        assert conditions and all(grad is not None for grad in conditions)
        assert system.separator.band_norm.training == encoder_trains  # a frozen encoder's BatchNorm stays in eval
    # One epoch of row D: the frozen encoder's weights and buffers are the Init's.
    before = {name: tensor.clone() for name, tensor in frozen.separator.state_dict().items()}
    trained = care_sep.train_row(params, "D", 0, dataset, init, progress=False)
    after = trained.system.separator.state_dict()
    kept = [name for name in before if name.split(".")[0] in care_sep.SHARED_ENCODER and ".condition." not in name]
    assert any("running_mean" in name for name in kept)
    assert all(torch.equal(after[name], before[name]) for name in kept)
    assert not torch.equal(after["mask_head.weight"], before["mask_head.weight"])
    # The reading is part of the identity of rows D and F only; rows with grad or a separate network ignore it.
    identity = care_sep.training_params
    assert identity(params, "D", 0) != identity(params.replace(wo_grad="query-branch"), "D", 0)
    assert identity(params, "C", 0) == identity(params.replace(wo_grad="query-branch"), "C", 0)
    assert not care_sep.build_system(params, "E", 0, dataset, {}).frozen_encoder
    with pytest.raises(UnknownNameError, match="wo_grad"):
        care_sep.Params(wo_grad="frozen")


def test_self_query_training_asks_with_the_source_clip():
    """``train_query="self"`` (the cited zero-shot separation code): each training triplet's query is the
    target source's own clip; ``"class-mean"`` draws other clips of its class (never the source)."""
    params = care_sep.Params(**QUICK)
    train = care_sep.separation_data(params).train
    torch.manual_seed(0)
    mixture, target, clips, label = care_sep.Triplets(train, query_clips=2, self_query=True)[7]
    assert clips.shape == (1, 8000) and torch.equal(clips[0], target)
    assert any(torch.equal(target, train.sources[7, j]) for j in range(2))
    torch.manual_seed(0)
    _, target, clips, _ = care_sep.Triplets(train, query_clips=2)[7]
    assert clips.shape == (2, 8000) and not any(torch.equal(clip, target) for clip in clips)
    selfish = params.replace(train_query="self")
    assert care_sep.training_params(selfish, "C", 0)["train_query"] == "self"
    assert "query_clips" not in care_sep.training_params(selfish, "C", 0)  # one clip, whatever query_clips says
    assert care_sep.training_params(selfish, "C", 0) != care_sep.training_params(params, "C", 0)
    with pytest.raises(UnknownNameError, match="train_query"):
        care_sep.Params(train_query="own")


def test_validation_is_carved_from_the_training_pairs():
    params = care_sep.Params(**QUICK)
    full = care_sep.separation_data(params)
    carved = care_sep.validation_data(full, 0.25)
    assert len(carved.train) + len(carved.test) == len(full.train) and len(carved.test) == 12
    assert set(carved.train.ids).isdisjoint(carved.test.ids) and set(carved.test.ids) <= set(full.train.ids)
    assert carved.test.anchors is full.train.anchors  # scored with training queries: the test pairs stay unread
    with pytest.raises(ValueError, match="fraction"):
        care_sep.validation_data(full, 1.0)
