"""VGGish: the AudioSet VGG-like embedding network of Hershey et al., with its official front-end inside.

Hershey et al., "CNN Architectures for Large-Scale Audio Classification", ICASSP 2017; the TensorFlow
release ``tensorflow/models/research/audioset/vggish`` and its PyTorch port ``harritaylor/torchvggish``,
whose checkpoint naming this module keeps: ``features.*`` (VGG configuration A, 64, M, 128, M, 256,
256, M, 512, 512, M), ``embeddings.*`` (12288 -> 4096 -> 4096 -> 128, each followed by ReLU, as in the
port and the TF code it was converted from) and, when post-processing is on, ``pproc.pca_eigen_vectors``
``(128, 128)`` and ``pproc.pca_means`` ``(128, 1)``.

Front-end (``vggish_input.py`` / ``mel_features.py``): 16 kHz mono; frames of 25 ms (400 samples)
every 10 ms (160), periodic Hann window, magnitude of a 512-point FFT, 64 mel bands from 125 to
7500 Hz with HTK's mel formula and triangles drawn on the mel axis (the DC bin gets no weight),
``log(mel + 0.01)``; examples of 96 frames x 64 bands (0.96 s), without overlap.

Variable length: a clip is cut into ``E`` consecutive examples, each encoded on its own. The last,
partial example is dropped as the official ``waveform_to_examples`` does (``last_example="drop"``, the
default, which is what published VGGish results and the EVAR evaluations use), or zero-padded
(``"pad"``: no audio is ignored, but a 1.0 s clip then yields a second example with 2 frames of sound
and 94 of silence, which weighs half in the mean). A clip shorter than one example (0.975 s) is
always zero-padded to one.

The embedding is the mean over the examples of the 128-d output, optionally post-processed
(``postprocess``): ``"none"`` (default, the raw embedding), ``"pca"`` (the released PCA whitening), or
``"pca-quantized"`` (PCA, clipped to [-2, 2], quantised to the integers 0..255 as the AudioSet release
and the port's ``postprocess=True``).

Layers 1-22 (Table I of Niizumi et al., "Composing General Audio Representation by Fusing Multilayer
Features of a Pre-trained Model", EUSIPCO 2022) are named after the modules that produce them:

| layer | name | module | layer | name | module |
| --- | --- | --- | --- | --- | --- |
| 1 | ``features.0`` | conv 64 | 12 | ``features.11`` | conv 512 |
| 2 | ``features.1`` | ReLU | 13 | ``features.12`` | ReLU |
| 3 | ``features.2`` | max-pool | 14 | ``features.13`` | conv 512 |
| 4 | ``features.3`` | conv 128 | 15 | ``features.14`` | ReLU |
| 5 | ``features.4`` | ReLU | 16 | ``features.15`` | max-pool |
| 6 | ``features.5`` | max-pool | 17 | ``embeddings.0`` | fc 4096 |
| 7 | ``features.6`` | conv 256 | 18 | ``embeddings.1`` | ReLU |
| 8 | ``features.7`` | ReLU | 19 | ``embeddings.2`` | fc 4096 |
| 9 | ``features.8`` | conv 256 | 20 | ``embeddings.3`` | ReLU |
| 10 | ``features.9`` | ReLU | 21 | ``embeddings.4`` | fc 128 |
| 11 | ``features.10`` | max-pool | 22 | ``embeddings.5`` | ReLU |

``layers`` puts the examples back on the time axis: a ``features.*`` output is
``(batch, channels, mel_bins, E * frames_per_example)`` (the examples' frames concatenated in time),
an ``embeddings.*`` output ``(batch, dim, 1, E)`` (one frame per example).

Registered weights (torchvggish release v0.1; the file names carry the first 8 hex digits of each
file's sha256, the torch.hub convention; the model file is checked against the full sha256 in
``workbench.models.registry.PUBLISHED_CHECKSUMS``, which register_pretrained fills in): ``vggish`` (``vggish-10086976.pth``, raw embeddings) and ``vggish-postprocessed``
(the same file plus ``vggish_pca_params-970ea276.pth``, fetched into the same cache on first use).
The port converted Google's Apache-2.0 TensorFlow checkpoint.

This module is one network's architecture (VGGish) kept in one file on purpose, as nanoGPT's
``model.py`` is, so that it reads top to bottom against the paper and the official code.
"""

from __future__ import annotations

