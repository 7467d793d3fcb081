"""Scoring a trained ASC network: its softmax logits and SVM back-end features on a loader, and its
attention maps averaged per scene."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader

from workbench.models.tag_fusion import TagFusionASC


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
