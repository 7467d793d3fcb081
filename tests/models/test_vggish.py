"""VGGish: the torchvggish checkpoint layout, the official front-end, examples, taps, PCA and errors.

The front-end reference is written with numpy loops from the constants of the official
``vggish_params.py`` / ``mel_features.py``, independently of the model code.
"""

from __future__ import annotations

import io
import pickle
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from workbench.data.download import RemoteFile
from workbench.errors import AudioError, CheckpointError, MissingFileError, UnknownNameError
from workbench.models.registry import (
    PretrainedSpec,
    load_pretrained,
    register_pretrained,
    spec,
    unregister_pretrained,
)
from workbench.models.vggish import (
    EXAMPLE_FRAMES,
    Postprocessor,
    VGGish,
    VGGishConfig,
    VGGishLogMel,
    convert_raw,
    examples_to_time,
    pca_converter,
    read_pca_params,
)

TINY = "test-vggish-tiny"
TINY_PCA = "test-vggish-tiny-pca"


def samples_for(examples: int) -> int:
    """The shortest clip that gives ``examples`` whole examples: 400 + (96 * examples - 1) * 160 samples."""
    return 400 + (EXAMPLE_FRAMES * examples - 1) * 160


ONE_EXAMPLE = samples_for(1)  # 15600 samples, 0.975 s

# --------------------------------------------------------------------------------------------------
# Hand references


def official_layout(config: VGGishConfig) -> dict[str, tuple[int, ...]]:
    """Names and shapes of torchvggish's ``VGG(make_layers()).state_dict()`` (conv indices of config A)."""
    layout: dict[str, tuple[int, ...]] = {}
    in_channels = 1
    for index, out_channels in zip((0, 3, 6, 8, 11, 13), config.conv_channels):
        layout[f"features.{index}.weight"] = (out_channels, in_channels, 3, 3)
        layout[f"features.{index}.bias"] = (out_channels,)
        in_channels = out_channels
    widths = (in_channels * 6 * 4, config.hidden_dim, config.hidden_dim, config.embedding_dim)
    for index, (fan_in, fan_out) in zip((0, 2, 4), zip(widths[:-1], widths[1:])):
        layout[f"embeddings.{index}.weight"] = (fan_out, fan_in)
        layout[f"embeddings.{index}.bias"] = (fan_out,)
    return layout


def reference_log_mel(waveform: np.ndarray) -> np.ndarray:
    """``mel_features.log_mel_spectrogram`` with VGGish's parameters, with loops: (frames, 64)."""
    window_length, hop_length, fft_length = 400, 160, 512  # round(16000 * 0.025), round(16000 * 0.010), 2**9
    window = 0.5 - 0.5 * np.cos(2 * np.pi / window_length * np.arange(window_length))  # periodic Hann
    n_frames = 1 + (len(waveform) - window_length) // hop_length
    magnitudes = np.stack([
        np.abs(np.fft.rfft(waveform[t * hop_length : t * hop_length + window_length] * window, fft_length))
        for t in range(n_frames)
    ])  # (frames, 257)

    def hertz_to_mel(hertz: np.ndarray) -> np.ndarray:
        return 1127.0 * np.log(1.0 + hertz / 700.0)

    bins_mel = hertz_to_mel(np.linspace(0.0, 8000.0, 257))
    edges = np.linspace(hertz_to_mel(np.array(125.0)), hertz_to_mel(np.array(7500.0)), 64 + 2)
    weights = np.zeros((257, 64))
    for band in range(64):
        lower, center, upper = edges[band : band + 3]
        for k in range(257):
            rising = (bins_mel[k] - lower) / (center - lower)
            falling = (upper - bins_mel[k]) / (upper - center)
            weights[k, band] = max(0.0, min(rising, falling))
    weights[0, :] = 0.0
    return np.log(magnitudes @ weights + 0.01)