import math
import os
import pickle
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from workbench.data.download import RemoteFile, fetch
from workbench.errors import AudioError, CheckpointError, MissingFileError
from workbench.models.base import Encoder
from workbench.models.registry import PretrainedSpec, numpy_safe_globals, register_pretrained, unwrap
from workbench.paths import cache_dir

SAMPLE_RATE = 16000
WINDOW_SAMPLES = 400  # round(0.025 s * 16 kHz)
HOP_SAMPLES = 160  # round(0.010 s * 16 kHz)
FFT_SIZE = 512  # the next power of two above the window
N_MELS = 64
MEL_MIN_HZ = 125.0
MEL_MAX_HZ = 7500.0
LOG_OFFSET = 0.01
EXAMPLE_FRAMES = 96  # 0.96 s of 10 ms frames
FUSION_FRAMES_PER_EXAMPLE = EXAMPLE_FRAMES // 16
"""T_o = 6 of Niizumi et al. (EUSIPCO 2022, Sec. IV-A1 and Table I): the frames of layer 16 (the last
max-pool) per 0.96-s example. Every layer is pooled to 6 frames per example, the examples' frames follow
each other in time, and the fully connected layers (one vector per example) are repeated 6 times."""
PAPER_FUSION_LAYERS: tuple[str, ...] = (
    "features.1", "features.4", "features.7", "features.9", "features.12", "features.14",
    "embeddings.1", "embeddings.3", "embeddings.5",
)  # fmt: skip
"""The ReLU layers 2, 5, 8, 10, 13, 15, 18, 20, 22 of Table I that Niizumi et al. evaluate (Sec. IV-A1)."""
QUANTIZE_RANGE = (-2.0, 2.0)
"""PCA outputs are clipped to this range before 8-bit quantisation."""

POSTPROCESS_MODES = ("none", "pca", "pca-quantized")
LAST_EXAMPLE_MODES = ("pad", "drop")
PCA_KEYS = ("pproc.pca_eigen_vectors", "pproc.pca_means")

_POOL_AFTER_CONV = (0, 1, 3, 5)
"""Configuration A pools after the 1st, 2nd, 4th and 6th convolution."""


@dataclass(frozen=True)
class VGGishConfig:
    """VGGish hyper-parameters; the defaults are the released model.

    Args:
        conv_channels: widths of the six 3x3 convolutions.
        hidden_dim: width of the two hidden fully connected layers.
        embedding_dim: output width (128 for the release and its PCA parameters).
        postprocess: ``"none"``, ``"pca"`` or ``"pca-quantized"`` (see the module docstring).
        last_example: ``"drop"`` the partial last example (official) or ``"pad"`` it with silence.
    """

    conv_channels: tuple[int, int, int, int, int, int] = (64, 128, 256, 256, 512, 512)
    hidden_dim: int = 4096
    embedding_dim: int = 128
    postprocess: str = "none"
    last_example: str = "drop"

    def __post_init__(self) -> None:
        if len(self.conv_channels) != 6:
            raise ValueError(
                f"VGGish has six convolutions; conv_channels must list 6 widths, got {self.conv_channels}"
            )
        if self.postprocess not in POSTPROCESS_MODES:
            raise ValueError(f"postprocess must be one of {list(POSTPROCESS_MODES)}, got {self.postprocess!r}")
        if self.last_example not in LAST_EXAMPLE_MODES:
            raise ValueError(f"last_example must be one of {list(LAST_EXAMPLE_MODES)}, got {self.last_example!r}")

    @classmethod
    def tiny(cls, **overrides: Any) -> VGGishConfig:
        """Same front-end, depth and 128-d output, with narrow layers: runs in milliseconds on a CPU."""
        return cls(**{"conv_channels": (4, 8, 8, 8, 16, 16), "hidden_dim": 32, **overrides})


def htk_mel(frequency_hz: torch.Tensor) -> torch.Tensor:
    """HTK's mel scale, ``1127 ln(1 + f / 700)``."""
    return 1127.0 * torch.log1p(frequency_hz / 700.0)


