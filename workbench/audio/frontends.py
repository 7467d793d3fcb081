"""Front-ends: waveforms in, time-frequency features out, as small ``nn.Module``s.

Every front-end takes waveforms ``(batch, samples)`` and returns ``(batch, n_bins, frames)`` with the
frames axis last, the layout every encoder and augmentation in the workbench expects. They also accept

- ``(samples,)``: one clip, returned with a batch axis of 1;
- ``(batch, channels, samples)``: the log-mel and fbank front-ends average the channels to mono (they
  describe one signal per clip); :class:`STFT` keeps the channels, ``(batch, channels, n_freq, frames)``,
  so :class:`ISTFT` can invert them.

Every parameter is an explicit constructor argument stored under its own name, which is what
:func:`frontend_fingerprint` reads to make cache keys. No front-end puts anything in its
``state_dict``: windows and filterbanks derive from the constructor arguments, so a model that
contains a front-end loads checkpoints that were saved without one. Features are computed in float32,
also under autocast.

This module holds the log-mel and fbank front-ends; :class:`STFT`/:class:`ISTFT` live in
:mod:`workbench.audio.stft`, what they all share in :mod:`workbench.audio.framing`, and the cache-key
helpers in :mod:`workbench.audio.frontend_keys`; all are re-exported here.
"""

from __future__ import annotations

import torch
import torchaudio.compliance.kaldi
import torchaudio.functional
from torch import nn

from workbench.audio.framing import Framing, as_batch, check_length, check_positive, complex_stft
# Re-exported: the STFT pair and the cache-key helpers live in their own modules.
from workbench.audio.frontend_keys import frontend_fingerprint, frontend_sample_rate  # noqa: F401
from workbench.audio.stft import ISTFT, STFT  # noqa: F401
from workbench.typing import SampleRate


