"""Rendering speed of the synthetic world: clips per second of each dataset view on one core.

    python -m benchmarks.run synthetic

Each row renders clips ``dataset[i]`` one after another in this process (as a data-loader worker
does) at the view's default duration and 16 kHz, and reports the best of three passes. Rows: the
``"synthetic"`` tasks (1 s clips), ``"synthetic-scenes"`` mono and stereo (4 s), ``"synthetic-separation"``
(2 s), ``"synthetic-backgrounds"`` (10 s), and the time to draw a world (its class definitions).
"""

from __future__ import annotations

import math
import time

from benchmarks.timing import row
from workbench.data.records import AudioDataset
from workbench.data.synthetic import (
    BackgroundDataset,
    SceneDataset,
    SeparationDataset,
    SyntheticDataset,
    SyntheticWorld,
)


def _clips_per_second(dataset: AudioDataset, clips: int, repeats: int) -> float:
    """Best of ``repeats`` passes over the first ``clips`` clips, after one warm-up clip."""
    dataset[0]
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        for index in range(clips):
            dataset[index]
        best = min(best, time.perf_counter() - start)
    return clips / best


def run(quick: bool = False) -> list[dict]:
    repeats = 1 if quick else 3
    world = SyntheticWorld(seed=0)
    cases = [  # (name, view, options, clips per pass)
        ("synthetic task=event", SyntheticDataset, {"task": "event"}, 2000),
        ("synthetic task=speaker", SyntheticDataset, {"task": "speaker"}, 1000),
        ("synthetic task=pitch", SyntheticDataset, {"task": "pitch"}, 1000),
        ("synthetic-scenes", SceneDataset, {}, 200),
        ("synthetic-scenes channels=2", SceneDataset, {"channels": 2}, 200),
        ("synthetic-separation", SeparationDataset, {}, 400),
        ("synthetic-backgrounds", BackgroundDataset, {}, 50),
    ]
    rows = []
    for name, view, options, clips in cases:
        clips = max(4, clips // 40) if quick else clips
        dataset = view(world=world, n_clips=clips, **options)
        value = _clips_per_second(dataset, clips, repeats)
        setting = f"{dataset.duration:g} s clips @ {dataset.sample_rate // 1000} kHz, 1 process"
        rows.append({"benchmark": f"synthetic: {name}", "setting": setting, "value": value, "unit": "clips/s"})
    start = time.perf_counter()
    worlds = 3 if quick else 20
    for seed in range(worlds):
        SyntheticWorld(seed=seed)
    milliseconds = (time.perf_counter() - start) / worlds * 1000
    rows.append({"benchmark": "synthetic: draw a world", "setting": "default sizes", "value": milliseconds,
                 "unit": "ms"})  # fmt: skip
    return [row(**entry) for entry in rows]
