"""Front-ends against the libraries they reproduce: 10-s clips at 16 kHz, one thread, interleaved rounds.

    python -m benchmarks.run frontends

Rows:

- ``log-mel``: :class:`~workbench.audio.LogMelSpectrogram` (BYOL-A's settings: 1024-point FFT, hop
  160, 64 HTK mels 60-7800 Hz, power 2, + log) against torchaudio's ``MelSpectrogram`` + log with the
  same settings, and against librosa's ``melspectrogram`` + log (the ``bench`` extra; its row says
  "librosa not installed" when it is absent). Goal: at least as fast as both (ratio <= 1).
- ``log-mel max |ours - torchaudio|``: the largest difference of the log-mel values (the tests hold
  it to 1e-5).
- ``Kaldi fbank``: :class:`~workbench.audio.KaldiFbank` (AST's settings) against a loop of
  ``torchaudio.compliance.kaldi.fbank`` calls, as AST's own code makes them. Goal: the wrapper costs
  nothing measurable (ratio <= 1.05).
- ``resample 44.1 -> 16 kHz``: :func:`workbench.audio.resample` (libsoxr, high quality) against
  torchaudio's default windowed-sinc filter, which it replaced because that filter aliases (see
  ``tests/audio/test_resample.py``). Goal: no slower (ratio <= 1).
"""

from __future__ import annotations

import importlib.util

import numpy as np
import torch
import torchaudio.compliance.kaldi
import torchaudio.transforms

from benchmarks.timing import compared_row, interleaved, row
import torchaudio.functional

from workbench.audio import KaldiFbank, LogMelSpectrogram, resample

SAMPLE_RATE = 16000
CLIP_SECONDS = 10
LOG_OFFSET = torch.finfo(torch.float32).eps


def _librosa_log_mel(array: np.ndarray):
    import librosa

    def compute() -> np.ndarray:
        mel = librosa.feature.melspectrogram(
            y=array, sr=SAMPLE_RATE, n_fft=1024, hop_length=160, win_length=1024, n_mels=64,
            fmin=60.0, fmax=7800.0, power=2.0, htk=True, norm=None,
        )  # fmt: skip
        return np.log(mel + LOG_OFFSET)

    return compute


def run(quick: bool = False) -> list[dict]:
    batch, rounds = (4, 5) if quick else (32, 7)
    setting = f"batch {batch} x {CLIP_SECONDS} s @ {SAMPLE_RATE // 1000} kHz, 1 thread"
    generator = torch.Generator().manual_seed(0)
    waveforms = torch.rand(batch, SAMPLE_RATE * CLIP_SECONDS, generator=generator) - 0.5

    log_mel = LogMelSpectrogram(sample_rate=SAMPLE_RATE)
    torchaudio_mel = torchaudio.transforms.MelSpectrogram(
        sample_rate=SAMPLE_RATE, n_fft=1024, win_length=1024, hop_length=160, f_min=60.0, f_max=7800.0,
        n_mels=64, norm=None, mel_scale="htk",
    )  # fmt: skip
    candidates = {
        "LogMelSpectrogram": lambda: log_mel(waveforms),
        "torchaudio MelSpectrogram": lambda: torch.log(torchaudio_mel(waveforms) + LOG_OFFSET),
    }
    has_librosa = importlib.util.find_spec("librosa") is not None
    if has_librosa:
        candidates["librosa melspectrogram"] = _librosa_log_mel(waveforms.numpy())

    fbank = KaldiFbank(sample_rate=SAMPLE_RATE)

    def fbank_loop() -> list[torch.Tensor]:
        return [
            torchaudio.compliance.kaldi.fbank(
                (clip - clip.mean()).unsqueeze(0), htk_compat=True, sample_frequency=SAMPLE_RATE,
                use_energy=False, window_type="hanning", num_mel_bins=128, dither=0.0, frame_shift=10,
            )  # fmt: skip
            for clip in waveforms
        ]

    with torch.inference_mode():
        seconds = interleaved(candidates, rounds)
        difference = (log_mel(waveforms) - candidates["torchaudio MelSpectrogram"]()).abs().max().item()
        fbank_seconds = interleaved({"KaldiFbank": lambda: fbank(waveforms), "kaldi.fbank loop": fbank_loop}, rounds)

    rows = [compared_row("frontends: log-mel", setting, seconds, "LogMelSpectrogram", "torchaudio MelSpectrogram",
                         goal=1.0)]  # fmt: skip
    if has_librosa:
        rows.append(compared_row("frontends: log-mel", setting, seconds, "LogMelSpectrogram",
                                 "librosa melspectrogram", goal=1.0))  # fmt: skip
    else:
        rows.append(row("frontends: log-mel", setting, float("nan"), "ms", anchor="librosa melspectrogram",
                        note="librosa not installed (pip install -e '.[bench]')"))  # fmt: skip
    rows.append(row("frontends: log-mel max |ours - torchaudio|", setting, difference, "abs",
                    anchor="torchaudio MelSpectrogram", note="tests hold it to <= 1e-5"))  # fmt: skip
    rows.append(compared_row("frontends: Kaldi fbank", setting.replace("1 thread", "128 mels, 1 thread"),
                             fbank_seconds, "KaldiFbank", "kaldi.fbank loop", goal=1.05,
                             note="the same per-clip kaldi.fbank calls: a miss is machine load (see the min)"))
    clips_44k = torch.rand(batch, 44_100 * CLIP_SECONDS, generator=generator) - 0.5
    resample_seconds = interleaved({
        "soxr HQ": lambda: resample(clips_44k, 44_100, SAMPLE_RATE),
        "torchaudio resample": lambda: torchaudio.functional.resample(clips_44k, 44_100, SAMPLE_RATE),
    }, rounds)  # fmt: skip
    rows.append(compared_row("frontends: resample 44.1 -> 16 kHz", setting.replace("@ 16 kHz", "@ 44.1 kHz"),
                             resample_seconds, "soxr HQ", "torchaudio resample", goal=1.0))  # fmt: skip
    return rows


if __name__ == "__main__":
    for entry in run():
        print(entry)
