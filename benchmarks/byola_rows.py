"""Pre-training step rows: the workbench's difference-aware BYOL-A step next to an official-BYOL-A-style
step, on the same input (batch 64 of 64 x 96 log-mel crops, v2 augmentations, one torch thread).

    python -c "from benchmarks.byola_rows import run; print(run(quick=True))"

Rows (``{"benchmark", "setting", "value", "unit"}``, steps per second; higher is faster):

- ``workbench λ=0`` and ``workbench λ=0.5``: :class:`~workbench.recipes.diff_byola.DifferenceAwareBYOLA`
  (the recipe's learner; λ=0.5 adds the difference branch's two online passes over the mixtures);
- ``official-style BYOL-A``: the training step of BYOL-A's official code as its layout reads
  (nttcslab/byol-a, ``BYOLALearner`` over ``byol_pytorch``), written out here on the same encoder: online
  encoder -> projector ``Linear-BatchNorm-ReLU-Linear`` -> predictor of the same form; target = moving
  average, no gradient; loss ``2 - 2 cos`` in both directions, summed, batch mean; the EMA update
  parameter by parameter after each step. The same augmentation module makes both views, so the rows
  differ by the learner only.

The encoder sizes: the notebook's AudioNTT2020 (8 channels, d = 128; quick mode runs only this) and
BYOL-A's (64 channels, d = 2048, 256-d projection, 4096 hidden).
"""

from __future__ import annotations

import copy
import time

import torch
from torch import nn
from torch.nn import functional

from workbench.audio.byola_augment import byola_augmentation, normalize_batch
from workbench.models.audiontt import AudioNTT2020, AudioNTTConfig
from workbench.models.byola import BYOLConfig, BYOLNetworks
from workbench.recipes.diff_byola import DifferenceAwareBYOLA
from workbench.train.threads import torch_threads

BATCH = 64
FRAMES = 96
SIZES = {
    "notebook (8 ch, d=128)": (AudioNTTConfig(channels=8, embedding_dim=128), BYOLConfig.tiny()),
    "BYOL-A (64 ch, d=2048)": (AudioNTTConfig(channels=64, embedding_dim=2048), BYOLConfig()),
}


def _mlp(dim: int, hidden: int, out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(dim, hidden), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True), nn.Linear(hidden, out))


class OfficialStyleBYOLA(nn.Module):
    """BYOL-A's official training step, written from its layout (see the module docstring)."""

    def __init__(self, encoder: nn.Module, dim: int, heads: BYOLConfig, augmentation: nn.Module):
        super().__init__()
        self.online_encoder = encoder
        self.online_projector = _mlp(dim, heads.hidden_dim, heads.projection_dim)
        self.online_predictor = _mlp(heads.projection_dim, heads.hidden_dim, heads.projection_dim)
        self.target_encoder = copy.deepcopy(encoder).requires_grad_(False)
        self.target_projector = copy.deepcopy(self.online_projector).requires_grad_(False)
        self.augmentation = augmentation
        self.decay = heads.ema_decay

    @staticmethod
    def _loss(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return 2 - 2 * (functional.normalize(x, dim=-1) * functional.normalize(y, dim=-1)).sum(dim=-1)

    def forward(self, log_mels: torch.Tensor) -> torch.Tensor:
        batch = log_mels.shape[0]
        views = normalize_batch(torch.cat([self.augmentation(log_mels), self.augmentation(log_mels)]))
        prediction = self.online_predictor(self.online_projector(self.online_encoder.forward_log_mel(views)))
        with torch.no_grad():
            target = self.target_projector(self.target_encoder.forward_log_mel(views))
        one, two = prediction[:batch], prediction[batch:]
        return (self._loss(one, target[batch:].detach()) + self._loss(two, target[:batch].detach())).mean()

    @torch.no_grad()
    def update_target(self) -> None:
        for online, target in ((self.online_encoder, self.target_encoder), (self.online_projector, self.target_projector)):
            for new, old in zip(online.parameters(), target.parameters()):
                old.mul_(self.decay).add_(new, alpha=1 - self.decay)


def _rate(step, steps: int) -> float:
    step()  # warm-up: first-call allocations, and the mixup memory holds a batch
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return steps / (time.perf_counter() - start)


def steps_per_second(learner_kind: str, encoder_config: AudioNTTConfig, heads: BYOLConfig, steps: int,
                     augmentation_version: str = "v2") -> float:  # fmt: skip
    """Optimizer steps per second of one learner (``"workbench-0"``, ``"workbench-0.5"`` or any
    ``"workbench-<lambda>"``, ``"official"``) with BYOL-A's ``augmentation_version`` augmentations."""
    torch.manual_seed(0)
    batch = torch.randn(BATCH, 64, FRAMES, generator=torch.Generator().manual_seed(0))
    augmentation = byola_augmentation(augmentation_version, memory_size=256)
    if learner_kind == "official":
        learner: nn.Module = OfficialStyleBYOLA(AudioNTT2020(encoder_config), encoder_config.embedding_dim, heads,
                                                augmentation)  # fmt: skip
        update = learner.update_target

        def loss() -> torch.Tensor:
            return learner(batch)
    else:
        weight = float(learner_kind.split("-")[1])
        networks = BYOLNetworks(AudioNTT2020(encoder_config), BYOLConfig(
            heads.projection_dim, heads.hidden_dim, heads.ema_decay, difference_predictor=weight > 0))  # fmt: skip
        learner = DifferenceAwareBYOLA(networks, augmentation, weight)
        update = networks.update_target

        def loss() -> torch.Tensor:
            return learner(batch)[0]

    optimizer = torch.optim.Adam([p for p in learner.parameters() if p.requires_grad], lr=1e-3)

    def step() -> None:
        optimizer.zero_grad()
        loss().backward()
        optimizer.step()
        update()

    return _rate(step, steps)


LEARNERS = {"workbench λ=0": "workbench-0", "workbench λ=0.5": "workbench-0.5", "official-style BYOL-A": "official"}


def run(quick: bool = False) -> list[dict]:
    rows = []
    with torch_threads(1):
        for size, (encoder_config, heads) in SIZES.items():
            if quick and encoder_config.channels > 8:
                continue
            for name, kind in LEARNERS.items():
                rows.append({
                    "benchmark": "BYOL-A pre-training step",
                    "setting": f"{name}, {size}, v2 augmentations, batch {BATCH} x 64 x {FRAMES}",
                    "value": steps_per_second(kind, encoder_config, heads, steps=1 if quick else 5),
                    "unit": "steps/s",
                })  # fmt: skip
    return rows
