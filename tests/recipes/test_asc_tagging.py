"""The asc_tagging recipe: a tiny synthetic run and its read-back, the real-data path on fake copies,
parameter and preset validation, and the paper's claim on the synthetic scenes over seeds."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch

from workbench import recipes
from workbench.audio.io import save
from workbench.data.synthetic import SceneDataset
from workbench.errors import UnknownNameError
from workbench.models.asc_raw import RawASCConfig
from workbench.models.tag_fusion import FusionConfig, TagFusionASC
from workbench.models.tagger import ResNetTagger, count_parameters
from workbench.recipes import asc_tagging
from workbench.train.rundir import RunDir

TINY = dict(
    n_clips=60, clip_seconds=1.7, filters=4, epochs=1, batch_size=16, tagger="oracle", seeds=(0,),
    variants=("baseline", "codecat", "attention", "combined"), grid="attention", grid_rows=(2, 4), grid_columns=(0, 1),
)  # fmt: skip
"""Seven networks of four filters for one epoch on 48 clips (the attention variant, 2 heads and 1 layer by
default, is also the (2, 1) grid cell)."""


@pytest.fixture
def runs(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("WORKBENCH_RUNS", str(tmp_path / "runs"))
    return tmp_path / "runs"


def test_a_tiny_run_scores_every_model_and_is_read_back(runs, monkeypatch):
    params = asc_tagging.Params.from_dict(TINY)
    result = asc_tagging.run(params)
    cell_names = {(2, 0): "attention heads 2 layers 0", (2, 1): "attention",
                  (4, 0): "attention heads 4 layers 0", (4, 1): "attention heads 4 layers 1"}  # fmt: skip
    assert set(result.scores) == {"baseline", "codecat", "attention", "combined", *cell_names.values()}
    assert result.grid.names == [[cell_names[2, 0], cell_names[2, 1]], [cell_names[4, 0], cell_names[4, 1]]]
    # The grid reads the SVM back-end (the paper's figure), the softmax head beside it.
    assert result.grid.accuracy[0, 1] == result.scores["attention"].svm_mean
    assert result.grid.softmax_accuracy[0, 1] == result.scores["attention"].mean
    n_test = len(result.test_indices)
    assert n_test == 12 and all(result.dataset.split_of(int(i)) == "test" for i in result.test_indices)
    assert result.test_tags.shape == (n_test, 10) and np.array_equal(result.test_tags, result.test_true_tags)
    for name, score in result.scores.items():
        assert len(score.accuracy) == len(score.svm_accuracy) == 1 and 0 <= score.mean <= 1
        assert result.predictions[name].shape == (n_test,)
        assert score.mean == pytest.approx((result.predictions[name] == result.test_targets).mean())
    maps = result.attention_by_scene["attention heads 2 layers 0"]
    assert maps.shape == (5, 2, 2)
    np.testing.assert_allclose(maps.sum(axis=-1), 1.0, atol=1e-5)  # a mean of softmax maps still sums to 1
    grid_only = {cell_names[cell] for cell in [(2, 0), (4, 0), (4, 1)]}
    assert set(result.attention_by_scene) == {"attention", "combined", *grid_only}
    assert [claim.name for claim in result.claims] == [
        "concatenation of tag vectors beats the baseline", "attention of tag vectors beats the baseline",
        "combined of tag vectors beats the baseline", "combining concatenation and attention beats attention alone",
    ]  # fmt: skip
    assert all(claim.verdict == "inconclusive" and claim.n == 1 for claim in result.claims)  # one seed
    assert result.claims[0].effect == pytest.approx(
        result.scores["codecat"].svm_accuracy[0] - result.scores["baseline"].svm_accuracy[0])
    summary = result.summary()
    assert summary.startswith("recipe: asc_tagging on synthetic-scenes (tagger oracle; seeds [0])")
    assert "test accuracy, SVM rbf (the paper's back-end) | softmax head:" in summary
    assert "  (d) attention  " in summary and "grid attention (Table 3): best" in summary and "best fusion:" in summary
    run = RunDir(result.run_dir)
    assert run.finished and len(list(runs.glob("asc_tagging-model/*/checkpoints"))) == 7  # a run directory each

    # An identical rerun trains nothing: everything is read back from the run directory.
    def fail(*args, **kwargs):
        raise AssertionError("the finished run was recomputed")

    monkeypatch.setattr(asc_tagging.train, "Trainer", fail)  # the ASC networks
    monkeypatch.setattr(asc_tagging.tagger, "Trainer", fail)  # the tagger
    again = asc_tagging.run(params)
    assert again.summary() == summary and again.grid.names == result.grid.names
    for name in result.scores:
        assert np.array_equal(again.predictions[name], result.predictions[name])
    np.testing.assert_array_equal(again.attention_by_scene["combined"], result.attention_by_scene["combined"])


def write_fake_copies(root: Path) -> None:
    """A five-clip DCASE 2019 task 1a copy and a three-clip FSDKaggle2019 copy, in their official layouts."""
    dcase = root / "TAU-urban-acoustic-scenes-2019-development"
    clips = [("airport-lisbon-0-0-a", "airport", "train"), ("bus-lyon-1-0-a", "bus", "train"),
             ("airport-lisbon-0-1-a", "airport", "test"), ("bus-lyon-1-1-a", "bus", "test"),
             ("bus-lyon-1-2-a", "bus", None)]  # fmt: skip
    noise = np.random.default_rng(0)
    for stem, _, _ in clips:
        save(dcase / "audio" / f"{stem}.wav", (0.1 * noise.standard_normal((2, 1600))).astype(np.float32), 16000)
    (dcase / "evaluation_setup").mkdir()
    (dcase / "meta.csv").write_text("filename\tscene_label\n" + "".join(f"audio/{s}.wav\t{c}\n" for s, c, _ in clips))
    for split, file in (("train", "fold1_train.csv"), ("test", "fold1_evaluate.csv")):
        lines = "".join(f"audio/{s}.wav\t{c}\n" for s, c, where in clips if where == split)
        (dcase / "evaluation_setup" / file).write_text("filename\tscene_label\n" + lines)
    fsd = root / "FSDKaggle2019"
    for listing, folder, rows in (
        ("train_curated_post_competition.csv", "FSDKaggle2019.audio_train_curated",
         [("a1.wav", "Bus"), ("a2.wav", "Bark")]),
        ("train_noisy_post_competition.csv", "FSDKaggle2019.audio_train_noisy", [("n1.wav", "Bus,Bark")]),
    ):  # fmt: skip
        for name, _ in rows:
            save(fsd / folder / name, (0.1 * noise.standard_normal(3000)).astype(np.float32), 44100)
        (fsd / "FSDKaggle2019.meta").mkdir(exist_ok=True)
        with open(fsd / "FSDKaggle2019.meta" / listing, "w", newline="") as stream:
            csv.writer(stream).writerows([["fname", "labels"], *rows])


def test_the_real_data_path_on_fake_dcase_and_fsdkaggle_copies(runs, tmp_path):
    """Streamed (not cached) DCASE clips, a tagger trained on FSDKaggle2019: the paper's data path."""
    write_fake_copies(tmp_path / "data")
    params = asc_tagging.Params(
        dataset="dcase2019_task1a", data_root=str(tmp_path / "data"), sample_rate=8000, input_samples=26244,
        tagger="trained", tagger_dataset="fsdkaggle2019", tagger_subset="train", tagger_sample_rate=8000,
        tagger_seconds=0.25, tagger_width=4, tagger_stages=1, tagger_epochs=1, batch_size=2, filters=4, epochs=1,
        variants=("baseline", "transform_concat"), grid="none", cache_audio=False,
    )  # fmt: skip
    result = asc_tagging.run(params)
    assert result.classes == ["airport", "bus"] and result.tag_names == ["Bark", "Bus"]
    assert result.test_tags.shape == (2, 2) and result.test_true_tags is None and result.tagger_map is None
    assert list(result.test_targets) == [0, 1] and set(result.scores) == {"baseline", "transform_concat"}
    assert result.metrics["tagger_held_out_map"] is not None and result.grid is None
    with pytest.raises(ValueError, match="tagger='oracle' needs the true event tags of the synthetic scenes"):
        asc_tagging.run(params.replace(tagger="oracle"))


