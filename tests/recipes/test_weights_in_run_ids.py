"""Runs keyed by the weights they read (issue 25) in layer_fusion and asc_tagging: a checkpoint overwritten in
place (a copy of the mn04 release file in a temporary folder) gives a new run id, the id the launch plan
names too, and provenance.json records the new file's sha256; ``{shared}`` in asc_tagging's paths."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch

from workbench.errors import DatasetNotFoundError, MissingFileError
from workbench.evaluation.embeddings import cache_key
from workbench.data import digests
from workbench.recipes import asc_tagging, layer_fusion
from workbench.train.rundir import RunDir

MN04 = "weights/efficientat-mn04/mn04_as_mAP_432.pt"


class _Opened(Exception):
    """Raised by the patched ``RunDir.open`` with the run directory it opened, so the run stops there."""

    def __init__(self, run_dir: RunDir):
        super().__init__(str(run_dir.path))
        self.run_dir = run_dir


def opened_run(run: Any, params: Any, monkeypatch: pytest.MonkeyPatch) -> RunDir:
    """The run directory ``run(params)`` opens first (for real: provenance.json is written), before any work."""
    original = RunDir.open.__func__

    def opening(cls: Any, name: str, settings: Any, data: Any = None, **options: Any) -> None:
        raise _Opened(original(cls, name, settings, data=data, **options))

    with monkeypatch.context() as patch:
        patch.setattr(RunDir, "open", classmethod(opening))
        with pytest.raises(_Opened) as caught:
            run(params)
    return caught.value.run_dir


def overwrite_in_place(path: Path) -> None:
    """Other weights at the same path: the checkpoint's first floating-point tensor shifted."""
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    state = checkpoint.get("model", checkpoint) if isinstance(checkpoint, dict) else checkpoint
    key = next(key for key, value in state.items() if torch.is_tensor(value) and value.is_floating_point())
    state[key] = state[key] + 0.5
    torch.save(checkpoint, path)


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def mn04_copy(shared_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    source = shared_dir / MN04
    if not source.is_file():
        pytest.skip(f"the EfficientAT release file is not at {source}")
    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("WORKBENCH_RUNS", str(tmp_path / "runs"))
    monkeypatch.setattr(digests, "_MEMORY", {})
    copy = tmp_path / "mine" / "mn04.pt"
    copy.parent.mkdir()
    shutil.copyfile(source, copy)
    return copy


def assert_weights_recorded(run_dir: RunDir, file: Path) -> None:
    (weights,) = run_dir.provenance["weights"]
    assert weights["name"] == "efficientat-mn04" and weights["path"] == str(file.resolve())
    assert weights["sha256"] == sha256_of(file) and weights["size_bytes"] == file.stat().st_size


@pytest.mark.shared
def test_layer_fusion_a_checkpoint_overwritten_in_place_is_a_new_run(mn04_copy: Path, monkeypatch) -> None:
    params = layer_fusion.Params(weights_path=str(mn04_copy), tasks=("event",), tasks_at_hand=(), n_clips=20)
    first = opened_run(layer_fusion.run, params, monkeypatch)
    assert_weights_recorded(first, mn04_copy)
    assert layer_fusion.plan(params).leaves[0].id == first.path.name  # launch finds the run it opens
    assert opened_run(layer_fusion.run, params, monkeypatch).path == first.path  # unchanged: the same run
    dataset = layer_fusion.build_dataset("event", params)
    key = cache_key(layer_fusion.build_model(params), dataset)

    overwrite_in_place(mn04_copy)
    second = opened_run(layer_fusion.run, params, monkeypatch)
    assert second.path != first.path
    assert_weights_recorded(second, mn04_copy)
    assert layer_fusion.plan(params).leaves[0].id == second.path.name
    # The embedding cache is keyed by the loaded weights themselves: new weights, new features.
    assert cache_key(layer_fusion.build_model(params), dataset) != key


@pytest.mark.shared
def test_asc_tagging_a_pretrained_taggers_checkpoint_overwritten_in_place_is_a_new_run(mn04_copy, monkeypatch):
    params = asc_tagging.Params(tagger="efficientat-mn04", tagger_weights=str(mn04_copy), n_clips=20, grid="none",
                                variants=("baseline", "attention"), seeds=(0,))  # fmt: skip
    first = opened_run(asc_tagging.run, params, monkeypatch)
    assert_weights_recorded(first, mn04_copy)
    networks = [leaf.id for leaf in asc_tagging.plan(params).leaves]
    assert opened_run(asc_tagging.run, params, monkeypatch).path == first.path

    overwrite_in_place(mn04_copy)
    second = opened_run(asc_tagging.run, params, monkeypatch)
    assert second.path != first.path
    assert_weights_recorded(second, mn04_copy)
    # Each network's run is keyed by the tag vectors' weights too: none is read back from the old tagger.
    assert not set(networks) & {leaf.id for leaf in asc_tagging.plan(params).leaves}
    # The trained or oracle tagger reads no weights file: tagger_weights is never looked at.
    assert asc_tagging.tagger_weights_fingerprint(params.replace(tagger="oracle")) == []


def test_asc_tagging_expands_shared_in_its_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shared = tmp_path / "lab"
    monkeypatch.setenv("WORKBENCH_SHARED", str(shared))
    params = asc_tagging.Params(tagger="efficientat-mn04", tagger_weights="{shared}/weights/tagger.pt",
                                dataset="dcase2019_task1a", data_root="{shared}/data")  # fmt: skip
    assert asc_tagging.tagger_weights_file(params) == f"{shared}/weights/tagger.pt"
    with pytest.raises(MissingFileError, match=f"checkpoint file not found: {shared}/weights/tagger.pt "
                                               r"\(parameter 'tagger_weights'"):  # fmt: skip
        asc_tagging.tagger_weights_fingerprint(params)
    with pytest.raises(DatasetNotFoundError, match=str(shared / "data")):
        asc_tagging.build_dataset(params)
    with pytest.raises(DatasetNotFoundError, match=str(shared / "data")):
        asc_tagging.tagging_data(params.replace(tagger="trained", tagger_dataset="fsdkaggle2019"))
    assert asc_tagging.tagger_weights_file(params.replace(tagger_weights="")) is None  # the registry's file
