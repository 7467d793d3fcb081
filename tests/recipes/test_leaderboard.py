"""The leaderboard recipe: cells are the linear evaluations of their runs, ties follow the paired test, a new
encoder computes only its column, a warm rerun computes nothing, the exports, the CLI and the click on a cell."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest

from workbench.cli import main
from workbench.errors import ParameterError
from workbench.evaluation.embeddings import extract as extract_module
from workbench.evaluation.linear import LinearEvalResult
from workbench.recipes import leaderboard
from workbench.recipes.layer_fusion.data import build_dataset
from workbench.recipes.layer_fusion.evaluate import evaluate_table, probe_config
from workbench.recipes.leaderboard import cells as cells_module
from workbench.recipes.leaderboard.table import EVAR_COLUMNS, build_leaderboard, paired, tied_ranks
from workbench.train.rundir import RunDir

# Two small synthetic tasks, a fixed transform and a small CNN whose four blocks are tapped: seconds per cell.
QUICK = dict(encoders="logmel-stats", encoders_at_hand="", layer_encoders="all", tasks="event,pitch",
             tasks_at_hand="", n_clips=80, n_seeds=2, max_epochs=15, patience=4, max_layers=3)  # fmt: skip


@pytest.fixture
def private_runs(tmp_path, monkeypatch):
    """A cold runs folder and cache of this test's own."""
    monkeypatch.setenv("WORKBENCH_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path / "cache"))
    return tmp_path


@pytest.fixture
def counted(monkeypatch):
    """Counts of the clips' extractions (a model run over a dataset) and of linear evaluations."""
    counts = {"extractions": 0, "evaluations": 0}
    compute, evaluate = extract_module._compute_embeddings, cells_module.evaluate_table

    def counting_compute(*args, **kwargs):
        counts["extractions"] += 1
        return compute(*args, **kwargs)

    def counting_evaluate(*args, **kwargs):
        counts["evaluations"] += 1
        return evaluate(*args, **kwargs)

    monkeypatch.setattr(extract_module, "_compute_embeddings", counting_compute)
    monkeypatch.setattr(cells_module, "evaluate_table", counting_evaluate)
    return counts


def test_cells_are_the_scores_of_their_linear_evaluation_runs(private_runs):
    params = leaderboard.Params.from_dict({**QUICK, "encoders": "logmel-stats,cnn14-tiny"})
    result = leaderboard.run(params)
    layers = result.table("layers")
    assert set(layers.tasks) == {"event", "pitch"} and "cnn14-tiny (random weights) / block1" not in layers.rows
    assert any(row.startswith("cnn14-tiny / ") for row in layers.rows)
    config = probe_config(params.to_dict())
    for (encoder, task), cell in result.cells.items():
        stored = RunDir(cell.run_dir).read_metrics()
        assert stored["encoder"] == encoder and stored["task"] == task
        for column, score in cell.columns.items():
            label = result.row_label(encoder, column)
            shown = layers.cell(label, task)
            # The table shows exactly the run's stored score ...
            assert shown.result.mean == stored["scores"][column]["mean"] == score.mean
            assert shown.result.ci95 == stored["scores"][column]["ci95"]
            assert shown.run_dir == str(cell.run_dir)
        # ... and the run's score is the linear evaluation of the cached embeddings with the run's probe.
        spec = next(spec for spec in result.encoders if spec.name == encoder)
        built = cells_module.build(spec, params)
        tables = cells_module.feature_columns(built, spec, build_dataset(task, params), params)
        for column, table in tables.items():
            again = evaluate_table(table, params.to_dict(), config)
            assert again.per_seed == cell.columns[column].per_seed, (encoder, task, column)


def _result(correct: np.ndarray, seeds=(0, 1, 2)) -> LinearEvalResult:
    """A single-label result whose every seed predicts class 0 where ``correct`` is 1, else class 1 (targets 0)."""
    correct = np.asarray(correct, dtype=bool)
    predictions = np.where(correct, 0, 1)
    per_seed = tuple(float(row.mean()) for row in correct)
    items = correct.shape[1]
    return LinearEvalResult(
        metric="accuracy", protocol="official", mean=float(np.mean(per_seed)), ci95=0.0, per_seed=per_seed,
        per_fold={}, seeds=tuple(seeds), n_train=10, n_valid=2, n_test=items, test_indices=np.arange(items),
        test_targets=np.zeros(items, dtype=int), predictions=predictions[0], classes=("a", "b"),
        seed_predictions=predictions,
    )  # fmt: skip


def test_ties_follow_the_paired_test():
    generator = np.random.default_rng(0)
    best = generator.random((3, 200)) < 0.90
    close = best.copy()
    close[:, :3] = ~close[:, :3]  # three items differ: not separable
    far = generator.random((3, 200)) < 0.55
    farther = generator.random((3, 200)) < 0.30
    scores = {"best": _result(best), "close": _result(close), "far": _result(far), "farther": _result(farther)}
    ranks, against_best = tied_ranks(scores)
    for row in ("close", "far", "farther"):
        comparison = paired(scores["best"], scores[row])
        assert against_best[row] == comparison
        assert (ranks[row] == 1) == (comparison.ci_low <= 0), row
    assert ranks == {"best": 1, "close": 1, "far": 3, "farther": 4}
    assert against_best["close"].unit == leaderboard.UNIT and against_best["close"].n == 3
    # The same seeds are required: probe seed s of one row is paired with probe seed s of the other.
    with pytest.raises(ValueError, match="same probe seeds"):
        paired(scores["best"], _result(close, seeds=(5, 6, 7)))
    # With one probe seed nothing is separated: every row shares rank 1.
    single = {name: _result(value[:1], seeds=(0,)) for name, value in
              {"best": best, "far": far, "farther": farther}.items()}  # fmt: skip
    assert set(tied_ranks(single)[0].values()) == {1}


def test_average_is_stratified_and_the_export_carries_evar_columns():
    generator = np.random.default_rng(1)
    scores = {
        "a": {"t1": _result(generator.random((3, 100)) < 0.9), "t2": _result(generator.random((3, 100)) < 0.6)},
        "b": {"t1": _result(generator.random((3, 100)) < 0.5), "t2": _result(generator.random((3, 100)) < 0.4)},
    }
    run_dirs = {(row, task): f"/runs/leaderboard/leaderboard-{row}{task}" for row in scores for task in ("t1", "t2")}
    table = build_leaderboard(scores, run_dirs, ["t1", "t2"], "encoders")
    assert table.rows == ["a", "b"] and table.average_rank == {"a": 1, "b": 2}
    expected = np.mean([scores["a"]["t1"].mean, scores["a"]["t2"].mean])
    assert table.average["a"].effect == pytest.approx(expected)
    assert table.average["a"].ci_low < expected < table.average["a"].ci_high
    records = list(csv.DictReader(io.StringIO(table.to_csv())))
    assert tuple(records[0])[: len(EVAR_COLUMNS)] == EVAR_COLUMNS
    assert {"ci95", "ci_low", "ci_high", "n"} <= set(records[0])
    first = next(record for record in records if record["representation"] == "a" and record["task"] == "t1")
    assert float(first["score"]) == pytest.approx(scores["a"]["t1"].mean) and first["n"] == "3"
    assert first["run_id"] == "leaderboard-at1"
    markdown = table.to_markdown()
    assert markdown.splitlines()[0] == "| rank | encoder | t1 | t2 | average (stratified) |"


def test_a_new_encoder_computes_only_its_column_and_a_warm_rerun_nothing(private_runs, counted):
    first = leaderboard.run(leaderboard.Params.from_dict(QUICK))
    assert counted["extractions"] == 2 and len(first.computed) == 2
    counted.update(extractions=0, evaluations=0)
    second = leaderboard.run(leaderboard.Params.from_dict({**QUICK, "encoders": "logmel-stats,cnn14-tiny"}))
    assert counted["extractions"] == 2  # cnn14-tiny on event and pitch: one pass each gives every tapped layer
    assert sorted(second.computed) == [("cnn14-tiny", "event"), ("cnn14-tiny", "pitch")]
    assert counted["evaluations"] == 2 * (1 + 3)  # its embedding and three tapped layers, per task
    for task in ("event", "pitch"):
        assert second.cells[("logmel-stats", task)].run_dir == first.cells[("logmel-stats", task)].run_dir
        assert second.cells[("logmel-stats", task)].embedding.per_seed == first.cells[("logmel-stats", task)].embedding.per_seed
    counted.update(extractions=0, evaluations=0)
    warm = leaderboard.run(leaderboard.Params.from_dict({**QUICK, "encoders": "logmel-stats,cnn14-tiny"}))
    assert counted == {"extractions": 0, "evaluations": 0} and warm.computed == [] and warm.estimate_seconds == 0
    assert warm.table("layers").to_csv() == second.table("layers").to_csv()


def test_pretrained_encoders_at_hand_are_those_whose_weights_are_here(tmp_path, monkeypatch, shared_dir):
    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path / "cache"))
    params = leaderboard.Params.from_dict({**QUICK, "encoders_at_hand": "efficientat-mn04,byola-d2048"})
    encoders, skipped = leaderboard.resolve_encoders(params)
    mn04 = next(spec for spec in encoders if spec.name == "efficientat-mn04")
    assert mn04.pretrained and mn04.weights_file.startswith(str(shared_dir))
    assert "byola-d2048" in skipped and "no weights mirror" in skipped["byola-d2048"]
    monkeypatch.setenv("WORKBENCH_SHARED", str(tmp_path / "nothing"))
    _, skipped = leaderboard.resolve_encoders(params)
    assert set(skipped) == {"efficientat-mn04", "byola-d2048"}


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"encoders_at_hand": "efficientat-mn04", "encoders": "efficientat-mn04"}, "parameter 'encoders_at_hand': efficientat-mn04 is also in 'encoders'"),
        ({"layer_encoders": "vggish"}, "parameter 'layer_encoders': vggish is in neither"),
        ({"tasks": "", "tasks_at_hand": ""}, "both empty"),
        ({"encoders_at_hand": "logmel-stats"}, "unknown pretrained encoder 'logmel-stats'"),
        ({"tasks": "event,esc51"}, "unknown dataset 'esc51'"),
    ],
)
def test_bad_grids_are_refused_naming_the_parameter(values, message):
    with pytest.raises((ParameterError, ValueError, KeyError), match=message):
        leaderboard.Params.from_dict({**QUICK, **values})


