"""Every recipe runs under ``torchrun`` with two gloo processes on CPU (issue 26 item 3): the README's
"runs unchanged under torchrun" checked per recipe on a tiny configuration, each under a minute alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPOSITORY = Path(__file__).resolve().parents[2]

TINY = {
    "add_loss": dict(n_clips=60, clip_seconds=0.5, epochs=1, batch_size=16, variants=["ce", "add"], repeats=1),
    "asc_tagging": dict(n_clips=60, clip_seconds=1.7, filters=4, epochs=1, batch_size=16, tagger="oracle", seeds=[0],
                        variants=["baseline", "attention"], grid="none"),
    "care_sep": dict(n_mixtures=60, duration=0.5, n_anchors=3, epochs=1, pretrain_epochs=1, batch_size=8,
                     n_figure_points=6, figure_classes=[0, 1], n_event_classes=4, init_classes=6, init_clips=48,
                     rows=["A", "C"], seeds=[0]),
    "diff_byola": dict(channels=4, embedding_dim=32, projection_dim=16, hidden_dim=32, pretrain_tasks=["event", "pitch"],
                       n_pretrain_clips=24, epochs=1, batch_size=16, memory_size=32, n_bgknown_clips=30,
                       n_backgrounds=2, n_retrieval_scenes=20, retrieval_epochs=10, general_tasks=["event"],
                       n_general_clips=30, n_probe_seeds=1, n_adapter_seeds=1, max_epochs=5, patience=2,
                       bgknown_max_epochs=5, bgknown_patience=2, n_bgknown_probe_seeds=1, background_seconds=2.0),
    "layer_fusion": dict(model="ast-tiny", tasks=["event"], n_clips=20, layers=["all"], n_seeds=1, max_epochs=5),
}  # fmt: skip
"""Per recipe, a configuration that trains every kind of network it has for one epoch on a few clips."""


@pytest.mark.slow
@pytest.mark.parametrize("recipe", sorted(TINY))
def test_a_recipe_runs_under_torchrun_with_two_gloo_processes(recipe, tmp_path):
    parameters = tmp_path / "tiny.yaml"
    parameters.write_text(yaml.safe_dump(TINY[recipe]))
    environment = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1", "WORKBENCH_RUNS": str(tmp_path / "runs"),
                   "WORKBENCH_CACHE": str(tmp_path / "cache"), "PYTHONPATH": str(REPOSITORY)}  # fmt: skip
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "workbench.cli",
               "run", recipe, "-f", str(parameters)]  # fmt: skip
    finished = subprocess.run(command, cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=600)
    # The ranks' own errors (not their progress bars) and torchrun's summary, which says only "FAILED".
    lines = [line for line in finished.stderr.splitlines() if line.strip() and "it/s]" not in line and "epoch/s" not in line]
    assert finished.returncode == 0, "\n".join(lines[-60:])
    # Every rank prints the result; all name the same run directory.
    (run_directory,) = {line.split(":", 1)[1].strip() for line in finished.stdout.splitlines()
                        if line.startswith("run directory:")}  # fmt: skip
    metrics = json.loads((Path(run_directory) / "metrics.json").read_text())
    assert metrics["finished"] and metrics["metrics"]["claims"]
