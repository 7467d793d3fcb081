"""Run directories: stable ids, atomic files, a crash-tolerant log, checkpoints, arrays."""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import itertools
import json
import pickle

import numpy as np
import pytest
import torch
import yaml

from workbench.errors import CheckpointError, MissingFileError
from workbench.recipes.base import Params
from workbench.train import RunDir, rng_state, run_id


def _temporary_files(root) -> list:
    return [path for path in root.rglob("*") if path.name.endswith(".tmp")]


# --- run ids -------------------------------------------------------------------------------------


def test_run_id_is_the_documented_hash_and_pinned_across_versions():
    params = {"lr": 0.001, "epochs": 3, "dims": [64, 128], "name": "synthetic", "margin": 0.5,
              "use_bn": True, "clip": None}
    # Reference written from the docstring: sorted compact JSON of {"params", "recipe"}, sha256, 12 hex.
    text = json.dumps({"params": params, "recipe": "add_loss"}, sort_keys=True, separators=(",", ":"))
    expected = "add_loss-" + hashlib.sha256(text.encode()).hexdigest()[:12]
    assert run_id("add_loss", params) == expected
    # Pinned when written: a change here would orphan every existing run directory.
    assert run_id("add_loss", params) == "add_loss-5f3248ba6a34"


def test_a_code_version_enters_the_run_id_and_the_run_directory(tmp_path):
    params = {"lr": 0.1}
    text = json.dumps({"code": 2, "params": params, "recipe": "r"}, sort_keys=True, separators=(",", ":"))
    assert run_id("r", params, code=2) == "r-" + hashlib.sha256(text.encode()).hexdigest()[:12]
    assert len({run_id("r", params), run_id("r", params, code=1), run_id("r", params, code=2)}) == 3
    assert RunDir.open("r", params, tmp_path, code=2).path.name == run_id("r", params, code=2)
    with pytest.raises(TypeError, match=r"code must be an int or str version, got float"):
        run_id("r", params, code=1.5)


def test_run_id_ignores_key_order_int_float_spelling_and_tuple_vs_list():
    base = run_id("r", {"lr": 1.0, "sizes": (1, 2), "nested": {"a": 2.0, "b": "x"}})
    assert run_id("r", {"nested": {"b": "x", "a": 2}, "sizes": [1, 2], "lr": 1}) == base
    assert run_id("r", {"lr": np.float32(1.0), "sizes": np.array([1, 2]), "nested": {"a": 2, "b": "x"}}) == base
    assert run_id("r", {"lr": 1.5, "sizes": (1, 2), "nested": {"a": 2, "b": "x"}}) != base
    assert run_id("r", {"lr": 1, "sizes": (2, 1), "nested": {"a": 2, "b": "x"}}) != base  # order of a list counts
    assert run_id("other", {"lr": 1, "sizes": (1, 2), "nested": {"a": 2, "b": "x"}}) != base


def test_run_id_equal_for_params_coerced_by_the_recipe_dataclass():
    @dataclasses.dataclass(frozen=True)
    class ToyParams(Params):
        lr: float = 0.1
        epochs: int = 2
        sizes: tuple[int, ...] = (4, 8)

    from_cli = ToyParams.from_dict({"lr": "1", "epochs": 2.0, "sizes": "4,8"})
    assert from_cli.lr == 1.0 and isinstance(from_cli.lr, float)
    as_plain_dict = run_id("toy", {"lr": 1, "epochs": 2, "sizes": [4, 8]})
    assert run_id("toy", from_cli) == run_id("toy", ToyParams(lr=1.0)) == as_plain_dict


def test_run_ids_do_not_collide_over_a_grid_of_params():
    grid = itertools.product([1e-4, 3e-4, 1e-3, 0.01, 0.1], range(20), ["a", "b", "c"], [True, False], [None, 0.5])
    params = [{"lr": lr, "epochs": e, "dataset": d, "bn": bn, "clip": c} for lr, e, d, bn, c in grid]
    ids = {run_id("r", p) for p in params}
    assert len(ids) == len(params) == 1200
    assert all(len(identifier) == len("r-") + 12 for identifier in ids)


