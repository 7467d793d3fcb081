"""Composing clip features from several layers of a pre-trained model (Eq. 1-3 of Niizumi et al.).

Niizumi, Takeuchi, Ohishi, Harada and Kashino, "Composing General Audio Representation by Fusing
Multilayer Features of a Pre-trained Model", EUSIPCO 2022 (arXiv:2205.08138):

- Eq. 1, :func:`temporal_maxpool`: a layer output becomes ``T_o`` frame vectors by max pooling its
  time axis to ``T_o`` frames and flattening channels and frequency, ``(B, C, F, T) -> (B, C*F, T_o)``,
  so the frequency structure the last layers average away stays in the features;
- Eq. 2, :func:`fuse`: the frame vectors of chosen (middle and late) layers are concatenated frame by
  frame;
- Eq. 3, :func:`pool_clip`: mean + max over time gives one vector per clip.

Mean and max act on each feature on its own, so pooling the fused frames equals concatenating the
pooled layers: ``pool_clip(fuse(L, names, T)) == fuse_pooled({n: pool_clip(temporal_maxpool(L[n], T))},
names)``. :class:`LayerFeatures` therefore computes one clip vector per tapped layer in one forward
pass, and any fusion of layers is a concatenation of those cached vectors (no second forward pass).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import torch
from workbench.progress import tqdm

from workbench.errors import UnknownNameError
from workbench.features.taps import tap_layers
from workbench.models.base import Encoder
from workbench.typing import Seconds


def time_frames(layer_output: torch.Tensor) -> int | None:
    """Length of the time axis of a layer output (last axis of 4-D, second of 3-D); None for ``(B, D)``."""
    if layer_output.ndim == 4:
        return layer_output.shape[-1]
    if layer_output.ndim == 3:
        return layer_output.shape[1]
    return None


def default_n_frames(layers: Mapping[str, torch.Tensor]) -> int:
    """``T_o`` when none is given: the fewest time frames among the layers (the deepest for a CNN), 1
    when no layer has a time axis, so no layer is pooled to more frames than its coarsest neighbour."""
    frames = [count for count in map(time_frames, layers.values()) if count is not None]
    return min(frames) if frames else 1


def model_n_frames(encoder: Encoder, n_samples: int, layers: Mapping[str, torch.Tensor]) -> int:
    """``T_o`` the paper uses for ``encoder`` on clips of ``n_samples``: the encoder's own
    ``fusion_frames(n_samples)`` where it defines one (VGGish: 6 per 0.96-s example), otherwise
    :func:`default_n_frames` of the layers."""
    own = getattr(encoder, "fusion_frames", None)
    return int(own(n_samples)) if callable(own) else default_n_frames(layers)


def temporal_maxpool(layer_output: torch.Tensor, n_frames: int) -> torch.Tensor:
    """Eq. 1: a layer output -> ``n_frames`` frame vectors by adaptive max pooling over time.

    Output frame ``t`` is the maximum over input frames ``floor(t * T / T_o)`` to
    ``ceil((t + 1) * T / T_o) - 1``; when ``T_o > T`` frames are repeated rather than interpolated.

    Args:
        layer_output: ``(B, C, F, T)`` feature map, ``(B, T, D)`` frames/tokens, or ``(B, D)``.
        n_frames: ``T_o``, the number of output frames.

    Shape:
        ``(B, C, F, T) -> (B, C * F, T_o)`` (channel-major: feature ``c * F + f``);
        ``(B, T, D) -> (B, D, T_o)``; ``(B, D) -> (B, D, T_o)`` (the vector repeated).

    Raises:
        ValueError: ``n_frames`` below 1, or another number of axes.
    """
    if n_frames < 1:
        raise ValueError(f"n_frames must be at least 1, got {n_frames}")
    if layer_output.ndim == 4:
        batch, channels, bins, frames = layer_output.shape
        if channels == 1 or bins == 1 or layer_output.stride(1) == bins * layer_output.stride(2):
            sequence = layer_output.view(batch, channels * bins, frames)  # (B, C*F, T)
        else:
            # Flattening (C, F) would copy the whole map (CNN14's and VGGish's maps lie time before
            # frequency): pool the map as it lies and flatten only the T_o frames, laid out as the
            # adaptive pooling of that contiguous copy would be (contiguous).
            pooled = _adaptive_max_over_time(layer_output, n_frames)  # (B, C, F, T_o)
            return pooled.reshape(batch, channels * bins, n_frames).contiguous()
    elif layer_output.ndim == 3:
        sequence = layer_output.transpose(1, 2)  # (B, D, T)
    elif layer_output.ndim == 2:
        return layer_output.unsqueeze(-1).repeat(1, 1, n_frames)  # (B, D, T_o)
    else:
        raise ValueError(
            f"temporal_maxpool expects (batch, channels, freq, time), (batch, time, dim) or (batch, dim), "
            f"got shape {tuple(layer_output.shape)}"
        )
    pooled = _adaptive_max_over_time(sequence, n_frames)  # (B, D, T_o)
    if _adaptive_layout_is_time_major(sequence):
        return pooled.transpose(1, 2).contiguous().transpose(1, 2)  # no copy when already time-major
    return pooled.contiguous()


_LOOP_WINDOWS = 32
"""Up to this many output frames, one ``amax`` per window; above, one gather and one ``amax``."""


def _adaptive_max_over_time(sequence: torch.Tensor, n_frames: int) -> torch.Tensor:
    """The values of ``adaptive_max_pool1d(sequence, n_frames)`` without its argmax bookkeeping, over
    the last axis of ``(B, ..., T)``.

    ``adaptive_max_pool1d`` also computes the index of every maximum and walks each row of the
    sequence one element at a time; on EfficientAT mn04's tapped layers it was ~86 % of Eq. 1-3's
    cost. A maximum is exact whatever the order it is taken in, and ``amax`` propagates NaN as the
    adaptive pooling does, so the values are identical. :func:`temporal_maxpool` then lays them out as
    the adaptive pooling lays out its own (:func:`_adaptive_layout_is_time_major`), so that
    :func:`pool_clip`'s mean adds the frames in the same order and the clip vectors stay bit-identical
    (tests/features/test_compose.py checks values, layout and clip vectors). Gradients differ only at
    ties: ``amax`` shares the gradient among equal maxima, the adaptive pooling gives it to the first.

    Shape:
        ``(B, ..., T) -> (B, ..., T_o)``, in any memory layout.
    """
    frames = sequence.shape[-1]
    if n_frames == frames:  # every window is one frame
        pooled = sequence
    elif frames % n_frames == 0:  # equal, disjoint windows: a view and one reduction
        pooled = sequence.unflatten(-1, (n_frames, frames // n_frames)).amax(dim=-1)
    else:
        bounds = [((index * frames) // n_frames, -((-(index + 1) * frames) // n_frames)) for index in range(n_frames)]
        if n_frames <= _LOOP_WINDOWS:
            # Time-major, each window's maximum runs across whole feature rows (vectorised) instead of
            # along short strips of 7-50 frames.
            time_major = sequence.movedim(-1, 1).contiguous()  # (B, T, ...)
            maxima = [time_major[:, start:end].amax(dim=1) for start, end in bounds]
            pooled = torch.stack(maxima, dim=1).movedim(1, -1)  # (B, ..., T_o), time-major in memory
        else:
            # Many windows: gather each window padded to the longest by repeating its last frame (which
            # leaves its maximum unchanged), then reduce once.
            width = max(end - start for start, end in bounds)
            index = torch.tensor(
                [[min(start + offset, end - 1) for offset in range(width)] for start, end in bounds],
                device=sequence.device,
            )  # (T_o, width)
            gathered = sequence.index_select(-1, index.flatten())  # (B, ..., T_o * width)
            pooled = gathered.unflatten(-1, (n_frames, width)).amax(dim=-1)
    return pooled


def _adaptive_layout_is_time_major(sequence: torch.Tensor) -> bool:
    """Whether ``adaptive_max_pool1d(sequence, ...)`` returns its ``(B, D, T_o)`` output time-major in
    memory (as for ``(B, T, D)`` tokens) rather than contiguous.

    The adaptive pooling runs on ``sequence.unsqueeze(-2)`` and keeps the channels-last format when
    that input's strides suggest it; this is c10's ``is_channels_last_strides_2d`` test (ambiguous
    size-1 cases default to contiguous), which ``suggest_memory_format`` applies.
    """
    sizes, strides = sequence.unsqueeze(-2).shape, sequence.unsqueeze(-2).stride()
    if strides[1] == 0:
        return False
    smallest = 0
    for dim in (1, 3, 2, 0):  # channels, width, height, batch: innermost to outermost
        if sizes[dim] == 0 or strides[dim] < smallest:
            return False
        if dim == 0 and smallest == strides[1]:
            return False
        smallest = strides[dim] * (sizes[dim] if sizes[dim] > 1 else 1)
    return True


def _check_names(available: Mapping[str, object], names: Sequence[str]) -> None:
    if isinstance(names, str):
        raise TypeError(f"names must be a sequence of layer names, got the string {names!r}")
    if not names:
        raise ValueError("names is empty; choose at least one layer to fuse")
    for name in names:
        if name not in available:
            raise UnknownNameError("layer", name, available)


def fuse(layers: Mapping[str, torch.Tensor], names: Sequence[str], n_frames: int) -> torch.Tensor:
    """Eq. 2: concatenate the frame vectors (Eq. 1) of the chosen layers, frame by frame.

    Args:
        layers: layer name -> output, e.g. from :func:`~workbench.features.taps.tap_layers`.
        names: the layers to fuse, in the order their features are stacked.
        n_frames: ``T_o`` shared by every layer.

    Shape:
        ``(B, sum_i D_i, T_o)`` with ``D_i`` the Eq. 1 dimension of layer ``names[i]``.

    Raises:
        UnknownNameError: a name not in ``layers`` (the message lists them).
        ValueError: no names, or layers with different batch sizes.
    """
    _check_names(layers, names)
    batches = {name: layers[name].shape[0] for name in names}
    if len(set(batches.values())) > 1:
        raise ValueError(f"the layers to fuse have different batch sizes: {batches}")
    return torch.cat([temporal_maxpool(layers[name], n_frames) for name in names], dim=1)


def pool_clip(frames: torch.Tensor) -> torch.Tensor:
    """Eq. 3: one vector per clip, the mean plus the max of the frame vectors over time.

    Shape:
        ``(B, D, T) -> (B, D)``.

    Raises:
        ValueError: a tensor that is not ``(batch, dim, time)`` or has no frames.
    """
    if frames.ndim != 3 or frames.shape[-1] == 0:
        raise ValueError(
            f"pool_clip expects frame vectors (batch, dim, time) with time >= 1, got {tuple(frames.shape)}"
        )
    return frames.mean(dim=-1) + frames.amax(dim=-1)


def fuse_pooled(vectors: Mapping[str, torch.Tensor], names: Sequence[str]) -> torch.Tensor:
    """Eq. 2 + 3 from cached clip vectors: concatenate the per-layer :func:`pool_clip` outputs.

    Equal to ``pool_clip(fuse(layers, names, n_frames))`` for the same layers and ``n_frames``.

    Shape:
        each ``vectors[name]``: ``(N, D_name)`` -> ``(N, sum D_name)``.

    Raises:
        UnknownNameError: a name not in ``vectors``.
        ValueError: no names, or vectors of different lengths.
    """
    _check_names(vectors, names)
    counts = {name: vectors[name].shape[0] for name in names}
    if len(set(counts.values())) > 1:
        raise ValueError(f"the clip vectors to fuse have different numbers of clips: {counts}")
    return torch.cat([vectors[name] for name in names], dim=-1)


class LayerFeatures:
    """Clip-level vectors (Eq. 1 then Eq. 3) of every tapped layer of a frozen encoder, one forward pass.

    Args:
        encoder: the encoder, used as it is (put it in eval mode, as ``load_pretrained`` returns it).
        names: layers to tap (default: all of ``encoder.layer_names``).
        n_frames: ``T_o`` of Eq. 1; None uses the paper's (:func:`model_n_frames`: VGGish 6 per example,
            otherwise :func:`default_n_frames` of each batch's layers).
        segment_seconds, drop_remainder: window long clips for fixed-input encoders
            (:func:`~workbench.features.taps.tap_layers`).

    Example::

        features = LayerFeatures(load_pretrained("efficientat-mn04"))
        vectors = features.extract(waveforms)               # {"block1": (N, D_1), ...}
        fused = fuse_pooled(vectors, ["block11", "block17"])
    """

    def __init__(
        self,
        encoder: Encoder,
        names: Sequence[str] | None = None,
        *,
        n_frames: int | None = None,
        segment_seconds: Seconds | None = None,
        drop_remainder: bool = False,
    ):
        self.encoder = encoder
        self.names = list(encoder.layer_names if names is None else names)
        _check_names(dict.fromkeys(encoder.layer_names), self.names)
        if n_frames is not None and n_frames < 1:
            raise ValueError(f"n_frames must be at least 1 or None, got {n_frames}")
        self.n_frames = n_frames
        self.segment_seconds = segment_seconds
        self.drop_remainder = drop_remainder

    def _device(self) -> torch.device:
        parameter = next(self.encoder.parameters(), None)
        return parameter.device if parameter is not None else torch.device("cpu")

    @torch.no_grad()
    def __call__(self, waveform: torch.Tensor) -> dict[str, torch.Tensor]:
        """Waveforms ``(batch, samples)`` at the encoder's rate -> layer name -> ``(batch, D_layer)``."""
        layers = tap_layers(
            self.encoder, waveform.to(self._device()), self.names,
            segment_seconds=self.segment_seconds, drop_remainder=self.drop_remainder,
        )
        if self.n_frames is not None:
            n_frames = self.n_frames
        elif self.segment_seconds is None:
            n_frames = model_n_frames(self.encoder, waveform.shape[-1], layers)
        else:  # windows joined by tap_layers: the layers' own frame counts decide
            n_frames = default_n_frames(layers)
        return {name: pool_clip(temporal_maxpool(output, n_frames)) for name, output in layers.items()}

    def extract(self, waveforms: Iterable[torch.Tensor], *, progress: bool = True) -> dict[str, torch.Tensor]:
        """Clip vectors for waveforms of any lengths, stacked in order, on the CPU.

        Args:
            waveforms: each ``(samples,)`` or ``(batch, samples)`` (a dataset's mono ``(1, samples)``
                is a batch of one); lengths may differ from item to item.
            progress: show a progress bar.

        Returns:
            layer name -> ``(total clips, D_layer)`` float32.

        Raises:
            ValueError: no waveforms at all.
        """
        collected: dict[str, list[torch.Tensor]] = {name: [] for name in self.names}
        for waveform in tqdm(waveforms, desc="layer features", disable=not progress, leave=False):
            for name, vectors in self(waveform if waveform.ndim > 1 else waveform.unsqueeze(0)).items():
                collected[name].append(vectors.float().cpu())
        if not collected[self.names[0]]:
            raise ValueError("extract got no waveforms")
        return {name: torch.cat(parts) for name, parts in collected.items()}