def test_parameters_are_checked_with_the_valid_choices():
    expected = "unknown tagger of recipe 'asc_tagging' 'panns'; valid: efficientat-mn04, oracle, trained"
    with pytest.raises(UnknownNameError, match=expected):
        asc_tagging.Params(tagger="panns")
    with pytest.raises(UnknownNameError, match="unknown grid of recipe 'asc_tagging' 'heads'"):
        asc_tagging.Params.from_dict({"grid": "heads"})
    with pytest.raises(UnknownNameError, match="unknown tag-fusion variant 'late'"):
        asc_tagging.Params.from_dict({"variants": "baseline,late"})
    with pytest.raises(ValueError, match="grid='concat' needs grid_rows and grid_columns"):
        asc_tagging.Params(grid="concat", grid_rows=())
    with pytest.raises(ValueError, match="combined_concat='transform_concat' \\(got 'codecat'\\)"):
        asc_tagging.run(asc_tagging.Params(**{**TINY, "combined_concat": "codecat", "grid": "none"}))
    with pytest.raises(ValueError, match="clips marked 'train' and 'test'"):
        asc_tagging.split_indices(SceneDataset(n_clips=4, n_folds=1))  # one fold: every clip is a test clip


def test_presets_reproduce_the_papers_tables(monkeypatch):
    monkeypatch.setitem(recipes._RECIPES, asc_tagging.NAME, ("workbench.recipes.asc_tagging", asc_tagging.NOTEBOOK))
    names = recipes.base.preset_names(asc_tagging.NAME)
    tables = {"dcase2019-table2-concat": "concat", "dcase2019-table3-attention": "attention",
              "dcase2019-table4-separate": "separate", "dcase2019-table5-shared": "shared"}  # fmt: skip
    assert {*tables, "dcase2019-systems"} <= set(names)
    presets = {name: asc_tagging.Params.from_preset(name) for name in names}
    for name, grid in tables.items():  # every table's grid, exactly the paper's rows and columns
        assert presets[name].grid == grid
        assert (presets[name].grid_rows, presets[name].grid_columns) == asc_tagging.PAPER_GRIDS[grid]
    attention = presets["dcase2019-table3-attention"]
    assert (attention.dataset, attention.sample_rate, attention.input_samples, attention.filters) == (
        "dcase2019_task1a", 48000, 479_999, 128)
    assert presets["dcase2019-systems"].grid == "none"
    for name, preset in presets.items():
        if name.startswith("dcase"):
            assert (preset.tagger_dataset, preset.tagger_subset, preset.tagger_noisy_weight) == ("fsdkaggle2019", "train", 0.5)
            assert preset.asc_mixup_alpha > 0 and preset.mixup_alpha > 0  # Sec. 4.2: mixup on both networks
            assert preset.svm_kernel in ("rbf", "sigmoid")
            # The paper-size tagger: about 44 million trainable parameters (Sec. 4.2).
            config = asc_tagging.tagger_config(preset, 80, [])
            assert 42e6 < count_parameters(ResNetTagger(config)) < 46e6


