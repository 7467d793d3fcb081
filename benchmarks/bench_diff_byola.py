"""Pre-training speed of (difference-aware) BYOL-A on the CPU: optimizer steps per second, batch 64.

    python -m benchmarks.run diff_byola

Rows: the notebook's AudioNTT2020 (8 channels, d = 128) and BYOL-A's (64 channels, d = 2048, quick
mode skips it), each with ``lambda = 0`` (BYOL only: two online and two target passes per step) and
``lambda = 0.5`` (the difference branch adds two online passes over the mixtures), on 64 x 96 log-mel
crops, v1 augmentations (the recipe's default) and the moving-average update included. On one torch
thread, as the recipe runs. The step is :func:`benchmarks.byola_rows.steps_per_second`, whose rows set the
same learner beside an official-style BYOL-A step with v2 augmentations.
"""

from __future__ import annotations

from benchmarks.byola_rows import BATCH, FRAMES, SIZES, steps_per_second
from benchmarks.timing import row
from workbench.train.threads import torch_threads


def run(quick: bool = False) -> list[dict]:
    rows = []
    with torch_threads(1):
        for name, (encoder_config, heads) in SIZES.items():
            if quick and encoder_config.channels > 8:
                continue
            for weight in (0.0, 0.5):
                rows.append({
                    "benchmark": "diff_byola pre-training",
                    "setting": f"{name}, λ={weight:g}, batch {BATCH} x 64 x {FRAMES}",
                    "value": steps_per_second(f"workbench-{weight:g}", encoder_config, heads, steps=1 if quick else 5,
                                              augmentation_version="v1"),  # fmt: skip
                    "unit": "steps/s",
                })  # fmt: skip
    return [row(**entry) for entry in rows]