class LogMelSpectrogram(Framing, nn.Module):
    """Log mel spectrogram ``log(mel + log_offset)``, equal to :class:`torchaudio.transforms.MelSpectrogram`'s.

    The values are torchaudio's (``norm=None, mel_scale="htk"``, within float32 rounding: 1e-6 on
    the log), computed faster than torchaudio and librosa on the CPU (``python -m benchmarks.run
    frontends``): see :meth:`power_mel`.

    The defaults are BYOL-A's (Niizumi et al., "BYOL for Audio", IJCNN 2021): 64 HTK mel bands from
    60 to 7800 Hz of a 1024-point power spectrum every 10 ms at 16 kHz, Hann window, reflect-padded
    centred frames, no filterbank normalisation.

    Args:
        sample_rate: rate of the input waveforms in Hz.
        n_fft: FFT size; the spectrum has ``n_fft // 2 + 1`` bins before the mel filterbank.
        win_length: Hann window length in samples (``<= n_fft``).
        hop_length: samples between frames.
        n_mels: mel bands (the output's ``n_bins``).
        f_min: lowest filterbank edge in Hz.
        f_max: highest filterbank edge in Hz (``<= sample_rate / 2``).
        power: exponent of the magnitude (2.0 power spectrum, 1.0 magnitude).
        log_offset: added before the log so silence stays finite.
        center: pad ``n_fft // 2`` samples (reflect) at both ends so frame ``t`` is centred on
            sample ``t * hop_length``.

    Shape:
        waveform: ``(batch, samples)``, ``(samples,)`` or ``(batch, channels, samples)`` (averaged to mono).
        output: ``(batch, n_mels, frames)`` float32, ``frames = num_frames(samples)``.

    Raises:
        AudioError: a waveform of another shape, or shorter than :attr:`min_samples`.
    """

    def __init__(
        self,
        sample_rate: SampleRate = 16000,
        n_fft: int = 1024,
        win_length: int = 1024,
        hop_length: int = 160,
        n_mels: int = 64,
        f_min: float = 60.0,
        f_max: float = 7800.0,
        power: float = 2.0,
        log_offset: float = torch.finfo(torch.float32).eps,
        center: bool = True,
    ):
        super().__init__()
        check_positive(sample_rate=sample_rate, n_fft=n_fft, win_length=win_length,
                        hop_length=hop_length, n_mels=n_mels, power=power, log_offset=log_offset)
        if win_length > n_fft:
            raise ValueError(f"win_length ({win_length}) must not exceed n_fft ({n_fft})")
        if not 0.0 <= f_min < f_max <= sample_rate / 2:
            raise ValueError(
                f"need 0 <= f_min < f_max <= sample_rate / 2, got f_min={f_min}, f_max={f_max}, "
                f"sample_rate={sample_rate}"
            )
        self.sample_rate = sample_rate
        self.n_fft = n_fft
        self.win_length = win_length
        self.hop_length = hop_length
        self.n_mels = n_mels
        self.f_min = f_min
        self.f_max = f_max
        self.power = power
        self.log_offset = log_offset
        self.center = center
        # The same window and filterbank as torchaudio.transforms.MelSpectrogram(norm=None,
        # mel_scale="htk"), built once. Only the bins the filterbank reaches enter the matmul.
        filterbank = torchaudio.functional.melscale_fbanks(
            n_freqs=n_fft // 2 + 1, f_min=f_min, f_max=f_max, n_mels=n_mels, sample_rate=sample_rate,
            norm=None, mel_scale="htk",
        )  # (n_freq, n_mels)
        reached = torch.nonzero(filterbank.abs().sum(dim=1) > 0).squeeze(1)
        self._first_bin = int(reached[0]) if len(reached) else 0
        self._end_bin = int(reached[-1]) + 1 if len(reached) else 1
        filterbank = filterbank[self._first_bin : self._end_bin]  # (F', n_mels)
        self.register_buffer("window_samples", torch.hann_window(win_length), persistent=False)
        if power == 2.0:
            # Power folded into the matmul: each bin's row twice, once for its real and once for its
            # imaginary part, applied to the squared interleaved (real, imag) STFT values.
            self.register_buffer(
                "filterbank_rows", filterbank.repeat_interleave(2, dim=0).T.contiguous(), persistent=False
            )  # (n_mels, 2F')
        else:
            self.register_buffer("filterbank_rows", filterbank.T.contiguous(), persistent=False)  # (n_mels, F')

    @property
    def n_bins(self) -> int:
        return self.n_mels

    def power_mel(self, waveform: torch.Tensor) -> torch.Tensor:
        """The mel spectrogram before the log, ``(batch, n_mels, frames)`` (torchaudio's values, within float rounding).

        torchaudio computes ``|X| ** power`` through the complex ``abs`` (as slow as the FFT itself),
        then multiplies the whole spectrum by the filterbank. Here ``real**2 + imag**2`` is computed
        in place on the STFT's own memory (frames-major, so the interleaved real/imag pairs are
        contiguous) and, for ``power=2``, the sum of the pair happens inside the filterbank matmul.
        """
        waveform = as_batch(waveform, type(self).__name__, keep_channels=False)  # (B, samples)
        check_length(waveform, self.min_samples, type(self).__name__)
        with torch.autocast(device_type=waveform.device.type, enabled=False):
            # .float(): a model converted with .half() converts these buffers too; features stay float32.
            spectrum = complex_stft(waveform, self.n_fft, self.hop_length, self.window_samples.float(), self.center)
            # (B, n_freq, frames), on the CPU a transposed view of frames-major memory
            pairs = torch.view_as_real(spectrum.transpose(1, 2))  # (B, frames, n_freq, 2)
            if not pairs.is_contiguous():  # other FFT back-ends may lay it out bins-major
                pairs = pairs.contiguous()
            pairs = pairs[:, :, self._first_bin : self._end_bin]  # (B, frames, F', 2)
            # In place on the STFT's own memory unless autograd needs the values (gradient through the front-end).
            pairs = pairs.square() if pairs.requires_grad else pairs.square_()
            if self.power == 2.0:
                power = pairs.flatten(2)  # (B, frames, 2F'): real**2, imag**2 interleaved
            else:
                power = pairs.sum(dim=-1).pow_(self.power / 2)  # (B, frames, F')
            return self.filterbank_rows.float() @ power.transpose(1, 2)  # (B, n_mels, frames)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        mel = self.power_mel(waveform)  # (B, n_mels, frames)
        return torch.log(mel + self.log_offset)


