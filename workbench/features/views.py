"""Layer views: how each model's tapped outputs become the per-layer features of Niizumi et al.

Eq. 1-3 (:mod:`workbench.features.compose`) read feature maps ``(B, C, F, T)`` and time-ordered frames
``(B, T, D)``. A transformer's block output is neither: AST's ``(B, tokens, width)`` starts with a
[CLS] and a distillation token and continues with patches in frequency-major order, so pooling it
"over time" would mix the special tokens with patches of every frequency band. Niizumi et al.
("Composing General Audio Representation by Fusing Multilayer Features of a Pre-trained Model",
EUSIPCO 2022, Sec. IV-A3) take AST's 768-d [CLS] token of layers 2-12 (AST's own head averages it with
the distillation token: the ``"cls-dist"`` view). A *layer view* is that small per-model step, applied
to every tapped output before Eq. 1-3:

| view | layer output | becomes |
| --- | --- | --- |
| ``"frames"`` | any layout of :mod:`workbench.features.taps` | itself (CNN feature maps, frame sequences) |
| ``"cls"`` | ``(B, tokens, width)`` | token 0, ``(B, width)`` |
| ``"cls-dist"`` | ``(B, tokens, width)`` with a distillation token | mean of tokens 0 and 1, ``(B, width)`` |

``"auto"`` (:func:`default_view`) is ``"cls"`` for :class:`~workbench.models.ast.AudioSpectrogramTransformer`
(the paper's view) and ``"frames"`` for every other encoder. A ``(B, width)`` vector has no time axis: Eq. 1 repeats it
``T_o`` times and Eq. 3 then returns ``2 * vector``, a constant factor that the linear evaluation's
standardisation removes.

:class:`LayerVectorEncoder` computes, in one forward pass, the Eq. 1-3 clip vector of every tapped
layer (through the view) *and* the model's usual embedding (its ``forward`` output, the baseline),
concatenated into one ``(batch, total_dim)`` vector. It is an :class:`~workbench.models.base.Encoder`,
so :func:`workbench.evaluation.embeddings.extract_embeddings` caches every layer of a dataset in one
file; :meth:`LayerVectorEncoder.split` cuts a row back into its layers.

``T_o`` of Eq. 1 follows the paper per model (:func:`fusion_frames`): VGGish 6 frames per 0.96-s
example (Sec. IV-A1), CNN14 ``T/32``, the deepest block's frames (Sec. IV-A2), i.e. the fewest frames
among the layers, as for any other CNN. The layers tapped by default are the paper's sets
(:func:`paper_layers`: VGGish's ReLU layers 2, 5, ..., 22, CNN14's blocks 1-6, AST's layers 2-12), or
every layer for the models the paper does not cover.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import torch

from workbench.errors import UnknownNameError
from workbench.features.compose import default_n_frames, model_n_frames, pool_clip, temporal_maxpool
from workbench.models.ast import AudioSpectrogramTransformer
from workbench.models.base import Encoder
from workbench.models.cnn14 import Cnn14
from workbench.models.vggish import PAPER_FUSION_LAYERS as VGGISH_PAPER_LAYERS
from workbench.models.vggish import VGGish

LayerView = Callable[[str, torch.Tensor], torch.Tensor]
"""``(layer name, layer output) -> output in a layout Eq. 1 understands``."""

EMBEDDING = "embedding"
"""Name of the model's usual embedding (its ``forward`` output) among a :class:`LayerVectorEncoder`'s columns."""


def _token_sequence(name: str, output: torch.Tensor, needed: int) -> torch.Tensor:
    if output.ndim != 3 or output.shape[1] < needed:
        raise ValueError(
            f"layer {name!r}: a token view needs (batch, tokens, width) with at least {needed} tokens, "
            f"got shape {tuple(output.shape)}; use layer view 'frames' for this model"
        )
    return output


def frames_view(name: str, output: torch.Tensor) -> torch.Tensor:
    """The layer output unchanged: feature maps and frame sequences go straight to Eq. 1."""
    return output


def cls_view(name: str, output: torch.Tensor) -> torch.Tensor:
    """The [CLS] token (token 0) of a block output.

    Shape:
        ``(B, tokens, width) -> (B, width)``.

    Raises:
        ValueError: an output that is not a token sequence.
    """
    return _token_sequence(name, output, 1)[:, 0]


def cls_distillation_view(name: str, output: torch.Tensor) -> torch.Tensor:
    """The mean of the [CLS] (token 0) and distillation (token 1) tokens, as AST's head reads them.

    Shape:
        ``(B, tokens, width) -> (B, width)``.

    Raises:
        ValueError: an output that is not a token sequence with two special tokens.
    """
    tokens = _token_sequence(name, output, 2)
    return (tokens[:, 0] + tokens[:, 1]) / 2


VIEWS: dict[str, LayerView] = {"frames": frames_view, "cls": cls_view, "cls-dist": cls_distillation_view}
VIEW_NAMES: tuple[str, ...] = ("auto", *VIEWS)


def default_view(encoder: Encoder) -> str:
    """The view the paper uses for ``encoder``: ``"cls"`` (the [CLS] token) for AST, ``"frames"`` otherwise."""
    return "cls" if isinstance(encoder, AudioSpectrogramTransformer) else "frames"


def paper_layers(encoder: Encoder) -> list[str]:
    """The layers Niizumi et al. (EUSIPCO 2022, Sec. IV-A) evaluate for ``encoder``'s architecture:
    VGGish's ReLU layers 2, 5, 8, 10, 13, 15, 18, 20, 22 (Table I), CNN14's blocks 1-6 (Table II; not
    fc1), AST's layers 2-12; every layer of any other encoder."""
    if isinstance(encoder, VGGish):
        return list(VGGISH_PAPER_LAYERS)
    if isinstance(encoder, Cnn14):
        return [name for name in encoder.layer_names if name.startswith("block")]
    if isinstance(encoder, AudioSpectrogramTransformer):
        return encoder.fusion_layers
    return list(encoder.layer_names)


