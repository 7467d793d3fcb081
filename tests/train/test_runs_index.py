"""The runs side by side: run folders made by the real RunDir (and Trainer) are listed with what tells
them apart, their curves read back from log.jsonl, failed and running runs shown as such, and the curves
exported as TensorBoard event files that TensorBoard's own reader reads back."""

from __future__ import annotations

import math

import pytest
from torch.utils.data import DataLoader

from workbench.errors import UnknownNameError, WorkbenchError
from workbench.models.digest import weights_fingerprint
from workbench.train import RunDir
from workbench.train.loop import TrainConfig, Trainer
from workbench.train.rundir import failures_marked
from workbench.train.runs_index import differing_params, find_runs, list_runs, read_curves, runs_table
from workbench.train.runs_tensorboard import export_tensorboard


def _train(root, lr, toy_dataset, toy_model_factory, step_fn, epochs=3):
    """A real training run: the Trainer logs ``step`` and ``epoch`` rows to log.jsonl."""
    run = RunDir.open("toy", {"lr": lr, "batch_size": 8, "note": "same"}, root=root)
    config = TrainConfig(epochs=epochs, lr=lr, log_every=2, seed=0)
    trainer = Trainer(toy_model_factory(), step_fn, config, run_dir=run, progress=False)
    trainer.fit(DataLoader(toy_dataset, batch_size=8))
    run.write_metrics({"loss": 0.1})
    run.close()
    return run


@pytest.fixture
def runs_root(tmp_path, toy_dataset, toy_model_factory, step_fn):
    root = tmp_path / "runs"
    first = _train(root, 1e-2, toy_dataset, toy_model_factory, step_fn)
    second = _train(root, 1e-3, toy_dataset, toy_model_factory, step_fn)
    weights = tmp_path / "w.pt"
    weights.write_bytes(b"not really weights, but a file with a sha256")
    with pytest.raises(RuntimeError), failures_marked():
        broken = RunDir.open("probe", {"lr": 1e-2, "encoder": "x"}, root=root,
                             data=[weights_fingerprint(weights, name="tiny")])
        broken.log("epoch", epoch=0, loss=2.0)
        raise RuntimeError("probe diverged")
    broken.close()
    return root, first, second, broken, weights


def test_listing_shows_recipe_status_data_weights_and_the_params_that_differ(runs_root):
    root, first, second, broken, weights = runs_root
    runs = list_runs(root)
    assert {run.path for run in runs} == {first.path, second.path, broken.path}
    by_path = {run.path: run for run in runs}
    assert by_path[first.path].status == "finished" and by_path[first.path].recipe == "toy"
    assert by_path[first.path].created <= by_path[second.path].created  # oldest first
    failed = by_path[broken.path]
    assert failed.status == "failed" and failed.error == "RuntimeError: probe diverged"
    assert failed.weights[0]["name"] == "tiny"
    assert failed.weights[0]["sha256"] == broken.provenance["weights"][0]["sha256"]
    assert len(failed.weights[0]["sha256"]) == 64 and failed.data_digest

    # Between the two toy runs only lr differs; with the probe run, its own keys differ too.
    toy = list_runs(root, recipe="toy")
    assert differing_params(toy) == ["lr"]
    assert differing_params(runs) == ["batch_size", "encoder", "lr", "note"]
    rows = runs_table(toy)
    assert [row["params"] for row in rows] == [{"lr": 0.01}, {"lr": 0.001}]
    assert list_runs(root, status="failed")[0].path == broken.path
    assert [run.path for run in list_runs(root, recipe="probe", status=["finished"])] == []
    with pytest.raises(UnknownNameError, match="run status 'done'"):
        list_runs(root, status="done")


def test_a_run_held_by_a_process_is_running_and_one_left_unfinished_is_interrupted(tmp_path):
    held = RunDir.open("toy", {"lr": 1}, root=tmp_path)
    held.log("epoch", epoch=0, loss=1.0)
    assert [run.status for run in list_runs(tmp_path)] == ["running"]
    held.close()
    del held  # the lock goes with its last holder
    assert [run.status for run in list_runs(tmp_path)] == ["interrupted"]


def test_curves_read_back_the_logged_values(runs_root):
    root, first, _, broken, _ = runs_root
    curves = {curve.name: curve for curve in read_curves(first.path)}
    epochs = [row for row in first.read_log() if row["event"] == "epoch"]
    loss = curves["epoch/loss"]
    assert loss.x_name == "epoch" and loss.x == (0.0, 1.0, 2.0)
    assert loss.values == tuple(row["loss"] for row in epochs)
    steps = [row for row in first.read_log() if row["event"] == "step"]
    assert curves["step/loss"].x == tuple(float(row["step"]) for row in steps) and len(steps) == 9
    assert "epoch/epoch" not in curves and "fit_start/world_size" not in curves  # axes and ids are not curves
    assert [curve.name for curve in read_curves(broken.path)] == ["epoch/loss"]


def test_find_runs_by_id_prefix_name_or_folder(runs_root):
    root, first, second, _, _ = runs_root
    assert [run.path for run in find_runs([second.run_id, f"toy/{first.run_id}", str(first.path)], root)] == [
        second.path, first.path, first.path]
    with pytest.raises(WorkbenchError, match="names 2 runs"):
        find_runs(["toy"], root)
    with pytest.raises(WorkbenchError, match="names no run"):
        find_runs(["nothing-like-it"], root)


def test_tensorboard_export_reads_back(runs_root, tmp_path):
    event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    root, first, second, _, _ = runs_root
    folders = export_tensorboard(list_runs(root, recipe="toy"), tmp_path / "tb")
    assert folders == [tmp_path / "tb" / "toy" / first.run_id, tmp_path / "tb" / "toy" / second.run_id]
    for run, folder in zip((first, second), folders):
        reader = event_accumulator.EventAccumulator(str(folder))
        reader.Reload()
        expected = {curve.name: curve for curve in read_curves(run.path)}
        assert set(reader.Tags()["scalars"]) == set(expected)
        for name, curve in expected.items():
            events = reader.Scalars(name)
            assert [event.step for event in events] == [int(x) for x in curve.x]
            assert all(math.isclose(event.value, value, rel_tol=1e-6) for event, value in zip(events, curve.values))


def test_tensorboard_export_without_the_package_says_how_to_install_it(runs_root, tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import fails as when it is missing
    with pytest.raises(WorkbenchError, match=r"needs the tensorboard package.*\.\[tensorboard\]"):
        export_tensorboard(list_runs(runs_root[0]), tmp_path / "tb")
