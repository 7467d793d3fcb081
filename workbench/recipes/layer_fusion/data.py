"""The test bed: the dataset of each task spec (a synthetic task of the world, or a registered dataset read
from ``data_root`` or else the shared mirror ``$WORKBENCH_SHARED/data``), at most ``max_real_clips`` of a real
one, and which of the tasks at hand have their files here."""

from __future__ import annotations

import numpy as np

from workbench import data
from workbench.data.records import AudioDataset, Subset
from workbench.errors import DatasetNotFoundError
from workbench.paths import shared_dir
from workbench.recipes.base import expand_shared
from workbench.recipes.layer_fusion.params import Params, parse_task


def build_dataset(spec: str, params: Params) -> AudioDataset:
    """The dataset of one task spec (synthetic tasks get ``n_clips`` and ``world_seed``).

    A real dataset is looked for under ``data_root`` (the default data root when empty) and, when
    ``data_root`` is empty and it is not there, under ``$WORKBENCH_SHARED/data``, the lab's mirror; more
    than ``max_real_clips`` clips are thinned to that many, evenly spaced in the dataset's order (so every
    class, speaker and official split keeps its share).

    Raises:
        UnknownNameError: an unknown dataset or option.
        DatasetNotFoundError: a real dataset whose files are absent (the message says how to get them).
    """
    name, options = parse_task(spec)
    if name.startswith("synthetic"):
        options.update(n_clips=params.n_clips, seed=params.world_seed)
        return data.get(name, **options)
    root = expand_shared(params.data_root)
    try:
        dataset = data.get(name, root=root or None, **options)
    except DatasetNotFoundError:
        mirror = shared_dir() / "data"
        if root or not mirror.is_dir():
            raise
        dataset = data.get(name, root=mirror, **options)
    return thinned(dataset, params.max_real_clips)


def thinned(dataset: AudioDataset, limit: int) -> AudioDataset:
    """``dataset`` itself when it has at most ``limit`` clips (or ``limit`` is 0), else a :class:`Subset` of
    ``limit`` clips at evenly spaced positions."""
    if not limit or len(dataset) <= limit:
        return dataset
    return Subset(dataset, np.linspace(0, len(dataset) - 1, limit).round().astype(int).tolist())


def datasets_at_hand(params: Params) -> tuple[dict[str, AudioDataset], dict[str, str]]:
    """Every task's dataset: ``tasks`` (an absent one is an error) then those of ``tasks_at_hand`` whose files
    are found; the others are returned as ``{spec: why skipped}``."""
    datasets = {spec: build_dataset(spec, params) for spec in params.tasks}
    skipped = {}
    for spec in params.tasks_at_hand:
        try:
            datasets[spec] = build_dataset(spec, params)
        except DatasetNotFoundError as error:
            skipped[spec] = f"{spec}: skipped, its files are not here ({str(error).splitlines()[0]})"
    return datasets, skipped