def fusion_frames(encoder: Encoder, n_samples: int, viewed: Mapping[str, torch.Tensor]) -> int:
    """``T_o`` of Eq. 1 for a batch of ``n_samples``-sample clips: 6 per 0.96-s example for VGGish
    (:meth:`~workbench.models.vggish.VGGish.fusion_frames`), otherwise the fewest frames among the
    viewed layers (CNN14: ``T/32``, the deepest block's frames)."""
    return model_n_frames(encoder, n_samples, viewed)


def resolve_view(encoder: Encoder, view: str) -> str:
    """``view`` itself, or :func:`default_view` for ``"auto"``.

    Raises:
        UnknownNameError: a view not in :data:`VIEW_NAMES`.
    """
    if view not in VIEW_NAMES:
        raise UnknownNameError("layer view", view, VIEW_NAMES)
    return default_view(encoder) if view == "auto" else view


def clip_vectors(
    layers: Mapping[str, torch.Tensor], view: LayerView = frames_view, n_frames: int | None = None
) -> dict[str, torch.Tensor]:
    """Eq. 1 then Eq. 3 of each layer output after ``view``: one clip vector per layer.

    Args:
        layers: layer name -> output, e.g. from :func:`~workbench.features.taps.tap_layers`.
        view: per-layer view (one of :data:`VIEWS`).
        n_frames: ``T_o`` of Eq. 1; None uses :func:`~workbench.features.compose.default_n_frames` of
            the viewed layers.

    Returns:
        layer name -> ``(B, D_layer)``.
    """
    viewed = {name: view(name, output) for name, output in layers.items()}
    frames = n_frames if n_frames is not None else default_n_frames(viewed)
    return {name: pool_clip(temporal_maxpool(output, frames)) for name, output in viewed.items()}