def vggish_mel_filters(
    n_freq: int = FFT_SIZE // 2 + 1,
    sample_rate: int = SAMPLE_RATE,
    n_mels: int = N_MELS,
    f_min: float = MEL_MIN_HZ,
    f_max: float = MEL_MAX_HZ,
) -> torch.Tensor:
    """The mel weight matrix of ``mel_features.spectrogram_to_mel_matrix`` ``(n_freq, n_mels)``.

    Band edges are spaced evenly on the HTK mel axis; each band is a triangle that is linear in mel
    (not in Hz, unlike librosa/torchaudio), peaks at 1 and is not area-normalised. The DC bin gets
    zero weight, as in HTK.
    """
    bins_mel = htk_mel(torch.linspace(0.0, sample_rate / 2, n_freq, dtype=torch.float64))  # (n_freq,)
    edges = torch.linspace(
        float(htk_mel(torch.tensor(f_min, dtype=torch.float64))),
        float(htk_mel(torch.tensor(f_max, dtype=torch.float64))),
        n_mels + 2,
        dtype=torch.float64,
    )
    lower, center, upper = edges[:-2], edges[1:-1], edges[2:]  # (n_mels,) each
    rising = (bins_mel[:, None] - lower) / (center - lower)  # (n_freq, n_mels)
    falling = (upper - bins_mel[:, None]) / (upper - center)
    filters = torch.clamp(torch.minimum(rising, falling), min=0.0)
    filters[0, :] = 0.0
    return filters.float()