def test_tag_vector_fusion_beats_the_baseline_on_the_synthetic_scenes_over_seeds(runs):
    """The paper's claim where events determine scenes, with the true tags (so that a few minutes suffice):
    attention fusion (2 heads, 1 layer) against the raw-waveform baseline, on the SVM back-end, paired
    over three seeds.

    Measured at these settings (SVM): attention 0.51 / 0.50 / 0.49 against baseline 0.33 / 0.35 / 0.44,
    an effect of +0.13 whose paired-t interval over 3 seeds still reaches below zero (t with 2 degrees of
    freedom): the verdict is honestly "inconclusive" here, never "contradicted".
    """
    params = asc_tagging.Params(
        n_clips=400, filters=8, epochs=6, tagger="oracle", variants=("baseline", "attention"), grid="none",
        seeds=(0, 1, 2),
    )  # fmt: skip
    result = asc_tagging.run(params)
    baseline, attention = result.scores["baseline"], result.scores["attention"]
    claim = next(claim for claim in result.claims if claim.name.startswith("attention"))
    differences = np.subtract(attention.svm_accuracy, baseline.svm_accuracy)
    assert claim.n == 3 and claim.effect == pytest.approx(differences.mean())
    assert claim.verdict != "contradicted" and claim.ci_high > 0.05
    assert claim.effect > 0.05 and (differences > 0).all(), (attention.svm_accuracy, baseline.svm_accuracy)
    assert attention.mean > baseline.mean + 0.05  # the softmax head agrees


