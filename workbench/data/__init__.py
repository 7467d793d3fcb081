"""Datasets: records, the registry (`get`, `names`), the synthetic world and real datasets.

    import workbench.data as data
    data.names()                                   # every registered dataset
    dataset = data.get("synthetic", task="event")  # the embedded world, no download
    waveform, target, meta = dataset[0]            # (channels, samples) at dataset.sample_rate
"""

# Importing a dataset module registers it.
from workbench.data import (  # noqa: F401
    cremad,
    dcase2019,
    esc50,
    folder,
    fsdd,
    fsdkaggle2019,
    gtzan,
    iemocap,
    nsynth,
    speech_commands,
    surge,
    synthetic,
    urbansound8k,
    voxceleb1,
    voxforge,
)
from workbench.data.records import AudioDataset, ClipRecord, DatasetInfo, Subset, collate_clips
from workbench.data.registry import get, info, names, register

__all__ = ["AudioDataset", "ClipRecord", "DatasetInfo", "Subset", "collate_clips", "get", "info", "names", "register"]