class LayerVectorEncoder(Encoder):
    """Every tapped layer's clip vector plus the model's usual embedding, from one forward pass.

    Args:
        encoder: the frozen model (eval mode, as ``load_pretrained`` and ``build_encoder`` return it).
        names: layers to tap (default: all of ``encoder.layer_names``).
        view: ``"auto"``, ``"frames"``, ``"cls"`` or ``"cls-dist"`` (module docstring).
        n_frames: ``T_o`` of Eq. 1; None follows the paper (:func:`fusion_frames`: VGGish 6 per example,
            otherwise the fewest frames among the viewed layers of each batch).

    Attributes:
        columns: the layer names then :data:`EMBEDDING`, in the order they are concatenated.
        dims: column name -> its width.

    Shape:
        waveform ``(batch, samples)`` at ``encoder.sample_rate`` -> ``(batch, sum(dims.values()))``.

    Raises:
        UnknownNameError: a layer the encoder does not have, or an unknown view.
        ValueError: ``n_frames`` below 1, or a view that does not fit the model's layers.
    """

    def __init__(
        self, encoder: Encoder, names: Sequence[str] | None = None, *, view: str = "auto", n_frames: int | None = None
    ):
        super().__init__()
        self.encoder = encoder
        self.sample_rate = encoder.sample_rate
        self.names = list(encoder.layer_names if names is None else names)
        if not self.names:
            raise ValueError(f"{type(encoder).__name__} has no tapped layers to compose features from")
        for name in self.names:
            if name not in encoder.layer_names:
                raise UnknownNameError(f"layer of {type(encoder).__name__}", name, encoder.layer_names)
        if EMBEDDING in self.names:
            raise ValueError(f"a layer may not be called {EMBEDDING!r}: that column holds the usual embedding")
        if n_frames is not None and n_frames < 1:
            raise ValueError(f"n_frames must be at least 1 or None, got {n_frames}")
        self.view = resolve_view(encoder, view)
        self.n_frames = n_frames
        self.columns = [*self.names, EMBEDDING]
        self.dims = self._probe_dims()
        self.embedding_dim = sum(self.dims.values())
        # Mirror the encoder's mode: callers that restore "the previous mode" (extract_embeddings) then
        # leave a frozen encoder in eval mode rather than switching it to training.
        self.train(encoder.training)

    def extra_repr(self) -> str:
        # The repr is part of extract_embeddings' cache key: settings without tensors must appear in it.
        return f"layers={self.names}, view={self.view!r}, n_frames={self.n_frames}"

    def _probe_dims(self) -> dict[str, int]:
        """Widths of the columns, from a forward pass on one second of silence (widths never depend on
        the clip length: they are channels x frequency bins, or token widths)."""
        samples = max(int(self.sample_rate), int(getattr(self.encoder, "min_samples", 0)))
        parameter = next(self.encoder.parameters(), None)
        device = parameter.device if parameter is not None else torch.device("cpu")
        with torch.no_grad():
            vectors = self.column_vectors(torch.zeros(1, samples, device=device))
        return {name: int(vector.shape[-1]) for name, vector in vectors.items()}

    def column_vectors(self, waveform: torch.Tensor) -> dict[str, torch.Tensor]:
        """Column name -> ``(batch, dim)``: each layer's clip vector and the usual embedding."""
        captured: dict[str, torch.Tensor] = {}

        def keep_embedding(_module: torch.nn.Module, _inputs: object, output: torch.Tensor) -> None:
            captured[EMBEDDING] = output

        # encoder.layers runs encoder.forward once; its output is exactly what encoder.embed returns.
        handle = self.encoder.register_forward_hook(keep_embedding)
        try:
            layers = self.encoder.layers(waveform, self.names)
        finally:
            handle.remove()
        viewed = {name: VIEWS[self.view](name, output) for name, output in layers.items()}
        frames = self.n_frames if self.n_frames is not None else fusion_frames(self.encoder, waveform.shape[-1], viewed)
        vectors = clip_vectors(viewed, frames_view, frames)
        vectors[EMBEDDING] = captured[EMBEDDING]
        return vectors

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        vectors = self.column_vectors(waveform)
        return torch.cat([vectors[name].flatten(1) for name in self.columns], dim=1)  # (B, total)

    def split(self, features: np.ndarray | torch.Tensor) -> dict[str, np.ndarray | torch.Tensor]:
        """Cut concatenated rows ``(N, total)`` back into column name -> ``(N, dim)`` (views, no copy).

        Raises:
            ValueError: rows of another width.
        """
        if features.ndim != 2 or features.shape[1] != self.embedding_dim:
            raise ValueError(
                f"expected rows of {self.embedding_dim} features ({len(self.columns)} columns), "
                f"got shape {tuple(features.shape)}"
            )
        edges = np.cumsum([0, *(self.dims[name] for name in self.columns)])
        return {name: features[:, start:stop] for name, start, stop in zip(self.columns, edges[:-1], edges[1:])}