# --- the paper's grids, defaults and claims -------------------------------------------------------------------


@pytest.mark.parametrize("grid", list(asc_tagging.PAPER_GRIDS))
def test_every_table_of_the_paper_builds_and_runs_forward(grid):
    """Each cell of Tables 2-5 (shared with 0 layers, asymmetric separate layers included) builds at the
    paper's 128 filters and runs forward on a tiny input."""
    rows, columns = asc_tagging.PAPER_GRIDS[grid]
    params = asc_tagging.Params(grid=grid, grid_rows=rows, grid_columns=columns, filters=128)
    config = RawASCConfig.small(filters=128, n_blocks=2, input_samples=600, n_scenes=10)
    cells = asc_tagging.grid_cells(params, n_tags=80)
    assert len(cells) == len(rows) * len(columns) and len({fusion for *_, fusion in cells}) == len(cells)
    waveforms, tags = torch.zeros(2, 2, 600), torch.rand(2, 80)
    for row, column, name, fusion in cells:
        model = TagFusionASC(config, fusion).eval()
        with torch.no_grad():
            assert model(waveforms, tags).shape == (2, 10), name
        if grid == "shared":
            assert model.attention.transform is model.tag_transform and fusion.layers_before == column
        if grid == "separate":
            assert (fusion.layers_before, fusion.attention_layers) == divmod(column, 10)
            assert model.attention.transform is not model.tag_transform
    with pytest.raises(ValueError, match="grid='separate' columns are two digits"):
        asc_tagging.grid_cells(params.replace(grid="separate", grid_columns=(3,)), n_tags=80)


def test_each_fusion_defaults_to_its_best_configuration_in_the_paper():
    params = asc_tagging.Params()
    transform = asc_tagging.fusion_of(params, "transform_concat", 80)
    attention = asc_tagging.fusion_of(params, "attention", 80)
    combined = asc_tagging.fusion_of(params, "combined", 80)
    assert (transform.layers_before, transform.layers_after) == (3, 1)  # Table 2: 75.66 %
    assert (attention.heads, attention.attention_layers) == (2, 1)  # Table 3: 76.58 %
    assert (combined.heads, combined.layers_before, combined.attention_layers, combined.shared_transform,
            combined.combined_concat) == (4, 3, 3, True, "transform_concat")  # Table 5: 76.75 %  # fmt: skip
    assert asc_tagging.PAPER_ACCURACY == {"baseline": 73.63, "concatenation": 75.66, "attention": 76.58,
                                          "combined": 76.75}  # fmt: skip


def _scored(name: str, variant: str, softmax: list[float], svm: list[float]) -> asc_tagging.ModelScore:
    n_tags = 0 if variant == "baseline" else 3
    return asc_tagging.ModelScore(name, FusionConfig(variant, n_tags=n_tags, heads=2), softmax, svm)