def test_the_command_prints_the_table_and_exports(private_runs, capsys):
    out_csv, out_md = private_runs / "scores.csv", private_runs / "board.md"
    arguments = [f"-p {key}={value}".split(" ", 1) for key, value in QUICK.items()]
    flat = [part for pair in arguments for part in pair]
    assert main(["leaderboard", *flat, "--view", "layers", "--csv", str(out_csv), "--markdown", str(out_md)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("leaderboard: 0 of 2 cells finished earlier (read back); computing 2: about ")
    assert "\n| rank | encoder / layer | event | pitch | average (stratified) |\n" in printed
    assert "2 of 2 cells computed now" in printed
    assert out_csv.read_text().startswith(",".join(EVAR_COLUMNS)) and out_md.read_text().startswith("| rank |")


def test_clicking_a_heatmap_cell_opens_its_run(private_runs):
    from workbench.viz.leaderboard import LeaderboardView, sorted_rows

    result = leaderboard.run(leaderboard.Params.from_dict({**QUICK, "encoders": "logmel-stats,cnn14-tiny"}))
    board = LeaderboardView(result)
    board.view.value = "layers"
    heatmap = board.heatmap.figure.data[0]
    row, task = heatmap.y[1], heatmap.x[1]
    board.heatmap.click(0, [1, 1])  # a heatmap point is [row, column], as plotly.js sends it
    assert board.opened == (row, task) and board.explorer is not None
    cell = result.table("layers").cell(row, task)
    assert cell.run_dir in board.info.value
    confusion = board.confusion.figure.data[0]
    assert np.asarray(confusion.customdata).sum() == cell.result.n_test  # every test clip, first probe seed
    assert len(board.explorer.points) == len(result.datasets[task])
    board.heatmap.click(0, [1, len(result.tasks)])  # the average column opens nothing
    assert board.opened == (row, task)
    board.filter.value = "cnn14"
    assert all("cnn14" in name for name in board.heatmap.figure.data[0].y)
    assert sorted_rows(result.table("layers"), "pitch")[0] == max(
        result.table("layers").rows, key=lambda name: result.table("layers").cell(name, "pitch").result.mean)


def test_make_demo_runs_the_leaderboard_notebook_with_its_paper_preset_valid(tmp_path):
    from workbench import reproduce

    assert "06_leaderboard.ipynb" in [job.notebook.name for job in reproduce.plan(None, tmp_path)]
    paper = leaderboard.Params.from_preset("paper")
    assert len(paper.tasks) == 9 and {"vggish", "panns-cnn14-16k", "ast-audioset"} <= set(paper.layer_encoders)


def test_the_launch_plan_has_one_leaf_per_cell_and_its_runs_are_the_cells(private_runs):
    params = leaderboard.Params.from_dict(QUICK)
    plan = leaderboard.plan(params)
    (stage,) = plan.stages
    assert [leaf.label for leaf in stage.leaves] == ["logmel-stats on event", "logmel-stats on pitch"]
    assert not any(leaf.finished() for leaf in stage.leaves)
    stage.leaves[0]()  # the first cell, as a job would compute it
    assert [leaf.finished() for leaf in stage.leaves] == [True, False]
    result = leaderboard.run(params)  # the gather computes the other and reads the first back
    assert result.computed == [("logmel-stats", "pitch")]
    assert {str(cell.run_dir) for cell in result.cells.values()} == {leaf.path for leaf in stage.leaves}