class KaldiFbank(nn.Module):
    """Kaldi-compatible log mel filterbank, :func:`torchaudio.compliance.kaldi.fbank` applied per clip.

    This is the front-end of AST (Gong et al., Interspeech 2021) with the defaults here: subtract the
    waveform's mean, 128 bands, 25 ms Hanning windows every 10 ms, ``htk_compat=True``, no energy, no
    dither, then pad or crop to ``target_frames`` (1024 for AudioSet's 10 s clips). BEATs (Chen et al.,
    ICML 2023) instead uses ``waveform_scale=2**15, remove_dc=False, window_type="povey",
    htk_compat=False``. Both then normalise with dataset statistics divided by ``2 * std``: use
    ``Normalizer(mean, 2 * std)`` after this module.

    Args:
        sample_rate: rate of the input waveforms in Hz.
        n_mels: mel bands.
        frame_length_ms: window length in milliseconds.
        frame_shift_ms: hop in milliseconds.
        window_type: ``"hanning"``, ``"hamming"``, ``"povey"``, ``"rectangular"`` or ``"blackman"``.
        dither: amplitude of the Gaussian dither added to each frame (0 disables it; makes the
            output random when > 0).
        htk_compat: HTK conventions (energy last, no scaling of the log energy).
        use_energy: add the log frame energy as one more bin (then ``n_bins = n_mels + 1``).
        subtract_mean: subtract each clip's mean over frames from every bin.
        target_frames: zero-pad at the end or crop to this many frames (None keeps them all).
        waveform_scale: multiply the waveform by this first (``2**15`` for int16-scaled models).
        remove_dc: subtract the waveform's mean before framing (Kaldi also removes each frame's DC).

    Shape:
        waveform: ``(batch, samples)``, ``(samples,)`` or ``(batch, channels, samples)`` (averaged to mono).
        output: ``(batch, n_bins, frames)`` float32 (bins before frames, unlike Kaldi's
        ``(frames, bins)``; AST-style models transpose it back).

    Raises:
        AudioError: a waveform of another shape, or shorter than one frame (:attr:`min_samples`).
    """

    def __init__(
        self,
        sample_rate: SampleRate = 16000,
        n_mels: int = 128,
        frame_length_ms: float = 25.0,
        frame_shift_ms: float = 10.0,
        window_type: str = "hanning",
        dither: float = 0.0,
        htk_compat: bool = True,
        use_energy: bool = False,
        subtract_mean: bool = False,
        target_frames: int | None = None,
        waveform_scale: float = 1.0,
        remove_dc: bool = True,
    ):
        super().__init__()
        check_positive(sample_rate=sample_rate, n_mels=n_mels, frame_length_ms=frame_length_ms,
                        frame_shift_ms=frame_shift_ms)
        valid_windows = ("hanning", "hamming", "povey", "rectangular", "blackman")
        if window_type not in valid_windows:
            raise ValueError(f"window_type must be one of {list(valid_windows)}, got {window_type!r}")
        if target_frames is not None and target_frames < 1:
            raise ValueError(f"target_frames must be a positive number of frames or None, got {target_frames}")
        if dither < 0:
            raise ValueError(f"dither must be >= 0, got {dither}")
        self.sample_rate = sample_rate
        self.n_mels = n_mels
        self.frame_length_ms = frame_length_ms
        self.frame_shift_ms = frame_shift_ms
        self.window_type = window_type
        self.dither = dither
        self.htk_compat = htk_compat
        self.use_energy = use_energy
        self.subtract_mean = subtract_mean
        self.target_frames = target_frames
        self.waveform_scale = waveform_scale
        self.remove_dc = remove_dc

    @property
    def n_bins(self) -> int:
        return self.n_mels + int(self.use_energy)

    @property
    def min_samples(self) -> int:
        """One frame: Kaldi snips the edges, so shorter clips have no frame at all."""
        # Kaldi's own rounding (torchaudio.compliance.kaldi: int(rate * ms * 0.001)).
        return int(self.sample_rate * self.frame_length_ms * 0.001)

    def num_frames(self, n_samples: int) -> int:
        """Frames produced for a clip of ``n_samples`` samples (``target_frames`` when set)."""
        if self.target_frames is not None:
            return self.target_frames
        shift = int(self.sample_rate * self.frame_shift_ms * 0.001)
        return 1 + (n_samples - self.min_samples) // shift

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        waveform = as_batch(waveform, type(self).__name__, keep_channels=False)  # (B, samples)
        check_length(waveform, self.min_samples, type(self).__name__)
        features = []
        with torch.autocast(device_type=waveform.device.type, enabled=False):
            for clip in waveform:  # kaldi.fbank takes one clip at a time
                clip = clip * self.waveform_scale
                if self.remove_dc:
                    clip = clip - clip.mean()
                fbank = torchaudio.compliance.kaldi.fbank(
                    clip.unsqueeze(0),
                    sample_frequency=float(self.sample_rate),
                    num_mel_bins=self.n_mels,
                    frame_length=self.frame_length_ms,
                    frame_shift=self.frame_shift_ms,
                    window_type=self.window_type,
                    dither=self.dither,
                    htk_compat=self.htk_compat,
                    use_energy=self.use_energy,
                    subtract_mean=self.subtract_mean,
                )  # (frames, n_bins)
                if self.target_frames is not None:
                    # As AST: zero frames appended at the end, or only the first target_frames kept.
                    missing = self.target_frames - fbank.shape[0]
                    fbank = nn.functional.pad(fbank, (0, 0, 0, max(missing, 0)))[: self.target_frames]
                features.append(fbank.T)
        return torch.stack(features)  # (B, n_bins, frames)
