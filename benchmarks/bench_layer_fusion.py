"""Layer-wise features: what tapping every layer and pooling it (Eq. 1-3) costs over one plain forward pass.

    python -m benchmarks.run layer_fusion

For each model, on a batch of 1-s clips at the model's rate, one thread, interleaved rounds:

- ``taps: all layers``: ``encoder.layers(batch)`` (forward hooks on every tapped layer, one pass)
  against ``encoder(batch)``, the plain forward. Goal: taps cost nothing measurable (<= 1.05).
- ``Eq. 1-3 pooling``: :func:`~workbench.features.compose.temporal_maxpool` then
  :func:`~workbench.features.compose.pool_clip` on every tapped layer's output (already computed),
  against the plain forward. Goal: <= 0.10 of a forward pass.
- ``Eq. 1 max over time``: :func:`~workbench.features.compose.temporal_maxpool` on every tapped layer
  against ``torch.nn.functional.adaptive_max_pool1d`` on the same ``(B, C*F, T)`` sequences (what it
  called before; the values are identical, tests/features/test_compose.py). Goal <= 0.5.

``efficientat-mn04`` loads the real weights from a weights mirror or the cache when present
(``$WORKBENCH_WEIGHTS``, ``../shared/weights/efficientat-mn04``; the row says which), else random weights of the same
architecture; the quick run adds the tiny CNN14, the full run the tiny VGGish and AST.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch

from benchmarks.timing import compared_row, interleaved
from workbench.features.compose import default_n_frames, pool_clip, temporal_maxpool
from workbench.data.download import OFFLINE_VARIABLE
from workbench.errors import MissingFileError
from workbench.models import load_pretrained
from workbench.models.efficientat import EfficientATMobileNet
from workbench.models.zoo import build_encoder

BATCH = 8
TAPS_NOTE = (
    "what remains is a forward hook per tapped module (~6 us to register and remove, plus the hooked-call "
    "path of nn.Module) and outputs held until the pass ends; the input check is one sum (was a NaN/Inf "
    "mask, ~0.6 ms at 8 x 1 s); a loaded machine moves the median by ~10 % (see the min)"
)
POOLING_NOTE = (
    "Eq. 1 no longer runs adaptive_max_pool (see the Eq. 1 row); what remains is ~14 small ops per layer "
    "(one time-major copy, T_o window maxima, pool_clip's mean and max, kept so clip vectors stay "
    "bit-identical) on taps the interleaved forward passes evicted from cache; standalone on hot taps "
    "it measured 0.04-0.06 of a forward"
)
NOISE_NOTE = "a millisecond-scale row: a loaded machine moves its median (see the min)"


def _sequence(output: torch.Tensor) -> torch.Tensor:
    """A layer output as Eq. 1's ``(B, D, T)`` sequence; a ``(B, D)`` vector as one frame."""
    if output.ndim == 4:
        return output.reshape(output.shape[0], -1, output.shape[-1])
    return output.transpose(1, 2) if output.ndim == 3 else output.unsqueeze(-1)


def _mn04() -> tuple[str, torch.nn.Module]:
    try:  # the weights mirrors ($WORKBENCH_WEIGHTS, $WORKBENCH_SHARED/weights), then the cache; never a download
        with _offline():
            return "efficientat-mn04 (real weights)", load_pretrained("efficientat-mn04")
    except MissingFileError:
        return "efficientat-mn04 (random weights: no weights file at hand)", EfficientATMobileNet().eval()


@contextmanager
def _offline() -> Iterator[None]:
    previous = os.environ.get(OFFLINE_VARIABLE)
    os.environ[OFFLINE_VARIABLE] = "1"
    try:
        yield
    finally:
        if previous is None:
            del os.environ[OFFLINE_VARIABLE]
        else:
            os.environ[OFFLINE_VARIABLE] = previous


def _models(quick: bool) -> dict[str, torch.nn.Module]:
    label, mn04 = _mn04()
    models = {label: mn04, "cnn14-tiny": build_encoder("cnn14-tiny")}
    if not quick:
        models.update({name: build_encoder(name) for name in ("vggish-tiny", "ast-tiny")})
    return models


def run(quick: bool = False) -> list[dict]:
    rounds = 9 if quick else 15
    rows = []
    for label, encoder in _models(quick).items():
        waveforms = torch.randn(BATCH, encoder.sample_rate, generator=torch.Generator().manual_seed(0)) * 0.1
        with torch.inference_mode():
            taps = encoder.layers(waveforms)
            n_frames = default_n_frames(taps)

            def pooling(taps=taps, n_frames=n_frames) -> dict[str, torch.Tensor]:
                return {name: pool_clip(temporal_maxpool(output, n_frames)) for name, output in taps.items()}

            def eq1(taps=taps, n_frames=n_frames) -> list[torch.Tensor]:
                return [temporal_maxpool(output, n_frames) for output in taps.values()]

            sequences = [_sequence(output) for output in taps.values()]

            def adaptive(sequences=sequences, n_frames=n_frames) -> list[torch.Tensor]:
                return [torch.nn.functional.adaptive_max_pool1d(sequence, n_frames) for sequence in sequences]

            seconds = interleaved(
                {
                    "plain forward": lambda encoder=encoder, waveforms=waveforms: encoder(waveforms),
                    "all-layer taps": lambda encoder=encoder, waveforms=waveforms: encoder.layers(waveforms),
                    "Eq. 1-3 pooling": pooling,
                    "Eq. 1 max over time": eq1,
                    "adaptive_max_pool1d": adaptive,
                },
                rounds,
            )
        setting = f"{label}, {len(taps)} layers, batch {BATCH} x 1 s, 1 thread"
        rows.append(compared_row("layer_fusion: taps: all layers", setting, seconds, "all-layer taps",
                                 "plain forward", goal=1.05, note=TAPS_NOTE))  # fmt: skip
        rows.append(compared_row("layer_fusion: Eq. 1-3 pooling", setting + f", T_o={n_frames}", seconds,
                                 "Eq. 1-3 pooling", "plain forward", goal=0.10, note=POOLING_NOTE))  # fmt: skip
        rows.append(compared_row("layer_fusion: Eq. 1 max over time", setting + f", T_o={n_frames}", seconds,
                                 "Eq. 1 max over time", "adaptive_max_pool1d", goal=0.5, note=NOISE_NOTE))  # fmt: skip
    return rows


if __name__ == "__main__":
    for entry in run():
        print(entry)
