"""Downloads that are verified, resumable by hand, and safe to extract.

Every file the workbench fetches (dataset archives, pretrained weights) is described by a
:class:`~workbench.data.records.RemoteFile` (URL, published sha256, file name; re-exported here) and
goes through :func:`fetch`:

- a file already in place with the right sha256 is used as is, so a file put there by hand (on a
  machine without network) is picked up without any download;
- otherwise it is downloaded to a temporary file beside its destination, hashed while it streams,
  and renamed into place only when the checksum matches (:mod:`workbench.atomic`);
- offline (``WORKBENCH_OFFLINE=1``, or no connection) the error names the URL, the file, its sha256
  and the exact path where to put it by hand.

:func:`extract` unpacks ``.zip``/``.tar.gz``/``.tgz``/``.tar`` archives and refuses members that
would land outside the destination. :func:`download_dataset` ties both to the dataset registry:
each registered :class:`~workbench.data.records.DatasetInfo` lists its ``remotes`` and the
``folder`` under the data root where the extracted files go.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath, PureWindowsPath

from workbench.progress import tqdm

from workbench.atomic import atomic_path, remove_stale_temporaries
from workbench.data import registry
from workbench.data.records import RemoteFile
from workbench.errors import DatasetNotFoundError, MissingFileError, UnknownNameError, WorkbenchError
from workbench.paths import data_root

OFFLINE_VARIABLE = "WORKBENCH_OFFLINE"
"""Set to 1 (or true/yes) to never touch the network; missing files then raise with instructions."""

ARCHIVES_FOLDER = "archives"
"""Where :func:`download_dataset` puts (and looks for) archives, under the data root."""

_CHUNK_BYTES = 1 << 20
_CONNECT_TIMEOUT_SECONDS = 30


class ChecksumError(WorkbenchError, ValueError):
    """A file whose sha256 (or size) differs from the published one."""


class ArchiveError(WorkbenchError, ValueError):
    """An archive that cannot be extracted safely, or whose contents are not what was expected."""


def sha256sum(path: str | os.PathLike) -> str:
    """SHA-256 hex digest of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def is_offline() -> bool:
    """True when ``WORKBENCH_OFFLINE`` asks the workbench never to use the network."""
    return os.environ.get(OFFLINE_VARIABLE, "").strip().lower() in ("1", "true", "yes", "on")


def _describe(remote: RemoteFile) -> str:
    checksum = remote.sha256 or "(none published; the contents are checked after extraction)"
    lines = [f"  URL:      {remote.url}", f"  file:     {remote.filename}", f"  sha256:   {checksum}"]
    if remote.size_bytes is not None:
        lines.append(f"  size:     {remote.size_bytes:,} bytes")
    return "\n".join(lines)


def _by_hand_message(remote: RemoteFile, target: Path, reason: str, *, offline: bool = False) -> str:
    hint = "" if offline else f"\n(Set {OFFLINE_VARIABLE}=1 to never try the network.)"
    return (
        f"cannot download {remote.filename}: {reason}.\n"
        f"Download it by hand and put it at exactly\n    {target}\n"
        f"then run the same command again.\n{_describe(remote)}{hint}"
    )


def _check_existing(remote: RemoteFile, target: Path) -> None:
    """Raise ChecksumError when the file in place is not the published one."""
    if remote.sha256 is not None:
        actual = sha256sum(target)
        if actual != remote.sha256:
            raise ChecksumError(
                f"{target} is not the expected {remote.filename}: its sha256 is {actual}, "
                f"expected {remote.sha256}. Delete it (or replace it with the file from "
                f"{remote.url}) and run again."
            )
    elif remote.size_bytes is not None and (size := target.stat().st_size) != remote.size_bytes:
        raise ChecksumError(
            f"{target} is not the expected {remote.filename}: it has {size:,} bytes, expected "
            f"{remote.size_bytes:,}. Delete it (or replace it with the file from {remote.url}) and run again."
        )


