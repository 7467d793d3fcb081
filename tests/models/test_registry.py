"""The pretrained-weights registry with a tiny encoder: strict loading, conversion, and every error."""

from __future__ import annotations

import dataclasses
import hashlib
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from torch import nn

from workbench.atomic import atomic_torch_save
from workbench.data.download import RemoteFile
from workbench.errors import CheckpointError, MissingFileError, UnknownNameError
from workbench.models import Encoder, PretrainedSpec, download_weights, load_pretrained, names, register_pretrained
from workbench.models.zoo import build_encoder
from workbench.models.registry import (
    PUBLISHED_CHECKSUMS,
    UnverifiedWeightsWarning,
    WeightsRecord,
    chain,
    checksum_status,
    loaded_weights,
    rename_prefix,
    spec,
    unregister_pretrained,
    unwrap,
    weights_path,
)

NAME = "test-tiny-encoder"


class TinyEncoder(Encoder):
    """Frames of 16 samples -> linear -> ReLU -> linear, mean over frames."""

    sample_rate = 16000
    embedding_dim = 4

    def __init__(self, hidden: int = 8):
        super().__init__()
        self.frames = nn.Unfold(kernel_size=(1, 16), stride=(1, 16))
        self.project = nn.Linear(16, hidden)
        self.activation = nn.ReLU()
        self.head = nn.Linear(hidden, self.embedding_dim)
        self.register_buffer("scale", torch.tensor(2.0))

    def layer_modules(self) -> dict[str, nn.Module]:
        return {"project": self.project, "activation": self.activation, "head": self.head}

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        frames = self.frames(waveform[:, None, None, :]).transpose(1, 2)  # (B, frames, 16)
        return self.head(self.activation(self.project(frames * self.scale))).mean(dim=1)  # (B, 4)


def _trained_state() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    model = TinyEncoder()
    model.scale.fill_(3.0)
    return model.state_dict()


@pytest.fixture
def official(tmp_path: Path) -> Path:
    """An 'official' checkpoint in the layout of a typical release: {'model': {'module.*': ...}}."""
    state = {f"module.{key}": value for key, value in _trained_state().items()}
    return atomic_torch_save(tmp_path / "server" / "tiny.pt", {"model": state, "epoch": 12})


@pytest.fixture
def registered(official: Path) -> Iterator[PretrainedSpec]:
    entry = register_pretrained(
        PretrainedSpec(
            name=NAME,
            description="a tiny test encoder",
            remote=RemoteFile(
                url=official.as_uri(), sha256=hashlib.sha256(official.read_bytes()).hexdigest(), filename="tiny.pt"
            ),
            build=TinyEncoder,
            convert=chain(unwrap("model", "state_dict"), rename_prefix("module.")),
            frontend="raw 16-sample frames",
            licence="MIT",
        )
    )
    yield entry
    unregister_pretrained(NAME)


def test_round_trip_from_a_local_file_is_exact_and_in_eval_mode(registered: PretrainedSpec, official: Path):
    assert NAME in names() and spec(NAME) is registered
    model = load_pretrained(NAME, path=official)
    assert isinstance(model, TinyEncoder) and not model.training
    reference = TinyEncoder()
    reference.load_state_dict(_trained_state(), strict=True)
    for key, value in reference.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key
    waveform = torch.randn(3, 1600)
    assert torch.allclose(model.embed(waveform), reference(waveform))
    layers = model.layers(waveform, ["activation", "head"])
    assert layers["activation"].shape == (3, 100, 8) and (layers["activation"] >= 0).all()
    assert torch.allclose(layers["head"].mean(dim=1), model.embed(waveform))


