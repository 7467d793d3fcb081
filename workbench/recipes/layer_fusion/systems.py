"""The system under test: the model, the layers tapped from it, one feature table per layer (cached on disk)
and the fusion of chosen layers (Eq. 2 + 3) from those tables."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import torch

from workbench.data.records import AudioDataset
from workbench.evaluation.embeddings import Embeddings, extract_embeddings
from workbench.features.compose import fuse_pooled
from workbench.features.views import LayerVectorEncoder, paper_layers
from workbench.models.base import Encoder
from workbench.models.registry import load_pretrained
from workbench.models.zoo import build_encoder
from workbench.recipes.base import expand_shared, resolve_device
from workbench.recipes.layer_fusion.params import Params


def build_model(params: Params) -> Encoder:
    """The model in eval mode: pretrained weights from ``weights_path`` when given, else
    :func:`~workbench.models.zoo.build_encoder` (an architecture from ``model_seed``, or the registry cache).

    Raises:
        UnknownNameError: an unknown model (with ``weights_path``: one that is not a pretrained model).
        MissingFileError: ``weights_path`` does not exist.
        CheckpointError: the file does not fit the model.
    """
    if params.weights_path:
        encoder = load_pretrained(params.model, path=expand_shared(params.weights_path))
    else:
        encoder = build_encoder(params.model, seed=params.model_seed)
    return encoder.to(resolve_device(params.device)).eval()


def tapped_layers(encoder: Encoder, layers: Sequence[str]) -> list[str]:
    """``("paper",)`` -> the paper's layer set (:func:`~workbench.features.views.paper_layers`),
    ``("all",)`` -> every layer of the encoder; otherwise the names themselves (checked later)."""
    if tuple(layers) in ((), ("paper",)):
        return paper_layers(encoder)
    return list(encoder.layer_names) if tuple(layers) == ("all",) else list(layers)


def layer_tables(stack: LayerVectorEncoder, table: Embeddings) -> dict[str, Embeddings]:
    """One :class:`Embeddings` per column of a :class:`LayerVectorEncoder` table (features are views)."""
    return {
        name: dataclasses.replace(table, features=features) for name, features in stack.split(table.features).items()
    }


def fused_table(columns: Mapping[str, Embeddings], layers: Sequence[str]) -> Embeddings:
    """Eq. 2 + 3 from cached clip vectors: the concatenation of the chosen layers' tables.

    Raises:
        UnknownNameError: a layer not among ``columns``.
        ValueError: no layers.
    """
    vectors = {name: torch.from_numpy(table.features) for name, table in columns.items()}
    fused = fuse_pooled(vectors, list(layers)).numpy()
    return dataclasses.replace(next(iter(columns.values())), features=fused)


def extract_task_features(
    stack: LayerVectorEncoder, dataset: AudioDataset, params: Params
) -> dict[str, Embeddings]:
    """Per-layer (and usual-embedding) tables of one task, from the disk cache when it has them."""
    return layer_tables(stack, extract_embeddings(stack, dataset))
