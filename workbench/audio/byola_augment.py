"""BYOL-A's augmentations of normalised log-mel spectrograms, and the intra-batch mixing of
difference-aware BYOL-A.

- :class:`MixupMemory` (Niizumi et al., "BYOL for Audio", IJCNN 2021): mix each spectrogram with one
  drawn from a memory of past ones, in the linear domain (log-mixup-exp), with a small random weight;
- :class:`RandomResizeCrop`: crop a random area of a "virtual" canvas larger than the spectrogram
  (so crops may reach past its edges, into zeros) and resize it back, which stretches or squeezes
  frequency and time;
- :class:`RandomLinearFader` (BYOL-A v2, Niizumi et al., TASLP 2023): add a random linear slope
  over time to the log-mel, a fade-in or fade-out;
- :func:`shift_batch` and :func:`subtraction_mix` (Takeuchi et al., "Towards Learning a
  Difference-Aware General-Purpose Audio Representation"): mix every view with its index-shifted
  neighbour, ``w = log(gamma * exp(s(v)) + (1 - gamma) * exp(v))``.

The constants are the official ones (``nttcslab/byol-a``): v1 mixes with ``ratio=0.4`` from a
memory of 2048 and crops with virtual scale ``(1.0, 1.5)`` and frequency and time scales
``(0.6, 1.5)``; v2 lowers the mixup ratio to 0.2 and the memory to 512 and adds the fader with
gain 1.0 (:func:`byola_augmentation`). The official modules draw from Python's and NumPy's global
generators, one clip at a time; these take batches ``(batch, n_mels, frames)`` and an optional
``torch.Generator``, so a seed reproduces them exactly. Like :class:`~workbench.audio.augment.SpecAugment`
they augment in training mode only and are the identity in eval mode.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch import nn
from torch.nn import functional

from workbench.audio.augment import Lambda, log_mixup_exp

AugmentationVersion = Literal["v1", "v2"]


def _check_spectrograms(spectrograms: torch.Tensor, name: str) -> None:
    if spectrograms.ndim != 3:
        raise ValueError(
            f"{name} expects log-mel spectrograms (batch, n_mels, frames), got shape {tuple(spectrograms.shape)}"
        )


def _uniform(low: float, high: float, size: int, generator: torch.Generator | None) -> torch.Tensor:
    """``size`` draws of ``U(low, high)`` in float64 (exact enough for the integer sizes cut from them)."""
    return low + (high - low) * torch.rand(size, generator=generator, dtype=torch.float64)


def _check_range(name: str, value: tuple[float, float], minimum_high: float | None = None) -> tuple[float, float]:
    low, high = (float(bound) for bound in value)
    if not 0 < low <= high:
        raise ValueError(f"{name} must be (low, high) with 0 < low <= high, got {value!r}")
    if minimum_high is not None and high < minimum_high:
        raise ValueError(f"{name}'s upper bound must be at least {minimum_high}, got {value!r}")
    return low, high


class MixupMemory(nn.Module):
    """Mixup of each spectrogram with a past one: BYOL-A's background-sound mixing.

    Each spectrogram ``x`` of a batch is mixed with a spectrogram ``z`` drawn uniformly from a
    memory of the last ``memory_size`` spectrograms seen (earlier batches only), with a weight
    ``alpha ~ U(0, ratio)`` on ``z``: ``log((1 - alpha) * exp(x) + alpha * exp(z))`` (log-mixup-exp)
    or, with ``log_mixup_exp=False``, ``(1 - alpha) * x + alpha * z``. The batch then enters the
    memory (first in, first out). The first batch, with an empty memory, passes unchanged, as the
    official first clip does. The memory is a persistent buffer, so a training checkpoint carries it
    and a resumed run mixes with the same past sounds.

    Args:
        ratio: upper bound of the weight of the memory sound (the paper's alpha); 0.4 in v1, 0.2 in v2.
        memory_size: spectrograms kept; 2048 in v1, 512 in v2.
        log_mixup_exp: mix in the linear domain (True, BYOL-A) or directly in the log domain.
        generator: source of randomness; None uses torch's global generator.

    Shape:
        spectrograms: ``(batch, n_mels, frames)``, every batch of the same ``(n_mels, frames)``;
        output: the same.

    Raises:
        ValueError: a ratio outside [0, 1], a memory size below 1, or (in forward) a batch that is not
            3-D or whose ``(n_mels, frames)`` differ from the memory's.
    """

    def __init__(
        self,
        ratio: float = 0.4,
        memory_size: int = 2048,
        log_mixup_exp: bool = True,
        generator: torch.Generator | None = None,
    ):
        super().__init__()
        if not 0.0 <= ratio <= 1.0:
            raise ValueError(f"mixup ratio must lie in [0, 1], got {ratio!r}")
        if isinstance(memory_size, bool) or int(memory_size) != memory_size or memory_size < 1:
            raise ValueError(f"memory_size must be a positive integer, got {memory_size!r}")
        self.ratio = float(ratio)
        self.memory_size = int(memory_size)
        self.log_mixup_exp = log_mixup_exp
        self.generator = generator
        self.register_buffer("memory", torch.empty(0))

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str, *args: Any) -> None:
        # The memory grows with training; take the saved one's shape before the usual copy into it.
        saved = state_dict.get(prefix + "memory")
        if isinstance(saved, torch.Tensor):
            self.memory = torch.empty_like(saved, device=self.memory.device)
        super()._load_from_state_dict(state_dict, prefix, *args)

    def forward(self, spectrograms: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return spectrograms
        _check_spectrograms(spectrograms, type(self).__name__)
        if self.memory.numel() and self.memory.shape[1:] != spectrograms.shape[1:]:
            raise ValueError(
                f"MixupMemory holds spectrograms of shape {tuple(self.memory.shape[1:])}, got a batch of "
                f"{tuple(spectrograms.shape[1:])}; crop every clip to the same number of frames first"
            )
        batch = spectrograms.shape[0]
        mixed = spectrograms
        if self.memory.numel():
            alpha = (self.ratio * torch.rand(batch, generator=self.generator)).to(spectrograms)  # (B,)
            chosen = torch.randint(len(self.memory), (batch,), generator=self.generator)
            partners = self.memory[chosen.to(self.memory.device)].to(spectrograms)  # (B, F, T)
            if self.log_mixup_exp:
                mixed = log_mixup_exp(spectrograms, partners, 1.0 - alpha)
            else:
                weight = alpha[:, None, None]
                mixed = (1.0 - weight) * spectrograms + weight * partners
        remembered = spectrograms.detach()
        self.memory = torch.cat([self.memory.to(remembered), remembered])[-self.memory_size :]
        return mixed

    def extra_repr(self) -> str:
        return f"ratio={self.ratio}, memory_size={self.memory_size}, log_mixup_exp={self.log_mixup_exp}"


class RandomResizeCrop(nn.Module):
    """BYOL-A's random resize crop: a random area of a zero-padded canvas, resized back bicubically.

    The spectrogram sits in the centre of a canvas ``virtual_crop_scale`` times its size (zeros
    around it: the mean of a normalised log-mel). A crop of ``int(U(freq_scale) * n_mels)`` bins by
    ``int(U(time_scale) * frames)`` frames, clipped to the canvas, is taken at a uniform position
    and resized to ``(n_mels, frames)`` with bicubic interpolation (``align_corners=True``). A crop
    larger than the spectrogram squeezes it and may include padding; a smaller one stretches a part.
    One crop per spectrogram.

    Args:
        virtual_crop_scale: canvas size relative to the input, ``(frequency, time)``; each >= 1.
        freq_scale: range of the crop height relative to ``n_mels``; the upper bound is >= 1.
        time_scale: range of the crop width relative to ``frames``; the upper bound is >= 1.
        generator: source of randomness; None uses torch's global generator.

    Shape:
        spectrograms: ``(batch, n_mels, frames)``; output: the same.

    Raises:
        ValueError: scales out of range, or (in forward) a batch that is not 3-D.
    """

    def __init__(
        self,
        virtual_crop_scale: tuple[float, float] = (1.0, 1.5),
        freq_scale: tuple[float, float] = (0.6, 1.5),
        time_scale: tuple[float, float] = (0.6, 1.5),
        generator: torch.Generator | None = None,
    ):
        super().__init__()
        if len(virtual_crop_scale) != 2 or min(virtual_crop_scale) < 1.0:
            raise ValueError(f"virtual_crop_scale must be two factors >= 1, got {virtual_crop_scale!r}")
        self.virtual_crop_scale = (float(virtual_crop_scale[0]), float(virtual_crop_scale[1]))
        self.freq_scale = _check_range("freq_scale", freq_scale, minimum_high=1.0)
        self.time_scale = _check_range("time_scale", time_scale, minimum_high=1.0)
        self.generator = generator

    def crop_boxes(self, n_mels: int, frames: int, batch: int) -> torch.Tensor:
        """``(batch, 4)`` integer boxes ``(top, left, height, width)`` on the canvas, as the official
        ``get_params`` draws them."""
        canvas_height = int(n_mels * self.virtual_crop_scale[0])
        canvas_width = int(frames * self.virtual_crop_scale[1])
        heights = (_uniform(*self.freq_scale, batch, self.generator) * n_mels).long().clamp(1, canvas_height)
        widths = (_uniform(*self.time_scale, batch, self.generator) * frames).long().clamp(1, canvas_width)
        # Uniform integer offsets in [0, canvas - size], inclusive (Python's random.randint).
        tops = (torch.rand(batch, generator=self.generator, dtype=torch.float64) * (canvas_height - heights + 1)).long()
        lefts = (torch.rand(batch, generator=self.generator, dtype=torch.float64) * (canvas_width - widths + 1)).long()
        return torch.stack([tops, lefts, heights, widths], dim=1)

    def forward(self, spectrograms: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return spectrograms
        _check_spectrograms(spectrograms, type(self).__name__)
        batch, n_mels, frames = spectrograms.shape
        canvas_height = int(n_mels * self.virtual_crop_scale[0])
        canvas_width = int(frames * self.virtual_crop_scale[1])
        canvas = spectrograms.new_zeros(batch, canvas_height, canvas_width)
        row, column = (canvas_height - n_mels) // 2, (canvas_width - frames) // 2
        canvas[:, row : row + n_mels, column : column + frames] = spectrograms
        resized = []
        for item, (top, left, height, width) in enumerate(self.crop_boxes(n_mels, frames, batch).tolist()):
            crop = canvas[item, top : top + height, left : left + width]  # (h, w)
            resized.append(
                functional.interpolate(crop[None, None], size=(n_mels, frames), mode="bicubic", align_corners=True)[0, 0]
            )
        return torch.stack(resized)  # (B, n_mels, frames)

    def extra_repr(self) -> str:
        return (
            f"virtual_crop_scale={self.virtual_crop_scale}, freq_scale={self.freq_scale}, "
            f"time_scale={self.time_scale}"
        )


class RandomLinearFader(nn.Module):
    """BYOL-A v2's random linear fader: add ``linspace(head, tail, frames)`` to each log-mel.

    ``head`` and ``tail`` are drawn from ``gain * U(-1, 1)`` per spectrogram, so the level changes
    linearly (in dB-like log units) from one end of the clip to the other.

    Args:
        gain: largest slope end, in log units; 1.0 officially.
        generator: source of randomness; None uses torch's global generator.

    Shape:
        spectrograms: ``(batch, n_mels, frames)``; output: the same.

    Raises:
        ValueError: a negative gain, or (in forward) a batch that is not 3-D.
    """

    def __init__(self, gain: float = 1.0, generator: torch.Generator | None = None):
        super().__init__()
        if not gain >= 0:
            raise ValueError(f"fader gain must be >= 0, got {gain!r}")
        self.gain = float(gain)
        self.generator = generator

    def forward(self, spectrograms: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return spectrograms
        _check_spectrograms(spectrograms, type(self).__name__)
        batch, _, frames = spectrograms.shape
        ends = self.gain * (2.0 * torch.rand(batch, 2, generator=self.generator) - 1.0)  # (B, 2): head, tail
        position = torch.linspace(0.0, 1.0, frames)  # (T,)
        slopes = ends[:, :1] + (ends[:, 1:] - ends[:, :1]) * position  # (B, T)
        return spectrograms + slopes[:, None, :].to(spectrograms)

    def extra_repr(self) -> str:
        return f"gain={self.gain}"


def byola_augmentation(
    version: AugmentationVersion = "v1",
    *,
    mixup_ratio: float | None = None,
    memory_size: int | None = None,
    generator: torch.Generator | None = None,
) -> nn.Sequential:
    """BYOL-A's augmentation chain with the official constants of ``version``.

    - ``"v1"`` (IJCNN 2021): :class:`MixupMemory` (ratio 0.4, memory 2048), :class:`RandomResizeCrop`.
    - ``"v2"`` (TASLP 2023): :class:`MixupMemory` (ratio 0.2, memory 512), :class:`RandomResizeCrop`,
      :class:`RandomLinearFader` (gain 1.0).

    Args:
        version: ``"v1"`` or ``"v2"``.
        mixup_ratio: replaces the version's mixup ratio.
        memory_size: replaces the version's memory size (small worlds fill a smaller memory sooner).
        generator: shared by every step; None uses torch's global generator.

    Raises:
        ValueError: an unknown version.
    """
    if version not in ("v1", "v2"):
        raise ValueError(f"BYOL-A augmentation version must be 'v1' or 'v2', got {version!r}")
    ratio, size = (0.4, 2048) if version == "v1" else (0.2, 512)
    steps: list[nn.Module] = [
        MixupMemory(ratio if mixup_ratio is None else mixup_ratio, size if memory_size is None else memory_size,
                    generator=generator),
        RandomResizeCrop(generator=generator),
    ]  # fmt: skip
    if version == "v2":
        steps.append(RandomLinearFader(1.0, generator=generator))
    return nn.Sequential(*steps)


def normalize_batch(spectrograms: torch.Tensor, eps: float = torch.finfo(torch.float32).eps) -> torch.Tensor:
    """BYOL-A's post-normalisation: standardise a whole batch with its own mean and standard deviation.

    Augmentations shift the statistics the pre-normalisation set; this restores zero mean and unit
    variance over every value of the batch (the official ``NormalizeBatch`` over batch, frequency and
    time of its one channel), with the standard deviation floored at ``eps``.

    Shape:
        spectrograms: any shape; output: the same.
    """
    return (spectrograms - spectrograms.mean()) / spectrograms.std().clamp_min(eps)


def shift_batch(batch: torch.Tensor, shift: int = 1) -> torch.Tensor:
    """The shift operator ``s``: item ``i`` of the output is item ``i - shift`` of the batch (cyclic).

    Every item is paired with a different item of the same batch whenever ``shift`` is not a multiple of
    the batch size, which is how difference-aware BYOL-A finds a partner to mix with and to subtract.

    Shape:
        batch: ``(batch, ...)``; output: the same.
    """
    return torch.roll(batch, shifts=shift, dims=0)


def sample_mixing_weights(
    batch: int, low: float = 0.4, high: float = 0.6, generator: torch.Generator | None = None
) -> torch.Tensor:
    """``gamma ~ U(low, high)`` per item, ``(batch,)`` float32: the weight of the shifted partner.

    Raises:
        ValueError: a range outside [0, 1] or with ``low > high``.
    """
    if not 0.0 <= low <= high <= 1.0:
        raise ValueError(f"mixing weights need 0 <= low <= high <= 1, got ({low}, {high})")
    return _uniform(low, high, batch, generator).float()


def subtraction_mix(views: torch.Tensor, gamma: Lambda, shift: int = 1, scale: float = 1.0) -> torch.Tensor:
    """``w = log(gamma * exp(s(v)) + (1 - gamma) * exp(v))``: each view mixed with its shifted neighbour.

    The mixture of subtraction-consistent learning: its representation minus ``gamma`` times the
    neighbour's should be that of the view itself. With ``scale = c`` the mix is
    ``log(gamma * exp(c s(v)) + (1 - gamma) * exp(c v)) / c``: for views that are log-mels divided by
    ``c`` (a normalisation's standard deviation), that is the log-mel of the mixed *power*, the mixture
    two sounds played together make; ``c = 1`` is the paper's formula on the values as they are.

    Args:
        views: log-mel views ``v`` ``(batch, n_mels, frames)``.
        gamma: the neighbour's weight, a number or ``(batch,)`` in [0, 1].
        shift: the shift of :func:`shift_batch`.
        scale: log units per unit of ``views`` (> 0).

    Returns:
        ``(batch, n_mels, frames)``.

    Raises:
        ValueError: ``gamma`` outside [0, 1] or of the wrong shape, or a scale that is not positive.
    """
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale!r}")
    return log_mixup_exp(scale * shift_batch(views, shift), scale * views, gamma) / scale
