"""Weights mirrors: a lab's weights folder ($WORKBENCH_WEIGHTS) and $WORKBENCH_SHARED/weights are searched
before the cache and any download, with the sha256 still checked; offline without the file, the error names
the file, its sha256 and every place it may go. Tmp folders only, never the network."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from torch import nn

from workbench.data.download import RemoteFile
from workbench.errors import CheckpointError, MissingFileError
from workbench.models import Encoder, PretrainedSpec, download_weights, load_pretrained, register_pretrained
from workbench.models.registry import WEIGHTS_VARIABLE, unregister_pretrained, weights_mirrors

NAME = "test-mirrored-encoder"
FILENAME = "mirrored.pt"


class Doubler(Encoder):
    sample_rate = 16000
    embedding_dim = 1

    def __init__(self):
        super().__init__()
        self.gain = nn.Linear(1, 1, bias=False)

    def layer_modules(self) -> dict[str, nn.Module]:
        return {"gain": self.gain}

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        return self.gain(waveform.mean(dim=-1, keepdim=True))


def _save(path: Path, value: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"gain.weight": torch.full((1, 1), value)}, path)
    return path


@pytest.fixture
def official(tmp_path: Path) -> Path:
    return _save(tmp_path / "release" / FILENAME, 2.0)


@pytest.fixture
def registered(official: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PretrainedSpec]:
    # An unreachable URL: any attempt to download fails loudly instead of touching the network.
    remote = RemoteFile(url="http://127.0.0.1:9/nowhere/" + FILENAME, filename=FILENAME,
                        sha256=hashlib.sha256(official.read_bytes()).hexdigest(), size_bytes=official.stat().st_size)  # fmt: skip
    entry = register_pretrained(PretrainedSpec(name=NAME, description="test", remote=remote, build=Doubler))
    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("WORKBENCH_SHARED", str(tmp_path / "shared"))
    monkeypatch.setenv("WORKBENCH_OFFLINE", "1")
    monkeypatch.delenv(WEIGHTS_VARIABLE, raising=False)
    yield entry
    unregister_pretrained(NAME)


def test_the_shared_weights_folder_is_found_before_any_download(registered, official, tmp_path):
    mirrored = tmp_path / "shared" / "weights" / NAME / FILENAME  # the layout of ../shared/weights
    mirrored.parent.mkdir(parents=True)
    mirrored.write_bytes(official.read_bytes())
    assert download_weights(NAME) == mirrored  # offline, nothing in the cache: the mirror answered
    encoder = load_pretrained(NAME)
    assert encoder.gain.weight.item() == 2.0
    assert encoder.weights_record.path == str(mirrored) and encoder.weights_record.verified
    assert not (tmp_path / "cache" / "weights" / FILENAME).exists()  # read in place, never copied


def test_a_labs_weights_folder_comes_first_and_holds_files_flat(registered, official, tmp_path, monkeypatch):
    lab, other = tmp_path / "lab", tmp_path / "other"
    (lab / FILENAME).parent.mkdir(parents=True)
    (lab / FILENAME).write_bytes(official.read_bytes())
    (tmp_path / "shared" / "weights").mkdir(parents=True)
    (tmp_path / "shared" / "weights" / FILENAME).write_bytes(b"not looked at: the lab folder comes first")
    monkeypatch.setenv(WEIGHTS_VARIABLE, os.pathsep.join([str(other), str(lab)]))
    assert weights_mirrors() == [other, lab, tmp_path / "shared" / "weights"]
    assert download_weights(NAME) == lab / FILENAME


def test_a_mirror_file_with_the_wrong_sha256_is_refused(registered, official, tmp_path, monkeypatch):
    impostor = _save(tmp_path / "lab" / FILENAME, 3.0)  # other weights under the official name
    assert impostor.stat().st_size == official.stat().st_size  # the size alone cannot tell
    monkeypatch.setenv(WEIGHTS_VARIABLE, str(tmp_path / "lab"))
    with pytest.raises(CheckpointError) as caught:
        load_pretrained(NAME)
    message = str(caught.value)
    assert str(impostor) in message and registered.remote.sha256 in message and "weights mirror" in message


def test_offline_without_the_file_names_it_its_sha256_and_every_place(registered, tmp_path, monkeypatch):
    monkeypatch.setenv(WEIGHTS_VARIABLE, str(tmp_path / "lab"))
    with pytest.raises(MissingFileError) as caught:
        load_pretrained(NAME)
    message = str(caught.value)
    assert FILENAME in message and registered.remote.sha256 in message
    assert str(tmp_path / "cache" / "weights" / FILENAME) in message  # the cache path, as before
    assert str(tmp_path / "lab") in message and str(tmp_path / "shared" / "weights") in message
    assert WEIGHTS_VARIABLE in message
