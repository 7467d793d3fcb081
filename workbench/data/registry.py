"""One registry of datasets: name -> factory, reachable through :func:`get` and :func:`names`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from workbench.data.records import AudioDataset, DatasetInfo
from workbench.errors import UnknownNameError
from workbench.paths import data_root

DatasetFactory = Callable[..., AudioDataset]

_FACTORIES: dict[str, DatasetFactory] = {}
_INFOS: dict[str, DatasetInfo] = {}


def register(info: DatasetInfo) -> Callable[[DatasetFactory], DatasetFactory]:
    """Decorator: register ``factory(root: Path, **options) -> AudioDataset`` under ``info.name``."""

    def decorator(factory: DatasetFactory) -> DatasetFactory:
        if info.name in _FACTORIES:
            raise ValueError(f"dataset {info.name!r} is registered twice")
        _FACTORIES[info.name] = factory
        _INFOS[info.name] = info
        return factory

    return decorator


def names() -> list[str]:
    """Names of every registered dataset, sorted."""
    return sorted(_FACTORIES)


def info(name: str) -> DatasetInfo:
    if name not in _INFOS:
        raise UnknownNameError("dataset", name, names())
    return _INFOS[name]


def get(name: str, root: str | Path | None = None, **options: Any) -> AudioDataset:
    """Build the dataset registered as ``name``.

    Args:
        name: a name from :func:`names` (``"synthetic"`` is the embedded world and needs no files).
        root: the data root holding one folder per dataset; default :func:`workbench.paths.data_root`.
        **options: dataset-specific options (task, fold, split, seed, ...); unknown ones raise.

    Raises:
        UnknownNameError: ``name`` is not registered (the message lists the valid names).
        DatasetNotFoundError: the dataset's files are absent (the message says how to obtain them).
    """
    if name not in _FACTORIES:
        raise UnknownNameError("dataset", name, names())
    return _FACTORIES[name](Path(root) if root is not None else data_root(), **options)


def describe_copy(name: str, dataset: AudioDataset) -> str:
    """How complete a local copy of dataset ``name`` is: clips found against the official counts.

    Per fold (or split) where the registry knows a complete copy's counts (``expected_folds`` /
    ``expected_splits``), else the total (``expected_clips``), else just the count found. Reads no
    audio (folds and splits come from the metadata).

    Returns:
        e.g. ``"complete: 2000 clips (5 folds of 400)"``, ``"partial: 414 of 2000 clips; fold 1: 0/400,
        fold 2: 11/400, ..."`` or ``"found 83 clips"``.
    """
    entry = info(name)
    found = len(dataset)
    expected_parts: tuple[tuple[Any, int], ...] = ()
    if entry.expected_folds:
        expected_parts, kind = entry.expected_folds, "fold"
        counts = Counter(dataset.fold_of(index) for index in range(found))
    elif entry.expected_splits:
        expected_parts, kind = entry.expected_splits, "split"
        counts = Counter(dataset.split_of(index) for index in range(found))
    expected = entry.expected_clips if entry.expected_clips is not None else (
        sum(count for _, count in expected_parts) if expected_parts else None
    )
    if expected is None:
        return f"found {found} clips (no official count to compare with)"
    parts_complete = all(counts.get(part, 0) == count for part, count in expected_parts)
    if found == expected and parts_complete:
        if expected_parts and len({count for _, count in expected_parts}) == 1:
            return f"complete: {found} clips ({len(expected_parts)} {kind}s of {expected_parts[0][1]})"
        return f"complete: {found} clips"
    line = f"partial: {found} of {expected} clips"
    if expected_parts:
        line += "; " + ", ".join(f"{kind} {part}: {counts.get(part, 0)}/{count}" for part, count in expected_parts)
        extra = sorted(set(counts) - {part for part, _ in expected_parts}, key=str)
        if extra:
            line += ", " + ", ".join(f"{kind} {part}: {counts[part]} (not official)" for part in extra)
    return line