def test_run_id_rejects_unsafe_recipe_names_and_unplain_values():
    with pytest.raises(ValueError, match="recipe name '../x'"):
        run_id("../x", {})
    with pytest.raises(TypeError, match=r"params\.model: cannot store a object"):
        run_id("r", {"model": object()})
    with pytest.raises(TypeError, match="keys must be strings"):
        run_id("r", {"map": {1: 2}})


# --- opening a run -------------------------------------------------------------------------------


def test_open_writes_params_yaml_and_reopens_the_same_directory(tmp_path):
    run = RunDir.open("toy", {"lr": 0.5, "sizes": (1, 2)}, root=tmp_path)
    assert run.path == tmp_path / "toy" / run_id("toy", {"lr": 0.5, "sizes": (1, 2)})
    assert yaml.safe_load((run.path / "params.yaml").read_text()) == {"lr": 0.5, "sizes": [1, 2]}
    again = RunDir.open("toy", {"sizes": [1, 2], "lr": 0.5}, root=tmp_path)
    assert again.path == run.path and again.params == {"lr": 0.5, "sizes": [1, 2]}
    assert _temporary_files(tmp_path) == []


def test_open_defaults_to_the_runs_root_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_RUNS", str(tmp_path / "elsewhere"))
    assert RunDir.open("toy", {}).path.parent == tmp_path / "elsewhere" / "toy"


def test_open_refuses_a_directory_whose_params_differ(tmp_path):
    run = RunDir.open("toy", {"lr": 0.5, "epochs": 3}, root=tmp_path)
    (run.path / "params.yaml").write_text("lr: 0.7\nepochs: 3\n")
    with pytest.raises(CheckpointError, match=r"params\.yaml holds different parameters \(differing: lr\)") as caught:
        RunDir.open("toy", {"lr": 0.5, "epochs": 3}, root=tmp_path)
    assert str(run.path) in str(caught.value)


# --- metrics -------------------------------------------------------------------------------------


def test_metrics_round_trip_and_finished_flag(tmp_path):
    run = RunDir.open("toy", {}, root=tmp_path)
    assert not run.finished
    run.write_metrics({"accuracy": np.float32(0.75), "per_class": torch.tensor([1.0, 0.5])}, finished=False)
    assert not run.finished
    assert run.read_metrics() == {"accuracy": 0.75, "per_class": [1.0, 0.5]}
    run.write_metrics({"accuracy": 0.8})
    assert run.finished and run.read_metrics() == {"accuracy": 0.8}


def test_failed_writes_keep_the_old_file_and_leave_no_temporary_files(tmp_path):
    run = RunDir.open("toy", {}, root=tmp_path)
    run.write_metrics({"accuracy": 0.5})
    with pytest.raises(TypeError, match="metrics.bad"):
        run.write_metrics({"accuracy": 0.9, "bad": object()})
    first = run.save_checkpoint({"weights": torch.ones(3)}, step=1)
    with pytest.raises((pickle.PicklingError, AttributeError, TypeError)):
        run.save_checkpoint({"weights": torch.zeros(3), "unpicklable": lambda: None}, step=1)
    run.save_arrays("embeddings", values=np.arange(4))
    with pytest.raises(ValueError, match="holds Python objects"):
        run.save_arrays("embeddings", values=np.array([object()]))
    assert run.read_metrics() == {"accuracy": 0.5}
    assert torch.equal(run.load_checkpoint(first)["weights"], torch.ones(3))
    assert np.array_equal(run.load_arrays("embeddings")["values"], np.arange(4))
    assert _temporary_files(tmp_path) == []


