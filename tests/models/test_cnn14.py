"""PANNs CNN14: official checkpoint layout, front-end fidelity, converter, taps and errors.

The front-end reference below is written from the documented formulas (librosa's Slaney mel filters,
torchlibrosa's windowed-DFT kernels, power_to_db) with numpy loops, independently of the model code.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from workbench.atomic import atomic_torch_save
from workbench.data.download import RemoteFile
from workbench.errors import AudioError, CheckpointError, UnknownNameError
from workbench.models.cnn14 import (
    Cnn14,
    Cnn14Config,
    PannsLogMel,
    frontend_for,
    official_converter,
    official_extractor_tensors,
)
from workbench.models.registry import (
    PretrainedSpec,
    load_pretrained,
    register_pretrained,
    spec,
    unregister_pretrained,
)

TINY = "test-panns-cnn14-tiny"
TINY_16K = Cnn14Config.for_16khz(channels=(2, 4, 8, 16, 32, 64), embedding_dim=64)


# --------------------------------------------------------------------------------------------------
# Hand references


def official_layout(config: Cnn14Config) -> dict[str, tuple[int, ...]]:
    """Tensor names and shapes of the official ``Cnn14(...).state_dict()`` without the extractors."""
    layout: dict[str, tuple[int, ...]] = {}

    def batch_norm(prefix: str, width: int) -> None:
        for name in ("weight", "bias", "running_mean", "running_var"):
            layout[f"{prefix}.{name}"] = (width,)
        layout[f"{prefix}.num_batches_tracked"] = ()

    batch_norm("bn0", config.n_mels)
    widths = (1, *config.channels)
    for index in range(6):
        block = f"conv_block{index + 1}"
        layout[f"{block}.conv1.weight"] = (widths[index + 1], widths[index], 3, 3)
        layout[f"{block}.conv2.weight"] = (widths[index + 1], widths[index + 1], 3, 3)
        batch_norm(f"{block}.bn1", widths[index + 1])
        batch_norm(f"{block}.bn2", widths[index + 1])
    layout["fc1.weight"] = (config.embedding_dim, config.channels[-1])
    layout["fc1.bias"] = (config.embedding_dim,)
    layout["fc_audioset.weight"] = (config.n_classes, config.embedding_dim)
    layout["fc_audioset.bias"] = (config.n_classes,)
    return layout


def slaney_hz_to_mel(hz: float) -> float:
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    if hz < min_log_hz:
        return hz / f_sp
    return min_log_hz / f_sp + np.log(hz / min_log_hz) / (np.log(6.4) / 27.0)


def slaney_mel_to_hz(mel: float) -> float:
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel = min_log_hz / f_sp
    if mel < min_log_mel:
        return mel * f_sp
    return min_log_hz * np.exp((np.log(6.4) / 27.0) * (mel - min_log_mel))


def librosa_mel_filters(sample_rate: int, n_fft: int, n_mels: int, f_min: float, f_max: float) -> np.ndarray:
    """``librosa.filters.mel(htk=False, norm="slaney").T`` with loops: (n_freq, n_mels)."""
    low, high = slaney_hz_to_mel(f_min), slaney_hz_to_mel(f_max)
    edges = [slaney_mel_to_hz(low + (high - low) * i / (n_mels + 1)) for i in range(n_mels + 2)]
    filters = np.zeros((n_fft // 2 + 1, n_mels))
    for k in range(n_fft // 2 + 1):
        frequency = k * sample_rate / n_fft
        for m in range(n_mels):
            rising = (frequency - edges[m]) / (edges[m + 1] - edges[m])
            falling = (edges[m + 2] - frequency) / (edges[m + 2] - edges[m + 1])
            filters[k, m] = max(0.0, min(rising, falling)) * 2.0 / (edges[m + 2] - edges[m])
    return filters


@functools.cache
def torchlibrosa_extractors(config: Cnn14Config) -> dict[str, torch.Tensor]:
    """The extractor tensors as torchlibrosa builds them (DFT matrix by powers of omega); cached, read-only."""
    n_fft = config.window_size
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)  # periodic Hann
    x, y = np.meshgrid(np.arange(n_fft), np.arange(n_fft))
    dft = np.power(np.exp(-2j * np.pi / n_fft), x * y)[:, : n_fft // 2 + 1] * window[:, None]
    filters = librosa_mel_filters(config.sample_rate, n_fft, config.n_mels, config.f_min, config.f_max)
    return {
        "spectrogram_extractor.stft.conv_real.weight": torch.tensor(np.real(dft).T, dtype=torch.float32)[:, None],
        "spectrogram_extractor.stft.conv_imag.weight": torch.tensor(np.imag(dft).T, dtype=torch.float32)[:, None],
        "logmel_extractor.melW": torch.tensor(filters, dtype=torch.float32),
    }


def reference_log_mel(waveform: np.ndarray, config: Cnn14Config) -> np.ndarray:
    """Reflect-padded centred frames, periodic Hann, |rfft|^2, mel, 10 log10(max(x, 1e-10)): (n_mels, frames)."""
    n_fft, hop = config.window_size, config.hop_size
    padded = np.pad(waveform.astype(np.float64), n_fft // 2, mode="reflect")
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)
    frames = [padded[start : start + n_fft] for start in range(0, len(padded) - n_fft + 1, hop)]
    power = np.stack([np.abs(np.fft.rfft(frame * window)) ** 2 for frame in frames])  # (frames, n_freq)
    mel = power @ librosa_mel_filters(config.sample_rate, n_fft, config.n_mels, config.f_min, config.f_max)
    return (10.0 * np.log10(np.maximum(mel, 1e-10))).T


def random_state(config: Cnn14Config, seed: int) -> dict[str, torch.Tensor]:
    """Random tensors in the official layout (positive running variances)."""
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for name, shape in official_layout(config).items():
        if name.endswith("num_batches_tracked"):
            state[name] = torch.tensor(1000)
        elif name.endswith("running_var"):
            state[name] = torch.rand(shape, generator=generator) + 0.5
        else:
            state[name] = torch.randn(shape, generator=generator) * 0.1
    return state


def waveform(batch: int, seconds: float, sample_rate: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(batch, int(seconds * sample_rate), generator=torch.Generator().manual_seed(seed)) * 0.1


# --------------------------------------------------------------------------------------------------
# Layout and loading


def test_full_size_model_has_the_official_layout():
    config = Cnn14Config()
    state = Cnn14(config).state_dict()  # the one full-size build (80 M parameters)
    assert {name: tuple(tensor.shape) for name, tensor in state.items()} == official_layout(config)
    assert official_layout(Cnn14Config.for_16khz()) == official_layout(config)  # only the front-end differs


@pytest.fixture
def tiny_spec() -> Iterator[Cnn14Config]:
    config = Cnn14Config.tiny()
    register_pretrained(
        PretrainedSpec(
            name=TINY,
            description="tiny CNN14 for tests",
            remote=RemoteFile(url="https://example.invalid/tiny.pth", sha256=None, filename="tiny-cnn14.pth"),
            build=lambda: Cnn14(config),
            convert=official_converter(config),
        )
    )
    yield config
    unregister_pretrained(TINY)


def test_official_checkpoint_loads_strictly_through_the_registry(tiny_spec: Cnn14Config, tmp_path: Path):
    state = random_state(tiny_spec, seed=1) | torchlibrosa_extractors(tiny_spec)
    path = atomic_torch_save(tmp_path / "Cnn14_tiny.pth", {"iteration": 600000, "model": state})
    model = load_pretrained(TINY, path=path)
    assert not model.training
    ours = model.state_dict()
    assert not any(key.startswith(("spectrogram_extractor.", "logmel_extractor.")) for key in ours)
    for name, tensor in ours.items():
        assert torch.equal(tensor, state[name]), name


def test_converter_accepts_data_parallel_prefix_and_checkpoints_without_extractors(tiny_spec: Cnn14Config):
    state = random_state(tiny_spec, seed=2)
    converted = official_converter(tiny_spec)({"model": {f"module.{k}": v for k, v in state.items()}})
    assert converted.keys() == state.keys()


def test_extractor_tensors_match_torchlibrosa():
    for config in (Cnn14Config(), Cnn14Config.for_16khz()):
        ours = official_extractor_tensors(frontend_for(config))
        for key, official in torchlibrosa_extractors(config).items():
            torch.testing.assert_close(ours[key], official, rtol=0, atol=1e-5 * float(official.abs().max()))


def test_converter_refuses_a_checkpoint_of_the_other_front_end():
    thirty_two = Cnn14Config.tiny()
    checkpoint = {"model": random_state(thirty_two, 3) | torchlibrosa_extractors(TINY_16K)}
    message = r"conv_real.weight \(257, 1, 512\) does not match .*32000 Hz.*the other sample rate"
    with pytest.raises(CheckpointError, match=message):
        official_converter(thirty_two)(checkpoint)
    # Same shapes, other values: a filterbank up to 8 kHz under a 14 kHz front-end.
    other_band = Cnn14Config.tiny(f_max=8000.0)
    checkpoint = {"model": random_state(thirty_two, 3) | torchlibrosa_extractors(other_band)}
    with pytest.raises(CheckpointError, match=r"logmel_extractor.melW \(513, 64\) does not match"):
        official_converter(thirty_two)(checkpoint)


def test_registered_entries():
    for name, rate, filename in (
        ("panns-cnn14-32k", 32000, "Cnn14_mAP=0.431.pth"),
        ("panns-cnn14-16k", 16000, "Cnn14_16k_mAP=0.438.pth"),
    ):
        entry = spec(name)
        assert entry.remote.filename == filename
        quoted = filename.replace("=", "%3D")
        assert entry.remote.url == f"https://zenodo.org/record/3987831/files/{quoted}?download=1"
        # Zenodo publishes md5s only; the 32 kHz file's sha256 is pinned from independent downloads.
        known = "0dc499e40e9761ef5ea061ffc77697697f277f6a960894903df3ada000e34b31" if rate == 32000 else None
        assert entry.remote.sha256 == known
        assert f"{rate // 1000} kHz" in entry.frontend
    # Each registered converter accepts its own checkpoint's extractors and refuses the other's.
    own, other = torchlibrosa_extractors(Cnn14Config()), torchlibrosa_extractors(Cnn14Config.for_16khz())
    assert spec("panns-cnn14-32k").convert({"model": dict(own)}) == {}
    with pytest.raises(CheckpointError, match="does not match this model's front-end"):
        spec("panns-cnn14-32k").convert({"model": dict(other)})
    assert spec("panns-cnn14-16k").convert({"model": dict(other)}) == {}


# --------------------------------------------------------------------------------------------------
# Front-end and forward


@pytest.mark.parametrize("config", [Cnn14Config(), Cnn14Config.for_16khz()], ids=["32k", "16k"])
def test_frontend_matches_the_hand_computation(config: Cnn14Config):
    clip = waveform(1, 0.25, config.sample_rate, seed=4)[0]
    ours = frontend_for(config)(clip)[0].double().numpy()
    expected = reference_log_mel(clip.numpy(), config)
    assert ours.shape == expected.shape == (64, 1 + clip.shape[0] // config.hop_size)
    np.testing.assert_allclose(ours, expected, atol=2e-3)


def test_forward_shapes_tags_and_determinism():
    torch.manual_seed(0)
    model = Cnn14(Cnn14Config.tiny()).eval()
    clips = waveform(3, 0.5, 32000, seed=5)
    embedding = model.embed(clips)
    assert embedding.shape == (3, 64) and (embedding >= 0).all()  # fc1 + ReLU
    assert torch.equal(embedding, model.embed(clips))
    torch.manual_seed(0)
    assert torch.equal(embedding, Cnn14(Cnn14Config.tiny()).eval().embed(clips))
    logits = model.tag_logits(clips)
    torch.testing.assert_close(logits, model.fc_audioset(embedding))
    assert logits.shape == (3, 527) and len(model.tag_names) == 527
    assert len(set(model.tag_names)) == 527 and all(isinstance(name, str) for name in model.tag_names)
    # One clip is the same alone or in a batch.
    torch.testing.assert_close(model.embed(clips[1]), embedding[1:2], rtol=1e-4, atol=1e-5)


def test_layers_in_one_pass_equal_running_the_network_to_each_layer():
    model = Cnn14(TINY_16K).eval()
    for block in model.blocks:  # non-trivial BN statistics, so a wrong order of layers would show
        block.bn1.running_mean.uniform_(-0.5, 0.5)
        block.bn2.running_var.uniform_(0.5, 2.0)
    clips = waveform(2, 0.6, 16000, seed=6)
    together = model.layers(clips)
    assert list(together) == model.layer_names == [f"block{i}" for i in range(1, 7)] + ["fc1"]
    for name in model.layer_names:
        assert torch.equal(model.layers(clips, [name])[name], together[name])

    x = model.frontend(clips).transpose(1, 2).unsqueeze(1)  # (B, 1, T, F)
    x = model.bn0(x.transpose(1, 3)).transpose(1, 3)
    for index, block in enumerate(model.blocks, start=1):
        x = block(x)
        torch.testing.assert_close(together[f"block{index}"], x.transpose(2, 3))  # (B, C, F, T)
    frames = 1 + clips.shape[1] // 160
    assert together["block1"].shape == (2, 2, 32, frames // 2)
    assert together["block6"].shape == (2, 64, 2, frames // 32)
    pooled = x.mean(dim=3).max(dim=2).values + x.mean(dim=3).mean(dim=2)
    torch.testing.assert_close(together["fc1"], F.relu(model.fc1(pooled)))
    torch.testing.assert_close(together["fc1"], model.embed(clips))


def test_errors():
    model = Cnn14(Cnn14Config.tiny()).eval()
    with pytest.raises(AudioError, match=r"CNN14 needs at least 9920 samples \(0\.310 s at 32000 Hz\).*got 9919"):
        model.embed(torch.zeros(1, 9919))
    assert model.embed(torch.zeros(1, 9920)).shape == (1, 64)
    with pytest.raises(UnknownNameError, match="unknown layer of Cnn14 'block7'"):
        model.layers(torch.zeros(1, 9920), ["block7"])
    with pytest.raises(ValueError, match="channels must list 6 widths"):
        Cnn14Config(channels=(1, 2, 3))
    with pytest.raises(AudioError, match=r"PannsLogMel expects a waveform of shape \(batch, samples\)"):
        model.frontend(torch.zeros(1, 2, 16000))
    with pytest.raises(ValueError, match="f_max <= sample_rate / 2"):
        PannsLogMel(sample_rate=16000, f_max=14000.0)
