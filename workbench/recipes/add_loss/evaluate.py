"""What a trained model is measured on: its test embeddings and logits, and the distance analysis
(:func:`~workbench.evaluation.geometry.embedding_geometry`) of those embeddings."""

from __future__ import annotations

import warnings

import numpy as np
import torch

from workbench.data.records import AudioDataset
from workbench.evaluation.geometry import Geometry, embedding_geometry
from workbench.recipes.add_loss.data import FixedLengthCollate
from workbench.recipes.add_loss.params import Params
from workbench.recipes.add_loss.systems import FineTuner


@torch.no_grad()
def predict(
    model: FineTuner,
    inputs: torch.utils.data.Dataset,
    collate: FixedLengthCollate | None,
    params: Params,
    device: torch.device,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(embeddings (N, D), logits (N, C), targets (N,))`` of the test inputs, in eval mode."""
    model.eval()
    loader = torch.utils.data.DataLoader(inputs, batch_size=params.batch_size, collate_fn=collate,
                                         num_workers=params.num_workers if collate else 0)  # fmt: skip
    embeddings, logits, targets = [], [], []
    for batch_inputs, batch_targets in loader:
        batch_embeddings, batch_logits = model(batch_inputs.to(device))
        embeddings.append(batch_embeddings.float().cpu())
        logits.append(batch_logits.float().cpu())
        targets.append(batch_targets)
    return torch.cat(embeddings).numpy(), torch.cat(logits).numpy(), torch.cat(targets).numpy()


def fold_geometry(embeddings: np.ndarray, targets: np.ndarray, dataset: AudioDataset, params: Params) -> Geometry:
    """The distance analysis of one model's test embeddings over ``params.geometry_classes`` (those present)."""
    chosen = list(params.geometry_classes) or None
    if chosen is not None:
        chosen = [c for c in chosen if np.any(targets == c)]  # a test fold may lack some classes
    with warnings.catch_warnings():
        # A small test fold may hold one clip per class: no within-class pair, NaN summaries (documented).
        warnings.simplefilter("ignore", RuntimeWarning)
        return embedding_geometry(embeddings, targets, class_names=dataset.classes, classes=chosen)
