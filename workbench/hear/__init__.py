"""Every workbench encoder as a HEAR 2021 API module, so the HEAR evaluation kit and validator can run it.

The API (Turian et al., PMLR 176, 2022; checked by ``hear-validator``) is three functions of a module
named on the command line. Two ways to name a workbench encoder:

- ``workbench.hear`` itself: ``load_model(model_file_path)`` where ``model_file_path`` is an encoder
  name (``"efficientat-mn04"``, ``"logmel-stats"``, any name of ``workbench.models.zoo.encoder_names()``),
  optionally with a weights file, ``"efficientat-mn04@/weights/mn04_as_mAP_432.pt"``;
- ``workbench.hear.<encoder>``, the encoder's name with ``-`` written ``_`` (``workbench.hear.efficientat_mn04``,
  ``workbench.hear.logmel_stats``): a module made on import whose ``load_model(model_file_path)``
  takes the weights file (``""``: the encoder's cached or shared weights; for an architecture, a
  state_dict saved with ``torch.save(encoder.state_dict(), path)``).

E.g. ``hear-validator workbench.hear.efficientat_mn04 -m /weights/mn04_as_mAP_432.pt``, or
``python -m heareval.embeddings.runner workbench.hear.logmel_stats``.

The model (:class:`HearModel`, a ``torch.nn.Module``) has the encoder's embedding as its scene embedding,
so ``get_scene_embeddings`` equals ``encoder.embed`` (tested). ``sample_rate`` is one the HEAR kit
accepts (16, 22.05, 44.1 or 48 kHz): the encoder's own, else 48 kHz (for the 32 kHz models), resampled
inside with the workbench's resampler, the one embedding extraction uses.

Timestamp embeddings: the workbench encoders give one vector per input, so the embedding at time ``t``
is the encoder's embedding of the ``window_ms`` window centred on ``t`` (the sound zero-padded by half
a window at both ends), every ``hop_ms`` from 0 to the end of the sound (both ``load_model`` keywords;
default a 1-s window every 50 ms, the largest hop the HEAR validator accepts without a warning). Window
starts are rounded from exact positions, so timestamps never drift over long sounds.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import itertools
import math
import sys
import types

import numpy as np
import torch
from torch import nn

from workbench.audio.io import resample
from workbench.errors import MissingFileError
from workbench.models.base import Encoder
from workbench.models.checkpoints import load_state_dict_strict, read_checkpoint
from workbench.models.registry import load_pretrained, names as pretrained_names
from workbench.models.zoo import build_encoder, check_encoder_name, encoder_names

HEAR_SAMPLE_RATES = (16000, 22050, 44100, 48000)
"""The sample rates the HEAR evaluation kit and validator accept."""

DEFAULT_HOP_MS = 50.0
DEFAULT_WINDOW_MS = 1000.0
WINDOWS_PER_BATCH = 64
"""Timestamp windows embedded per ``encoder.embed`` call (bounds memory on long sounds)."""


def hear_sample_rate(encoder_rate: int) -> int:
    """The HEAR rate a model with ``encoder_rate`` declares: its own when HEAR accepts it, else 48 kHz (the
    highest, so resampling down to the encoder loses nothing the encoder could see; 3:2 for 32 kHz)."""
    return encoder_rate if encoder_rate in HEAR_SAMPLE_RATES else HEAR_SAMPLE_RATES[-1]


class HearModel(nn.Module):
    """A workbench encoder with the attributes of a HEAR model.

    Args:
        encoder: the encoder (any :class:`~workbench.models.base.Encoder`).
        hop_ms: time between timestamp embeddings, in milliseconds.
        window_ms: length of the window each timestamp embedding sees, in milliseconds (at least the
            encoder's ``min_samples`` when it declares one).
    """

    def __init__(self, encoder: Encoder, *, hop_ms: float = DEFAULT_HOP_MS, window_ms: float = DEFAULT_WINDOW_MS):
        super().__init__()
        if hop_ms <= 0 or window_ms <= 0:
            raise ValueError(f"hop_ms and window_ms must be positive, got {hop_ms} and {window_ms}")
        self.encoder = encoder.eval()
        self.encoder_sample_rate = int(encoder.sample_rate)
        self.sample_rate = hear_sample_rate(self.encoder_sample_rate)
        self.hop_ms = float(hop_ms)
        minimum = getattr(encoder, "min_samples", None)
        window = round(window_ms * self.encoder_sample_rate / 1000)
        self.window_samples = max(window, minimum) if isinstance(minimum, int) else window
        self.scene_embedding_size = int(getattr(encoder, "embedding_dim", 0) or self._probe_dim())
        self.timestamp_embedding_size = self.scene_embedding_size

    def _probe_dim(self) -> int:
        with torch.no_grad():
            return int(self.encoder.embed(torch.zeros(1, self.window_samples)).shape[-1])

    def _device(self) -> torch.device:
        # Buffers too: a parameter-free encoder (logmel-stats) still holds its filterbank on the device.
        tensor = next(itertools.chain(self.encoder.parameters(), self.encoder.buffers()), None)
        return tensor.device if tensor is not None else torch.device("cpu")

    def to_encoder_rate(self, audio: torch.Tensor | np.ndarray) -> torch.Tensor:
        """``(n_sounds, n_samples)`` at :attr:`sample_rate` -> float32 at the encoder's rate, on its device."""
        audio = torch.as_tensor(audio, dtype=torch.float32)
        if audio.ndim != 2:
            raise ValueError(f"HEAR audio must be (n_sounds, n_samples), got shape {tuple(audio.shape)}")
        return resample(audio, self.sample_rate, self.encoder_sample_rate).to(self._device())

    def timestamps_ms(self, n_samples: int) -> torch.Tensor:
        """The centres of the timestamp windows of a sound of ``n_samples`` at :attr:`sample_rate`, in ms."""
        duration_ms = 1000.0 * n_samples / self.sample_rate
        count = math.floor(duration_ms / self.hop_ms + 1e-9) + 1
        return torch.arange(count, dtype=torch.float64) * self.hop_ms


def _check_model(model: object) -> HearModel:
    if not isinstance(model, HearModel):
        raise TypeError(f"model must be what workbench.hear.load_model returned, got {type(model).__name__}")
    return model


def split_model_name(model_file_path: str) -> tuple[str, str]:
    """``"efficientat-mn04@/path/weights.pt"`` -> ``("efficientat-mn04", "/path/weights.pt")``."""
    name, _, weights = str(model_file_path).partition("@")
    return name, weights


def build_named_encoder(name: str, weights: str = "") -> Encoder:
    """The workbench encoder ``name``, from ``weights`` when given: a pretrained name's checkpoint, or a
    state_dict of an architecture (strict load).

    Raises:
        UnknownNameError: no such encoder (the message lists them).
        MissingFileError: ``weights`` does not exist.
    """
    check_encoder_name(name)
    if weights and name in pretrained_names():
        return load_pretrained(name, path=weights)
    encoder = build_encoder(name)
    if weights:
        try:
            state = read_checkpoint(weights)
        except FileNotFoundError as error:
            raise MissingFileError(f"weights file {weights} for encoder {name!r} does not exist") from error
        load_state_dict_strict(encoder, state.get("state_dict", state) if isinstance(state, dict) else state,
                               source=str(weights))  # fmt: skip
    return encoder.eval()


def load_model(model_file_path: str = "", *, encoder: str | None = None, hop_ms: float = DEFAULT_HOP_MS,
               window_ms: float = DEFAULT_WINDOW_MS) -> HearModel:  # fmt: skip
    """HEAR ``load_model``: the encoder named in ``model_file_path`` (``"<encoder>[@<weights file>]"``),
    or ``encoder`` with ``model_file_path`` its weights file.

    Raises:
        ValueError: no encoder named (the message lists the names).
    """
    if encoder is None:
        encoder, weights = split_model_name(model_file_path)
        if not encoder:
            raise ValueError(f"workbench.hear.load_model needs an encoder name as model_file_path "
                             f"(\"<encoder>[@<weights file>]\"), one of: {', '.join(encoder_names())}")  # fmt: skip
    else:
        weights = model_file_path
    return HearModel(build_named_encoder(encoder, weights), hop_ms=hop_ms, window_ms=window_ms)


def get_scene_embeddings(audio: torch.Tensor | np.ndarray, model: HearModel) -> torch.Tensor:
    """HEAR ``get_scene_embeddings``: ``(n_sounds, n_samples)`` -> ``(n_sounds, scene_embedding_size)`` float32,
    the encoder's ``embed`` of each sound."""
    model = _check_model(model)
    with torch.no_grad():
        return model.encoder.embed(model.to_encoder_rate(audio)).float()


def get_timestamp_embeddings(audio: torch.Tensor | np.ndarray, model: HearModel) -> tuple[torch.Tensor, torch.Tensor]:
    """HEAR ``get_timestamp_embeddings``: ``(n_sounds, n_samples)`` -> embeddings ``(n_sounds, n_timestamps,
    timestamp_embedding_size)`` float32 and timestamps ``(n_sounds, n_timestamps)`` in milliseconds."""
    model = _check_model(model)
    waveform = model.to_encoder_rate(audio)  # raises on a shape that is not (n_sounds, n_samples)
    n_sounds = waveform.shape[0]
    timestamps = model.timestamps_ms(np.shape(audio)[-1])
    half = model.window_samples // 2
    padded = torch.nn.functional.pad(waveform, (half, model.window_samples - half))
    starts = [round(float(t) * model.encoder_sample_rate / 1000) for t in timestamps]
    windows = torch.stack([padded[:, start:start + model.window_samples] for start in starts], dim=1)  # (N, T, W)
    flat = windows.reshape(-1, model.window_samples)
    with torch.no_grad():
        parts = [model.encoder.embed(flat[index:index + WINDOWS_PER_BATCH]).float()
                 for index in range(0, flat.shape[0], WINDOWS_PER_BATCH)]  # fmt: skip
    embeddings = torch.cat(parts).reshape(n_sounds, len(starts), -1)
    return embeddings, timestamps.to(torch.float32).expand(n_sounds, -1).to(embeddings.device)


class _EncoderModuleFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Makes ``workbench.hear.<encoder>`` importable for every encoder name (``-`` written ``_``)."""

    def find_spec(self, fullname, path=None, target=None):  # noqa: ANN001 - the finder protocol's signature
        prefix = f"{__name__}."
        if not fullname.startswith(prefix) or "." in fullname[len(prefix):]:
            return None
        if encoder_for_module(fullname[len(prefix):]) is None:
            return None
        return importlib.machinery.ModuleSpec(fullname, self)

    def create_module(self, spec):  # noqa: ANN001
        return None  # the default module object

    def exec_module(self, module: types.ModuleType) -> None:
        encoder = encoder_for_module(module.__name__.rsplit(".", 1)[-1])

        def load_encoder_model(model_file_path: str = "", *, hop_ms: float = DEFAULT_HOP_MS,
                               window_ms: float = DEFAULT_WINDOW_MS) -> HearModel:  # fmt: skip
            return load_model(model_file_path, encoder=encoder, hop_ms=hop_ms, window_ms=window_ms)

        load_encoder_model.__doc__ = f"HEAR load_model of the workbench encoder {encoder!r}; model_file_path: weights."
        module.__doc__ = f"The workbench encoder {encoder!r} as a HEAR 2021 API module (see workbench.hear)."
        module.ENCODER = encoder
        module.load_model = load_encoder_model
        module.get_scene_embeddings = get_scene_embeddings
        module.get_timestamp_embeddings = get_timestamp_embeddings


def encoder_for_module(module_name: str) -> str | None:
    """The encoder that ``workbench.hear.<module_name>`` exposes (``-`` written ``_``), or None."""
    by_module = {name.replace("-", "_"): name for name in encoder_names()}
    return by_module.get(module_name)


if not any(isinstance(finder, _EncoderModuleFinder) for finder in sys.meta_path):
    sys.meta_path.append(_EncoderModuleFinder())
