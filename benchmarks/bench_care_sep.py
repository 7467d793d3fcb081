"""CaRE-SEP separation speed on the CPU: real-time factor at 1 s and 10 s, batch 8 against batch 1.

    python -m benchmarks.run care_sep

Random weights (the architecture, not the values, sets the cost); the query embedding is given, so
a call is one conditioned separation pass (STFT, band split, Swin-UNET, band masks, inverse STFT).
One thread, interleaved rounds. For each clip length:

- ``separation real-time factor``: seconds of audio separated per second of compute at batch 8
  (> 1 is faster than real time), and the per-audio-second time of batch 8 over batch 1 as the ratio.
  Goal: batching pays (ratio <= 1).

- ``training steps``: optimizer steps per second of CaRE-SEP training (shared encoder: query clips
  and mixtures through the same network, MAE - SDR loss, backward, AdamW), batch 4 x 2 s with two
  query clips each.

The quick run times the tiny config (D = 16), the full run the paper's (D = 96, query 768).
"""

from __future__ import annotations

import torch

from benchmarks.timing import compared_row, interleaved, row
from workbench.losses.separation import SeparationLoss
from workbench.models.care_sep import CaReSep, CaReSepConfig

SAMPLE_RATE = 16000
BATCHES = (1, 8)
LIMIT_NOTE = (
    "compute-bound: the Swin blocks' linear layers and attention matmuls (addmm + bmm, ~55 % of a pass) "
    "already run at batch 1 on one thread; the band maps are ~2 %"
)


def run(quick: bool = False) -> list[dict]:
    label, config = ("tiny (D=16)", CaReSepConfig.tiny()) if quick else ("paper (D=96)", CaReSepConfig.paper())
    rounds = 3 if quick else 5
    torch.manual_seed(0)
    model = CaReSep(config).eval()
    generator = torch.Generator().manual_seed(0)
    rows = []
    for seconds_of_audio in (1.0, 10.0):
        samples = int(seconds_of_audio * SAMPLE_RATE)
        inputs = {
            batch: (0.05 * torch.randn(batch, samples, generator=generator),
                    torch.randn(batch, config.query_dim, generator=generator))
            for batch in BATCHES
        }  # fmt: skip
        with torch.inference_mode():
            seconds = interleaved(
                {f"batch {batch}": (lambda batch=batch: model.separate(*inputs[batch])) for batch in BATCHES},
                rounds,
            )
        setting = f"{label}, {seconds_of_audio:g} s clips, 1 thread"
        batch8 = sorted(seconds["batch 8"])[len(seconds["batch 8"]) // 2]
        batch1 = sorted(seconds["batch 1"])[len(seconds["batch 1"]) // 2]
        rows.append(row("care_sep: separation real-time factor, batch 1", setting, seconds_of_audio / batch1,
                        "x real time"))  # fmt: skip
        rows.append(compared_row(
            "care_sep: separation real-time factor, batch 8", setting, seconds, "batch 8", "batch 1", goal=1.0,
            scale=1 / 8, value=8 * seconds_of_audio / batch8, unit="x real time", note=LIMIT_NOTE,
        ))  # fmt: skip
    rows.append(row("care_sep: training steps", f"{label}, batch 4 x 2 s, 2 query clips each, 1 thread",
                    1.0 / min(interleaved({"step": _training_step(config)}, 2 if quick else 3)["step"]),
                    "steps/s"))  # fmt: skip
    rows.append(row("care_sep: parameters", label, sum(p.numel() for p in model.parameters()) / 1e6, "M"))
    return rows


def _training_step(config: CaReSepConfig):
    torch.manual_seed(0)
    model = CaReSep(config).train()
    loss_function = SeparationLoss()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    generator = torch.Generator().manual_seed(1)
    mixtures, targets = (0.05 * torch.randn(4, 2 * SAMPLE_RATE, generator=generator) for _ in range(2))
    query_clips = 0.05 * torch.randn(8, 2 * SAMPLE_RATE, generator=generator)

    def step() -> None:
        query = model.embed_query(query_clips).reshape(4, 2, -1).mean(dim=1)
        loss, _ = loss_function(model.separate(mixtures, query), targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return step


if __name__ == "__main__":
    for entry in run():
        print(entry)
