"""Datasets: records, the registry (`get`, `names`), the synthetic world and real datasets.

    import workbench.data as data
    data.names()                                   # every registered dataset
    dataset = data.get("synthetic", task="event")  # the embedded world, no download
    waveform, target, meta = dataset[0]            # (channels, samples) at dataset.sample_rate
"""

# Importing a dataset module registers it.
from workbench.data import dcase2019, esc50, folder, fsdkaggle2019, fsdd, iemocap, speech_commands, synthetic  # noqa: F401
from workbench.data.records import AudioDataset, ClipRecord, DatasetInfo, Subset, collate_clips
from workbench.data.registry import get, info, names, register

__all__ = ["AudioDataset", "ClipRecord", "DatasetInfo", "Subset", "collate_clips", "get", "info", "names", "register"]