def random_state(config: VGGishConfig, seed: int) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return {
        name: torch.randn(shape, generator=generator) * (0.3 if name.startswith("features") else 0.05)
        for name, shape in official_layout(config).items()
    }


def random_pca(seed: int, dim: int = 128) -> tuple[np.ndarray, np.ndarray]:
    generator = np.random.default_rng(seed)
    return generator.normal(size=(dim, dim)).astype(np.float32), generator.normal(size=dim).astype(np.float32)


def save_like_numpy_1(path: Path, value: dict) -> Path:
    """``torch.save`` of numpy arrays as numpy 1.x pickles them (``numpy.core.multiarray``), as in 2019."""
    buffer = io.BytesIO()
    torch.save(value, buffer, _use_new_zipfile_serialization=False, pickle_protocol=2)
    data = buffer.getvalue()
    assert b"numpy._core.multiarray\n" in data  # protocol-2 GLOBAL opcodes name module and callable by text
    path.write_bytes(data.replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n"))
    return path


def clips(batch: int, samples: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(batch, samples, generator=torch.Generator().manual_seed(seed)) * 0.1


# --------------------------------------------------------------------------------------------------
# Layout and loading


def test_full_size_model_has_the_port_layout():
    model = VGGish()  # the one full-size build (72 M parameters)
    assert {name: tuple(t.shape) for name, t in model.state_dict().items()} == official_layout(VGGishConfig())
    assert official_layout(VGGishConfig())["embeddings.0.weight"] == (4096, 12288)
    assert {name: tuple(t.shape) for name, t in Postprocessor(128).state_dict().items()} == {
        "pca_eigen_vectors": (128, 128),
        "pca_means": (128, 1),
    }


@pytest.fixture
def tiny_specs(tmp_path: Path) -> Iterator[Path]:
    """Two tiny registry entries (raw and post-processed); yields the PCA file the latter reads."""
    matrix, means = random_pca(seed=1)
    pca_path = save_like_numpy_1(tmp_path / "pca.pth", {"pca_eigen_vectors": matrix, "pca_means": means})
    remote = RemoteFile(url="https://example.invalid/vggish.pth", sha256=None, filename="tiny-vggish.pth")
    raw = PretrainedSpec(TINY, "tiny VGGish", remote, lambda: VGGish(VGGishConfig.tiny()), convert_raw)
    register_pretrained(raw)
    register_pretrained(
        PretrainedSpec(
            TINY_PCA,
            "tiny post-processed VGGish",
            remote,
            lambda: VGGish(VGGishConfig.tiny(postprocess="pca-quantized")),
            pca_converter(lambda: pca_path),
        )
    )
    yield pca_path
    unregister_pretrained(TINY)
    unregister_pretrained(TINY_PCA)


def test_port_checkpoint_loads_strictly_through_the_registry(tiny_specs: Path, tmp_path: Path):
    state = random_state(VGGishConfig.tiny(), seed=2)
    path = tmp_path / "vggish.pth"
    # A full port model's state_dict also holds pproc.*; the raw model drops it.
    torch.save(state | {"pproc.pca_eigen_vectors": torch.eye(128), "pproc.pca_means": torch.zeros(128, 1)}, path)
    model = load_pretrained(TINY, path=path)
    assert not model.training and not hasattr(model, "pproc")
    assert all(torch.equal(tensor, state[name]) for name, tensor in model.state_dict().items())
    assert model.state_dict().keys() == state.keys()


def test_postprocessed_model_reads_the_numpy_1_pca_file(tiny_specs: Path, tmp_path: Path):
    state = random_state(VGGishConfig.tiny(), seed=2)
    torch.save(state, tmp_path / "vggish.pth")
    model = load_pretrained(TINY_PCA, path=tmp_path / "vggish.pth")
    matrix, means = random_pca(seed=1)
    assert torch.equal(model.pproc.pca_eigen_vectors, torch.from_numpy(matrix))
    assert torch.equal(model.pproc.pca_means, torch.from_numpy(means).reshape(128, 1))

    raw = load_pretrained(TINY, path=tmp_path / "vggish.pth")
    waveform = clips(2, samples_for(3), seed=3)
    per_example = raw.example_embeddings(waveform).detach().double().numpy()  # (B, E, 128)
    pca = (per_example - means.astype(np.float64)) @ matrix.T.astype(np.float64)
    quantized = np.round((np.clip(pca, -2.0, 2.0) + 2.0) * 255.0 / 4.0)
    ours = model.example_embeddings(waveform).detach().numpy()
    assert ours.shape == (2, 3, 128)
    assert (ours == quantized).mean() > 0.99 and np.abs(ours - quantized).max() <= 1  # float32 vs float64 rounding
    np.testing.assert_allclose(model.embed(waveform).detach().numpy(), quantized.mean(axis=1), atol=1.0)


def test_postprocess_converter_keeps_pca_tensors_already_in_the_checkpoint():
    def no_file() -> Path:
        raise AssertionError("the PCA file must not be read when the checkpoint holds pproc.*")

    pca = {"pproc.pca_eigen_vectors": torch.eye(128) * 2, "pproc.pca_means": torch.ones(128, 1)}
    converted = pca_converter(no_file)(random_state(VGGishConfig.tiny(), seed=4) | pca)
    assert torch.equal(converted["pproc.pca_eigen_vectors"], pca["pproc.pca_eigen_vectors"])


def test_read_pca_params_from_npz_and_its_errors(tmp_path: Path):
    matrix, means = random_pca(seed=5, dim=8)
    np.savez(tmp_path / "vggish_pca_params.npz", pca_eigen_vectors=matrix, pca_means=means)
    params = read_pca_params(tmp_path / "vggish_pca_params.npz")
    assert torch.equal(params["pproc.pca_eigen_vectors"], torch.from_numpy(matrix))
    assert params["pproc.pca_means"].shape == (8, 1)

    with pytest.raises(MissingFileError, match="VGGish PCA parameters not found: .*absent.pth"):
        read_pca_params(tmp_path / "absent.pth")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "wrong.pth")
    with pytest.raises(CheckpointError, match=r"should hold 'pca_eigen_vectors' and 'pca_means'; found \['w"):
        read_pca_params(tmp_path / "wrong.pth")
    torch.save({"pca_eigen_vectors": torch.zeros(8, 8), "pca_means": torch.zeros(7)}, tmp_path / "sizes.pth")
    with pytest.raises(CheckpointError, match=r"pca_eigen_vectors \(8, 8\) and pca_means \(7, 1\) do not fit"):
        read_pca_params(tmp_path / "sizes.pth")
    (tmp_path / "garbage.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="not a readable VGGish PCA parameter file"):
        read_pca_params(tmp_path / "garbage.pth")
    # A pickle that would run code is refused, not executed.
    (tmp_path / "evil.pth").write_bytes(pickle.dumps({"pca_eigen_vectors": print}, protocol=2))
    with pytest.raises(CheckpointError, match="not a readable VGGish PCA parameter file"):
        read_pca_params(tmp_path / "evil.pth")


def test_registered_entries_and_the_offline_pca_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    release = "https://github.com/harritaylor/torchvggish/releases/download/v0.1/"
    for name in ("vggish", "vggish-postprocessed"):
        entry = spec(name)
        assert entry.remote.url == release + "vggish-10086976.pth"
        assert entry.remote.sha256 == "10086976245803799d9194e9a73d9b6c1549c71d1b80106f5cade5608a561f4b"
    monkeypatch.setenv("WORKBENCH_OFFLINE", "1")
    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path / "cache"))
    torch.save(random_state(VGGishConfig.tiny(), seed=6), tmp_path / "vggish.pth")
    # The PCA file is fetched before the (full-size) model would be built, so this fails fast.
    with pytest.raises(MissingFileError, match=r"cannot download vggish_pca_params-970ea276.pth: offline mode"):
        load_pretrained("vggish-postprocessed", path=tmp_path / "vggish.pth")


