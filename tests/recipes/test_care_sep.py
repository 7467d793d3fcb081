"""The care_sep recipe: pairs and triplets, ablation rows, a tiny end-to-end run that is reused, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import yaml

from workbench.errors import DatasetNotFoundError, UnknownNameError
from workbench.paths import notebooks_dir
from workbench.recipes import care_sep
from workbench.train.rundir import RunDir

# Seconds on a CPU: 48 training and 12 test pairs of 0.5 s, one epoch each.
QUICK = dict(n_mixtures=60, duration=0.5, n_anchors=3, epochs=1, pretrain_epochs=1, batch_size=8,
             n_figure_points=6, figure_classes=(0, 1), n_event_classes=4)  # fmt: skip


@pytest.fixture(autouse=True)
def one_thread():
    """As run() does (cpu_threads=1): direct trainings here would otherwise oversubscribe a busy machine."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def test_rows_cover_the_flag_combinations_that_make_a_query():
    flags = {(row.shared, row.init, row.grad) for row in care_sep.ROWS.values()}
    assert len(flags) == 7 and (False, False, False) not in flags
    assert care_sep.ROWS["B"] == care_sep.Row(shared=False, init=True, grad=False, name=care_sep.ROWS["B"].name)
    assert (care_sep.ROWS["G"].shared, care_sep.ROWS["G"].init, care_sep.ROWS["G"].grad) == (True, True, True)


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


def test_systems_follow_their_row_flags():
    params = care_sep.Params(**QUICK)
    dataset = care_sep.separation_data(params)
    classifier = care_sep.CaReSep(care_sep.classifier_config(care_sep.model_config(params, 4)))
    baseline = care_sep.build_system(params, "B", 0, dataset, classifier)
    assert baseline.query_network is not None and not any(p.requires_grad for p in baseline.query_network.parameters())
    assert torch.equal(baseline.query_network.tagging_head.conv.weight, classifier.tagging_head.conv.weight)
    ours = care_sep.build_system(params, "G", 0, dataset, classifier)
    assert ours.query_network is None and ours.query_model is ours.separator
    assert torch.equal(ours.separator.encoder[0].blocks[0].block.attn.qkv.weight,
                       classifier.encoder[0].blocks[0].block.attn.qkv.weight)  # fmt: skip
    scratch = care_sep.build_system(params, "E", 0, dataset, None)
    assert not torch.equal(scratch.separator.tagging_head.conv.weight, classifier.tagging_head.conv.weight)
    # Grad off: the query is computed without gradient; on: the separation loss reaches the query path.
    batch = next(iter(torch.utils.data.DataLoader(care_sep.Triplets(dataset.train, 2), batch_size=4)))
    for system, reaches in ((care_sep.build_system(params, "F", 0, dataset, classifier), False), (ours, True)):
        system.zero_grad()
        loss, metrics = system(batch)
        loss.backward()
        query_path = system.separator.connector_norm.weight.grad  # used only by the pooled query
        assert (query_path is not None and query_path.abs().sum() > 0) == reaches
        assert ("tagging_bce" in metrics) == reaches


