"""Pre-training speed of (difference-aware) BYOL-A on the CPU: optimizer steps per second, batch 64.

    python -m benchmarks.run diff_byola

Rows: the notebook's AudioNTT2020 (8 channels, d = 128) and BYOL-A's (64 channels, d = 2048, quick
mode skips it), each with ``lambda = 0`` (BYOL only: two online and two target passes per step) and
``lambda = 0.5`` (the difference branch adds two online passes over the mixtures), on 64 x 96 log-mel
crops, augmentations and the moving-average update included. On one torch thread, as the recipe runs.
"""

from __future__ import annotations

import time

import torch

from benchmarks.timing import row
from workbench.audio.byola_augment import byola_augmentation
from workbench.models.audiontt import AudioNTT2020, AudioNTTConfig
from workbench.models.byola import BYOLConfig, BYOLNetworks
from workbench.recipes.diff_byola import DifferenceAwareBYOLA

BATCH = 64
FRAMES = 96
SIZES = {
    "notebook (8 ch, d=128)": (AudioNTTConfig(channels=8, embedding_dim=128), BYOLConfig.tiny()),
    "BYOL-A (64 ch, d=2048)": (AudioNTTConfig(channels=64, embedding_dim=2048), BYOLConfig()),
}


def steps_per_second(encoder_config: AudioNTTConfig, heads: BYOLConfig, weight: float, steps: int) -> float:
    torch.manual_seed(0)
    networks = BYOLNetworks(AudioNTT2020(encoder_config), BYOLConfig(
        heads.projection_dim, heads.hidden_dim, heads.ema_decay, difference_predictor=weight > 0))  # fmt: skip
    learner = DifferenceAwareBYOLA(networks, byola_augmentation("v1", memory_size=256), weight)
    optimizer = torch.optim.Adam([p for p in learner.parameters() if p.requires_grad], lr=1e-3)
    batch = torch.randn(BATCH, 64, FRAMES)

    def step() -> None:
        optimizer.zero_grad()
        loss, _ = learner(batch)
        loss.backward()
        optimizer.step()
        networks.update_target()

    step()  # warm-up: first-call allocations, and the mixup memory holds a batch
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return steps / (time.perf_counter() - start)


def run(quick: bool = False) -> list[dict]:
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    rows = []
    try:
        for name, (encoder_config, heads) in SIZES.items():
            if quick and encoder_config.channels > 8:
                continue
            for weight in (0.0, 0.5):
                rows.append({
                    "benchmark": "diff_byola pre-training",
                    "setting": f"{name}, λ={weight:g}, batch {BATCH} x 64 x {FRAMES}",
                    "value": steps_per_second(encoder_config, heads, weight, steps=1 if quick else 5),
                    "unit": "steps/s",
                })  # fmt: skip
    finally:
        torch.set_num_threads(previous)
    return [row(**entry) for entry in rows]
