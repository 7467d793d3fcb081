"""The adapter that fuses a query's audio embedding with the sentence embedding (:class:`ModifierAdapter`),
its settings (:class:`RetrievalConfig`) and its training (:func:`train_modifier_adapter`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional

from workbench.evaluation.retrieval.text import _text_features

ACTIVATIONS = {"gelu": nn.GELU, "relu": nn.ReLU}


@dataclass(frozen=True)
class RetrievalConfig:
    """The adapter's sizes and training.

    Args:
        joint_dim: size of the joint space where queries meet gallery items.
        hidden_dim: hidden width of the fusion MLP.
        text_dim: output size of the small trainable text encoder.
        epochs: full-batch optimisation steps on the training queries (the paper: 300).
        lr: Adam learning rate.
        temperature: InfoNCE temperature.
        classification_weight: weight of the multi-label classification loss beside the contrastive loss.
        activation: ``"gelu"`` (the paper's Figure 3b) or ``"relu"``.
        valid_fraction: share of the training queries held out for model selection when the pairs have
            no ``"valid"`` split (the paper: 10 %).
    """

    joint_dim: int = 64
    hidden_dim: int = 128
    text_dim: int = 32
    epochs: int = 150
    lr: float = 3e-3
    temperature: float = 0.1
    classification_weight: float = 0.5
    activation: str = "gelu"
    valid_fraction: float = 0.1

    def __post_init__(self) -> None:
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"RetrievalConfig.activation must be one of {list(ACTIVATIONS)}, got {self.activation!r}")
        if not 0 < self.valid_fraction < 1:
            raise ValueError(f"RetrievalConfig.valid_fraction must lie in (0, 1), got {self.valid_fraction!r}")
        for name in ("joint_dim", "hidden_dim", "text_dim", "epochs"):
            if getattr(self, name) < 1:
                raise ValueError(f"RetrievalConfig.{name} must be at least 1, got {getattr(self, name)!r}")
        if not (self.lr > 0 and self.temperature > 0 and self.classification_weight >= 0):
            raise ValueError("RetrievalConfig.lr and temperature must be positive, classification_weight >= 0")


class ModifierAdapter(nn.Module):
    """Fuses a query's audio embedding with a sentence embedding; projects gallery audio to the same space.

    ``query = normalize(A a + MLP([a; t]))`` (the MLP with GELU, Figure 3b), ``target = normalize(B g)``, and a
    linear classifier reads the target's event classes (multi-label logits) from ``MLP([a; t])``.

    Shape:
        ``query(audio (B, audio_dim), text (B, text_dim))`` -> ``(B, joint_dim)``;
        ``target(audio (G, audio_dim))`` -> ``(G, joint_dim)``.
    """

    def __init__(self, audio_dim: int, text_dim: int, n_classes: int, config: RetrievalConfig):
        super().__init__()
        self.query_audio = nn.Linear(audio_dim, config.joint_dim)
        self.fusion = nn.Sequential(
            nn.Linear(audio_dim + text_dim, config.hidden_dim), ACTIVATIONS[config.activation](),
            nn.Linear(config.hidden_dim, config.joint_dim),
        )
        self.target_audio = nn.Linear(audio_dim, config.joint_dim)
        self.classifier = nn.Linear(config.joint_dim, n_classes)

    def fused(self, audio: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        return self.fusion(torch.cat([audio, text], dim=1))  # (B, joint)

    def query(self, audio: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        return functional.normalize(self.query_audio(audio) + self.fused(audio, text), dim=1)

    def target(self, audio: torch.Tensor) -> torch.Tensor:
        return functional.normalize(self.target_audio(audio), dim=1)


def _multi_hot(classes: np.ndarray, n_classes: int) -> torch.Tensor:
    classes = np.asarray(classes)
    if classes.ndim == 1:
        return torch.from_numpy(np.eye(n_classes, dtype=np.float32)[classes])
    return torch.as_tensor(classes, dtype=torch.float32)


def _adapter_loss(adapter: ModifierAdapter, text_encoder: nn.Module, queries: torch.Tensor, texts: Sequence[str],
                  gallery: torch.Tensor, targets: torch.Tensor, tags: torch.Tensor, config: RetrievalConfig) -> torch.Tensor:  # fmt: skip
    text = _text_features(text_encoder, texts)  # (Q, T)
    joint = adapter.query(queries, text)  # (Q, J)
    contrastive = functional.cross_entropy(joint @ adapter.target(gallery).T / config.temperature, targets)
    classification = functional.binary_cross_entropy_with_logits(adapter.classifier(adapter.fused(queries, text)), tags)
    return contrastive + config.classification_weight * classification


def train_modifier_adapter(
    query_features: torch.Tensor,
    texts: Sequence[str],
    gallery_features: torch.Tensor,
    positives: np.ndarray,
    modifier_classes: np.ndarray,
    n_classes: int,
    text_encoder: nn.Module,
    config: RetrievalConfig,
    seed: int = 0,
    *,
    valid: tuple[torch.Tensor, Sequence[str], torch.Tensor, np.ndarray, np.ndarray] | None = None,
) -> ModifierAdapter:
    """Train the adapter (and the text encoder's trainable parameters) on the training queries, full batch.

    Loss: cross-entropy of each query against every training gallery item (InfoNCE, the target the
    positive) plus ``classification_weight`` times the multi-label BCE of the target's event classes
    (``modifier_classes``: ``(Q, n_classes)`` multi-hot, or ``(Q,)`` class indices read as one-hot).
    With ``valid = (queries, texts, gallery, positives, classes)`` the same loss is computed on them after
    every step and the parameters of the step with the smallest validation loss are restored (the
    paper's model selection); ``adapter.valid_losses`` and ``adapter.best_epoch`` record it.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        adapter = ModifierAdapter(query_features.shape[1], text_encoder.embedding_dim, n_classes, config)
    trainable = [*adapter.parameters(), *(p for p in text_encoder.parameters() if p.requires_grad)]
    optimizer = torch.optim.Adam(trainable, lr=config.lr)
    targets = torch.as_tensor(positives, dtype=torch.long)
    tags = _multi_hot(modifier_classes, n_classes)
    if valid is not None:
        valid_targets = torch.as_tensor(valid[3], dtype=torch.long)
        valid_tags = _multi_hot(valid[4], n_classes)
    adapter.valid_losses, adapter.best_epoch = [], -1
    best_loss, best_state = float("inf"), None
    previous_threads = torch.get_num_threads()
    # Hundreds of small steps: thread synchronisation would cost more than it saves (as for linear probes).
    torch.set_num_threads(1)
    try:
        for epoch in range(config.epochs):
            adapter.train()
            text_encoder.train()
            optimizer.zero_grad()
            _adapter_loss(adapter, text_encoder, query_features, texts, gallery_features, targets, tags, config).backward()
            optimizer.step()
            if valid is None:
                continue
            adapter.eval()
            text_encoder.eval()
            with torch.no_grad():
                loss = float(_adapter_loss(adapter, text_encoder, valid[0], valid[1], valid[2], valid_targets,
                                           valid_tags, config))  # fmt: skip
            adapter.valid_losses.append(loss)
            if loss < best_loss:
                best_loss, adapter.best_epoch = loss, epoch
                best_state = ({k: v.clone() for k, v in adapter.state_dict().items()},
                              {k: v.clone() for k, v in text_encoder.state_dict().items()})  # fmt: skip
    finally:
        torch.set_num_threads(previous_threads)
    if best_state is not None:
        adapter.load_state_dict(best_state[0])
        text_encoder.load_state_dict(best_state[1])
    adapter.eval()
    text_encoder.eval()
    return adapter