def test_run_trains_evaluates_and_reuses_finished_work(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_RUNS", str(tmp_path))
    params = care_sep.Params(**QUICK)
    result = care_sep.run(params, progress=False)
    assert list(result.table) == ["B", "G"]
    for values in result.table.values():
        assert set(values) == {"mixture_sdr", "clean_sdr", "silence_sdr", "sdri", "map"}
        assert all(np.isfinite(mean) for mean, _ in values.values())
    assert result.input_sdr == pytest.approx(0.0, abs=0.5) and result.query_blind == pytest.approx(3.0, abs=0.5)
    assert [claim.name.split(",")[0] for claim in result.claims][:1] == ["mixture-SDR"]
    assert len(result.claims) == 3 and "G CaRE-SEP" in result.summary()
    points, groups = result.tsne["G"]
    assert points.shape == (4 * 6, 2) and sorted(set(groups.tolist())) == [0, 1, 2, 3]
    assert set(result.kl["B"]) == {f"query: {a} | {b}" for a, b in [result.class_names[:2]]} | {
        f"separation: {result.class_names[0]} | {result.class_names[1]}",
        f"query | separation: {result.class_names[0]}", f"query | separation: {result.class_names[1]}",
    }
    estimate = result.separate("G", result.data.test.mixture(0), int(result.data.test.classes[0, 1]))
    assert estimate.shape == (8000,) and torch.isfinite(estimate).all()
    stored = RunDir(result.run_dir).read_metrics()
    assert stored["table"]["G"]["mixture_sdr"][0] == result.table["G"]["mixture_sdr"][0]

    def fail(*args, **kwargs):
        raise AssertionError("finished work was trained again")

    monkeypatch.setattr(care_sep.Trainer, "fit", fail)
    again = care_sep.run(params, progress=False)
    assert again.summary() == result.summary()
    assert np.array_equal(again.tsne["G"][0], result.tsne["G"][0])
    assert torch.equal(again.separate("G", result.data.test.mixture(0), 1), result.separate("G", result.data.test.mixture(0), 1))
    # Another evaluation setting is a new run, but the pretraining and the rows' trainings are re-used.
    other = care_sep.run(params.replace(n_figure_points=5), progress=False)
    assert other.run_dir != result.run_dir and other.table["B"]["mixture_sdr"] == result.table["B"]["mixture_sdr"]


def test_care_sep_separates_the_synthetic_pairs_over_seeds(tmp_path, monkeypatch):
    """The issue's effect: CaRE-SEP improves on the input mixture, and by more than ignoring the query
    would (half the mixture, +3 dB for equal-energy pairs), pooled over two seeds. About 10 s."""
    monkeypatch.setenv("WORKBENCH_RUNS", str(tmp_path))
    params = care_sep.Params(**{**QUICK, "n_mixtures": 160, "n_anchors": 4, "epochs": 3, "pretrain_epochs": 2,
                                "rows": ("G",), "seeds": (0, 1), "n_figure_points": 4})  # fmt: skip
    result = care_sep.run(params, progress=False)
    improvement, _ = result.table["G"]["sdri"]
    mixture_sdr, _ = result.table["G"]["mixture_sdr"]
    assert improvement > 1.0, result.summary()
    assert mixture_sdr > result.query_blind + 0.5, result.summary()
    assert [claim.holds for claim in result.claims] == [True, True], result.summary()


def test_every_ablation_row_trains_and_is_scored(tmp_path, monkeypatch):
    """Table 2: rows A-G (the Shared / Init / Grad flags) each train and get all three SDRs."""
    monkeypatch.setenv("WORKBENCH_RUNS", str(tmp_path))
    rows = tuple(care_sep.ROWS)
    result = care_sep.run(care_sep.Params(**{**QUICK, "rows": rows}), progress=False)
    assert tuple(result.table) == rows and set(result.systems) == set(rows)
    for row in rows:
        assert all(np.isfinite(result.table[row][metric][0]) for metric in care_sep.METRICS), row
    assert len(result.summary().splitlines()) == 2 + len(rows) + 1 + len(result.claims)


def test_an_interrupted_training_resumes_exactly(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_RUNS", str(tmp_path / "interrupted"))
    params = care_sep.Params(**{**QUICK, "epochs": 2, "rows": ("E",)})
    dataset = care_sep.separation_data(params)
    original = care_sep.Trainer._run_epoch

    def crash_in_second_epoch(self, epoch, *args):
        if epoch == 1:
            raise KeyboardInterrupt("stopped by the test")
        return original(self, epoch, *args)

    monkeypatch.setattr(care_sep.Trainer, "_run_epoch", crash_in_second_epoch)
    with pytest.raises(KeyboardInterrupt):
        care_sep.train_row(params, "E", 0, dataset, None, progress=False)
    monkeypatch.setattr(care_sep.Trainer, "_run_epoch", original)
    resumed = care_sep.train_row(params, "E", 0, dataset, None, progress=False)
    starts = [event for event in resumed.run_dir.read_log() if event["event"] == "fit_start"]
    assert starts[-1]["resumed_from"].endswith(".pt") and starts[-1]["epoch"] == 1
    monkeypatch.setenv("WORKBENCH_RUNS", str(tmp_path / "straight"))
    straight = care_sep.train_row(params, "E", 0, dataset, None, progress=False)
    assert resumed.history == straight.history
    for name, tensor in straight.system.state_dict().items():
        assert torch.equal(resumed.system.state_dict()[name], tensor), name


def test_bad_parameters_are_named(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_RUNS", str(tmp_path))
    with pytest.raises(UnknownNameError, match="unknown ablation row of recipe 'care_sep' 'H'; valid: A, B, C"):
        care_sep.Params(rows=("B", "H"))
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