def test_read_metrics_errors_name_the_file(tmp_path):
    run = RunDir.open("toy", {}, root=tmp_path)
    with pytest.raises(MissingFileError, match=r"metrics\.json does not exist: the run has not written metrics"):
        run.read_metrics()
    (run.path / "metrics.json").write_text("{not json")
    with pytest.raises(CheckpointError, match=r"metrics\.json is not valid JSON"):
        run.read_metrics()


# --- log -----------------------------------------------------------------------------------------


def test_log_appends_timestamped_lines(tmp_path):
    run = RunDir.open("toy", {}, root=tmp_path)
    before = datetime.datetime.now(datetime.timezone.utc)
    run.log("step", step=1, loss=np.float64(0.5))
    run.log("epoch", epoch=0, metrics={"loss": 0.4})
    records = run.read_log()
    assert [(r["event"], r.get("step"), r.get("epoch")) for r in records] == [("step", 1, None), ("epoch", None, 0)]
    assert records[0]["loss"] == 0.5 and records[1]["metrics"] == {"loss": 0.4}
    stamp = datetime.datetime.fromisoformat(records[0]["time"])
    assert stamp.utcoffset() == datetime.timedelta(0)
    assert before - datetime.timedelta(seconds=1) <= stamp <= datetime.datetime.now(datetime.timezone.utc)
    with pytest.raises(ValueError, match="may not be named"):
        run.log("step", time=3)


def test_log_survives_a_process_dying_mid_line(tmp_path):
    run = RunDir.open("toy", {}, root=tmp_path)
    run.log("step", step=1)
    run.log("step", step=2)
    whole = run.log_path.read_bytes()
    run.log_path.write_bytes(whole[:-9])  # the second line lost its tail, as if killed mid-write
    assert [r["step"] for r in run.read_log()] == [1]
    run.log("step", step=3)  # the next writer drops the fragment instead of gluing onto it
    assert [r["step"] for r in run.read_log()] == [1, 3]


def test_log_with_a_corrupt_complete_line_names_the_line(tmp_path):
    run = RunDir.open("toy", {}, root=tmp_path)
    run.log("step", step=1)
    with open(run.log_path, "ab") as stream:
        stream.write(b"garbage\n")
    run.log("step", step=2)
    with pytest.raises(CheckpointError, match=r"log\.jsonl line 2 is not valid JSON"):
        run.read_log()


# --- checkpoints ---------------------------------------------------------------------------------


def test_checkpoint_round_trip_with_rng_state_and_nested_containers(tmp_path):
    run = RunDir.open("toy", {}, root=tmp_path)
    state = {
        "model": {"weight": torch.randn(3, 2), "bias": torch.zeros(2, dtype=torch.float64)},
        "epoch": 3,
        "name": "toy",
        "history": [{"loss": 0.5}, {"loss": 0.25}],
        "betas": (0.9, 0.999),
        "rng": rng_state(),
    }
    path = run.save_checkpoint(state, step=12)
    assert path == run.path / "checkpoints" / "step-12.pt"
    loaded = run.load_checkpoint()
    assert torch.equal(loaded["model"]["weight"], state["model"]["weight"])
    assert loaded["model"]["bias"].dtype == torch.float64
    assert (loaded["epoch"], loaded["name"], loaded["betas"]) == (3, "toy", (0.9, 0.999))
    assert loaded["history"] == state["history"]
    assert torch.equal(loaded["rng"]["torch"], state["rng"]["torch"])
    assert loaded["rng"]["python"] == state["rng"]["python"]


def test_checkpoints_keep_the_newest_by_step_number(tmp_path):
    run = RunDir.open("toy", {}, root=tmp_path)
    assert run.latest_checkpoint() is None
    for step in (8, 9, 10):  # 10 after 9: numeric, not text, order
        run.save_checkpoint({"step": step}, step=step, keep_last=2)
    assert [p.name for p in run.checkpoints()] == ["step-9.pt", "step-10.pt"]
    assert run.latest_checkpoint().name == "step-10.pt" and run.load_checkpoint()["step"] == 10
    run.save_checkpoint({"step": 11}, step=11, keep_last=None)
    assert len(run.checkpoints()) == 3


