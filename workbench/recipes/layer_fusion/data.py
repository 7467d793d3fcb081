"""The test bed: the dataset of each task spec (a synthetic task of the world, or a registered dataset)."""

from __future__ import annotations

from workbench import data
from workbench.data.records import AudioDataset
from workbench.recipes.base import expand_shared
from workbench.recipes.layer_fusion.params import Params, parse_task


def build_dataset(spec: str, params: Params) -> AudioDataset:
    """The dataset of one task spec (synthetic tasks get ``n_clips`` and ``world_seed``).

    Raises:
        UnknownNameError: an unknown dataset or option.
        DatasetNotFoundError: a real dataset whose files are absent (the message says how to get them).
    """
    name, options = parse_task(spec)
    if name.startswith("synthetic"):
        options.update(n_clips=params.n_clips, seed=params.world_seed)
    return data.get(name, root=expand_shared(params.data_root) or None, **options)
