"""The files of a file-based dataset: which are audio, where the dataset's folder is, which file each
listed name is, its metadata rows and header rates, and the errors that say what is missing.

- :func:`resolve_listed_files`: match the names a metadata file lists to the files on disk (one
  directory scan, no per-file stat), accepting another audio extension for the same stem (a FLAC
  copy of a dataset whose listing says ``.wav``), and raise one error naming the missing ones.
- :func:`find_dataset_folder`, :func:`dataset_not_found`, :func:`reject_unknown_options`: the
  layout search and the error messages the real datasets share.

The dataset class they build on is :class:`~workbench.data.folder.ListedAudioDataset`, which
re-exports these names.
"""

from __future__ import annotations

import csv
import os
import warnings
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import soundfile

from workbench.data.records import ClipRecord, DatasetInfo
from workbench.errors import AudioError, DatasetNotFoundError, MissingFileError, UnknownNameError, WorkbenchError
from workbench.typing import SampleRate

_EXTENSION_FORMATS = {
    ".wav": "WAV",
    ".flac": "FLAC",
    ".ogg": "OGG",
    ".oga": "OGG",
    ".opus": "OGG",
    ".mp3": "MP3",
    ".aiff": "AIFF",
    ".aif": "AIFF",
    ".au": "AU",
    ".w64": "W64",
    ".rf64": "RF64",
    ".caf": "CAF",
}
AUDIO_EXTENSIONS: tuple[str, ...] = tuple(
    extension
    for extension, file_format in _EXTENSION_FORMATS.items()
    if file_format in soundfile.available_formats()
)
"""File extensions of the audio formats this machine's libsndfile reads."""

_MISSING_SHOWN = 5


class MetadataError(WorkbenchError, ValueError):
    """A dataset's metadata file (CSV or list) that is malformed; the message names file and line."""


def first_few(items: Sequence[str], separator: str = ", ") -> str:
    """The first five items joined, and how many more there are."""
    more = f" and {len(items) - _MISSING_SHOWN} more" if len(items) > _MISSING_SHOWN else ""
    return separator.join(items[:_MISSING_SHOWN]) + more