def fetch(
    remote: RemoteFile,
    directory: str | os.PathLike,
    *,
    offline: bool | None = None,
    progress: bool = True,
) -> Path:
    """Return ``directory / remote.filename``, downloading and verifying it first if needed.

    Args:
        remote: what to fetch.
        directory: where the file lives (created if absent).
        offline: never use the network; None reads ``WORKBENCH_OFFLINE``.
        progress: show a ``tqdm`` progress bar while downloading.

    Returns:
        The path of the verified file.

    Raises:
        ChecksumError: the file in place, or the one just downloaded, has the wrong sha256 (or
            size); a bad download is not kept.
        MissingFileError: the file is absent and cannot be downloaded (offline, no connection, HTTP
            error); the message names the URL, the file, its sha256 and where to put it by hand.
    """
    target = Path(directory) / remote.filename
    if target.is_file():
        _check_existing(remote, target)
        return target
    if is_offline() if offline is None else offline:
        reason = f"offline mode ({OFFLINE_VARIABLE}=1 or offline=True)"
        raise MissingFileError(_by_hand_message(remote, target, reason, offline=True))
    try:
        response = urllib.request.urlopen(remote.url, timeout=_CONNECT_TIMEOUT_SECONDS)  # noqa: S310
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = f"its URL could not be opened ({error})"
        raise MissingFileError(_by_hand_message(remote, target, reason)) from error

    digest = hashlib.sha256()
    received = 0
    remove_stale_temporaries(target.parent)  # partial files of downloads whose process was killed
    with response, atomic_path(target) as temporary:
        length = response.headers.get("Content-Length", "")
        total = int(length) if length.isdigit() else remote.size_bytes
        bar = tqdm(
            total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=remote.filename, disable=not progress
        )
        try:
            with open(temporary, "wb") as stream, bar:
                while chunk := response.read(_CHUNK_BYTES):
                    stream.write(chunk)
                    digest.update(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
        except OSError as error:  # connection dropped mid-way: the partial file is removed
            raise MissingFileError(
                _by_hand_message(remote, target, f"the download broke off after {received:,} bytes ({error})")
            ) from error
        # Verify before atomic_path renames the file into place; raising here discards it.
        actual = digest.hexdigest()
        if remote.sha256 is not None and actual != remote.sha256:
            raise ChecksumError(
                f"the download of {remote.filename} from {remote.url} has sha256 {actual}, expected "
                f"{remote.sha256}; it was not kept. Try again; if it persists, the file on the server is "
                f"no longer the published one: report it so that the recorded sha256 can be checked."
            )
        if remote.sha256 is None and remote.size_bytes is not None and received != remote.size_bytes:
            raise ChecksumError(
                f"the download of {remote.filename} from {remote.url} has {received:,} bytes, expected "
                f"{remote.size_bytes:,}; it was not kept. Try again, or put the file at {target} by hand."
            )
    return target


def _archive_kind(archive: Path) -> str:
    name = archive.name.lower()
    if name.endswith(".zip"):
        return "zip"
    if name.endswith((".tar.gz", ".tgz", ".tar")):
        return "tar"
    raise ArchiveError(f"{archive}: unsupported archive type; expected .zip, .tar.gz, .tgz or .tar")


def _inside(destination: Path, member_name: str) -> bool:
    """True when ``member_name`` (an archive path) resolves to a place inside ``destination``."""
    if member_name.startswith(("/", "\\")) or PureWindowsPath(member_name).drive:
        return False
    return (destination / member_name).resolve().is_relative_to(destination)


def _refuse(archive: Path, member: str, why: str) -> ArchiveError:
    return ArchiveError(
        f"refusing to extract {archive}: member {member!r} {why}. The archive is corrupt or malicious; "
        f"delete it and download it again."
    )


def extract(archive: str | os.PathLike, destination: str | os.PathLike, *, progress: bool = True) -> Path:
    """Unpack a ``.zip``, ``.tar.gz``, ``.tgz`` or ``.tar`` archive into ``destination``.

    Every member is checked before anything is written: absolute names, ``..`` components and
    links that point outside ``destination`` are refused, as are device files.

    Returns:
        ``destination``.

    Raises:
        MissingFileError: the archive does not exist.
        ArchiveError: unsupported type, unreadable archive, or a member escaping ``destination``.
    """
    archive, destination = Path(archive), Path(destination)
    if not archive.is_file():
        raise MissingFileError(f"archive not found: {archive}")
    kind = _archive_kind(archive)
    destination.mkdir(parents=True, exist_ok=True)
    root = destination.resolve()
    try:
        if kind == "zip":
            with zipfile.ZipFile(archive) as bundle:
                members = bundle.infolist()
                for member in members:
                    if not _inside(root, member.filename):
                        raise _refuse(archive, member.filename, "would be written outside the destination")
                for member in tqdm(members, desc=f"extract {archive.name}", unit="file", disable=not progress):
                    bundle.extract(member, root)
        else:
            with tarfile.open(archive) as bundle:
                members = bundle.getmembers()
                for member in members:
                    if not _inside(root, member.name):
                        raise _refuse(archive, member.name, "would be written outside the destination")
                    if member.issym() or member.islnk():
                        # A link's target is relative to the link's folder (hard links: to the archive root).
                        base = PurePosixPath(member.name).parent if member.issym() else PurePosixPath()
                        if not _inside(root, str(base / member.linkname)):
                            why = f"links outside the destination ({member.linkname})"
                            raise _refuse(archive, member.name, why)
                    elif not (member.isfile() or member.isdir()):
                        raise _refuse(archive, member.name, "is a device or special file")
                for member in tqdm(members, desc=f"extract {archive.name}", unit="file", disable=not progress):
                    bundle.extract(member, root, filter="data")
    except (zipfile.BadZipFile, tarfile.TarError, EOFError) as error:
        raise ArchiveError(
            f"{archive} is not a readable archive ({error}); delete it and download it again"
        ) from error
    return destination


def _lay_out(extracted: Path, target: Path) -> None:
    """Move the extracted contents to ``target``: an archive's single top folder becomes ``target``."""
    entries = [entry for entry in extracted.iterdir() if entry.name not in ("__MACOSX",)]
    content = entries[0] if len(entries) == 1 and entries[0].is_dir() else extracted
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(content, target)


def download_dataset(
    name: str,
    root: str | os.PathLike | None = None,
    *,
    offline: bool | None = None,
    progress: bool = True,
    keep_archives: bool = False,
) -> Path:
    """Download, verify and unpack a registered dataset into ``root / info.folder``.

    Steps: if the dataset already loads from ``root`` it is left alone (no network). Otherwise each
    of ``info.remotes`` is fetched into ``root/archives`` (a file already there with the right
    sha256 is used, so archives can be put there by hand), extracted into a temporary folder beside
    the destination and moved into place in one rename; an archive whose only entry is a folder
    (``ESC-50-master/``) has that folder renamed. Finally the dataset is built from its metadata,
    which checks every listed file exists, and its clip count is compared with
    ``info.expected_clips`` where the registry gives one (the check that stands in for a checksum
    where none is published).

    Args:
        name: a registered dataset with ``remotes`` (see :func:`downloadable`).
        root: the data root; default :func:`workbench.paths.data_root`.
        offline: never use the network; None reads ``WORKBENCH_OFFLINE``.
        progress: show progress bars.
        keep_archives: keep the downloaded archives after a successful extraction.

    Returns:
        The dataset folder.

    Raises:
        UnknownNameError: ``name`` is not a downloadable dataset.
        MissingFileError: an archive cannot be downloaded (the message says where to put it by hand).
        ChecksumError: an archive has the wrong sha256.
        ArchiveError: an archive is unsafe, or the extracted dataset is incomplete.
    """
    info = registry.info(name)
    if not info.remotes:
        raise UnknownNameError("downloadable dataset", name, downloadable())
    root = Path(root) if root is not None else data_root()
    target = root / info.folder
    try:
        return _verify_dataset(name, root, target)
    except DatasetNotFoundError as error:
        if target.exists():
            raise ArchiveError(
                f"{target} exists but does not hold {name}: {error}\nMove it away or delete it, then "
                f"run `workbench download {name}` again."
            ) from error
    archives = [
        fetch(remote, root / ARCHIVES_FOLDER, offline=offline, progress=progress) for remote in info.remotes
    ]
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=root, prefix=f".{name}-extracting-"))
    try:
        for archive in archives:
            extract(archive, staging, progress=progress)
        _lay_out(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    folder = _verify_dataset(name, root, target)
    if not keep_archives:
        for archive in archives:
            archive.unlink(missing_ok=True)
    return folder


def _verify_dataset(name: str, root: Path, target: Path) -> Path:
    """Build the dataset (checks every listed file exists), compare its size with the registry's,
    and return the folder it was read from."""
    dataset = registry.get(name, root)
    folder = Path(getattr(dataset, "directory", target))
    expected = registry.info(name).expected_clips
    if expected is not None and len(dataset) != expected:
        raise ArchiveError(
            f"{name} at {folder} has {len(dataset)} clips, expected {expected}: the files are incomplete "
            f"or from another release. Move {folder} away and run `workbench download {name}` again."
        )
    return folder


def downloadable() -> list[str]:
    """Names of the registered datasets that :func:`download_dataset` can fetch."""
    return [name for name in registry.names() if registry.info(name).remotes]