class VGGishLogMel(nn.Module):
    """VGGish's log-mel front-end (``mel_features.log_mel_spectrogram`` with the VGGish parameters).

    Frames are not centred: frame ``t`` covers samples ``[160 t, 160 t + 400)``; each is multiplied
    by a periodic Hann window, zero-padded to 512 points, and its FFT magnitude (not power) is
    mapped to 64 mel bands; the output is ``log(mel + 0.01)``.

    Args:
        sample_rate, window_samples, hop_samples, fft_size, n_mels, f_min, f_max, log_offset: the
            constants above; other values make a VGGish-style front-end the release was not trained on.

    Shape:
        waveform ``(batch, samples)`` or ``(samples,)`` -> ``(batch, n_mels, frames)`` with
        ``frames = 1 + (samples - window_samples) // hop_samples``.

    Raises:
        AudioError: a waveform of another shape, or a clip shorter than one window.
    """

    def __init__(
        self,
        sample_rate: int = SAMPLE_RATE,
        window_samples: int = WINDOW_SAMPLES,
        hop_samples: int = HOP_SAMPLES,
        fft_size: int = FFT_SIZE,
        n_mels: int = N_MELS,
        f_min: float = MEL_MIN_HZ,
        f_max: float = MEL_MAX_HZ,
        log_offset: float = LOG_OFFSET,
    ):
        super().__init__()
        if window_samples > fft_size:
            raise ValueError(f"window_samples ({window_samples}) must not exceed fft_size ({fft_size})")
        self.sample_rate = sample_rate
        self.window_samples = window_samples
        self.hop_samples = hop_samples
        self.fft_size = fft_size
        self.n_mels = n_mels
        self.f_min = f_min
        self.f_max = f_max
        self.log_offset = log_offset
        # Both derive from the arguments, so neither belongs in the state_dict.
        self.register_buffer("window", torch.hann_window(window_samples, periodic=True), persistent=False)
        filters = vggish_mel_filters(fft_size // 2 + 1, sample_rate, n_mels, f_min, f_max)
        self.register_buffer("mel_filters", filters, persistent=False)

    @property
    def n_bins(self) -> int:
        return self.n_mels

    @property
    def min_samples(self) -> int:
        return self.window_samples

    def num_frames(self, n_samples: int) -> int:
        return 0 if n_samples < self.window_samples else 1 + (n_samples - self.window_samples) // self.hop_samples

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        if waveform.ndim == 1:
            waveform = waveform.unsqueeze(0)
        if waveform.ndim != 2:
            raise AudioError(
                f"VGGishLogMel expects a waveform of shape (batch, samples) or (samples,), "
                f"got {tuple(waveform.shape)}"
            )
        if waveform.shape[-1] < self.min_samples:
            raise AudioError(
                f"VGGishLogMel needs at least {self.min_samples} samples (one window), got {waveform.shape[-1]}"
            )
        with torch.autocast(device_type=waveform.device.type, enabled=False):
            frames = waveform.float().unfold(-1, self.window_samples, self.hop_samples)  # (B, T, 400)
            magnitude = torch.fft.rfft(frames * self.window, n=self.fft_size).abs()  # (B, T, 257)
            mel = magnitude @ self.mel_filters  # (B, T, n_mels)
            return torch.log(mel + self.log_offset).transpose(1, 2)  # (B, n_mels, T)


class Postprocessor(nn.Module):
    """The PCA whitening (and optional 8-bit quantisation) of the released AudioSet embeddings.

    ``pca = pca_eigen_vectors @ (embedding - pca_means)``; quantised: ``round((clip(pca, -2, 2) + 2)
    * 255 / 4)``. A new module holds the identity transform until the released parameters are loaded.

    Args:
        dim: embedding width.
        quantize: clip and quantise after the PCA.

    Shape:
        ``(n, dim)`` -> ``(n, dim)``.
    """

    def __init__(self, dim: int = 128, quantize: bool = True):
        super().__init__()
        self.quantize = quantize
        # Buffers, not parameters: fixed statistics under the port's state_dict names.
        self.register_buffer("pca_eigen_vectors", torch.eye(dim))
        self.register_buffer("pca_means", torch.zeros(dim, 1))

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        whitened = (embeddings - self.pca_means.T) @ self.pca_eigen_vectors.T  # (n, dim)
        if not self.quantize:
            return whitened
        low, high = QUANTIZE_RANGE
        return torch.round((whitened.clamp(low, high) - low) * (255.0 / (high - low)))


def _vgg_features(channels: Sequence[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    in_channels = 1
    for index, out_channels in enumerate(channels):
        # Out-of-place ReLUs: an in-place one would overwrite the tapped convolution output.
        layers += [nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1), nn.ReLU()]
        if index in _POOL_AFTER_CONV:
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        in_channels = out_channels
    return nn.Sequential(*layers)


class VGGish(Encoder):
    """VGGish over its own front-end: 16 kHz waveforms of any length in, one 128-d embedding per clip out.

    Args:
        config: hyper-parameters (``VGGishConfig()`` for the release, ``VGGishConfig.tiny()`` for tests).

    Shape:
        waveform ``(batch, samples)`` at 16 kHz -> embedding ``(batch, embedding_dim)``, the mean over
        the clip's :meth:`n_examples` examples; :meth:`example_embeddings` keeps them
        ``(batch, examples, embedding_dim)``.
    """

    def __init__(self, config: VGGishConfig | None = None):
        super().__init__()
        self.config = config = config or VGGishConfig()
        self.sample_rate = SAMPLE_RATE
        self.embedding_dim = config.embedding_dim
        self.frontend = VGGishLogMel()
        self.features = _vgg_features(config.conv_channels)
        pooled_frames, pooled_bins = EXAMPLE_FRAMES // 16, N_MELS // 16  # four 2x2 pools
        self.embeddings = nn.Sequential(
            nn.Linear(config.conv_channels[-1] * pooled_frames * pooled_bins, config.hidden_dim),
            nn.ReLU(),
            nn.Linear(config.hidden_dim, config.hidden_dim),
            nn.ReLU(),
            nn.Linear(config.hidden_dim, config.embedding_dim),
            nn.ReLU(),
        )
        if config.postprocess != "none":
            self.pproc = Postprocessor(config.embedding_dim, quantize=config.postprocess == "pca-quantized")

    def layer_modules(self) -> dict[str, nn.Module]:
        """Layers 1-22 of Table I in order (see the module docstring for the mapping)."""
        taps = {f"features.{index}": module for index, module in enumerate(self.features)}
        taps.update({f"embeddings.{index}": module for index, module in enumerate(self.embeddings)})
        return taps

    def n_examples(self, n_samples: int) -> int:
        """Examples of 96 frames a clip of ``n_samples`` samples is cut into (at least one)."""
        frames = self.frontend.num_frames(n_samples)
        if self.config.last_example == "pad":
            return max(1, math.ceil(frames / EXAMPLE_FRAMES))
        return max(1, frames // EXAMPLE_FRAMES)

    def examples(self, waveform: torch.Tensor) -> torch.Tensor:
        """``(batch, samples)`` -> log-mel examples ``(batch, examples, 96, 64)`` (frames x mel bands).

        The clip is cut (``last_example="drop"``) or zero-padded (``"pad"``, and any clip shorter than
        one example) to exactly ``examples * 96`` frames, then framed as the official front-end does.
        """
        waveform = self.check_waveform(waveform)
        if waveform.shape[-1] == 0:
            raise AudioError("VGGish got an empty waveform (0 samples)")
        n_examples = self.n_examples(waveform.shape[-1])
        needed = (n_examples * EXAMPLE_FRAMES - 1) * HOP_SAMPLES + WINDOW_SAMPLES
        missing = needed - waveform.shape[-1]
        waveform = nn.functional.pad(waveform, (0, missing)) if missing > 0 else waveform[:, :needed]
        log_mel = self.frontend(waveform)  # (B, n_mels, examples * 96)
        batch = log_mel.shape[0]
        return log_mel.transpose(1, 2).reshape(batch, n_examples, EXAMPLE_FRAMES, N_MELS)

    def encode_examples(self, examples: torch.Tensor) -> torch.Tensor:
        """Log-mel examples ``(n, 96, 64)`` -> (post-processed) embeddings ``(n, embedding_dim)``."""
        x = self.features(examples.unsqueeze(1))  # (n, C, 6, 4)
        # Flatten frames, then bands, then channels: the TensorFlow (NHWC) order the fc weights expect.
        x = x.permute(0, 2, 3, 1).flatten(1)  # (n, 6 * 4 * C)
        x = self.embeddings(x)  # (n, embedding_dim)
        return self.pproc(x) if self.config.postprocess != "none" else x

    def example_embeddings(self, waveform: torch.Tensor) -> torch.Tensor:
        """``(batch, samples)`` -> one embedding per 0.96 s example ``(batch, examples, embedding_dim)``."""
        examples = self.examples(waveform)  # (B, E, 96, 64)
        batch, n_examples = examples.shape[:2]
        return self.encode_examples(examples.flatten(0, 1)).reshape(batch, n_examples, -1)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        return self.example_embeddings(waveform).mean(dim=1)  # (B, embedding_dim)

    def fusion_frames(self, n_samples: int) -> int:
        """``T_o`` of Eq. 1 for a clip of ``n_samples``: :data:`FUSION_FRAMES_PER_EXAMPLE` per example.

        Every conv-stage layer has a multiple of 6 frames per example, so adaptive max pooling of the
        concatenated examples to ``6 * examples`` frames pools inside each example, as encoding each
        segment and concatenating the results along time does; an fc-stage layer (one frame per example)
        is repeated 6 times per example.
        """
        return FUSION_FRAMES_PER_EXAMPLE * self.n_examples(n_samples)

    def layers(self, waveform: torch.Tensor, names: Sequence[str] | None = None) -> dict[str, torch.Tensor]:
        """Tapped outputs from one forward pass, examples on the time axis.

        Returns:
            ``features.*``: ``(batch, channels, mel_bins, examples * frames)``; ``embeddings.*``:
            ``(batch, dim, 1, examples)``.
        """
        waveform = self.check_waveform(waveform)
        batch, n_examples = waveform.shape[0], self.n_examples(waveform.shape[-1])
        outputs = super().layers(waveform, names)
        return {name: examples_to_time(output, batch, n_examples) for name, output in outputs.items()}


def examples_to_time(output: torch.Tensor, batch: int, n_examples: int) -> torch.Tensor:
    """Rearrange a per-example layer output so the examples follow each other in time.

    Shape:
        conv-stage ``(batch * examples, C, frames, bins)`` -> ``(batch, C, bins, examples * frames)``;
        fc-stage ``(batch * examples, D)`` -> ``(batch, D, 1, examples)``.
    """
    if output.ndim == 4:
        _, channels, frames, bins = output.shape
        output = output.reshape(batch, n_examples, channels, frames, bins).permute(0, 2, 4, 1, 3)
        return output.reshape(batch, channels, bins, n_examples * frames)
    return output.reshape(batch, n_examples, -1).permute(0, 2, 1).unsqueeze(2)


# --------------------------------------------------------------------------------------------------
# Checkpoints


def read_pca_params(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Read VGGish's PCA parameters from the port's ``.pth`` or Google's ``vggish_pca_params.npz``.

    Neither file executes code when read: the ``.npz`` is read without pickle, the ``.pth`` with
    ``torch.load(weights_only=True)`` allowing only numpy's plain-array constructors.

    Returns:
        ``{"pproc.pca_eigen_vectors": (D, D), "pproc.pca_means": (D, 1)}`` float32.

    Raises:
        MissingFileError: no such file.
        CheckpointError: unreadable, or without ``pca_eigen_vectors`` / ``pca_means`` of matching sizes.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"VGGish PCA parameters not found: {path}")
    try:
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as archive:
                params: Mapping[str, Any] = {key: archive[key] for key in archive.files}
        else:
            with torch.serialization.safe_globals(numpy_safe_globals()):
                params = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, zipfile.BadZipFile, OSError) as error:
        raise CheckpointError(
            f"{path} is not a readable VGGish PCA parameter file ({type(error).__name__}: {error}); "
            f"delete it and download it again"
        ) from error
    if not isinstance(params, Mapping) or not {"pca_eigen_vectors", "pca_means"} <= set(params):
        found = sorted(params) if isinstance(params, Mapping) else type(params).__name__
        raise CheckpointError(f"{path} should hold 'pca_eigen_vectors' and 'pca_means'; found {found}")
    matrix = torch.as_tensor(np.asarray(params["pca_eigen_vectors"]), dtype=torch.float32)
    means = torch.as_tensor(np.asarray(params["pca_means"]), dtype=torch.float32).reshape(-1, 1)
    if matrix.ndim != 2 or matrix.shape != (means.shape[0], means.shape[0]):
        raise CheckpointError(
            f"{path}: pca_eigen_vectors {tuple(matrix.shape)} and pca_means {tuple(means.shape)} do not fit "
            f"(expected (D, D) and D values)"
        )
    return {"pproc.pca_eigen_vectors": matrix, "pproc.pca_means": means}


_RELEASE = "https://github.com/harritaylor/torchvggish/releases/download/v0.1/"
# register_pretrained fills in MODEL_FILE's sha256 from registry.PUBLISHED_CHECKSUMS; no full sha256 of the
# PCA file could be found (only the 8-digit tag in its name), so it is fetched unchecked.
MODEL_FILE = RemoteFile(url=_RELEASE + "vggish-10086976.pth", sha256=None, filename="vggish-10086976.pth")
PCA_FILE = RemoteFile(
    url=_RELEASE + "vggish_pca_params-970ea276.pth", sha256=None, filename="vggish_pca_params-970ea276.pth"
)


def _network_state(checkpoint: Any) -> dict[str, Any]:
    return dict(unwrap("model", "state_dict")(checkpoint))


def convert_raw(checkpoint: Any) -> dict[str, torch.Tensor]:
    """The port's checkpoint -> the raw model's state_dict (``pproc.*`` of a full port model is dropped)."""
    return {key: value for key, value in _network_state(checkpoint).items() if not key.startswith("pproc.")}


def pca_converter(pca_file: Callable[[], str | os.PathLike]) -> Callable[[Any], dict[str, torch.Tensor]]:
    """Converter for a post-processing VGGish: the network's tensors plus the PCA parameters.

    A checkpoint that already holds ``pproc.*`` (a full port model's state_dict) is used as is;
    otherwise the PCA parameters are read from ``pca_file()`` (for the registry: fetched into the
    weights cache on first use).
    """

    def convert(checkpoint: Any) -> dict[str, torch.Tensor]:
        state = _network_state(checkpoint)
        if not all(key in state for key in PCA_KEYS):
            state.update(read_pca_params(pca_file()))
        return state

    return convert


def _cached_pca_file() -> Path:
    return fetch(PCA_FILE, cache_dir() / "weights")


_FRONTEND = (
    "VGGish log-mel: 16 kHz, 25 ms periodic-Hann frames every 10 ms, |FFT 512|, 64 HTK mels 125-7500 Hz, "
    "log(x + 0.01), 0.96 s examples of 96 frames"
)
register_pretrained(
    PretrainedSpec(
        name="vggish",
        description="VGGish (AudioSet/YouTube-8M), raw 128-d embeddings; Hershey et al., ICASSP 2017",
        remote=MODEL_FILE,
        build=lambda: VGGish(VGGishConfig()),
        convert=convert_raw,
        frontend=_FRONTEND,
        licence="Apache-2.0 (Google's TensorFlow release, converted by torchvggish)",
    )
)
register_pretrained(
    PretrainedSpec(
        name="vggish-postprocessed",
        description="VGGish with the released PCA + 8-bit quantisation (AudioSet embeddings); Hershey et al. 2017",
        remote=MODEL_FILE,
        build=lambda: VGGish(VGGishConfig(postprocess="pca-quantized")),
        convert=pca_converter(_cached_pca_file),
        frontend=_FRONTEND,
        licence="Apache-2.0 (Google's TensorFlow release, converted by torchvggish)",
    )
)

__all__ = [
    "PCA_FILE",
    "MODEL_FILE",
    "Postprocessor",
    "VGGish",
    "VGGishConfig",
    "VGGishLogMel",
    "convert_raw",
    "examples_to_time",
    "pca_converter",
    "read_pca_params",
    "vggish_mel_filters",
]
