"""Training throughput of the raw-waveform ASC network (Jung et al.'s Table 1) on the CPU.

    python -m benchmarks.run asc

Clips per second through one training step (forward, cross-entropy, backward, AdamW) of
:class:`~workbench.models.tag_fusion.TagFusionASC`, baseline and the combined fusion (which adds the
tag transforms and the filter attention), at two input sizes:

- the paper's: 10-s stereo clips at 48 kHz (479,999 samples), 128 filters, batch 8;
- the synthetic default of ``asc_tagging``: 2-s stereo clips at 16 kHz, 16 filters, batch 32.

Measured on one thread (``python -m benchmarks.run`` runs every row on one unless its setting says otherwise).
"""

from __future__ import annotations

import time

import torch

from benchmarks.timing import row
from workbench.models.asc_raw import RawASCConfig
from workbench.models.tag_fusion import FusionConfig, TagFusionASC

N_TAGS = 80  # FSDKaggle2019's vocabulary
SETTINGS = {
    "10 s stereo 48 kHz, 128 filters": (RawASCConfig(), 8),
    "2 s stereo 16 kHz, 16 filters (synthetic default)": (RawASCConfig.small(), 32),
}


def clips_per_second(config: RawASCConfig, batch: int, variant: str, steps: int) -> float:
    torch.manual_seed(0)
    model = TagFusionASC(config, FusionConfig(variant, n_tags=0 if variant == "baseline" else N_TAGS))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    waveforms = 0.1 * torch.randn(batch, config.channels, config.input_samples)
    tags = torch.rand(batch, N_TAGS)
    scenes = torch.randint(0, config.n_scenes, (batch,))

    def step() -> None:
        loss = torch.nn.functional.cross_entropy(model(waveforms, tags), scenes)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    step()  # warm-up: first-call allocations and kernel selection
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return steps * batch / (time.perf_counter() - start)


def run(quick: bool = False) -> list[dict]:
    rows = []
    for setting, (config, batch) in SETTINGS.items():
        paper_scale = config.input_samples > 100_000
        if quick and paper_scale:
            continue  # one paper-scale step takes seconds on a CPU
        for variant in ("baseline", "combined"):
            steps = 1 if quick else (2 if paper_scale else 10)
            rows.append({
                "benchmark": f"asc raw-waveform training ({variant})",
                "setting": f"{setting}, batch {batch}",
                "value": clips_per_second(config, batch, variant, steps),
                "unit": "clips/s",
            })  # fmt: skip
    return [row(**entry) for entry in rows]


if __name__ == "__main__":
    for row in run():
        print(row)
