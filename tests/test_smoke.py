"""Smoke runs at full size (workbench.smoke, each recipe's smoke(), ``workbench reproduce --smoke``): the
measurements and projections, the stand-in datasets read through the real loaders, and (slow) every
paper preset's smoke."""

from __future__ import annotations

import csv
import math
import os

import pytest
import torch
from torch import nn

from workbench import data, recipes, reproduce
from workbench.cli import main
from workbench.errors import UnknownNameError
from workbench.recipes.base import preset_names
from workbench.smoke import SmokeReport, StageMeasure, measure_calls, measure_trainer, standin_root
from workbench.train.loop import Trainer, TrainConfig


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    # One cache for the module: the stand-ins are written once.
    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path_factory.getbasetemp() / "smoke-cache"))


def test_flops_of_a_linear_layer_and_the_projection():
    layer = nn.Linear(64, 32)
    inputs = torch.randn(8, 64)
    measured = measure_calls("linear", lambda: layer(inputs), steps=3, runs=4, steps_per_run=1000)
    assert measured.flops_per_step == 2 * 8 * 64 * 32  # one multiply and one add per weight and row
    assert measured.measured_steps == 2  # the first call (under the FLOP counter) is not timed
    assert measured.projected_hours == pytest.approx(4 * 1000 * measured.step_seconds / 3600)
    hours = measured.gpu_hours(tflops=100.0, utilisation=0.5)
    assert hours == pytest.approx(4 * 1000 * 2 * 8 * 64 * 32 / (100e12 * 0.5) / 3600)


def test_stage_table_totals():
    stages = [StageMeasure("a", 2, 100, 0.5, 1, 10.0, flops_per_step=1e12),
              StageMeasure("b", 1, 3600, 1.0, 1, 20.0)]  # fmt: skip
    report = SmokeReport("recipe", "preset", "cpu", stages, ["stand-in data"], live=False)
    assert report.projected_hours == pytest.approx(2 * 100 * 0.5 / 3600 + 1.0)
    assert report.gpu_hours == pytest.approx(stages[0].gpu_hours())  # only the counted stage
    text = report.markdown()
    assert "| a | 2 | 100 | 0.500 |" in text and "| b | 1 | 3,600 | 1.000 |" in text and "stand-in data" in text


class _Regression(nn.Module):
    def __init__(self):
        super().__init__()
        self.layer = nn.Linear(4, 1)

    def forward(self, batch):
        inputs, targets = batch
        return nn.functional.mse_loss(self.layer(inputs).squeeze(1), targets), {}


def _loader(batches: int):
    inputs, targets = torch.randn(batches * 4, 4), torch.randn(batches * 4)
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(inputs, targets), batch_size=4)


def test_the_trainer_stops_after_the_smoke_steps():
    model = _Regression()
    steps_seen = []

    def trainer(hooks):
        hook = type("Count", (), {"after_step": lambda self, model, step: steps_seen.append(step)})()
        return Trainer(model, lambda model, batch: model(batch), TrainConfig(epochs=50, lr=0.1), hooks=[hook, *hooks],
                       progress=False)  # fmt: skip

    measured = measure_trainer("fit", trainer, _loader(5), steps=3, runs=1, steps_per_run=250)
    assert steps_seen == [1, 2, 3] and measured.measured_steps == 2
    assert measured.flops_per_step == pytest.approx(2 * 4 * 4 * 1 * 3, rel=0.5)  # forward + backward of the layer


def test_a_fit_that_ends_before_the_steps_says_so():
    def trainer(hooks):
        return Trainer(_Regression(), lambda model, batch: model(batch), TrainConfig(epochs=1, lr=0.1), hooks=hooks,
                       progress=False)  # fmt: skip

    with pytest.raises(RuntimeError, match=r"'fit': the fit ended after 1 of 2 steps; the stand-in data has too few"):
        measure_trainer("fit", trainer, _loader(1), steps=2, runs=1, steps_per_run=1)


def test_the_esc50_stand_in_reads_through_the_real_loader():
    root = standin_root("esc50", clips_per_class=1)
    dataset = data.get("esc50", root=root)
    assert len(dataset) == 50 and dataset.n_classes == 50 and dataset.sample_rate == 44100
    waveform, target, _ = dataset[0]
    assert waveform.shape == (1, 5 * 44100) and float(waveform.abs().max()) > 0.1  # audible: care_sep drops silence
    with open(root / "ESC-50" / "meta" / "esc50.csv", newline="") as stream:
        header = next(csv.reader(stream))
    assert header == ["filename", "fold", "target", "category", "esc10", "src_file", "take"]
    assert sorted(set(dataset.folds)) == [1, 2, 3, 4, 5]
    assert len(data.get("esc10", root=root)) == 10
    assert standin_root("esc50", clips_per_class=1) == root  # written once


def test_the_esc10_stand_in_gives_diff_byolas_recorded_background_pools():
    # The pools select ESC-10 categories by name (rain, sea_waves, ...), split by source recording.
    from workbench.evaluation.bgknown import recorded_background_pools

    pools = recorded_background_pools(standin_root("esc10", clips_per_class=5))
    assert len(pools["train"]) > 0 and len(pools["test"]) > 0


