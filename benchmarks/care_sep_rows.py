"""CaRE-SEP's rows on the CPU: training-step time and separation real-time factor of row A (ST-SED-SEP: the
HTS-AT-style query network, frozen, and the ResUNet-style CNN separator) and row C (CaRE-SEP: the shared
Swin-UNET makes its own query, with gradient).

    python -c "from benchmarks.care_sep_rows import care_sep_rows; print(*care_sep_rows(quick=True), sep='\\n')"

For each row and model size (random weights: the architecture, not the values, sets the cost), on a batch of
4 mixtures of 1 s at 16 kHz with 2 query clips each:

- ``training step``: seconds per optimizer step (queries, separation, MAE - SDR loss, backward, AdamW), as
  :class:`~workbench.recipes.care_sep.SeparationSystem` trains it;
- ``separation real-time factor``: compute seconds per second of audio separated (one query per clip and
  one separation pass, as at test time); below 1 is faster than real time;
- ``parameters`` of the row's system (separator and query network).

Rows ``{"benchmark", "setting", "value", "unit"}``; measured with ``torch.get_num_threads()`` threads.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch

from workbench.models.care_sep import CaReSep
from workbench.models.stsed_sep import ResUNetSeparator, StSedQueryNet
from workbench.recipes.care_sep import (
    Params,
    SeparationSystem,
    model_config,
    query_net_config,
    resunet_config,
)

BATCH = 4
QUERY_CLIPS = 2
SECONDS = 1.0
SAMPLE_RATE = 16000
N_CLASSES = 16


def _best_seconds(function: Callable[[], object], repeats: int) -> float:
    """Best of ``repeats`` timed calls after one warm-up call (the least disturbed by other load)."""
    function()
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        timings.append(time.perf_counter() - start)
    return min(timings)


def build(row: str, model_size: str) -> SeparationSystem:
    """Row A (separate frozen ST-SED query network + CNN) or row C (shared Swin-UNET) at ``model_size``."""
    params = Params(model_size=model_size)
    torch.manual_seed(0)
    if row == "A":
        query_network = StSedQueryNet(query_net_config(params, N_CLASSES))
        return SeparationSystem(ResUNetSeparator(resunet_config(params)), query_network, grad=False)
    if row == "C":
        return SeparationSystem(CaReSep(model_config(params, N_CLASSES)), None, grad=True)
    raise ValueError(f"care_sep_rows measures rows 'A' and 'C', got {row!r}")


def care_sep_rows(quick: bool = False) -> list[dict]:
    """Training-step seconds, separation real-time factor and parameters of rows A and C (tiny; with
    ``quick=False`` also the paper sizes: D=96 Swin-UNET, 2048-d ST-SED query, six-level CNN)."""
    generator = torch.Generator().manual_seed(0)
    samples = int(SECONDS * SAMPLE_RATE)
    mixtures = torch.randn(BATCH, samples, generator=generator) * 0.05
    targets = torch.randn(BATCH, samples, generator=generator) * 0.05
    query_clips = torch.randn(BATCH, QUERY_CLIPS, samples, generator=generator) * 0.05
    labels = torch.arange(BATCH) % N_CLASSES
    rows = []
    for model_size in ("tiny",) if quick else ("tiny", "paper"):
        for row, name in (("A", "ST-SED-SEP"), ("C", "CaRE-SEP")):
            system = build(row, model_size)
            optimizer = torch.optim.AdamW([p for p in system.parameters() if p.requires_grad], lr=1e-4)

            def train_step() -> None:
                system.train()
                loss, _ = system((mixtures, targets, query_clips, labels))
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()

            @torch.no_grad()
            def separate() -> None:
                system.eval()
                query = system.query_model.embed_query(mixtures)
                system.separator.separate(mixtures, query)

            repeats = 1 if quick or model_size != "tiny" else 3
            setting = f"{row} {name}, {model_size}, batch {BATCH} x {SECONDS:g} s, {torch.get_num_threads()} threads"
            measured = [
                ("training step", _best_seconds(train_step, repeats), "s / step"),
                ("separation real-time factor", _best_seconds(separate, repeats) / (BATCH * SECONDS), "s / audio s"),
                ("parameters", sum(p.numel() for p in system.parameters()) / 1e6, "M"),
            ]
            rows += [{"benchmark": f"care_sep: {what}", "setting": setting, "value": value, "unit": unit}
                     for what, value, unit in measured]  # fmt: skip
    return rows


run = care_sep_rows
"""The entry point ``benchmarks.run`` calls for every row module (``run(quick) -> rows``)."""
