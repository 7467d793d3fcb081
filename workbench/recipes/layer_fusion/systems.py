"""The system under test: the model (pretrained, or random weights said so), the layers tapped from it, one
feature table per layer (cached on disk) and the fusion of chosen layers (Eq. 2 + 3) from those tables."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from workbench.data.records import AudioDataset
from workbench.errors import MissingFileError
from workbench.evaluation.embeddings import Embeddings, extract_embeddings
from workbench.features.compose import fuse_pooled
from workbench.features.views import LayerVectorEncoder, paper_layers
from workbench.models import registry
from workbench.models.base import Encoder
from workbench.models.registry import load_pretrained
from workbench.models.zoo import build_encoder
from workbench.recipes.base import expand_shared, resolve_device
from workbench.recipes.layer_fusion.params import Params


RANDOM_WEIGHTS = "random weights: says nothing about pre-training"
"""The label of every claim (and the summary) of a run whose model has random weights."""


@dataclass(frozen=True)
class WeightsStatus:
    """Which weights a run uses, decided before anything else runs.

    Attributes:
        pretrained: the model carries pretrained weights (from the registry or ``weights_path``).
        note: what the notebook says first: where the weights come from, or why they are random.
        params: the parameters the run uses: ``weights="random"`` after a fallback, so the run id is that of
            an explicit random-weight run and never that of the pretrained one.
        file: the weights file found ("" for random weights), known before the run directory is opened.
    """

    pretrained: bool
    note: str
    params: Params
    file: str = ""


def resolve_weights(params: Params) -> WeightsStatus:
    """Find the weights of ``params.model`` before the run: ``weights_path``, else a weights mirror, the cache
    or a download (:func:`~workbench.models.registry.download_weights`). Where none can be had (offline, no
    mirror, no cache) and ``if_weights_absent`` is ``"random"``, the run falls back to the architecture with
    random weights and says so (:data:`RANDOM_WEIGHTS`).

    Raises:
        MissingFileError: no weights anywhere and ``if_weights_absent="error"`` (the message names the file,
            its sha256 and where to put it).
        CheckpointError: a weights file in a mirror or the cache that is not the official one.
    """
    model, seed = params.model, params.model_seed
    if model not in registry.names():
        return WeightsStatus(False, f"{model} is an architecture with random weights (model_seed {seed}): "
                                    f"{RANDOM_WEIGHTS}.", params)  # fmt: skip
    if params.weights == "random":
        return WeightsStatus(False, f"{model} with random weights (weights: random, model_seed {seed}): "
                                    f"{RANDOM_WEIGHTS}.", params)  # fmt: skip
    if params.weights_path:
        file = Path(expand_shared(params.weights_path)).expanduser()
        if not file.is_file():  # now, not after the datasets are listed and planned
            raise MissingFileError(f"checkpoint file not found: {file} (parameter 'weights_path' of {model})")
        return WeightsStatus(True, f"{model}: pretrained weights from {file}.", params, str(file))
    try:
        file = registry.download_weights(model, progress=False)
    except MissingFileError as error:
        if params.if_weights_absent == "error":
            raise
        note = (
            f"PRETRAINED WEIGHTS NOT FOUND: {model}'s {registry.spec(model).remote.filename} is in no weights mirror "
            f"or cache and could not be downloaded, so this run uses {model}'s architecture with RANDOM weights "
            f"(model_seed {seed}); every claim is labelled '{RANDOM_WEIGHTS}'. How to get the file:\n{error}"
        )
        return WeightsStatus(False, note, dataclasses.replace(params, weights="random"))
    return WeightsStatus(True, f"{model}: pretrained weights {file} (sha256 checked).", params, str(file))


def build_model(params: Params) -> Encoder:
    """The model in eval mode: pretrained weights from ``weights_path`` or the registry, a registered
    model's architecture from ``model_seed`` (``weights="random"``), or an architecture of
    :func:`~workbench.models.zoo.build_encoder`.

    Raises:
        UnknownNameError: an unknown model (with ``weights_path``: one that is not a pretrained model).
        MissingFileError: ``weights_path`` does not exist, or the registry's file cannot be had.
        CheckpointError: the file does not fit the model.
    """
    if params.weights_path and params.weights == "pretrained":
        encoder = load_pretrained(params.model, path=expand_shared(params.weights_path))
    elif params.model in registry.names() and params.weights == "random":
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(params.model_seed)
            encoder = registry.spec(params.model).build()
    else:
        encoder = build_encoder(params.model, seed=params.model_seed)
    return encoder.to(resolve_device(params.device)).eval()


def tapped_layers(encoder: Encoder, layers: Sequence[str], max_layers: int = 0) -> list[str]:
    """``("paper",)`` -> the paper's layer set (:func:`~workbench.features.views.paper_layers`),
    ``("all",)`` -> every layer of the encoder, either thinned to ``max_layers`` evenly spaced ones (the first
    and the last kept; 0 keeps all); otherwise the names themselves (checked later)."""
    if tuple(layers) not in ((), ("paper",), ("all",)):
        return list(layers)
    names = paper_layers(encoder) if tuple(layers) in ((), ("paper",)) else list(encoder.layer_names)
    if not max_layers or len(names) <= max_layers:
        return names
    if max_layers == 1:
        return names[-1:]
    return [names[index] for index in np.linspace(0, len(names) - 1, max_layers).round().astype(int)]


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
