"""Scoring a trained ASC network: its test accuracy through its softmax head and through the SVM back-end
on its codes, and its attention maps averaged per scene."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader

from workbench.evaluation.svm import SVMConfig, svm_backend
from workbench.models.tag_fusion import TagFusionASC


@dataclass
class Scored:
    """One trained model's test scores."""

    predictions: np.ndarray
    """``(test clips,)`` softmax-head predictions."""
    accuracy: float
    """Softmax-head accuracy."""
    svm_accuracy: float
    """SVM back-end accuracy (the paper's figure)."""


def score_model(
    model: TagFusionASC, train_loader: DataLoader, test_loader: DataLoader, train_scenes: np.ndarray,
    test_scenes: np.ndarray, svm_config: SVMConfig,
) -> Scored:
    """Score ``model`` on the test clips through its softmax head and through an SVM fitted on the training
    clips' back-end features."""
    _, train_features = model_outputs(model, train_loader)
    test_logits, test_features = model_outputs(model, test_loader)
    test_predictions = test_logits.argmax(axis=1)
    svm = svm_backend(train_features, train_scenes, test_features, test_scenes, svm_config)
    return Scored(test_predictions, float((test_predictions == test_scenes).mean()), svm.accuracy)


@torch.no_grad()
def model_outputs(model: TagFusionASC, loader: DataLoader) -> tuple[np.ndarray, np.ndarray]:
    """``(logits, back-end features)`` of every clip of a ``(waveform, tags, scene)`` loader."""
    model.eval()
    device = next(model.parameters()).device
    logits, features = [], []
    for waveforms, tags, _ in loader:
        backend = model.backend_features(waveforms.to(device), tags.to(device))
        logits.append(model.classifier(backend).float().cpu())
        features.append(backend.float().cpu())
    return torch.cat(logits).numpy(), torch.cat(features).numpy()


def attention_by_scene(model: TagFusionASC, tags: torch.Tensor, scenes: np.ndarray, n_scenes: int) -> np.ndarray:
    """``(scenes, heads, filters // heads)``: the attention map averaged over each scene's clips
    (zeros for a scene without clips)."""
    with torch.no_grad():
        maps = model.cpu().attention_map(tags).numpy()  # (N, heads, f / heads)
    return np.stack([maps[scenes == scene].mean(axis=0) if (scenes == scene).any() else np.zeros(maps.shape[1:])
                     for scene in range(n_scenes)])  # fmt: skip