def test_download_into_the_cache_then_reuse_it(registered: PretrainedSpec, official: Path, tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("WORKBENCH_OFFLINE", "0")
    path = download_weights(NAME)
    assert path == tmp_path / "cache" / "weights" / "tiny.pt" == weights_path(NAME)
    assert path.read_bytes() == official.read_bytes()
    monkeypatch.setenv("WORKBENCH_OFFLINE", "1")
    official.unlink()
    model = load_pretrained(NAME)  # from the cache: no network needed
    assert model.scale.item() == 3.0


def test_offline_error_names_url_file_sha256_and_place(registered: PretrainedSpec, tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("WORKBENCH_OFFLINE", "1")
    with pytest.raises(MissingFileError) as caught:
        load_pretrained(NAME)
    message = str(caught.value)
    assert registered.remote.url in message and registered.remote.sha256 in message
    assert f"    {tmp_path / 'cache' / 'weights' / 'tiny.pt'}\n" in message


def test_a_cached_file_with_the_wrong_checksum(registered: PretrainedSpec, tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path / "cache"))
    cached = tmp_path / "cache" / "weights" / "tiny.pt"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"truncated")
    with pytest.raises(CheckpointError) as caught:
        load_pretrained(NAME)
    assert str(cached) in str(caught.value) and registered.remote.sha256 in str(caught.value)


def test_missing_local_file(registered: PretrainedSpec, tmp_path: Path):
    with pytest.raises(MissingFileError) as caught:
        load_pretrained(NAME, path=tmp_path / "nowhere.pt")
    assert str(tmp_path / "nowhere.pt") in str(caught.value) and "tiny.pt" in str(caught.value)


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all", b"PK\x03\x04 broken zip"])
def test_corrupt_file_says_to_delete_it(registered: PretrainedSpec, tmp_path: Path, content: bytes):
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(content)
    with pytest.raises(CheckpointError) as caught:
        load_pretrained(NAME, path=corrupt)
    assert str(corrupt) in str(caught.value) and "delete it" in str(caught.value)


def test_pickled_code_is_refused(registered: PretrainedSpec, tmp_path: Path):
    unsafe = tmp_path / "unsafe.pt"
    torch.save({"model": _trained_state(), "callback": TinyEncoder}, unsafe)  # needs arbitrary unpickling
    with pytest.raises(CheckpointError, match="not a readable PyTorch checkpoint"):
        load_pretrained(NAME, path=unsafe)


def test_layout_mismatch_lists_missing_unexpected_and_shapes(registered: PretrainedSpec, tmp_path: Path):
    state = {f"module.{key}": value for key, value in _trained_state().items()}
    del state["module.head.bias"]
    state["module.extra.weight"] = torch.zeros(1)
    state["module.project.weight"] = torch.zeros(9, 16)
    path = atomic_torch_save(tmp_path / "other.pt", {"model": state})
    with pytest.raises(CheckpointError) as caught:
        load_pretrained(NAME, path=path)
    message = str(caught.value)
    assert str(path) in message and "TinyEncoder" in message
    assert "missing keys (1): head.bias" in message
    assert "unexpected keys (1): extra.weight" in message
    assert "project.weight (9, 16) vs ours (8, 16)" in message


def test_many_missing_keys_are_listed_up_to_ten(registered: PretrainedSpec, tmp_path: Path):
    path = atomic_torch_save(tmp_path / "other.pt", {f"block{i}.weight": torch.zeros(1) for i in range(25)})
    listed = r"unexpected keys \(25\): block0\.weight, .*block9\.weight \.\.\. \(15 more\)"
    with pytest.raises(CheckpointError, match=listed):
        load_pretrained(NAME, path=path)


def test_a_checkpoint_that_is_not_a_state_dict(registered: PretrainedSpec, tmp_path: Path):
    path = atomic_torch_save(tmp_path / "list.pt", [torch.zeros(1)])
    with pytest.raises(CheckpointError, match="converting the checkpoint .* failed .*got a list"):
        load_pretrained(NAME, path=path)
    register_pretrained(dataclasses.replace(registered, convert=PretrainedSpec.convert), replace=True)
    with pytest.raises(CheckpointError, match="is a list, not a state_dict"):
        load_pretrained(NAME, path=path)
    path = atomic_torch_save(tmp_path / "nested.pt", {"weights": {"head.bias": torch.zeros(4)}, "step": 3})
    with pytest.raises(CheckpointError, match="not tensors: weights, step"):
        load_pretrained(NAME, path=path)


