"""CaRE-SEP on the CPU: real-time factor of separation and training steps per second, tiny and paper widths.

    python -m benchmarks.run care_sep

For each config (random weights: the architecture, not the values, sets the cost), on a batch of 4 random
clips of 2 s at 16 kHz:

- ``separation``: seconds of audio separated per second of compute (one query embedding per clip plus one
  separation pass, as at test time), so > 1 is faster than real time;
- ``training steps``: optimizer steps per second of CaRE-SEP training (shared encoder: query clips and
  mixture through the same network, MAE - SDR loss, backward, AdamW), batch of 4 with 2 query clips each;
- parameters of the separator.

Measured with ``torch.get_num_threads()`` threads (the table's header says how many).
"""

from __future__ import annotations

import torch

from benchmarks.timing import best_seconds, table_rows
from workbench.losses.separation import SeparationLoss
from workbench.models.care_sep import CaReSep, CaReSepConfig

BATCH = 4
SECONDS = 2.0
SAMPLE_RATE = 16000


def _configs(quick: bool) -> dict[str, CaReSepConfig]:
    configs = {"tiny (D=16)": CaReSepConfig.tiny(n_classes=10)}
    if not quick:
        configs["paper (D=96)"] = CaReSepConfig.paper(n_classes=527)
        configs["paper-large (D=256)"] = CaReSepConfig.paper_large(n_classes=527)
    return configs



def run(quick: bool = False) -> list[dict]:
    generator = torch.Generator().manual_seed(0)
    samples = int(SECONDS * SAMPLE_RATE)
    mixtures = torch.randn(BATCH, samples, generator=generator) * 0.05
    targets = torch.randn(BATCH, samples, generator=generator) * 0.05
    query_clips = torch.randn(BATCH * 2, samples, generator=generator) * 0.05
    rows = []
    for label, config in _configs(quick).items():
        torch.manual_seed(0)
        model = CaReSep(config)
        loss_function = SeparationLoss()
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)

        @torch.no_grad()
        def separate() -> None:
            model.eval()
            model.separate(mixtures, model.embed_query(mixtures))

        def train_step() -> None:
            model.train()
            query = model.embed_query(query_clips).reshape(BATCH, 2, -1).mean(dim=1)
            loss, _ = loss_function(model.separate(mixtures, query), targets)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

        repeats = 1 if quick or config.embed_dim > 16 else 3
        setting = f"{label}, batch {BATCH} x {SECONDS:g} s"
        measured = [
            ("separation real-time factor", BATCH * SECONDS / best_seconds(separate, repeats), "audio s / s"),
            ("training steps", 1.0 / best_seconds(train_step, repeats), "steps / s"),
            ("parameters", sum(p.numel() for p in model.parameters()) / 1e6, "M"),
        ]
        rows += table_rows("care_sep", setting, measured)
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