def test_claims_read_the_svm_accuracy_paired_over_seeds():
    """The softmax head says the attention fusion loses; the SVM (the paper's back-end) says it wins on
    every seed: the claim follows the SVM, paired seed by seed."""
    scores = {
        "baseline": _scored("baseline", "baseline", [0.70, 0.72, 0.71], [0.60, 0.64, 0.61]),
        "attention": _scored("attention", "attention", [0.60, 0.61, 0.62], [0.66, 0.69, 0.68]),
        "transform_concat": _scored("transform_concat", "transform_concat", [0.7] * 3, [0.62, 0.63, 0.62]),
        "combined": _scored("combined", "combined", [0.7] * 3, [0.60, 0.63, 0.60]),
    }
    result = asc_tagging.AscTaggingRun(recipe="asc_tagging", params={"seeds": [0, 1, 2]}, run_dir=Path("."),
                                       scores=scores, variants=list(scores))  # fmt: skip
    claims = {claim.name: claim for claim in asc_tagging.fusion_claims(result)}
    attention = claims["attention of tag vectors beats the baseline"]
    assert attention.verdict == "holds" and attention.n == 3 and attention.method == "paired t"
    assert attention.effect == pytest.approx(np.mean([0.06, 0.05, 0.07]))
    assert attention.paper_effect == pytest.approx(0.0295)
    assert "76.58 % (abstract, Table 3" in attention.paper and "softmax head 61.0 % vs 71.0 %" in attention.detail
    combined = claims["combining concatenation and attention beats attention alone"]
    assert combined.verdict == "contradicted" and combined.paper_effect == pytest.approx(0.0017)
    assert claims["concatenation of tag vectors beats the baseline"].measured.startswith("SVM 62.3 % ((c) transform_concat)")


def test_mixup_on_the_asc_network_mixes_waveforms_tags_and_scenes():
    torch.manual_seed(0)
    config = RawASCConfig.small(filters=4, n_blocks=2, input_samples=600, n_scenes=3)
    model = TagFusionASC(config, FusionConfig("attention", n_tags=5, heads=2))
    waveforms, tags, scenes = torch.randn(4, 2, 600), torch.rand(4, 5), torch.tensor([0, 1, 2, 0])
    step = asc_tagging.MixupSceneStep(alpha=0.4, n_scenes=3)
    torch.manual_seed(1)
    loss, metrics = step(model, (waveforms, tags, scenes))
    torch.manual_seed(1)  # the same draws by hand
    lam = asc_tagging.sample_mixup_lambda(0.4)
    partner = torch.randperm(4)
    targets = lam * torch.nn.functional.one_hot(scenes, 3) + (1 - lam) * torch.nn.functional.one_hot(scenes[partner], 3)
    logits = model(lam * waveforms + (1 - lam) * waveforms[partner], lam * tags + (1 - lam) * tags[partner])
    expected = -(targets * logits.log_softmax(dim=1)).sum(dim=1).mean()
    torch.testing.assert_close(loss, expected)
    assert metrics["mixup_lambda"] == lam and 0 < lam < 1


def test_the_protocol_parameter_falls_back_where_the_split_cannot_be_trained_on():
    one_fold = SceneDataset(n_clips=40, n_folds=1)  # every clip marked "test": no training side
    params = asc_tagging.Params(n_clips=40)
    folds, note = asc_tagging.plan_scene_folds(params, one_fold)
    assert note.startswith("protocol kfold (") and len(folds) >= 2
    assert sorted(np.concatenate([test for _, _, test in folds]).tolist()) == list(range(40))
    with pytest.raises(ValueError, match="clips marked 'train' and 'test'"):
        asc_tagging.plan_scene_folds(params.replace(protocol="official"), one_fold)
    scenes = asc_tagging.build_dataset(params)
    (official,) = asc_tagging.plan_scene_folds(params, scenes)[0]  # a sound split stays official
    assert official[0] == "official split" and len(official[2]) == 8


def test_the_noisy_tagging_clips_are_down_weighted(tmp_path):
    write_fake_copies(tmp_path / "data")
    dataset = asc_tagging.data.get("fsdkaggle2019", root=str(tmp_path / "data"), subset="train")
    weights = asc_tagging.tagging_weights(dataset, [0, 1, 2], 0.25)
    assert [dataset.split_of(i) for i in range(3)] == ["curated", "curated", "noisy"]
    assert weights.tolist() == [1.0, 1.0, 0.25]
    assert asc_tagging.tagging_weights(dataset, [0, 1], 0.25) is None  # curated only: no weighting
    with pytest.raises(ValueError, match=r"tagger_noisy_weight must lie in \[0, 1\]"):
        asc_tagging.tagging_weights(dataset, [0, 1, 2], 2.0)
