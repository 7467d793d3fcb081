"""The embedding cache: what a hit costs against a miss, for a synthetic view and for a Subset of it.

    python -m benchmarks.run embedding_cache

:func:`~workbench.evaluation.embeddings.extract_embeddings` with the parameter-free ``logmel-stats``
encoder (so the miss is mostly rendering the clips, not a network) on the synthetic event task, and
on a :class:`~workbench.data.records.Subset` of every other clip. One thread, interleaved rounds; each
miss writes into an empty cache folder, each hit reads the file a warm-up call wrote. Goal: a hit
reads the file and nothing else, <= 0.05 of a miss (issue 18: "cache hits that read nothing").
"""

from __future__ import annotations

import itertools
import tempfile
from pathlib import Path

from benchmarks.timing import compared_row, interleaved
from workbench.data.records import Subset
from workbench.data.synthetic import SyntheticDataset
from workbench.evaluation.embeddings import extract_embeddings
from workbench.models.zoo import build_encoder


def run(quick: bool = False) -> list[dict]:
    clips, rounds = (48, 3) if quick else (200, 5)
    encoder = build_encoder("logmel-stats")
    datasets = {
        f"synthetic event task, {clips} clips of 1 s": SyntheticDataset(seed=0, task="event", n_clips=clips),
        f"Subset of every other clip of {2 * clips}": Subset(
            SyntheticDataset(seed=1, task="event", n_clips=2 * clips), range(0, 2 * clips, 2)
        ),
    }
    rows = []
    with tempfile.TemporaryDirectory(prefix="workbench-bench-cache-") as scratch:
        fresh = (Path(scratch) / f"miss-{index}" for index in itertools.count())
        warm = Path(scratch) / "warm"
        for label, dataset in datasets.items():

            def miss(dataset=dataset) -> None:
                extract_embeddings(encoder, dataset, cache_dir=next(fresh), progress=False)

            def hit(dataset=dataset) -> None:
                extract_embeddings(encoder, dataset, cache_dir=warm, progress=False)

            seconds = interleaved({"cache miss": miss, "cache hit": hit}, rounds)
            rows.append(compared_row(
                "embedding cache: hit vs miss", f"{label}, logmel-stats, 1 thread", seconds, "cache hit",
                "cache miss", goal=0.05,
                note="the key is built from rendered clips (issue 18 item 3, metadata keys, pending)",
            ))  # fmt: skip
    return rows


if __name__ == "__main__":
    for entry in run():
        print(entry)
