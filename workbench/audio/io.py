"""Reading and writing audio: soundfile for I/O (any format libsndfile reads), libsoxr to resample.

torchaudio's own ``load``/``save`` need TorchCodec and FFmpeg since 2.9, so every file in the
workbench goes through :func:`load` and :func:`save` here.
"""

from __future__ import annotations

import io
import math
import os
import struct
import threading
import warnings
from pathlib import Path

import numpy as np
import soundfile
import soxr
import torch

from workbench.atomic import atomic_path
from workbench.errors import AudioError, MissingFileError
from workbench.typing import SampleRate, Seconds


RESAMPLER = "soxr-hq"
"""The resampler's name and quality; part of every embedding cache key, so that changing it never
reuses features computed with another filter."""


def resample(waveform: torch.Tensor, orig_rate: SampleRate, new_rate: SampleRate) -> torch.Tensor:
    """Band-limited resampling along the last axis with libsoxr at high quality, a no-op at equal rates.

    The official pipelines resample with sox (AST) or librosa's soxr (PANNs). torchaudio's default
    windowed-sinc filter aliases: a tone just above the new Nyquist came through at -8.4 dB (1.03x) and
    -14.1 dB (1.10x), and it lost 2.4 dB at 0.9 Nyquist. soxr HQ is flat to 0.9 Nyquist and rejects the
    stop band by more than 100 dB (both measured in ``tests/audio/test_resample.py``); the speed against
    the old filter is a row of ``benchmarks/bench_frontends.py``.

    Args:
        waveform: ``(..., samples)`` float audio on any device (it is resampled on the CPU and returned
            on its own device and dtype).
        orig_rate, new_rate: the sample rates in Hz.

    Raises:
        ValueError: a rate that is not positive.
    """
    if orig_rate == new_rate:
        return waveform
    if orig_rate <= 0 or new_rate <= 0:
        raise ValueError(f"sample rates must be positive, got {orig_rate} -> {new_rate}")
    leading = waveform.shape[:-1]
    work_dtype = torch.float64 if waveform.dtype == torch.float64 else torch.float32
    frames = waveform.detach().reshape(-1, waveform.shape[-1]).to("cpu", work_dtype).numpy().T  # (samples, channels)
    converted = soxr.resample(np.ascontiguousarray(frames), float(orig_rate), float(new_rate), quality="HQ")
    converted = np.asarray(converted).reshape(converted.shape[0], -1).T  # (channels, samples)
    return torch.from_numpy(np.ascontiguousarray(converted)).to(waveform.device, waveform.dtype).reshape(*leading, -1)


def check_waveform(
    waveform: torch.Tensor,
    sample_rate: SampleRate,
    *,
    source: str = "waveform",
    min_duration: Seconds | None = None,
    pad: bool = False,
) -> torch.Tensor:
    """Validate a ``(channels, samples)`` waveform; pad with zeros to ``min_duration`` when ``pad``.

    Raises:
        AudioError: empty, NaN/Inf samples, or shorter than ``min_duration`` without ``pad``;
            the message names ``source``.
    """
    if waveform.ndim != 2:
        raise AudioError(f"{source}: expected (channels, samples), got shape {tuple(waveform.shape)}")
    if waveform.shape[-1] == 0 or waveform.shape[0] == 0:
        raise AudioError(f"{source}: the audio is empty (0 samples)")
    if not torch.isfinite(waveform).all():
        bad = int((~torch.isfinite(waveform)).sum())
        raise AudioError(f"{source}: {bad} samples are NaN or Inf")
    if min_duration is not None:
        # Round first: 1.1 s * 48000 is 52800.00000000001 in floating point, not 52801 samples.
        needed = math.ceil(round(min_duration * sample_rate, 6))
        have = waveform.shape[-1]
        if have < needed:
            if not pad:
                raise AudioError(
                    f"{source}: {have / sample_rate:.3f} s is shorter than the {min_duration:.3f} s "
                    f"needed; pass pad=True to zero-pad it"
                )
            waveform = torch.nn.functional.pad(waveform, (0, needed - have))
    return waveform