def test_speech_commands_and_iemocap_stand_ins():
    speech = data.get("speech_commands", root=standin_root("speech_commands", clips_per_class=3))
    assert speech.n_classes == 35 and speech.sample_rate == 16000
    assert sorted({speech.split_of(index) for index in range(len(speech))}) == ["test", "train", "validation"]
    emotions = data.get("iemocap", root=standin_root("iemocap", clips_per_class=1))
    assert len(emotions) == 20 and emotions.n_classes == 4 and emotions.folds == (1, 2, 3, 4, 5)


def test_unknown_stand_in_and_recipe_without_smoke_are_named():
    with pytest.raises(UnknownNameError, match=r"unknown smoke stand-in dataset 'gtzan2'; valid: .*esc50"):
        standin_root("gtzan2")
    with pytest.raises(UnknownNameError, match=r"unknown recipe with a smoke run 'linear_eval'; valid: add_loss"):
        reproduce.smoke("linear_eval", None)


@pytest.mark.slow
def test_reproduce_smoke_prints_the_table(capsys):
    assert main(["reproduce", "add_loss", "--smoke", "--smoke-steps", "1", "-p", "epochs=2", "-p", "variants=ce,add"]) == 0
    out = capsys.readouterr().out
    assert "smoke add_loss on cpu" in out and "| train CE | 1 | " in out and "| claims |" in out
    assert "total projected:" in out


PAPER_PRESETS = [(recipe, preset) for recipe in recipes.names() if recipe != "linear_eval"
                 for preset in preset_names(recipe)
                 if preset.startswith(("paper-", "dcase2019-")) or preset == "paper-scale"]  # fmt: skip

HEAVY = {
    ("care_sep", "paper-esc50"), ("care_sep", "paper-large-synthetic"),
}
"""Presets whose one-step smoke takes many minutes and over 10 GB on 2 CPU cores (measured in the README's
table): run with WORKBENCH_SMOKE_HEAVY=1."""


@pytest.mark.slow
@pytest.mark.parametrize(("recipe", "preset"), PAPER_PRESETS, ids=[f"{r}-{p}" for r, p in PAPER_PRESETS])
def test_every_paper_preset_smoke_runs(recipe, preset):
    module = recipes.get(recipe)
    if not hasattr(module, "smoke"):
        pytest.skip(f"{recipe} has no smoke run yet")
    if not os.environ.get("WORKBENCH_SMOKE_PRESETS"):
        pytest.skip("one step of a paper preset at full size takes 100-220 s here, 16 presets far past the test "
                    "budget: WORKBENCH_SMOKE_PRESETS=1 runs them (measured in the README's smoke table)")
    if (recipe, preset) in HEAVY and not os.environ.get("WORKBENCH_SMOKE_HEAVY"):
        pytest.skip(f"{recipe} {preset}: one step at full size takes many minutes here; WORKBENCH_SMOKE_HEAVY=1 runs it")
    # One step at batch 1 (the time scaled to the preset's batch): the preset's networks, input lengths and
    # stages all run, within a test budget that the full batch of a 90M-parameter model on 2 cores is not.
    report = module.smoke(module.Params.from_preset(preset), steps=1, preset=preset, batch=1)
    assert report.stages and all(math.isfinite(stage.step_seconds) and stage.step_seconds > 0 for stage in report.stages)
    assert report.projected_hours > 0


TINY_IN_SUITE = {
    # One preset of each recipe but care_sep, the cheapest that runs the recipe's paper networks: one thread's
    # CPU seconds per tiny smoke (README): 20 (beats-ks2), 16 (table2-concat), 10 (paper-scale), 46 (mn04).
    ("add_loss", "paper-beats-ks2"),
    ("asc_tagging", "dcase2019-table2-concat"),
    ("diff_byola", "paper-scale"),
    ("layer_fusion", "paper-mn04"),
}
"""Paper presets whose tiny smoke (short inputs, one step at batch 1 per stage) runs in ``make test``; the
others' tiny smokes run with WORKBENCH_SMOKE_PRESETS=1. care_sep's paper networks (159 M + 195 M parameters,
8.4 GB) took 151 CPU seconds at tiny size, the 18 presets together about 600: past the suite's budget."""


@pytest.mark.slow
@pytest.mark.parametrize(("recipe", "preset"), PAPER_PRESETS, ids=[f"{r}-{p}" for r, p in PAPER_PRESETS])
def test_every_paper_preset_runs_its_smoke_at_tiny_size(recipe, preset):
    if (recipe, preset) not in TINY_IN_SUITE and not os.environ.get("WORKBENCH_SMOKE_PRESETS"):
        pytest.skip("outside the suite's budget (README: the tiny smoke's cost per preset); WORKBENCH_SMOKE_PRESETS=1 "
                    "runs it")
    module = recipes.get(recipe)
    full = module.Params.from_preset(preset)
    report = module.smoke(module.smoke_tiny(full), steps=1, preset=preset, batch=1)
    names = [stage.stage for stage in report.stages]
    assert any(name.startswith(("train", "pre-train", "extract")) for name in names) and names[-1] == "claims"
    assert all(math.isfinite(stage.step_seconds) and stage.step_seconds > 0 for stage in report.stages)
    assert all(stage.flops_per_step for stage in report.stages if stage.stage.startswith(("train", "pre-train")))
