"""One registry of pretrained weights: name -> where the file is, how to build and fill the model.

A :class:`PretrainedSpec` says where the official checkpoint lives (a
:class:`~workbench.data.download.RemoteFile`: URL, sha256, file name), how to build our module
(``build``), how to map the official state_dict onto it (``convert``: unwrap ``ckpt["model"]``,
rename a prefix; then ``load_state_dict(strict=True)``), which front-end the weights expect, and
their licence. Recipes and model files register their specs; the registry starts empty.

Checksums: :data:`PUBLISHED_CHECKSUMS` holds the sha256 and size of each official file the model
files register, with where each value comes from; :func:`register_pretrained` fills them into a
spec whose file has none, so a file in the cache that is not the official one (e.g. random weights
saved at its path) is refused with an error naming the file, the expected sha256 and what to do.
Where no checksum could be found, :func:`checksum_status` says ``"unverified"`` (``workbench
weights`` shows it), the loader warns once per model, and the sha256 it computes is recorded on the
returned encoder (``encoder.weights_record``) and in :func:`loaded_weights`, for a run to store.

:func:`load_pretrained` returns the encoder in eval mode, from a local file (``path=``) or from
``cache_dir()/weights/<filename>``, downloaded and verified on first use. Loading never executes
pickled code (``torch.load(..., weights_only=True)``). Every failure says which file and what to do:
offline, the message names the URL, the file, its sha256 and where to put it by hand; a corrupt
file says to delete it; a layout mismatch lists the missing and unexpected keys and wrong shapes.

Reading and fitting a checkpoint (and the converters) live in :mod:`workbench.models.checkpoints`, the
published checksums in :mod:`workbench.models.checksums`; both are re-exported here.
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from workbench.data.download import ChecksumError, RemoteFile, _check_existing, fetch
from workbench.errors import CheckpointError, MissingFileError, UnknownNameError, user_stacklevel
from workbench.models.base import Encoder
# Re-exported: the model files and tests import the checksums, readers and converters from here.
from workbench.models.checkpoints import (  # noqa: F401
    StateDict,
    chain,
    load_state_dict_strict,
    numpy_safe_globals,
    read_checkpoint,
    rename_prefix,
    unwrap,
)
from workbench.models.checksums import PUBLISHED_CHECKSUMS, PublishedChecksum  # noqa: F401
from workbench.models.digest import file_sha256
from workbench.paths import cache_dir, shared_dir


def _identity(checkpoint: Any) -> Any:
    return checkpoint


@dataclass(frozen=True)
class PretrainedSpec:
    """Everything needed to turn an official checkpoint file into one of our encoders.

    Args:
        name: registry name (``workbench.models.load_pretrained(name)``).
        description: one line for listings: architecture, training data, paper.
        remote: the official file (URL, sha256, file name).
        build: makes the untrained encoder whose ``state_dict`` the converted checkpoint fills.
        convert: official checkpoint (what ``torch.load`` returns) -> our state_dict; e.g.
            ``chain(unwrap("model"), rename_prefix("module.", ""))``. Default: unchanged.
        frontend: the front-end the weights were trained with, e.g. ``"log-mel 64 bins, 16 kHz"``.
        licence: the licence of the weights.
    """

    name: str
    description: str
    remote: RemoteFile
    build: Callable[[], Encoder]
    convert: Callable[[Any], Mapping[str, torch.Tensor]] = _identity
    frontend: str = ""
    licence: str = ""


def _with_published_checksum(entry: PretrainedSpec) -> PretrainedSpec:
    """``entry`` with the published sha256 and size of its file filled in (a conflicting one is an error)."""
    published = PUBLISHED_CHECKSUMS.get(entry.remote.filename)
    if published is None:
        return entry
    registered = (entry.remote.sha256, entry.remote.size_bytes)
    if registered[0] not in (None, published.sha256) or registered[1] not in (None, published.size_bytes):
        raise ValueError(
            f"pretrained model {entry.name!r}: its file {entry.remote.filename} is registered with sha256 "
            f"{registered[0]} and size {registered[1]}, but the published ones are {published.sha256} and "
            f"{published.size_bytes} ({published.source}); fix the spec or "
            f"workbench.models.registry.PUBLISHED_CHECKSUMS"
        )
    size = published.size_bytes if published.size_bytes is not None else entry.remote.size_bytes
    if registered == (published.sha256, size):
        return entry
    remote = dataclasses.replace(entry.remote, sha256=published.sha256, size_bytes=size)
    return dataclasses.replace(entry, remote=remote)


_SPECS: dict[str, PretrainedSpec] = {}


def register_pretrained(spec: PretrainedSpec, *, replace: bool = False) -> PretrainedSpec:
    """Add ``spec`` to the registry; a second spec under the same name needs ``replace=True``.

    A spec whose file has no sha256 gets the one in :data:`PUBLISHED_CHECKSUMS` (the returned spec
    is the registered one).

    Raises:
        ValueError: the name is taken, or the spec's sha256 contradicts the published one.
    """
    if spec.name in _SPECS and not replace:
        raise ValueError(f"pretrained model {spec.name!r} is registered twice; pass replace=True to override")
    spec = _with_published_checksum(spec)
    _SPECS[spec.name] = spec
    return spec


def unregister_pretrained(name: str) -> None:
    """Remove a registered spec (tests, and notebooks that redefine a model)."""
    if name not in _SPECS:
        raise UnknownNameError("pretrained model", name, names())
    del _SPECS[name]


def names() -> list[str]:
    """Names of every registered pretrained model, sorted."""
    return sorted(_SPECS)


def spec(name: str) -> PretrainedSpec:
    """The registered spec of ``name``; UnknownNameError (listing the names) when there is none."""
    if name not in _SPECS:
        raise UnknownNameError("pretrained model", name, names())
    return _SPECS[name]


def weights_path(name: str) -> Path:
    """Where the weights of ``name`` live in the cache: ``cache_dir()/weights/<filename>``."""
    return cache_dir() / "weights" / spec(name).remote.filename


def checksum_status(name: str) -> str:
    """How a cached download of ``name`` is verified: ``"sha256"``, ``"size only"`` or ``"unverified"``."""
    remote = spec(name).remote
    if remote.sha256 is not None:
        return "sha256"
    return "size only" if remote.size_bytes is not None else "unverified"


WEIGHTS_VARIABLE = "WORKBENCH_WEIGHTS"
"""A lab's shared weights folder (several folders separated by ``os.pathsep``), searched before the cache
and any download; ``$WORKBENCH_SHARED/weights`` is searched after it."""


def weights_mirrors() -> list[Path]:
    """The folders searched for a checkpoint before the cache and any download, in order: every folder in
    ``$WORKBENCH_WEIGHTS`` (``os.pathsep``-separated), then ``$WORKBENCH_SHARED/weights``."""
    listed = [Path(part).expanduser() for part in os.environ.get(WEIGHTS_VARIABLE, "").split(os.pathsep) if part]
    return [*listed, shared_dir() / "weights"]


def _in_mirror(name: str) -> Path | None:
    """The first ``<mirror>/<filename>`` or ``<mirror>/<name>/<filename>`` that exists, else None."""
    filename = spec(name).remote.filename
    for folder in weights_mirrors():
        for candidate in (folder / filename, folder / name / filename):
            if candidate.is_file():
                return candidate
    return None


def download_weights(name: str, *, offline: bool | None = None, progress: bool = True) -> Path:
    """The verified weights file of ``name``: from a mirror folder (:func:`weights_mirrors`), else the
    cache, else downloaded into the cache (verifying the sha256).

    A mirror's file is read where it is (never copied) once its sha256 (or, where none is published, its
    size) matches; a file that does not match is refused rather than passed over, so a wrong copy in a
    lab's folder is noticed.

    Raises:
        UnknownNameError: no such model.
        MissingFileError: in no mirror, not in the cache and cannot be downloaded; the message names the
            URL, the file, its sha256, where to put it by hand and the mirror folders searched.
        CheckpointError: the file in a mirror or the cache, or the one downloaded, has the wrong sha256.
    """
    remote = spec(name).remote
    mirrored = _in_mirror(name)
    if mirrored is not None:
        try:
            _check_existing(remote, mirrored)
        except ChecksumError as error:
            raise CheckpointError(
                f"{error} It was found in the weights mirror {mirrored.parent} ({WEIGHTS_VARIABLE} or "
                f"$WORKBENCH_SHARED/weights), which is searched before any download."
            ) from error
        return mirrored
    target = weights_path(name)
    if remote.sha256 is not None and remote.size_bytes is not None and target.is_file():
        size = target.stat().st_size  # a cheap first check before hashing hundreds of MB
        if size != remote.size_bytes:
            raise CheckpointError(
                f"{target} is not the official {remote.filename} of {name!r}: it has {size:,} bytes, expected "
                f"{remote.size_bytes:,} (sha256 {remote.sha256}). Delete it (or replace it with the file from "
                f"{remote.url}) and run again; to load your own weights, pass path= instead of using the cache."
            )
    try:
        return fetch(remote, target.parent, offline=offline, progress=progress)
    except ChecksumError as error:
        raise CheckpointError(
            f"{error} To load weights of your own, pass path= instead of saving them in the cache."
        ) from error
    except MissingFileError as error:
        searched = ", ".join(str(folder) for folder in weights_mirrors())
        raise MissingFileError(
            f"{error}\nOr put it in a weights mirror folder (searched first, as <folder>/{remote.filename} or "
            f"<folder>/{name}/{remote.filename}): {searched}; set {WEIGHTS_VARIABLE} to a lab's weights folder."
        ) from error


class UnverifiedWeightsWarning(UserWarning):
    """Weights loaded from a file whose official sha256 is unknown (see :func:`checksum_status`)."""


@dataclass(frozen=True)
class WeightsRecord:
    """Which weights file an encoder was loaded from, for a run to store with its results.

    Args:
        name: the registry name.
        path: the file read.
        sha256: the file's sha256 (computed, or the published one that the cache verified).
        size_bytes: the file's size.
        verified: the file is the official one (its sha256 equals the published one).
    """

    name: str
    path: str
    sha256: str
    size_bytes: int
    verified: bool

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


_LOADED: dict[str, WeightsRecord] = {}
_WARNED: set[str] = set()


def loaded_weights() -> dict[str, WeightsRecord]:
    """The weights file of every model :func:`load_pretrained` returned in this process, by name."""
    return dict(_LOADED)


def _record(name: str, file: Path, from_cache: bool) -> WeightsRecord:
    remote = spec(name).remote
    # A cached file of a checksummed spec was just hashed by fetch; hash only what nothing verified.
    digest = remote.sha256 if from_cache and remote.sha256 else file_sha256(file)  # hashed once per file version
    record = WeightsRecord(name, str(file), digest, file.stat().st_size, digest == remote.sha256)
    # A file passed as path= is the caller's choice (often a fine-tuned copy): recorded, not warned about.
    if remote.sha256 is None and from_cache and name not in _WARNED:
        _WARNED.add(name)
        warnings.warn(
            f"{name}: no published sha256 is known for {remote.filename}, so {file} is loaded unverified; "
            f"its sha256 is {digest} ({record.size_bytes:,} bytes), recorded in encoder.weights_record and "
            f"workbench.models.registry.loaded_weights() for the run to keep.",
            UnverifiedWeightsWarning,
            stacklevel=user_stacklevel(),  # the user's call, not a recipe's or the zoo's line
        )
    _LOADED[name] = record
    return record


def load_pretrained(name: str, path: str | os.PathLike | None = None) -> Encoder:
    """Build the encoder registered as ``name`` and fill it with its pretrained weights.

    Args:
        name: a name from :func:`names`.
        path: a local checkpoint file to load instead of the cached download (not checksummed, so
            fine-tuned copies load too; the strict key/shape check still applies).

    Returns:
        The encoder in eval mode, on the CPU, with ``weights_record`` (a :class:`WeightsRecord`: the
        file, its sha256 and whether it is the official one). Cached weights without a published
        sha256 warn once per name (:class:`UnverifiedWeightsWarning`); a ``path=`` file is recorded
        without a warning.

    Raises:
        UnknownNameError: no such model (the message lists the registered ones).
        MissingFileError: ``path`` does not exist, or the weights are not cached and cannot be
            downloaded (the message names URL, file, sha256 and where to put it).
        CheckpointError: the file is corrupt, fails its checksum (e.g. other weights saved at the
            cache path of a verified checkpoint), or does not fit the model.
    """
    entry = spec(name)
    if path is not None:
        file = Path(path).expanduser()
        if not file.is_file():
            raise MissingFileError(
                f"checkpoint file not found: {file}. Pass the path of the official {entry.remote.filename} "
                f"(from {entry.remote.url}), or omit path to use the cached download."
            )
    else:
        file = download_weights(name)
    checkpoint = read_checkpoint(file)
    try:
        state = entry.convert(checkpoint)
    except (KeyError, TypeError, AttributeError, ValueError) as error:
        raise CheckpointError(
            f"{file}: converting the checkpoint for {name!r} failed ({type(error).__name__}: {error}); "
            f"is it the official {entry.remote.filename}?"
        ) from error
    if not isinstance(state, Mapping):
        raise CheckpointError(f"{file}: the checkpoint for {name!r} is a {type(state).__name__}, not a state_dict")
    model = entry.build()
    load_state_dict_strict(model, state, source=str(file))
    model.weights_record = _record(name, file, from_cache=path is None)
    return model.eval()