def test_names_and_registration_errors(registered: PretrainedSpec):
    with pytest.raises(UnknownNameError) as caught:
        load_pretrained("no-such-model")
    assert NAME in str(caught.value)
    with pytest.raises(ValueError, match="registered twice"):
        register_pretrained(registered)
    assert register_pretrained(registered, replace=True) is registered


def test_converters():
    state = {"module.a": torch.ones(1), "b": torch.zeros(1)}
    assert list(rename_prefix("module.")(state)) == ["a", "b"]
    assert list(rename_prefix("module.", "encoder.")(state)) == ["encoder.a", "b"]
    assert unwrap("model")({"model": state, "epoch": 1}) is state
    assert unwrap("model")(state) is state  # already a state_dict
    assert list(chain(unwrap("state_dict"), rename_prefix("module."))({"state_dict": state})) == ["a", "b"]


def test_checkpoints_holding_plain_numpy_arrays_load_without_running_code(tmp_path):
    """Some official checkpoints (PANNs) pickle numpy arrays beside tensors; those are data, not code."""
    import numpy as np
    import torch

    from workbench.models.registry import read_checkpoint

    path = tmp_path / "mixed.pth"
    torch.save({"model": {"w": torch.ones(2)}, "statistics": np.arange(3.0)}, path)
    loaded = read_checkpoint(path)
    assert torch.equal(loaded["model"]["w"], torch.ones(2))
    np.testing.assert_array_equal(loaded["statistics"], np.arange(3.0))


# --------------------------------------------------------------------------------------------------
# Checksums: verified files, refused impostors, unverified files recorded


def test_random_weights_at_the_cache_path_of_byola_d512_are_refused(tmp_path, monkeypatch):
    """The official file's sha256 and size are registered, so other weights saved there never load."""
    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("WORKBENCH_OFFLINE", "1")
    entry = spec("byola-d512")
    assert entry.remote.sha256 == "6cc64226318494f06ef41d7e5810be7d37abfd6490da45abdab48f188c5332e2"
    assert entry.remote.size_bytes == 2_410_576
    random_weights = weights_path("byola-d512")
    atomic_torch_save(random_weights, entry.build().state_dict())  # a loadable, random AudioNTT2020
    with pytest.raises(CheckpointError) as caught:
        load_pretrained("byola-d512")
    message = str(caught.value)
    assert str(random_weights) in message and entry.remote.sha256 in message
    assert "Delete it" in message and "pass path=" in message


def test_an_impostor_of_the_right_size_fails_on_its_sha256(registered: PretrainedSpec, official: Path, tmp_path,
                                                            monkeypatch):  # fmt: skip
    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path / "cache"))
    register_pretrained(dataclasses.replace(registered, remote=dataclasses.replace(
        registered.remote, size_bytes=official.stat().st_size)), replace=True)  # fmt: skip
    impostor = bytearray(official.read_bytes())
    impostor[-30] ^= 0xFF  # same size, other bytes
    cached = weights_path(NAME)
    cached.parent.mkdir(parents=True)
    cached.write_bytes(bytes(impostor))
    with pytest.raises(CheckpointError) as caught:
        load_pretrained(NAME)
    assert str(cached) in str(caught.value) and registered.remote.sha256 in str(caught.value)
    assert hashlib.sha256(bytes(impostor)).hexdigest() in str(caught.value)  # what it is, beside what it should be


def test_a_verified_load_records_the_file_and_its_sha256(registered: PretrainedSpec, official: Path, tmp_path,
                                                         monkeypatch):  # fmt: skip
    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("WORKBENCH_OFFLINE", "0")
    assert checksum_status(NAME) == "sha256"
    model = load_pretrained(NAME)
    record = model.weights_record
    assert record == WeightsRecord(NAME, str(weights_path(NAME)), registered.remote.sha256,
                                   official.stat().st_size, verified=True)  # fmt: skip
    assert loaded_weights()[NAME] == record
    # A local file (e.g. a fine-tuned copy) loads too, recorded with its own hash, not as the official one.
    state = {f"module.{key}": value * 2 for key, value in _trained_state().items()}
    tuned = atomic_torch_save(tmp_path / "tuned.pt", {"model": state})
    record = load_pretrained(NAME, path=tuned).weights_record
    assert record.sha256 == hashlib.sha256(tuned.read_bytes()).hexdigest() and not record.verified


