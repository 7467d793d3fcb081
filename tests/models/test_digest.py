"""Runs keyed by the weights they load: the cached sha256 of a weights file, and a checkpoint overwritten
in place giving a new linear_eval run whose provenance.json holds the new file's sha256."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from workbench.data.download import RemoteFile
from workbench.evaluation.embeddings import cache_key
from workbench.models import PretrainedSpec, load_pretrained, register_pretrained
from workbench.data import digests as digest_module
from workbench.models.digest import DIGEST_TABLE, file_sha256, weights_fingerprint
from workbench.models.registry import unregister_pretrained
from workbench.recipes import linear_eval
from workbench.train.rundir import RunDir, run_id

from tests.models.test_registry import TinyEncoder

NAME = "test-digest-encoder"


def _save_weights(path: Path, seed: int) -> Path:
    torch.manual_seed(seed)
    torch.save(TinyEncoder().state_dict(), path)
    return path


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(digest_module, "_MEMORY", {})
    return tmp_path / "cache"


def test_the_digest_is_computed_once_per_file_version(tmp_path: Path, cache: Path, monkeypatch) -> None:
    weights = _save_weights(tmp_path / "w.pt", 0)
    expected = hashlib.sha256(weights.read_bytes()).hexdigest()
    assert file_sha256(weights) == expected
    table = json.loads((cache / DIGEST_TABLE).read_text())
    assert table[str(weights.resolve())]["sha256"] == expected

    # Another process (an empty memory) reads the table instead of hashing the file again.
    monkeypatch.setattr(digest_module, "_MEMORY", {})
    hashed = []
    monkeypatch.setattr(digest_module, "_hash_file", lambda path: hashed.append(path) or "x")
    assert file_sha256(weights) == expected and hashed == []

    # A new version of the file (same size, mtime set back) is hashed again: its ctime moved.
    status = weights.stat()
    _save_weights(weights, 1)
    os.utime(weights, ns=(status.st_atime_ns, status.st_mtime_ns))
    assert weights.stat().st_size == status.st_size
    assert file_sha256(weights) == "x" and len(hashed) == 1


def test_the_path_is_recorded_but_not_hashed(tmp_path: Path, cache: Path) -> None:
    first = _save_weights(tmp_path / "a.pt", 0)
    moved = tmp_path / "elsewhere.pt"
    moved.write_bytes(first.read_bytes())
    one, two = weights_fingerprint(first, "tiny"), weights_fingerprint(moved, "tiny")
    assert one["recorded"]["path"] == str(first.resolve()) and one["sha256"] == two["sha256"]
    assert run_id("r", {}, [one]) == run_id("r", {}, [two])
    assert run_id("r", {}, [one]) != run_id("r", {}, [weights_fingerprint(_save_weights(tmp_path / "b.pt", 1))])


@pytest.fixture
def pretrained(tmp_path: Path) -> Iterator[str]:
    register_pretrained(PretrainedSpec(
        name=NAME, description="a tiny test encoder", build=TinyEncoder,
        remote=RemoteFile(url=(tmp_path / "absent.pt").as_uri(), sha256=None, filename="digest-tiny.pt"),
    ))  # fmt: skip
    yield NAME
    unregister_pretrained(NAME)


def test_a_checkpoint_overwritten_in_place_is_a_new_run(tmp_path, cache, pretrained, monkeypatch) -> None:
    monkeypatch.setenv("WORKBENCH_RUNS", str(tmp_path / "runs"))
    weights = _save_weights(tmp_path / "mine.pt", 0)
    params = linear_eval.Params(
        n_clips=60, n_seeds=1, max_epochs=3, patience=2, encoders=(pretrained,), weights_path=str(weights)
    )
    first = linear_eval.run(params)
    recorded = RunDir(first.run_dir).provenance["weights"]
    assert recorded == [{
        "name": pretrained, "path": str(weights.resolve()), "size_bytes": weights.stat().st_size,
        "sha256": hashlib.sha256(weights.read_bytes()).hexdigest(), "verified": False,
    }]  # fmt: skip
    assert linear_eval.run(params).run_dir == first.run_dir  # unchanged weights: the same run, read back

    key = cache_key(load_pretrained(pretrained, path=weights), first.dataset)
    _save_weights(weights, 1)  # other weights at the same path
    # The embedding cache is keyed by the loaded weights themselves: new weights, new embeddings.
    assert cache_key(load_pretrained(pretrained, path=weights), first.dataset) != key
    second = linear_eval.run(params)
    assert second.run_dir != first.run_dir
    assert RunDir(second.run_dir).provenance["weights"][0]["sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
