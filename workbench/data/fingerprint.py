"""Data fingerprints: what a run id and an embedding cache key hash so that changed data is a new run.

A fingerprint is a plain, JSON-able mapping computed without reading audio:

- a file dataset (:class:`~workbench.data.folder.ListedAudioDataset`): its folder, the number of
  files and their total bytes, and a sha256 over every clip's relative path, :func:`file_stamp` (size,
  modification time and status-change time, in nanoseconds), id, target, fold and split; overwriting
  a file changes its times (and usually size), editing a label changes its target, so either gives a
  new fingerprint. The ctime matters where the mtime lies: ``cp -p`` and ``rsync -a`` set a copied
  file's mtime back to the original's, but the kernel sets the ctime to now and nothing can set it
  back, so two same-size clips swapped with their mtimes restored are still a new fingerprint. Audio
  contents are not hashed: that would read the whole dataset on every run (seconds to minutes on a
  real dataset). The price of the ctime: a copy of the data (or a ``chmod``/``chown`` of its files) is
  a new fingerprint, so its first run is computed again rather than read back. With ``--verify-data``
  (``WORKBENCH_VERIFY_DATA=1``, :func:`verify_data`) each clip's sha256 takes the place of its times: a
  change of contents is seen whatever the file's times say, and a copy of the data (``cp -p``, a new
  machine) is the same fingerprint. Each file is hashed once per version (path, size, mtime, ctime;
  :mod:`workbench.data.digests`, table ``data-sha256.json`` in the cache), so a second run hashes nothing.
- a weights file (:func:`workbench.models.digest.weights_fingerprint`): its sha256 and size.
- a synthetic view: its class, seed and every parameter that shapes its clips;
- a subset (the workbench's :class:`~workbench.data.records.Subset` or ``torch.utils.data.Subset``):
  the parent's fingerprint and a digest of the indices;
- any other dataset: its class, ``repr`` and length (all that can be known without its items).

:func:`data_fingerprint` combines any number of them and adds a ``digest`` over the whole. A
fingerprint's ``"recorded"`` entry (:data:`RECORDED_KEY`: where a file lay, say) is kept for
provenance.json but left out of the digest, so moving a file is not a new run.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

import torch

from workbench.data.digests import cached_sha256

VERIFY_DATA_VARIABLE = "WORKBENCH_VERIFY_DATA"
"""Set to 1 (what ``workbench run --verify-data`` does) to fingerprint file datasets by their contents."""
DATA_DIGEST_TABLE = "data-sha256.json"
"""The digest table of the clips hashed under ``--verify-data``, in :func:`workbench.paths.cache_dir`."""

RECORDED_KEY = "recorded"
"""A fingerprint's entry that provenance.json keeps but the digest leaves out."""


def file_stamp(path: Any) -> tuple[int, int, int]:
    """``(size, mtime_ns, ctime_ns)`` of the file at ``path`` (one ``stat``), ``(-1, -1, -1)`` when it
    is missing; what a file dataset's fingerprint hashes per file (see the module docstring)."""
    try:
        status = os.stat(path)
    except FileNotFoundError:
        return -1, -1, -1
    return status.st_size, status.st_mtime_ns, status.st_ctime_ns


def verify_data() -> bool:
    """Whether file datasets are fingerprinted by their files' sha256 rather than their size and times:
    ``WORKBENCH_VERIFY_DATA`` is 1, true or yes (``workbench run --verify-data`` sets it).

    Raises:
        ValueError: the variable holds anything else (a typo would silently verify nothing).
    """
    value = os.environ.get(VERIFY_DATA_VARIABLE, "").strip().lower()
    if value in ("", "0", "false", "no"):
        return False
    if value in ("1", "true", "yes"):
        return True
    raise ValueError(f"{VERIFY_DATA_VARIABLE}={value!r}: set it to 1 (hash the clips' contents) or 0 (size and times)")


def content_stamps(paths: Sequence[Any]) -> dict[str, str]:
    """``{path: "sha256:<hex>"}`` of every file among ``paths`` that exists (a missing one keeps its stamp
    from :func:`file_stamp`), hashed once per file version (:func:`workbench.data.digests.cached_sha256`)."""
    present = [str(path) for path in paths if path is not None and os.path.isfile(path)]
    return {path: f"sha256:{found}" for path, found in zip(present, cached_sha256(present, DATA_DIGEST_TABLE))}


def dataset_fingerprint(dataset: Any) -> dict[str, Any]:
    """The fingerprint of one dataset (see the module docstring)."""
    method = getattr(dataset, "fingerprint", None)
    if callable(method):
        return dict(method())
    if isinstance(dataset, torch.utils.data.Subset) or (
        hasattr(dataset, "dataset") and hasattr(dataset, "indices")
    ):
        return subset_fingerprint(dataset.dataset, dataset.indices)
    return {
        "class": f"{type(dataset).__module__}.{type(dataset).__qualname__}",
        "repr": repr(dataset),
        "clips": len(dataset) if hasattr(dataset, "__len__") else None,
    }


def subset_fingerprint(parent: Any, indices: Sequence[int]) -> dict[str, Any]:
    """The fingerprint of the clips ``indices`` of ``parent``: the parent's and a digest of the indices."""
    listed = [int(index) for index in indices]
    return {"kind": "subset", "of": dataset_fingerprint(parent), "clips": len(listed), "indices": digest(listed)}


def digest(value: Any) -> str:
    """sha256 hex digest of ``value``'s canonical JSON text (sorted keys, no spaces)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def data_fingerprint(data: Any) -> dict[str, Any]:
    """The fingerprint of what a run reads: a dataset, a fingerprint mapping, or a list/tuple/dict of them.

    Returns:
        ``{"datasets": [fingerprint, ...], "digest": <sha256 hex of the list>}``; a mapping that already
        has that form is returned as it is.

    Raises:
        TypeError: ``data`` is a string or a number (not a dataset nor a fingerprint).
    """
    if isinstance(data, Mapping) and "datasets" in data and "digest" in data:
        return dict(data)
    if isinstance(data, Mapping) and _is_dataset_map(data):
        items = [dataset_fingerprint(dataset) for _, dataset in sorted(data.items())]
    elif isinstance(data, Mapping):
        items = [dict(data)]
    elif isinstance(data, (list, tuple)):
        items = [item for element in data for item in data_fingerprint(element)["datasets"]]
    elif isinstance(data, (str, bytes, int, float)) or data is None:
        raise TypeError(
            f"data must be a dataset, a fingerprint mapping or a list of them, got {type(data).__name__} {data!r}"
        )
    else:
        items = [dataset_fingerprint(data)]
    hashed = [{key: value for key, value in item.items() if key != RECORDED_KEY} for item in items]
    return {"datasets": items, "digest": digest(hashed)}


def _is_dataset_map(data: Mapping) -> bool:
    """A ``{name: dataset}`` mapping (rather than a fingerprint, whose values are plain)."""
    return bool(data) and all(isinstance(key, str) and _is_dataset(value) for key, value in data.items())


def _is_dataset(value: Any) -> bool:
    return isinstance(value, torch.utils.data.Dataset) or callable(getattr(value, "fingerprint", None))