# --------------------------------------------------------------------------------------------------
# Front-end and examples


def test_frontend_matches_the_hand_computation():
    waveform = clips(1, 16000 + 123, seed=7)[0]
    ours = VGGishLogMel()(waveform)[0].double().numpy().T  # (frames, 64)
    expected = reference_log_mel(waveform.double().numpy())
    assert ours.shape == expected.shape == (1 + (16123 - 400) // 160, 64)
    np.testing.assert_allclose(ours, expected, atol=1e-4)


@pytest.mark.parametrize(
    ("samples", "dropped", "padded"),
    [(100, 1, 1), (ONE_EXAMPLE - 1, 1, 1), (ONE_EXAMPLE, 1, 1), (16000, 1, 2), (samples_for(3) - 1, 2, 3),
     (samples_for(3), 3, 3), (48000, 3, 4), (80000, 5, 6)],
)  # fmt: skip
def test_number_of_examples(samples: int, dropped: int, padded: int):
    assert VGGish(VGGishConfig.tiny()).n_examples(samples) == dropped
    assert VGGish(VGGishConfig.tiny(last_example="pad")).n_examples(samples) == padded


def test_examples_are_consecutive_96_frame_blocks_of_the_official_log_mel():
    waveform = clips(2, 3 * 16000, seed=8)  # 298 frames: 3 whole examples and 10 frames more
    log_mel = VGGishLogMel()(waveform).transpose(1, 2)  # (B, 298, 64)
    dropped = VGGish(VGGishConfig.tiny()).examples(waveform)
    assert dropped.shape == (2, 3, EXAMPLE_FRAMES, 64)
    torch.testing.assert_close(dropped.reshape(2, -1, 64), log_mel[:, : 3 * EXAMPLE_FRAMES])
    padded = VGGish(VGGishConfig.tiny(last_example="pad")).examples(waveform)
    assert padded.shape == (2, 4, EXAMPLE_FRAMES, 64)
    torch.testing.assert_close(padded.reshape(2, -1, 64)[:, :298], log_mel)
    # Frames that lie wholly in the zero padding are silence: log(0 + 0.01).
    torch.testing.assert_close(padded[:, 3, 12:], torch.full((2, 84, 64), float(np.log(0.01))))
    short = VGGish(VGGishConfig.tiny()).examples(clips(1, 1000))
    assert short.shape == (1, 1, EXAMPLE_FRAMES, 64)


# --------------------------------------------------------------------------------------------------
# Forward, taps, errors


@pytest.fixture
def tiny_model() -> VGGish:
    torch.manual_seed(0)
    model = VGGish(VGGishConfig.tiny()).eval()
    with torch.no_grad():  # larger weights than the default init, so deep layers are not all zero
        for parameter in model.parameters():
            parameter.mul_(3.0)
    return model


def test_embedding_is_the_mean_over_examples_and_deterministic(tiny_model: VGGish):
    waveform = clips(3, 2 * ONE_EXAMPLE + 500, seed=9)
    per_example = tiny_model.example_embeddings(waveform)
    assert per_example.shape == (3, 2, 128)
    embedding = tiny_model.embed(waveform)
    torch.testing.assert_close(embedding, per_example.mean(dim=1))
    assert torch.equal(embedding, tiny_model.embed(waveform))
    # Each example is encoded on its own: the second example alone gives the second embedding.
    second = tiny_model.encode_examples(tiny_model.examples(waveform)[:, 1])
    torch.testing.assert_close(second, per_example[:, 1])
    assert embedding.abs().sum() > 0


def test_layers_in_one_pass_equal_running_the_network_to_each_layer(tiny_model: VGGish):
    waveform = clips(2, 2 * ONE_EXAMPLE, seed=10)
    together = tiny_model.layers(waveform)
    assert list(together) == tiny_model.layer_names
    assert len(together) == 22 and tiny_model.layer_names[16] == "embeddings.0"
    for name in tiny_model.layer_names:
        assert torch.equal(tiny_model.layers(waveform, [name])[name], together[name])

    examples = tiny_model.examples(waveform).flatten(0, 1).unsqueeze(1)  # (B*E, 1, 96, 64)
    for index in range(len(tiny_model.features)):
        expected = examples_to_time(tiny_model.features[: index + 1](examples), batch=2, n_examples=2)
        torch.testing.assert_close(together[f"features.{index}"], expected)
    flat = tiny_model.features(examples).permute(0, 2, 3, 1).flatten(1)
    for index in range(len(tiny_model.embeddings)):
        expected = examples_to_time(tiny_model.embeddings[: index + 1](flat), batch=2, n_examples=2)
        torch.testing.assert_close(together[f"embeddings.{index}"], expected)

    # Documented layouts: conv stages (B, C, F, E * frames) with the examples in time order ...
    first_conv = tiny_model.features[0](examples)  # (B*E, 4, 96, 64)
    assert together["features.0"].shape == (2, 4, 64, 2 * 96)
    torch.testing.assert_close(together["features.0"][1, :, :, 96:], first_conv[3].transpose(1, 2))
    assert together["features.15"].shape == (2, 16, 4, 2 * 6)
    # ... fc stages (B, D, 1, E), whose last layer holds the example embeddings.
    assert together["embeddings.5"].shape == (2, 128, 1, 2)
    per_example = tiny_model.example_embeddings(waveform)  # (B, E, 128)
    torch.testing.assert_close(together["embeddings.5"][:, :, 0].transpose(1, 2), per_example)


def test_postprocessor_modes():
    matrix, means = random_pca(seed=11, dim=4)
    embeddings = torch.randn(5, 4, generator=torch.Generator().manual_seed(12))
    expected_pca = (embeddings.double() - torch.from_numpy(means).double()) @ torch.from_numpy(matrix).double().T
    for quantize in (False, True):
        module = Postprocessor(4, quantize=quantize)
        parameters = {"pca_eigen_vectors": torch.from_numpy(matrix), "pca_means": torch.from_numpy(means)[:, None]}
        module.load_state_dict(parameters)
        out = module(embeddings).double()
        if quantize:
            expected = torch.round((expected_pca.clamp(-2, 2) + 2) * 255 / 4)
            assert ((out - expected).abs() <= 1).all() and (out - expected).abs().mean() < 0.05
            assert out.min() >= 0 and out.max() <= 255
        else:
            torch.testing.assert_close(out, expected_pca, rtol=1e-5, atol=1e-5)
    assert torch.equal(Postprocessor(4, quantize=False)(embeddings), embeddings)  # identity until loaded


def test_errors(tiny_model: VGGish):
    with pytest.raises(AudioError, match=r"VGGish got an empty waveform \(0 samples\)"):
        tiny_model.embed(torch.zeros(1, 0))
    with pytest.raises(AudioError, match=r"expects waveforms of shape \(batch, samples\) at 16000 Hz"):
        tiny_model.embed(torch.zeros(1, 1, 16000))
    with pytest.raises(UnknownNameError, match="unknown layer of VGGish 'features.16'"):
        tiny_model.layers(torch.zeros(1, 16000), ["features.16"])
    with pytest.raises(AudioError, match="VGGishLogMel needs at least 400 samples"):
        VGGishLogMel()(torch.zeros(1, 399))
    with pytest.raises(AudioError, match=r"VGGishLogMel expects a waveform of shape \(batch, samples\)"):
        VGGishLogMel()(torch.zeros(1, 2, 16000))
    with pytest.raises(ValueError, match=r"postprocess must be one of \['none', 'pca', 'pca-quantized'\]"):
        VGGishConfig(postprocess="whiten")
    with pytest.raises(ValueError, match=r"last_example must be one of \['pad', 'drop'\]"):
        VGGishConfig(last_example="trim")