def test_unverified_weights_warn_once_and_record_the_computed_sha256(registered: PretrainedSpec, official: Path,
                                                                      tmp_path, monkeypatch):  # fmt: skip
    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("WORKBENCH_OFFLINE", "0")
    name = "test-tiny-unverified"
    register_pretrained(dataclasses.replace(registered, name=name, remote=dataclasses.replace(
        registered.remote, sha256=None)))  # fmt: skip
    try:
        assert checksum_status(name) == "unverified"
        expected = hashlib.sha256(official.read_bytes()).hexdigest()
        with pytest.warns(UnverifiedWeightsWarning) as caught:
            model = load_pretrained(name)
        message = str(caught[0].message)
        assert name in message and expected in message and "unverified" in message
        assert model.weights_record.sha256 == expected and not model.weights_record.verified
        assert loaded_weights()[name].sha256 == expected
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # the second load of the same model is silent
            load_pretrained(name)
            # A file passed as path= is the caller's choice: recorded, never warned about.
            register_pretrained(dataclasses.replace(spec(name), name=name + "-local"))
            assert load_pretrained(name + "-local", path=official).weights_record.sha256 == expected
    finally:
        unregister_pretrained(name)
        if name + "-local" in names():
            unregister_pretrained(name + "-local")


def test_the_unverified_weights_warning_points_at_the_users_call(registered: PretrainedSpec, official: Path, tmp_path,
                                                                 monkeypatch):  # fmt: skip
    """Loaded through the zoo (as a recipe loads it), the warning names this file, not a workbench line."""
    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("WORKBENCH_OFFLINE", "0")
    name = "test-tiny-unverified-caller"
    register_pretrained(dataclasses.replace(registered, name=name, remote=dataclasses.replace(
        registered.remote, sha256=None)))  # fmt: skip
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            build_encoder(name)
        (warning,) = [w for w in caught if issubclass(w.category, UnverifiedWeightsWarning)]
        assert warning.filename == __file__, warning.filename
    finally:
        unregister_pretrained(name)


def test_a_spec_contradicting_a_published_checksum_is_rejected():
    entry = spec("byola-d512")
    wrong = dataclasses.replace(entry, name="test-wrong-sha", remote=dataclasses.replace(entry.remote, sha256="0" * 64))
    with pytest.raises(ValueError, match=r"registered with sha256 0{64} .* published ones are 6cc64226"):
        register_pretrained(wrong)
    assert "test-wrong-sha" not in names()


def test_every_registered_checkpoint_is_verified_or_listed_as_unverified():
    """The known gaps are exactly the files for which no sha256 could be found (see PUBLISHED_CHECKSUMS)."""
    unverified = {name for name in names() if checksum_status(name) != "sha256"}
    assert unverified <= {"ast-audioset", "panns-cnn14-16k", "byola-d1024", "byola-d2048"}
    for name in set(names()) - unverified:
        remote = spec(name).remote
        published = PUBLISHED_CHECKSUMS.get(remote.filename)
        assert published is None or (remote.sha256, remote.size_bytes) == (
            published.sha256, published.size_bytes or remote.size_bytes)  # fmt: skip


@pytest.mark.shared
def test_the_mn04_checksum_is_the_one_shipped_with_the_shared_file(shared_dir: Path):
    sums = shared_dir / "weights" / "efficientat-mn04" / "SHA256SUMS"
    if not sums.is_file():
        pytest.skip(f"{sums} not found in the shared material")
    listed = dict(reversed(line.split()) for line in sums.read_text().splitlines() if line.strip())
    remote = spec("efficientat-mn04").remote
    assert listed[f"./{remote.filename}"] == remote.sha256
    assert (sums.parent / remote.filename).stat().st_size == remote.size_bytes


def test_the_weights_listing_says_which_checkpoints_are_unverified(capsys):
    from workbench import cli

    assert cli.main(["weights"]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert "sha256-verified" in lines["byola-d512"] and "sha256-verified" in lines["beats-iter3-plus"]
    assert "unverified" in lines["byola-d2048"] and "unverified" in lines["ast-audioset"]
