"""The add_loss recipe: parameters and presets, data plumbing, the training step, runs and the paper's claims."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from workbench import recipes
from workbench.audio import SpecAugment
from workbench.data.records import AudioDataset
from workbench.errors import UnknownNameError
from workbench.losses import ADDLoss, FocalLoss, OrthogonalProjectionLoss
from workbench.models.base import Encoder
from workbench.recipes import add_loss
from workbench.recipes.base import preset_dir, preset_names
from workbench.train.rundir import RunDir

TINY = dict(n_clips=60, clip_seconds=0.5, epochs=1, batch_size=16)
"""A run of a few seconds: 48 training and 12 test clips of the synthetic world."""


@pytest.fixture
def registered(monkeypatch):
    """The recipe as the lead registers it (presets are found through the recipe registry)."""
    monkeypatch.setitem(recipes._RECIPES, add_loss.NAME, ("workbench.recipes.add_loss", add_loss.NOTEBOOK))


@pytest.fixture
def runs_root(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_RUNS", str(tmp_path))
    return tmp_path


# --- parameters, presets, variants ----------------------------------------------------------------


def test_every_preset_validates_and_says_where_its_values_come_from(registered):
    names = preset_names(add_loss.NAME)
    expected = {f"{source}-{model}-{task}" for source in ("paper", "official") for model in ("ast", "beats")
                for task in ("esc50", "ks2", "er")}  # fmt: skip
    assert expected <= set(names)
    for name in names:
        params = add_loss.Params.from_preset(name)
        assert params.variants == ("ce", "focal", "opl", "add") and params.repeats == 3
        header = (preset_dir(add_loss.NAME) / f"{name}.yaml").read_text().split("\n")[0]
        source = "# The paper's Table 1" if name.startswith("paper-") else "# The official ADD-loss repository's"
        assert header.startswith(source)
        assert params.add_form == ("paper" if name.startswith("paper-") else "official")
    esc50 = add_loss.Params.from_preset("paper-ast-esc50")
    assert (esc50.dataset, esc50.folds, esc50.encoder, esc50.freq_mask, esc50.time_mask) == (
        "esc50", "all", "ast-audioset", 24, 96)
    official = add_loss.Params.from_preset("official-beats-ks2")
    assert (official.optimizer, official.mixup, official.mixup_criterion, official.preload) == ("adamw", 0.5, "bce", False)
    assert (official.opl_gamma, official.opl_absolute_negatives, official.opl_weight) == (2.0, True, 0.1)


TABLE_1 = {
    # model: optimizer, betas, weight decay, epochs, batch size, window; learning rate per dataset
    "ast": ("adamw", (0.9, 0.98), 1e-2, 25, 32, "hanning", {"esc50": 7e-4, "ks2": 6e-5, "er": 7e-4}),
    "beats": ("adam", (0.95, 0.999), 5e-6, 30, 16, "povey", {"esc50": 8e-6, "ks2": 1e-4, "er": 8e-6}),
}
"""Table 1 of Almudevar et al. 2024 (the ADD paper), as printed."""


@pytest.mark.parametrize("task", ["esc50", "ks2", "er"])
@pytest.mark.parametrize("model", ["ast", "beats"])
def test_each_paper_preset_has_table_1s_optimiser(registered, model, task):
    params = add_loss.Params.from_preset(f"paper-{model}-{task}")
    optimizer, betas, weight_decay, epochs, batch_size, window, learning_rates = TABLE_1[model]
    assert params.optimizer == optimizer and (params.beta1, params.beta2) == betas
    assert params.weight_decay == weight_decay and params.epochs == epochs and params.batch_size == batch_size
    assert params.window_type == window and params.learning_rate == learning_rates[task]
    masks = {"ast": {"esc50": (24, 96), "ks2": (48, 48), "er": (24, 96)}}.get(model, {}).get(task, (0, 0))
    assert (params.freq_mask, params.time_mask) == masks
    assert params.mixup == (0.5 if task == "ks2" else 0.0)
    # The official repository's configuration differs from Table 1, and its preset says so.
    official = add_loss.Params.from_preset(f"official-{model}-{task}")
    assert (official.optimizer, official.beta1, official.weight_decay) != (params.optimizer, params.beta1,
                                                                           params.weight_decay)  # fmt: skip
    header = (preset_dir(add_loss.NAME) / f"official-{model}-{task}.yaml").read_text()
    assert f"optimizer {official.optimizer} (Table 1: {optimizer})" in header


def test_variants_parse_label_and_share_run_directories():
    assert add_loss.parse_variant("add-1010").changes == {
        "loss": "add", "lambda_mu_p": 1.0, "lambda_sigma_p": 0.0, "lambda_mu_n": 1.0, "lambda_sigma_n": 0.0}
    params = add_loss.Params()
    assert [add_loss.parse_variant(key).label(params) for key in add_loss.DEFAULT_VARIANTS] == [
        "CE", "Focal", "OPL", "ADD {1,1,1,1}", "ADD {1,0,0,0}", "ADD {0,1,0,0}", "ADD {0,0,1,0}", "ADD {0,0,0,1}",
        "ADD {1,0,1,0}"]
    for bad in ("add-12", "add-2000", "arcface"):
        with pytest.raises(UnknownNameError, match=f"unknown loss variant '{bad}'.*add-<four 0/1 digits"):
            add_loss.parse_variant(bad)
    # Fields a loss ignores do not split its runs: CE under any lambdas is one run.
    ce = add_loss.canonical(params.replace(loss="ce", lambda_mu_p=0.0, focal_gamma=5.0, variants=("ce",)))
    assert ce == add_loss.canonical(params.replace(loss="ce"))
    assert add_loss.canonical(params.replace(lambda_mu_p=0.0)) != add_loss.canonical(params)


def test_params_reject_unknown_values():
    with pytest.raises(ValueError, match="parameter 'loss' must be one of"):
        add_loss.Params.from_dict({"loss": "arcface"})
    with pytest.raises(ValueError, match="parameter 'window_type' must be one of"):
        add_loss.Params.from_dict({"window_type": "kaiser"})
    assert add_loss.Params.from_dict({"variants": "ce, add-1010"}).variants == ("ce", "add-1010")


# --- data --------------------------------------------------------------------------------------------


class _Folded(AudioDataset):
    sample_rate = 16000
    classes = ("a", "b")

    def __init__(self, folds=None, splits=None):
        self._folds, self._splits = folds, splits

    def __len__(self):
        return len(self._folds or self._splits)

    def fold_of(self, index):
        return self._folds[index] if self._folds else None

    def split_of(self, index):
        return self._splits[index] if self._splits else None


def test_plan_splits_leaves_folds_out_or_uses_the_official_split():
    folded = _Folded(folds=[2, 1, 3, 1, 2, 3])
    (first,) = add_loss.plan_splits(folded, "first")
    assert (first.fold, first.train, first.test) == (1, [0, 2, 4, 5], [1, 3])
    assert [split.fold for split in add_loss.plan_splits(folded, "all")] == [1, 2, 3]
    assert [split.test for split in add_loss.plan_splits(folded, "3, 2")] == [[2, 5], [0, 4]]
    with pytest.raises(ValueError, match=r"folds \[7\] are not in the dataset, which has folds \[1, 2, 3\]"):
        add_loss.plan_splits(folded, "1,7")
    with pytest.raises(ValueError, match="folds must be 'first', 'all' or fold numbers"):
        add_loss.plan_splits(folded, "last")
    (official,) = add_loss.plan_splits(_Folded(splits=["train", "test", "validation", "train"]), "all")
    assert (official.fold, official.train, official.test) == (None, [0, 3], [1])
    with pytest.raises(ValueError, match="the official split leaves 2 training and 0 test clips"):
        add_loss.plan_splits(_Folded(splits=["train", "train"]), "first")
    with pytest.raises(ValueError, match="test fold 1 leaves 0 training and 2 test clips"):
        add_loss.plan_splits(_Folded(folds=[1, 1]), "first")


class _Grouped(_Folded):
    """Folds of 1, 2 and 9 clips (a partial copy), classes and source recordings known without audio."""

    def __init__(self):
        super().__init__(folds=[1] + [2] * 2 + [3] * 9)
        self._targets = [0, 1, 0, 0, 1, 0, 1, 0, 1, 0, 1, 0]
        self._groups = [f"rec{index // 2}" for index in range(12)]

    def targets(self):
        return list(self._targets)

    def group_of(self, index):
        return self._groups[index]


def test_the_protocol_parameter_plans_partitions_through_the_shared_planner():
    dataset = _Grouped()
    splits, note = add_loss.plan_partitions(dataset, "all", "auto")
    assert note.startswith("protocol grouped-kfold (official folds not usable")
    assert sorted(i for split in splits for i in split.test) == list(range(12))  # every clip tested once
    for split in splits:  # no recording on both sides
        assert not {dataset.group_of(i) for i in split.train} & {dataset.group_of(i) for i in split.test}
    assert [split.fold for split in splits] == list(range(1, len(splits) + 1))
    assert add_loss.plan_splits(dataset, "2", "auto") == [splits[1]]
    # The same seed gives the same folds (every loss and repeat of a comparison is paired on them).
    assert add_loss.plan_partitions(dataset, "all", "kfold", seed=3) == add_loss.plan_partitions(dataset, "all", "kfold", seed=3)
    # Asked for, the official folds run, and the note says what is wrong with them.
    official, note = add_loss.plan_partitions(dataset, "all", "official")
    assert [split.fold for split in official] == [1, 2, 3] and "fold 1 (1 clips) tests no clip of 1 classes (b)" in note
    dataset._targets = [0] + [1] * 11  # class "a" only in fold 1: never trained on when fold 1 is tested
    with pytest.raises(ValueError, match="protocol 'official' cannot be trained on this data: fold 1: classes a"):
        add_loss.plan_partitions(dataset, "all", "official")
    with pytest.raises(KeyError, match="unknown evaluation protocol 'leave-one-out'"):
        add_loss.plan_partitions(dataset, "all", "leave-one-out")


def test_clips_are_mixed_to_mono_and_cut_or_padded():
    collate = add_loss.FixedLengthCollate(4)
    stereo = torch.tensor([[1.0, 2.0, 3.0, 4.0, 5.0], [3.0, 4.0, 5.0, 6.0, 7.0]])
    short = torch.tensor([[0.5, 0.5]])
    waveforms, targets = collate([(stereo, 1, {}), (short, 0, {})])
    torch.testing.assert_close(waveforms, torch.tensor([[2.0, 3.0, 4.0, 5.0], [0.5, 0.5, 0.0, 0.0]]))
    assert targets.tolist() == [1, 0] and targets.dtype == torch.long


# --- model and training step ---------------------------------------------------------------------------


class _Recorder(Encoder):
    """A spectrogram 'encoder' that remembers what reached forward_spectrogram (time-first layout)."""

    sample_rate, embedding_dim, spectrogram_time_first = 16000, 3, True

    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(3))
        self.seen = None

    def spectrogram(self, waveform):
        return waveform.reshape(len(waveform), 20, 10) + 1.0  # (batch, frames, bins), no zero anywhere

    def forward_spectrogram(self, spectrogram):
        self.seen = spectrogram
        return spectrogram.mean(dim=(1, 2))[:, None] * self.weight

    def forward(self, waveform):
        return self.forward_spectrogram(self.spectrogram(waveform))


def test_spec_augment_masks_bins_and_frames_of_a_time_first_spectrogram():
    torch.manual_seed(0)
    encoder = _Recorder()
    model = add_loss.FineTuner(encoder, n_classes=2, spec_augment=SpecAugment(freq_mask_param=6, time_mask_param=0))
    model.train()
    embeddings, logits = model(torch.zeros(8, 200))
    assert embeddings.shape == (8, 3) and logits.shape == (8, 2)
    masked = encoder.seen == 0  # (batch, frames, bins)
    assert masked.any()
    # Frequency masks cover whole bins: a masked bin is masked in every frame, never part of the frames.
    assert torch.equal(masked.any(dim=1), masked.all(dim=1))
    model.eval()
    model(torch.zeros(8, 200))
    assert not (encoder.seen == 0).any()  # no masking outside training
    spectrograms = encoder.spectrogram(torch.zeros(2, 200))
    model(spectrograms)  # precomputed spectrograms go straight to forward_spectrogram
    assert torch.equal(encoder.seen, spectrograms)


def test_spec_augment_needs_an_encoder_with_a_spectrogram():
    from workbench.models.zoo import build_encoder

    with pytest.raises(ValueError, match="LogMelStats does not expose one; set freq_mask=0 and time_mask=0"):
        add_loss.FineTuner(build_encoder("logmel-stats"), 3, SpecAugment(4, 4))


def test_mixup_inside_the_batch():
    torch.manual_seed(0)
    waveforms, targets = torch.randn(16, 50), torch.arange(16) % 4
    unchanged, one_hot = add_loss.mix_batch(waveforms, targets, probability=0.0, alpha=10.0, n_classes=4)
    torch.testing.assert_close(unchanged, waveforms)
    torch.testing.assert_close(one_hot, torch.nn.functional.one_hot(targets, 4).float())
    mixed, soft = add_loss.mix_batch(waveforms, targets, probability=1.0, alpha=10.0, n_classes=4)
    torch.testing.assert_close(soft.sum(dim=1), torch.ones(16))
    # Each mixed clip is lam x_i + (1 - lam) x_j with lam read back from its own target.
    lam = soft[torch.arange(16), targets]
    assert ((lam > 0.1) & (lam <= 1.0)).all() and (lam < 1.0).any()


def test_criteria_per_loss_and_the_soft_add_restriction():
    params = add_loss.Params()
    assert isinstance(add_loss.build_criterion(params.replace(loss="focal")).criterion, FocalLoss)
    assert isinstance(add_loss.build_criterion(params.replace(loss="opl")).auxiliary, OrthogonalProjectionLoss)
    add = add_loss.build_criterion(params.replace(lambda_sigma_n=0.0, auxiliary_weight=0.5))
    assert isinstance(add.auxiliary, ADDLoss) and add.auxiliary.sigma_n == 0.0 and add.auxiliary_weight == 0.5
    assert add_loss.build_criterion(params.replace(loss="ce", mixup=0.5, mixup_criterion="bce")).criterion_name == "bce"
    with pytest.raises(ValueError, match="lambda_mu_p=1.0 and lambda_mu_n=0.0 differ; make them equal or set mixup=0"):
        add_loss.build_criterion(params.replace(mixup=0.5, lambda_mu_n=0.0))
    official = add_loss.build_criterion(params.replace(add_form="official")).auxiliary
    assert (official.form, official.labels) == ("official", "auto")
    assert add_loss.build_criterion(params.replace(mixup=0.5)).auxiliary.labels == "soft"  # every batch soft
    opl = add_loss.build_criterion(params.replace(loss="opl", opl_absolute_negatives=True, opl_weight=0.1))
    assert opl.auxiliary.absolute_negatives and opl.auxiliary_weight == 0.1


def test_step_adds_the_auxiliary_term_and_reports_it():
    torch.manual_seed(0)
    encoder = _Recorder()
    model = add_loss.FineTuner(encoder, n_classes=2)
    params = add_loss.Params(loss="add", auxiliary_weight=2.0)
    criterion = add_loss.build_criterion(params)
    inputs, targets = torch.randn(6, 200), torch.tensor([0, 1, 0, 1, 0, 1])
    loss, metrics = add_loss.make_step(criterion, params, 2)(model, (inputs, targets))
    embeddings, logits = model(inputs)
    expected = torch.nn.functional.cross_entropy(logits, targets) + 2.0 * ADDLoss()(embeddings, targets)
    torch.testing.assert_close(loss, expected)
    assert set(metrics) == {"classification", "auxiliary", "train_accuracy"}


# --- runs ------------------------------------------------------------------------------------------------


def test_comparison_run_saves_each_loss_and_reuses_finished_runs(runs_root, monkeypatch):
    params = add_loss.Params(**TINY, variants=("ce", "add"), repeats=2)
    result = add_loss.run(params)
    assert list(result.losses) == ["CE", "ADD {1,1,1,1}"]
    for label, loss_run in result.losses.items():
        assert [(fold.fold, fold.repeat) for fold in loss_run.folds] == [(1, 0), (1, 1)]
        run_dir = RunDir(loss_run.run_dir)
        assert run_dir.finished and run_dir.read_metrics()["label"] == label
        arrays = run_dir.load_arrays("test-fold1-repeat1")
        fold = loss_run.folds[1]
        np.testing.assert_array_equal(arrays["embeddings"], fold.embeddings)
        assert fold.embeddings.shape == (12, 64) and len(set(fold.indices.tolist())) == 12
        assert fold.accuracy == pytest.approx(float((fold.predictions == fold.targets).mean()))
        assert not (run_dir.path / "models" / "fold1-repeat0" / "checkpoints").exists()  # not kept by default
    assert result.losses["CE"].run_dir != result.losses["ADD {1,1,1,1}"].run_dir != result.run_dir
    comparison = RunDir(result.run_dir).read_metrics()
    assert [claim["name"] for claim in comparison["claims"]] == [claim.name for claim in result.claims]
    assert [claim.n for claim in result.claims] == [2, 2, 2, 2]  # fold 1 x repeats 0 and 1, paired
    assert all(claim.verdict in ("holds", "contradicted", "inconclusive") for claim in result.claims)
    accuracy = result.claims[0]
    ce_runs = [fold.accuracy for fold in result.losses["CE"].folds]
    add_runs = [fold.accuracy for fold in result.losses["ADD {1,1,1,1}"].folds]
    assert accuracy.effect == pytest.approx(np.mean(add_runs) - np.mean(ce_runs))
    assert accuracy.method == "paired t" and accuracy.paper_effect is None  # no Table 2 entry for synthetic
    lines = result.summary().splitlines()
    assert lines[0] == "recipe: add_loss on synthetic, encoder ast-tiny, test fold(s) 1, 2 repeat(s)"
    assert lines[2].startswith("CE ") and lines[3].startswith("ADD {1,1,1,1} ")

    # A single-loss run with the same settings is the comparison's ADD run: nothing is trained again.
    def fail(*args, **kwargs):
        raise AssertionError("a finished model was trained again")

    monkeypatch.setattr(add_loss.train, "_train_fold", fail)
    single = add_loss.run(dataclasses.replace(params, variants=()))
    assert single.run_dir == result.losses["ADD {1,1,1,1}"].run_dir and single.claims == []
    assert add_loss.run(params).summary() == result.summary()


def test_an_interrupted_run_keeps_its_finished_models(runs_root, monkeypatch):
    params = add_loss.Params(**TINY, loss="ce", repeats=2)
    calls = []
    real = add_loss.train._train_fold

    def train_then_stop(params, dataset, split, repeat, run_dir, fold_data):
        calls.append(repeat)
        if repeat == 1 and len(calls) == 2:
            raise KeyboardInterrupt
        return real(params, dataset, split, repeat, run_dir, fold_data)

    monkeypatch.setattr(add_loss.train, "_train_fold", train_then_stop)
    with pytest.raises(KeyboardInterrupt):
        add_loss.run(params)
    result = add_loss.run(params)
    assert calls == [0, 1, 1]  # repeat 0 was read back, repeat 1 trained on the second call
    assert len(result.losses["CE"].folds) == 2


def test_settings_that_cannot_work_fail_before_training(runs_root):
    with pytest.raises(KeyError, match="unknown encoder 'nope'"):
        add_loss.run(add_loss.Params(**TINY, encoder="nope"))
    with pytest.raises(KeyError, match="unknown loss variant 'hinge'"):
        add_loss.run(add_loss.Params(**TINY, variants=("ce", "hinge")))
    with pytest.raises(ValueError, match="pretrained_path is for pretrained encoder names"):
        add_loss.build_fine_tuned_encoder(add_loss.Params(pretrained_path="/some/file.pt"), seed=0)
    with pytest.raises(ValueError, match="input_frames applies to AST-style encoders"):
        add_loss.build_fine_tuned_encoder(add_loss.Params(encoder="beats-tiny", input_frames=50), seed=0)
    with pytest.raises(ValueError, match="window_type applies to Kaldi fbank front-ends; AudioNTT2020 has none"):
        add_loss.build_fine_tuned_encoder(add_loss.Params(encoder="audiontt-tiny", window_type="povey"), seed=0)
    encoder = add_loss.build_fine_tuned_encoder(add_loss.Params(window_type="povey", input_frames=50), seed=0)
    assert encoder.frontend.window_type == "povey" and encoder.config.target_frames == 50 and encoder.training


# --- the paper's claims on the synthetic world -----------------------------------------------------------------

CLAIM_SETTINGS = dict(repeats=3, variants=("ce", "add"))
"""The defaults (a tiny AST from scratch, 200 half-second clips, 30 epochs) with three paired seeds. Measured
before: ADD lowered both CVs against CE for each of seeds 0-5, by 0.03 to 0.2."""


def test_add_makes_clips_and_classes_more_equidistant_than_ce(runs_root):
    """Fig. 5's claims on the synthetic world, over paired seeds: lower intra- and inter-class CV, each a
    verdict from the paired interval (not from one run)."""
    result = add_loss.run(add_loss.Params(**CLAIM_SETTINGS))
    ce, add = result.losses["CE"], result.losses["ADD {1,1,1,1}"]
    accuracy, intra, inter, hierarchy = result.claims
    assert [claim.n for claim in result.claims] == [3, 3, 3, 3]
    for claim, summary in ((intra, "intra-class equidistance"), (inter, "inter-class equidistance")):
        assert claim.verdict == "holds", claim.line()
        assert claim.ci_high < 0 and claim.effect == pytest.approx(
            add.summaries()[summary] - ce.summaries()[summary])
    assert hierarchy.verdict in ("holds", "contradicted", "inconclusive") and hierarchy.n == 3
    assert accuracy.verdict != "holds" or accuracy.ci_low > 0
    assert min(ce.accuracy_mean, add.accuracy_mean) > 0.25  # both learn the task (chance: 0.1)


# --- the acceptance check: real ESC-10 clips ---------------------------------------------------------


@pytest.mark.shared
def test_tiny_ast_fine_tunes_on_the_real_esc10_clips(shared_dir, runs_root):
    """Every fold the listing has (3, 4 and 5) left out in turn, one epoch each, with the tiny AST."""
    params = add_loss.Params(
        dataset="esc10", data_root=str(shared_dir / "data"), clip_seconds=5.0, folds="all", encoder="ast-tiny",
        input_frames=498, epochs=1, batch_size=16, freq_mask=24, time_mask=96, loss="add",
    )  # fmt: skip
    result = add_loss.run(params)
    (loss_run,) = result.losses.values()
    # The partial copy's official folds (of 1, 80 and 2 clips) cannot be trained on: auto groups by src_file.
    assert result.protocol_note.startswith("protocol grouped-kfold (official folds not usable")
    assert [fold.fold for fold in loss_run.folds] == [1, 2, 3, 4, 5]
    assert sorted(np.concatenate([fold.ids for fold in loss_run.folds]).tolist()) == sorted(
        record.id for record in result.dataset.records)  # every clip tested once
    with pytest.raises(ValueError, match=r"protocol 'official' cannot be trained on this data: fold 4: classes"):
        add_loss.run(params.replace(protocol="official"))
    assert all(np.isfinite(fold.embeddings).all() and fold.embeddings.shape[1] == 64 for fold in loss_run.folds)
    assert 0.0 <= loss_run.accuracy_mean <= 1.0 and len(result.classes) == 10
    assert np.isfinite(loss_run.summaries()["inter-class equidistance"])
    assert RunDir(result.run_dir).finished
