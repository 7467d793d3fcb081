"""The benchmark command still runs: every ``benchmarks/bench_*.py`` yields rows of the printed table.

Smoke only (``--quick``, about ten seconds); the speeds themselves are read from the table, never
asserted here.
"""

from __future__ import annotations

import importlib
import math

from benchmarks import run


def test_every_benchmark_yields_finite_rows_in_quick_mode(capsys):
    names = run.discover([])
    assert "bench_care_sep" in names and "bench_layer_fusion" in names
    for name in names:
        rows = importlib.import_module(f"benchmarks.{name}").run(quick=True)
        assert rows, name
        for row in rows:
            assert set(row) == {"benchmark", "setting", "value", "unit"}, name
            # NaN marks a comparison whose library is absent (librosa), and says so in the setting.
            assert math.isfinite(row["value"]) or row["setting"] == "not installed", row


def test_the_command_prints_one_table(capsys):
    assert run.main(["--quick", "synthetic"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("machine: ") and lines[1].split()[:3] == ["benchmark", "setting", "value"]
    assert len(lines) > 2