def test_only_rank_0_drops_a_finished_trainings_checkpoints(tmp_path, monkeypatch):
    """Under torchrun only rank 0 writes checkpoints; a rank that finished first must not remove the folder
    while rank 0 still writes its last checkpoint (add_loss failed so under load: a vanished temporary file)."""
    run = RunDir.open("toy", {}, root=tmp_path)
    run.save_checkpoint({"step": 1}, step=1)
    monkeypatch.setenv("RANK", "1")
    run.drop_checkpoints()
    assert [p.name for p in run.checkpoints()] == ["step-1.pt"]
    monkeypatch.setenv("RANK", "0")
    run.drop_checkpoints()
    assert not run.checkpoint_dir.exists() and run.checkpoints() == []


@pytest.mark.parametrize(
    "corrupt",
    [
        lambda data: data[: len(data) // 2],  # truncated by a full disk or a copy that stopped
        lambda data: b"\x00" * len(data),  # overwritten
    ],
    ids=["truncated", "zeroed"],
)
def test_corrupt_checkpoint_raises_checkpoint_error_naming_the_file(tmp_path, corrupt):
    run = RunDir.open("toy", {}, root=tmp_path)
    path = run.save_checkpoint({"weights": torch.randn(100)}, step=5)
    path.write_bytes(corrupt(path.read_bytes()))
    with pytest.raises(CheckpointError, match=rf"checkpoint {path} cannot be read .*corrupt") as caught:
        run.load_checkpoint()
    assert "delete it to resume from an earlier checkpoint" in str(caught.value)


class _NotAllowed:
    """A class weights_only loading must refuse to construct."""


def test_checkpoint_with_pickled_objects_is_refused(tmp_path):
    run = RunDir.open("toy", {}, root=tmp_path)
    path = run.checkpoint_dir / "step-1.pt"
    path.parent.mkdir(parents=True)
    torch.save({"object": _NotAllowed()}, path)
    with pytest.raises(CheckpointError, match=f"checkpoint {path} cannot be read"):
        run.load_checkpoint()


def test_missing_checkpoint_errors(tmp_path):
    run = RunDir.open("toy", {}, root=tmp_path)
    with pytest.raises(MissingFileError, match=r"no checkpoint step-<n>\.pt in .*checkpoints; train the run first"):
        run.load_checkpoint()
    with pytest.raises(MissingFileError, match="checkpoint .*step-3.pt does not exist"):
        run.load_checkpoint(run.checkpoint_dir / "step-3.pt")


# --- arrays and artifacts ------------------------------------------------------------------------


def test_arrays_round_trip(tmp_path):
    run = RunDir.open("toy", {}, root=tmp_path)
    embeddings = torch.randn(5, 3)
    path = run.save_arrays("embeddings", embeddings=embeddings, labels=np.array([0, 1, 0, 2, 1]), names=["a", "b"])
    assert path.name == "embeddings.npz"
    loaded = run.load_arrays("embeddings")
    assert np.array_equal(loaded["embeddings"], embeddings.numpy()) and loaded["embeddings"].dtype == np.float32
    assert loaded["labels"].tolist() == [0, 1, 0, 2, 1] and loaded["names"].tolist() == ["a", "b"]
    with pytest.raises(MissingFileError, match=r"distances\.npz does not exist; saved arrays: embeddings"):
        run.load_arrays("distances")
    with pytest.raises(ValueError, match="array file name '../up'"):
        run.save_arrays("../up", x=np.zeros(1))


def test_artifact_paths_stay_inside_the_run(tmp_path):
    run = RunDir.open("toy", {}, root=tmp_path)
    path = run.artifact("figures/loss.html")
    assert path == run.path / "artifacts" / "figures" / "loss.html" and path.parent.is_dir()
    for bad in ("../escape.txt", "/abs.txt", ""):
        with pytest.raises(ValueError, match="must be a non-empty relative path"):
            run.artifact(bad)