def is_audio_file(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in AUDIO_EXTENSIONS


def reject_unknown_options(dataset: str, options: Mapping[str, Any], valid: Iterable[str]) -> None:
    """Raise UnknownNameError for the first option not in ``valid`` (the message lists the valid ones)."""
    valid = list(valid)
    for option in options:
        if option not in valid:
            raise UnknownNameError(f"option of dataset {dataset!r}", option, valid)


def check_split(dataset: str, split: str | None, splits: Sequence[str]) -> None:
    """Raise ValueError unless ``split`` is None or one of the dataset's ``splits`` (listed in the message)."""
    if split is not None and split not in splits:
        raise ValueError(f"{dataset}: split must be one of {list(splits)} or None, got {split!r}")


def find_dataset_folder(
    root: Path, candidates: Sequence[str], marker: str, path: str | os.PathLike | None = None
) -> tuple[Path | None, list[Path]]:
    """Find the folder holding a dataset, identified by a ``marker`` file or folder inside it.

    Looks at ``path`` alone when given; otherwise at ``root`` itself (``root`` is the dataset
    folder) and then ``root / candidate`` for each candidate folder name.

    Returns:
        ``(folder or None, the folders looked at)``.
    """
    places = [Path(path).expanduser()] if path is not None else [root, *(root / name for name in candidates)]
    for place in places:
        if (place / marker).exists():
            return place, places
    return None, places


def dataset_not_found(
    name: str, looked_in: Sequence[Path], layout: Sequence[str], info: DatasetInfo
) -> DatasetNotFoundError:
    """The error for an absent dataset: where it was looked for, where the files go, how to get them."""
    places = "\n".join(f"    {place}" for place in looked_in)
    expected = "\n".join(f"    {line}" for line in layout)
    return DatasetNotFoundError(
        f"dataset {name!r} not found; looked in\n{places}\n"
        f"Put the files in the official layout:\n{expected}\n"
        f"Get them from {info.url} (licence: {info.licence}): {info.obtain};\n"
        f"or run `workbench download {name}`."
    )


def resolve_listed_files(
    directory: Path, names: Sequence[str], *, listing: Path, remedy: str
) -> list[Path]:
    """Map each listed name (relative to ``directory``) to the file that holds it.

    A name resolves to the file of that exact name or, failing that, to a file with the same stem
    and another audio extension (the first in sorted order when several exist). Each folder is
    scanned once, so this costs a directory listing, not a stat per clip.

    Raises:
        MissingFileError: some names resolve to nothing; the message names the listing, the count
            and up to five of them, and ends with ``remedy``.
    """
    scanned: dict[Path, tuple[set[str], dict[str, list[str]]]] = {}

    def scan(folder: Path) -> tuple[set[str], dict[str, list[str]]]:
        if folder not in scanned:
            present: set[str] = set()
            by_stem: dict[str, list[str]] = {}
            if folder.is_dir():
                with os.scandir(folder) as entries:
                    for entry in entries:
                        present.add(entry.name)
                        if is_audio_file(entry.name):
                            by_stem.setdefault(os.path.splitext(entry.name)[0], []).append(entry.name)
            scanned[folder] = (present, by_stem)
        return scanned[folder]

    resolved: list[Path] = []
    missing: list[str] = []
    for name in names:
        relative = PurePosixPath(name)
        folder = directory.joinpath(*relative.parent.parts)
        present, by_stem = scan(folder)
        if relative.name in present:
            resolved.append(folder / relative.name)
        elif alternatives := by_stem.get(relative.stem):
            resolved.append(folder / sorted(alternatives)[0])
        else:
            missing.append(name)
    if missing:
        raise MissingFileError(
            f"{listing} lists {len(missing)} file(s) missing from {directory}: {first_few(missing)} "
            f"(looked for each name, and for its stem with any of {', '.join(AUDIO_EXTENSIONS)}). {remedy}"
        )
    return resolved


def read_csv_rows(path: Path, required: Sequence[str], delimiter: str = ",") -> list[dict[str, str]]:
    """Rows of a CSV file with a header (or a tab-separated one, ``delimiter="\\t"``), checking the
    ``required`` columns are present; keys and values are stripped.

    Raises:
        MissingFileError: the file does not exist.
        MetadataError: no header, or a required column is absent.
    """
    if not path.is_file():
        raise MissingFileError(f"metadata file not found: {path}")
    with open(path, newline="", encoding="utf-8-sig") as stream:
        reader = csv.DictReader(stream, delimiter=delimiter)
        columns = [column.strip() for column in reader.fieldnames or []]
        absent = [column for column in required if column not in columns]
        if absent:
            separated = "tab-separated " if delimiter == "\t" else ""
            raise MetadataError(
                f"{path}: missing column(s) {', '.join(absent)}; the {separated}header must name "
                f"{', '.join(required)} (found: {', '.join(columns) or 'no header'})"
            )
        return [{key.strip(): (value or "").strip() for key, value in row.items() if key} for row in reader]


def parse_int(value: str, *, path: Path, line: int, column: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise MetadataError(f"{path}, line {line}: column {column!r} must be an integer, got {value!r}") from None


def highest_header_rate(records: Sequence[ClipRecord], directory: Path) -> SampleRate:
    """The highest header rate of the records' files; one warning when they differ."""
    rates = Counter(header_rate(record.path) for record in records)
    highest = max(rates)
    if len(rates) > 1:
        listed = ", ".join(f"{count} at {rate} Hz" for rate, count in sorted(rates.items()))
        warnings.warn(
            f"{directory}: the files' sample rates differ ({listed}); every file is resampled on its own "
            f"to {highest} Hz, the highest (pass sample_rate=<rate>, e.g. your encoder's, to choose)",
            stacklevel=3,
        )
    return highest


def header_rate(path: Path | None) -> SampleRate:
    """The sample rate in an audio file's header (reads no samples)."""
    try:
        return int(soundfile.info(str(path)).samplerate)
    except (soundfile.LibsndfileError, RuntimeError, TypeError) as error:
        raise AudioError(f"{path}: unreadable audio file ({error})") from error
