"""The benchmark harness: interleaved rounds, per-round ratios against an anchor, and the printed table.

Smoke and bookkeeping only: the speeds themselves are read from the table, never asserted here.
"""

from __future__ import annotations

import importlib
import math
from pathlib import Path

import pytest

from benchmarks import bench_frontends, bench_linear_eval, run, timing


def test_interleaved_warms_up_then_rotates_the_order_every_round():
    calls: list[str] = []
    functions = {name: (lambda name=name: calls.append(name)) for name in ("a", "b", "c")}
    seconds = timing.interleaved(functions, rounds=4, warmup=2)
    assert calls[:6] == ["a", "b", "c"] * 2  # warm-up rounds, untimed
    assert calls[6:] == ["a", "b", "c", "b", "c", "a", "c", "a", "b", "a", "b", "c"]
    assert {name: len(values) for name, values in seconds.items()} == {"a": 4, "b": 4, "c": 4}
    assert all(value >= 0 for values in seconds.values() for value in values)
    with pytest.raises(ValueError, match="need rounds >= 1"):
        timing.interleaved(functions, rounds=0)


def test_compared_row_takes_the_ratio_round_by_round():
    seconds = {"ours": [2.0, 1.0, 3.0, 1.0], "theirs": [4.0, 1.0, 2.0, 4.0]}  # ratios 0.5, 1, 1.5, 0.25
    entry = timing.compared_row("bench", "setting", seconds, "ours", "theirs", goal=0.8, note="why not")
    assert set(entry) == set(timing.COLUMNS)
    assert entry["ratio_median"] == pytest.approx(0.75) and entry["ratio_min"] == pytest.approx(0.25)
    assert entry["value"] == pytest.approx(1500.0) and entry["unit"] == "ms"  # the candidate's median time
    assert entry["met"] is True and entry["note"] is None  # the note explains a miss, so a met goal drops it
    missed = timing.compared_row("bench", "setting", seconds, "ours", "theirs", goal=0.5, note="why not", scale=2)
    assert missed["ratio_median"] == pytest.approx(1.5) and missed["met"] is False and missed["note"] == "why not"
    assert timing.compared_row("bench", "setting", seconds, "ours", "theirs")["met"] is None  # no goal
    with pytest.raises(ValueError, match="unknown row fields"):
        timing.row("bench", "setting", 1.0, "ms", speedup=2.0)


def test_every_benchmark_yields_complete_rows_in_quick_mode():
    names = run.discover([])
    expected = {"bench_frontends", "bench_layer_fusion", "bench_linear_eval", "bench_embedding_cache", "bench_care_sep"}
    assert expected <= set(names)
    for name in names:
        rows = run.module_rows(name, quick=True)
        assert rows, name
        for entry in rows:
            assert set(entry) == set(timing.COLUMNS), name
            assert math.isfinite(entry["value"]) or "not installed" in (entry["note"] or ""), entry
            if entry["goal"] is not None:
                assert entry["anchor"] and entry["met"] in (True, False), entry
                assert entry["ratio_min"] <= entry["ratio_median"], entry


def test_the_probe_benchmark_times_the_probes_linear_evaluation_trains():
    """The batched-probe row times exactly the seeds x folds probes of ``linear_evaluation`` (new protocol
    names, no deprecation warning): their predictions, reordered by clip, are the evaluation's."""
    import warnings

    import numpy as np

    from workbench.evaluation import LinearEvalConfig, linear_evaluation
    from workbench.evaluation.linear import train_linear_batched

    features, labels = bench_linear_eval._embeddings(200)
    config = LinearEvalConfig(max_epochs=2, patience=2)
    specs = bench_linear_eval.probe_specs(features, labels, config)
    assert len(specs) == len(bench_linear_eval.SEEDS) * bench_linear_eval.N_FOLDS
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        result = linear_evaluation((features, labels, None), seeds=bench_linear_eval.SEEDS, config=config,
                                   protocol=bench_linear_eval.PROTOCOL, n_folds=bench_linear_eval.N_FOLDS)  # fmt: skip
    assert result.protocol == "kfold"
    outcomes = train_linear_batched(features, labels, specs, config)
    for position in range(len(bench_linear_eval.SEEDS)):
        chosen = range(position * bench_linear_eval.N_FOLDS, (position + 1) * bench_linear_eval.N_FOLDS)
        rows = np.concatenate([specs[index].test for index in chosen])
        predictions = np.concatenate([outcomes[index].test_logits.argmax(axis=1) for index in chosen])
        np.testing.assert_array_equal(predictions[np.argsort(rows, kind="stable")], result.seed_predictions[position])


def test_librosa_absent_is_said_in_its_row(monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *args: None if name == "librosa" else real_find_spec(name, *args))  # fmt: skip
    rows = [entry for entry in bench_frontends.run(quick=True) if entry["anchor"] == "librosa melspectrogram"]
    assert len(rows) == 1 and rows[0]["note"].startswith("librosa not installed") and rows[0]["met"] is None


def test_row_modules_are_completed_to_every_column_or_refused(monkeypatch, tmp_path):
    """Row modules of other branches (byola_rows, care_sep_rows) are listed when their file exists, and
    their short rows get every column; a row with an unknown or a missing key is refused by name."""
    import sys
    import types

    assert run.discover(["no-such-benchmark"]) == []
    short = {"benchmark": "step", "setting": "batch 64", "value": 2.5, "unit": "steps/s"}
    module = types.ModuleType("benchmarks.fake_rows")
    module.run = lambda quick=False: [short]
    monkeypatch.setitem(sys.modules, "benchmarks.fake_rows", module)
    (entry,) = run.module_rows("fake_rows", quick=True)
    assert set(entry) == set(timing.COLUMNS) and entry["value"] == 2.5 and entry["goal"] is None
    assert run.format_table([entry])[1].split()[:4] == ["step", "batch", "64", "2.5"]
    module.run = lambda quick=False: [{**short, "speedup": 2.0}]
    with pytest.raises(ValueError, match=r"benchmarks\.fake_rows returned a row with keys"):
        run.module_rows("fake_rows", quick=True)
    module.run = lambda quick=False: [{"benchmark": "step", "value": 1.0}]
    with pytest.raises(ValueError, match="expected \\('benchmark', 'setting', 'value', 'unit'\\)"):
        run.module_rows("fake_rows", quick=True)
    present = [name for name in run.ROW_MODULES if (Path(run.__file__).parent / f"{name}.py").is_file()]
    assert [name for name in run.discover([]) if name in run.ROW_MODULES] == present


def test_the_command_prints_one_table(capsys):
    assert run.main(["--quick", "synthetic"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("machine: ") and "1 thread per row" in lines[0]
    assert lines[1].split()[:3] == ["benchmark", "setting", "value"] and "goal" in lines[1]
    assert len(lines) > 2 and all(line.startswith("synthetic: ") for line in lines[2:])