def load(
    path: str | os.PathLike,
    sample_rate: SampleRate | None = None,
    *,
    mono: bool = True,
    min_duration: Seconds | None = None,
    pad: bool = False,
) -> tuple[torch.Tensor, SampleRate]:
    """Read an audio file as a float32 tensor ``(channels, samples)``.

    Integer formats (PCM WAV, FLAC, ...) give samples in [-1, 1). Floating-point files (float WAV,
    ...) are returned as stored: samples beyond [-1, 1] are **kept, not clipped** (clipping would
    distort the sound for good, while a scale can be undone), and the first read of such a file
    warns once, with its peak, so that you can normalise it (or fix its export).

    A WAV file whose header declares more sample frames than the file holds (a truncated copy or an
    interrupted download) is an error, not the shorter clip libsndfile would return.

    Args:
        path: any format libsndfile reads (WAV, FLAC, OGG/Vorbis, OGG/Opus, MP3).
        sample_rate: resample to this rate; None keeps the file's rate.
        mono: average the channels into one (``(1, samples)``); False keeps every channel.
        min_duration: seconds the caller needs (e.g. a front-end's window); shorter clips raise
            unless ``pad`` is True, which zero-pads them at the end.
        pad: see ``min_duration``.

    Returns:
        ``(waveform, sample_rate)`` where ``sample_rate`` is the rate of the returned waveform.

    Raises:
        MissingFileError: the file does not exist.
        AudioError: the file is unreadable, truncated, empty, holds NaN/Inf, or is too short; the
            message names it.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"audio file not found: {path}")
    try:
        with soundfile.SoundFile(str(path)) as stream:
            header_frames = stream.frames
            file_format = stream.format
            data = stream.read(dtype="float32", always_2d=True)
            file_rate = stream.samplerate
    except (soundfile.LibsndfileError, RuntimeError, TypeError, ValueError) as error:
        raise AudioError(f"{path}: unreadable audio file ({error})") from error
    declared = _declared_wav_frames(path) if file_format in ("WAV", "WAVEX") else None
    expected = max(header_frames, declared or 0)
    if len(data) < expected:
        raise AudioError(
            f"{path}: truncated audio file: its header declares {expected} sample frames but it holds "
            f"{len(data)} ({len(data) / file_rate:.3f} of {expected / file_rate:.3f} s); copy or download it again"
        )
    waveform = torch.from_numpy(np.ascontiguousarray(data.T))  # (channels, samples)
    waveform = check_waveform(waveform, file_rate, source=str(path))
    _warn_out_of_range(path, waveform)
    if mono and waveform.shape[0] > 1:
        waveform = waveform.mean(dim=0, keepdim=True)
    if sample_rate is not None and sample_rate != file_rate:
        waveform = resample(waveform, file_rate, sample_rate)
        file_rate = sample_rate
    waveform = check_waveform(waveform, file_rate, source=str(path), min_duration=min_duration, pad=pad)
    return waveform.contiguous(), int(file_rate)


_WARNED_OUT_OF_RANGE: set[tuple[str, int, int]] = set()
_WARNED_LOCK = threading.Lock()


def _warn_out_of_range(path: Path, waveform: torch.Tensor) -> None:
    """Warn once per file (path, size and modification time) about samples beyond [-1, 1] (kept)."""
    peak = float(waveform.abs().max())
    if peak <= 1.0:
        return
    status = path.stat()
    key = (str(path.resolve()), status.st_size, status.st_mtime_ns)
    with _WARNED_LOCK:
        if key in _WARNED_OUT_OF_RANGE:
            return
        _WARNED_OUT_OF_RANGE.add(key)
    outside = int((waveform.abs() > 1.0).sum())
    warnings.warn(
        f"{path}: {outside} samples lie outside [-1, 1] (peak {peak:.3g}); they are kept as stored, not "
        f"clipped: normalise the file (or its export) if the scale is a mistake",
        stacklevel=3,
    )


def _declared_wav_frames(path: Path) -> int | None:
    """Sample frames a RIFF/RF64 WAV header declares (its data chunk's size over the frame size), or
    None where the header does not say (a streaming writer's placeholder size) or cannot be parsed.

    libsndfile clamps its frame count to the bytes present, so a truncated file looks whole to it.
    """
    try:
        with open(path, "rb") as stream:
            head = stream.read(12)
            if len(head) < 12 or head[8:12] != b"WAVE" or head[:4] not in (b"RIFF", b"RIFX"):
                return None  # RF64/W64 and others: no check here
            endian = "<" if head[:4] == b"RIFF" else ">"
            block_align = None
            while True:
                chunk = stream.read(8)
                if len(chunk) < 8:
                    return None
                name, size = chunk[:4], struct.unpack(f"{endian}I", chunk[4:])[0]
                if name == b"fmt ":
                    body = stream.read(size)
                    if len(body) < 14:
                        return None
                    block_align = struct.unpack(f"{endian}H", body[12:14])[0]
                    if size % 2:
                        stream.seek(1, os.SEEK_CUR)
                elif name == b"data":
                    if block_align in (None, 0) or size in (0, 0xFFFFFFFF, 0x7FFFFFFF):
                        return None
                    return size // block_align
                else:
                    stream.seek(size + (size % 2), os.SEEK_CUR)
    except (OSError, struct.error):
        return None


def save(
    path: str | os.PathLike,
    waveform: torch.Tensor | np.ndarray,
    sample_rate: SampleRate,
    *,
    subtype: str | None = None,
) -> Path:
    """Write ``(channels, samples)`` (or ``(samples,)``) audio atomically; format from the suffix.

    The file is written beside ``path`` under a temporary name and renamed over it, so ``path`` holds
    either its old content or the complete new file, never a partial one.

    Raises:
        AudioError: a suffix libsndfile cannot write, a waveform that is not 1-D/2-D, holds NaN/Inf,
            or a subtype the format does not take; the message names ``path``.
    """
    path = Path(path)
    audio_format = path.suffix[1:].upper()
    if audio_format not in soundfile.available_formats():
        raise AudioError(
            f"{path}: cannot write audio with suffix {path.suffix!r}; use one of "
            f"{', '.join('.' + name.lower() for name in sorted(soundfile.available_formats()))}"
        )
    array = waveform.detach().cpu().numpy() if isinstance(waveform, torch.Tensor) else np.asarray(waveform)
    array = array[None] if array.ndim == 1 else array
    if array.ndim != 2 or array.size == 0:
        raise AudioError(f"{path}: expected a non-empty waveform (channels, samples), got shape {array.shape}")
    if not np.isfinite(array).all():
        raise AudioError(f"{path}: refusing to write a waveform with NaN or Inf samples")
    try:
        with atomic_path(path) as temporary:
            # The temporary name ends in .tmp, so the format is named rather than guessed from it.
            soundfile.write(temporary, array.T.astype(np.float32), int(sample_rate), subtype=subtype,
                            format=audio_format)
    except (soundfile.SoundFileError, TypeError, ValueError) as error:
        raise AudioError(f"{path}: could not write {audio_format} audio ({error})") from error
    return path


def wav_bytes(waveform: torch.Tensor | np.ndarray, sample_rate: SampleRate) -> bytes:
    """16-bit PCM WAV bytes of a waveform, peak-normalised when it would clip (for players and widgets)."""
    array = waveform.detach().cpu().numpy() if isinstance(waveform, torch.Tensor) else np.asarray(waveform)
    array = np.atleast_2d(array).astype(np.float32)
    peak = float(np.abs(array).max()) if array.size else 0.0
    if peak > 1.0:
        array = array / peak
    buffer = io.BytesIO()
    soundfile.write(buffer, array.T, int(sample_rate), format="WAV", subtype="PCM_16")
    return buffer.getvalue()
