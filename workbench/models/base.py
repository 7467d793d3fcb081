"""The encoder interface every embedding model exposes, so recipes and taps take any model that fits.

An :class:`Encoder` is an ``nn.Module`` that

- takes raw waveforms ``(batch, samples)`` at :attr:`sample_rate` and applies its own front-end;
- returns one embedding per clip from :meth:`embed` ``-> (batch, dim)``;
- names its intermediate layers (:attr:`layer_names`, in forward order) and returns any of them from
  one forward pass with :meth:`layers`.

Subclasses implement :meth:`forward` (waveform -> embedding) and :meth:`layer_modules` (name -> the
submodule whose output is that layer); hooks do the rest, so ``layers`` is one pass by construction.
Models with a tagging head also implement ``tag_logits`` and set ``tag_names``.

Spectrogram models may also split :meth:`forward` in two, :meth:`spectrogram` (the fixed front-end)
and :meth:`forward_spectrogram` (the trainable rest), so that a recipe can augment the spectrogram
in between (SpecAugment) or compute it once and reuse it over epochs.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from workbench.errors import AudioError, UnknownNameError
from workbench.typing import SampleRate


def numbered_tag_names(count: int) -> tuple[str, ...]:
    """``("class 0", "class 1", ...)``: the names of a head whose classes are not named."""
    return tuple(f"class {index}" for index in range(count))


def head_tag_names(names: Sequence[str], n_classes: int) -> tuple[str, ...]:
    """The tag names of an ``n_classes``-way head: ``names``, or numbered ones when none are given.

    Raises:
        ValueError: ``names`` given, but not one per class.
    """
    chosen = tuple(names) or numbered_tag_names(n_classes)
    if len(chosen) != n_classes:
        raise ValueError(f"{len(chosen)} class names for n_classes={n_classes}")
    return chosen


class Encoder(nn.Module):
    sample_rate: SampleRate
    embedding_dim: int
    tag_names: Sequence[str] = ()
    spectrogram_time_first: bool = False
    """Whether :meth:`spectrogram` returns ``(batch, frames, bins)`` rather than ``(batch, bins, frames)``."""

    def layer_modules(self) -> dict[str, nn.Module]:
        """Ordered mapping of layer name -> submodule whose output is that layer."""
        return {}

    @property
    def layer_names(self) -> list[str]:
        return list(self.layer_modules())

    def check_waveform(self, waveform: torch.Tensor) -> torch.Tensor:
        """Accept ``(samples,)`` or ``(batch, samples)``; return ``(batch, samples)`` or raise AudioError."""
        if waveform.ndim == 1:
            waveform = waveform.unsqueeze(0)
        if waveform.ndim != 2:
            raise AudioError(
                f"{type(self).__name__} expects waveforms of shape (batch, samples) at "
                f"{self.sample_rate} Hz, got shape {tuple(waveform.shape)}"
            )
        # A finite sum proves every sample finite (one NaN or Inf makes the sum NaN or Inf) and costs one
        # pass without the boolean mask; only a non-finite sum (or one that overflowed) checks sample by sample.
        if not torch.isfinite(waveform.detach().sum()) and not torch.isfinite(waveform).all():
            raise AudioError(f"{type(self).__name__} got a waveform with NaN or Inf samples")
        return waveform

    def spectrogram(self, waveform: torch.Tensor) -> torch.Tensor:
        """The model's input features: waveforms ``(batch, samples)`` -> a normalised spectrogram.

        Optional; spectrogram models implement it together with :meth:`forward_spectrogram`, such that
        ``forward_spectrogram(spectrogram(w))`` equals ``forward(w)``. The front-end it applies has no
        trainable parameters, so its output may be cached and augmented.

        Shape:
            ``(batch, bins, frames)``, or ``(batch, frames, bins)`` when :attr:`spectrogram_time_first`.

        Raises:
            NotImplementedError: the model does not expose its spectrogram (the default).
        """
        raise self._no_spectrogram_path()

    def forward_spectrogram(self, spectrogram: torch.Tensor) -> torch.Tensor:
        """Embed a spectrogram from :meth:`spectrogram` (possibly augmented) -> ``(batch, dim)``.

        Raises:
            NotImplementedError: the model does not expose its spectrogram (the default).
        """
        raise self._no_spectrogram_path()

    def _no_spectrogram_path(self) -> NotImplementedError:
        return NotImplementedError(
            f"{type(self).__name__} does not expose a spectrogram front-end (spectrogram / forward_spectrogram); "
            f"use forward(waveform), or a spectrogram model such as AST, BEATs or AudioNTT2020"
        )

    def embed(self, waveform: torch.Tensor) -> torch.Tensor:
        """Waveforms ``(batch, samples)`` at :attr:`sample_rate` -> embeddings ``(batch, dim)``."""
        return self(self.check_waveform(waveform))

    def layers(
        self, waveform: torch.Tensor, names: Sequence[str] | None = None
    ) -> dict[str, torch.Tensor]:
        """Outputs of the named layers (all when ``names`` is None) from one forward pass."""
        modules = self.layer_modules()
        wanted = list(modules) if names is None else list(names)
        for name in wanted:
            if name not in modules:
                raise UnknownNameError(f"layer of {type(self).__name__}", name, modules)
        waveform = self.check_waveform(waveform)
        captured: dict[str, torch.Tensor] = {}

        def hook_for(name: str):
            def hook(_module, _inputs, output):
                captured[name] = output[0] if isinstance(output, tuple) else output

            return hook

        handles = [modules[name].register_forward_hook(hook_for(name)) for name in wanted]
        try:
            self(waveform)
        finally:
            for handle in handles:
                handle.remove()
        return {name: captured[name] for name in wanted}
