"""Datasets read from a folder of audio files, and the pieces every file-based dataset shares.

- :class:`ListedAudioDataset`: a dataset whose clips are listed once, up front, as
  :class:`~workbench.data.records.ClipRecord` (metadata only; audio is read on indexing). ESC-50,
  FSDD and Speech Commands derive from it and only build their records.
- :func:`resolve_listed_files`: match the names a metadata file lists to the files on disk (one
  directory scan, no per-file stat), accepting another audio extension for the same stem (a FLAC
  copy of a dataset whose listing says ``.wav``), and raise one error naming the missing ones.
- :func:`find_dataset_folder`, :func:`dataset_not_found`, :func:`reject_unknown_options`: the
  layout search and the error messages the real datasets share.
- ``"folder"``: bring your own data. A folder of audio plus a CSV ``filename,label[,fold][,split]``
  (``;`` between labels makes it multi-label), or one subfolder per class.
"""

from __future__ import annotations

import csv
import hashlib
import os
import warnings
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import soundfile
import torch

from workbench.audio.io import load, resample
from workbench.data.records import AudioDataset, ClipRecord, DatasetInfo, TargetKind
from workbench.data.registry import register
from workbench.errors import AudioError, DatasetNotFoundError, MissingFileError, UnknownNameError, WorkbenchError
from workbench.typing import SampleRate, Seconds

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


def _first_few(items: Sequence[str], separator: str = ", ") -> str:
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
            f"{listing} lists {len(missing)} file(s) missing from {directory}: {_first_few(missing)} "
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


class ListedAudioDataset(AudioDataset):
    """A dataset whose clips are a list of :class:`ClipRecord` read from metadata; audio on demand.

    Args:
        records: one per clip; ``path`` set, ``target`` an int (``"class"``) or a tuple of class
            indices (``"multilabel"``).
        classes: class names in target order.
        directory: the dataset folder (reported in ``repr`` and by downloads).
        sample_rate: rate of the returned waveforms; every file is resampled on its own, from its
            own rate, where that differs. None takes the rate from the files' headers (see
            ``rate_from``).
        default_rate: the rate declared when ``sample_rate`` is None and there are no clips.
        rate_from: with ``sample_rate`` None, ``"first"`` reads the first file's header (an official
            copy has one rate; a file at a higher rate is an error when it is read, naming it,
            since resampling it down would band-limit it), ``"highest"`` reads every header and takes
            the highest rate (a folder of mixed rates: no clip loses bandwidth; one warning lists
            the rates), ``"declared"`` takes ``default_rate`` (a dataset whose official files mix
            rates, such as UrbanSound8K).
        mono: average channels to one.
        target_kind: ``"class"`` or ``"multilabel"``.
        duration: clip length in seconds when all clips have the same length.

    Indexing returns ``(waveform (channels, samples) float32, target, meta)``; ``meta`` holds ``id``,
    ``path``, ``fold``/``split`` where the record has them, and the record's ``extra`` fields.
    """

    def __init__(
        self,
        records: Sequence[ClipRecord],
        *,
        classes: Sequence[str],
        directory: Path,
        sample_rate: SampleRate | None = None,
        default_rate: SampleRate,
        mono: bool = True,
        target_kind: TargetKind = "class",
        duration: Seconds | None = None,
        rate_from: str = "first",
    ):
        if sample_rate is not None and (
            isinstance(sample_rate, bool) or not float(sample_rate).is_integer() or sample_rate <= 0
        ):
            raise ValueError(f"sample_rate must be a positive integer or None, got {sample_rate!r}")
        if target_kind not in ("class", "multilabel"):
            raise ValueError(f"{type(self).__name__} holds class or multilabel targets, not {target_kind!r}")
        self.records = list(records)
        self.classes = tuple(classes)
        self.directory = Path(directory)
        self.mono = bool(mono)
        self.target_kind = target_kind
        self.duration = duration
        self.folds = tuple(sorted({record.fold for record in self.records if record.fold is not None}))
        _check_unique_ids(self.records, self.directory)
        self._rate_given = sample_rate is not None
        if rate_from not in ("first", "highest", "declared"):
            raise ValueError(f"rate_from must be 'first', 'highest' or 'declared', got {rate_from!r}")
        if sample_rate is not None:
            self.sample_rate = int(sample_rate)
        elif not self.records or rate_from == "declared":
            self._rate_given = rate_from == "declared"
            self.sample_rate = int(default_rate)
        elif rate_from == "first":
            self.sample_rate = _header_rate(self.records[0].path)
        else:
            self.sample_rate = _highest_rate(self.records, self.directory)

    def __len__(self) -> int:
        return len(self.records)

    def fold_of(self, index: int) -> int | None:
        return self.records[index].fold

    def split_of(self, index: int) -> str | None:
        return self.records[index].split

    group_key: str | None = "group"
    """The ``extra`` field naming each clip's source group (ESC-50 ``src_file``, a speaker, a Freesound
    id); None where clips have no groups."""

    def group_of(self, index: int) -> str | None:
        if self.group_key is None:
            return None
        value = self.records[index].extra.get(self.group_key)
        return None if value in (None, "") else str(value)

    def _target(self, record: ClipRecord) -> Any:
        if self.target_kind == "multilabel":
            multi_hot = torch.zeros(self.n_classes)
            multi_hot[list(record.target)] = 1.0
            return multi_hot
        return record.target

    def targets(self) -> list[Any]:
        return [self._target(record) for record in self.records]

    def clip_ids(self) -> list[str]:
        return [str(record.id) for record in self.records]

    def fingerprint(self) -> dict[str, Any]:
        """The folder, file count and bytes, and a sha256 over each clip's relative path, size,
        modification time (ns), id, target, fold and split and the class names (one ``stat`` per
        file, no audio read)."""
        digest = hashlib.sha256()
        total_bytes = 0
        for record in self.records:
            if record.path is None:
                size, mtime, name = -1, -1, ""
            else:
                path = Path(record.path)
                try:
                    status = path.stat()
                    size, mtime = status.st_size, status.st_mtime_ns
                except FileNotFoundError:
                    size, mtime = -1, -1
                try:
                    name = path.relative_to(self.directory).as_posix()
                except ValueError:
                    name = str(path)
            total_bytes += max(size, 0)
            target = list(record.target) if isinstance(record.target, tuple) else record.target
            digest.update(f"{name}\t{size}\t{mtime}\t{record.id}\t{target}\t{record.fold}\t{record.split}\n".encode())
        digest.update("\t".join(self.classes).encode())
        return {
            "kind": "files",
            "class": f"{type(self).__module__}.{type(self).__qualname__}",
            "directory": str(self.directory),
            "clips": len(self.records),
            "bytes": total_bytes,
            "files": digest.hexdigest(),
            "classes": len(self.classes),
            "sample_rate": int(self.sample_rate),
            "mono": self.mono,
            "target_kind": self.target_kind,
        }

    def __getitem__(self, index: int) -> tuple[torch.Tensor, Any, dict[str, Any]]:
        record = self.records[index]
        waveform, file_rate = load(record.path, None, mono=self.mono)
        if file_rate > self.sample_rate and not self._rate_given:
            raise AudioError(
                f"{record.path} is at {file_rate} Hz, above the dataset's {self.sample_rate} Hz (the rate of "
                f"its first file, {self.records[0].path}); the copy mixes sample rates, and resampling this "
                f"file down would cut its band above {self.sample_rate // 2} Hz: pass sample_rate=<rate> "
                f"(e.g. {file_rate}, or your encoder's) to resample every file on its own"
            )
        waveform = resample(waveform, file_rate, self.sample_rate)
        meta: dict[str, Any] = {"id": record.id, "path": str(record.path)}
        if record.fold is not None:
            meta["fold"] = record.fold
        if record.split is not None:
            meta["split"] = record.split
        meta.update(record.extra)
        return waveform, self._target(record), meta

    def __repr__(self) -> str:
        return f"{super().__repr__()[:-1]}, directory={str(self.directory)!r})"


def _check_unique_ids(records: Sequence[ClipRecord], directory: Path) -> None:
    """Raise MetadataError when two records share an id (one clip listed twice), naming them."""
    counts = Counter(record.id for record in records)
    repeated = [clip_id for clip_id, count in counts.items() if count > 1]
    if repeated:
        raise MetadataError(
            f"dataset in {directory}: {len(repeated)} clip id(s) listed more than once: "
            f"{_first_few([repr(clip_id) for clip_id in repeated])}; "
            f"each clip must be listed once (remove the repeated rows or files)"
        )


def _highest_rate(records: Sequence[ClipRecord], directory: Path) -> SampleRate:
    """The highest header rate of the records' files; one warning when they differ."""
    rates = Counter(_header_rate(record.path) for record in records)
    highest = max(rates)
    if len(rates) > 1:
        listed = ", ".join(f"{count} at {rate} Hz" for rate, count in sorted(rates.items()))
        warnings.warn(
            f"{directory}: the files' sample rates differ ({listed}); every file is resampled on its own "
            f"to {highest} Hz, the highest (pass sample_rate=<rate>, e.g. your encoder's, to choose)",
            stacklevel=3,
        )
    return highest


def _header_rate(path: Path | None) -> SampleRate:
    """The sample rate in an audio file's header (reads no samples)."""
    try:
        return int(soundfile.info(str(path)).samplerate)
    except (soundfile.LibsndfileError, RuntimeError, TypeError) as error:
        raise AudioError(f"{path}: unreadable audio file ({error})") from error


# --------------------------------------------------------------------------------------------------
# "folder": bring your own data

FOLDER_INFO = DatasetInfo(
    name="folder",
    description="Your own audio: a folder of files plus a CSV of labels, or one subfolder per class.",
    sample_rate=0,
    target_kind="class",
    obtain="pass path=<folder of audio> and labels=<CSV with columns filename,label[,fold][,split]>.",
)
"""``sample_rate`` 0: the rate is that of the files (or the ``sample_rate`` option)."""

FOLDER_OPTIONS = ("path", "labels", "sample_rate", "mono")


class FolderDataset(ListedAudioDataset):
    """Audio files in a folder, labelled by a CSV or by subfolder names.

    Args:
        path: the folder of audio. Relative paths are taken from the working directory, or from
            the data root when they do not exist there.
        labels: CSV with columns ``filename`` (relative to ``path``; another audio extension with
            the same stem is accepted) and ``label``, optionally ``fold`` (int) and ``split`` (str).
            Several labels separated by ``;`` in any row make the dataset multi-label (targets
            multi-hot over the sorted label names); otherwise targets are class indices over the
            sorted label names. None: every subfolder of ``path`` is a class holding its files.
        sample_rate: the rate of the returned clips (e.g. your encoder's); every file is resampled
            on its own from its own rate. None reads every file's header and takes the highest rate
            (warning once when the rates differ), so no clip is band-limited by another's rate.
        mono: average channels to one.

    Raises:
        DatasetNotFoundError: ``path`` is not a folder.
        MissingFileError: the CSV lists files that do not exist (up to five are named).
        MetadataError: a malformed CSV, no CSV and no class subfolders, or a clip listed on several
            rows (a duplicate, two labels, or two folds/splits such as train and test; the rows are
            named).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        labels: str | os.PathLike | None = None,
        *,
        root: Path | None = None,
        sample_rate: SampleRate | None = None,
        mono: bool = True,
    ):
        directory = Path(path).expanduser()
        if not directory.is_dir() and not directory.is_absolute() and root is not None:
            directory = root / directory if (root / directory).is_dir() else directory
        if not directory.is_dir():
            raise DatasetNotFoundError(
                f"dataset 'folder': {directory} is not a folder; pass path=<folder holding your audio files>"
            )
        if labels is None:
            records, classes = self._records_from_subfolders(directory)
            target_kind: TargetKind = "class"
        else:
            labels_path = Path(labels).expanduser()
            if not labels_path.is_file() and (directory / labels_path).is_file():
                labels_path = directory / labels_path
            records, classes, target_kind = self._records_from_csv(directory, labels_path)
        super().__init__(
            records,
            classes=classes,
            directory=directory,
            sample_rate=sample_rate,
            default_rate=16000,
            mono=mono,
            target_kind=target_kind,
            rate_from="highest",
        )

    @staticmethod
    def _records_from_csv(directory: Path, labels: Path) -> tuple[list[ClipRecord], list[str], TargetKind]:
        rows = read_csv_rows(labels, required=("filename", "label"))
        clip_labels = [[part.strip() for part in row["label"].split(";") if part.strip()] for row in rows]
        multilabel = any(len(names) != 1 for names in clip_labels)
        if multilabel and not any(len(names) > 1 for names in clip_labels):
            line = 2 + next(i for i, names in enumerate(clip_labels) if not names)
            raise MetadataError(
                f"{labels}, line {line}: empty label (use ';' between labels for multi-label data)"
            )
        _check_rows(labels, rows, clip_labels)
        classes = sorted({name for names in clip_labels for name in names})
        index_of = {name: index for index, name in enumerate(classes)}
        paths = resolve_listed_files(
            directory,
            [row["filename"] for row in rows],
            listing=labels,
            remedy="Fix the filename column or restore the files.",
        )
        records = []
        for line, (row, names, file) in enumerate(zip(rows, clip_labels, paths, strict=True), start=2):
            fold = parse_int(row["fold"], path=labels, line=line, column="fold") if row.get("fold") else None
            target = tuple(sorted(index_of[name] for name in names)) if multilabel else index_of[names[0]]
            records.append(
                ClipRecord(
                    id=str(PurePosixPath(row["filename"]).with_suffix("")),
                    path=file,
                    target=target,
                    fold=fold,
                    split=row.get("split") or None,
                    extra={"label": row["label"], **({"group": row["group"]} if row.get("group") else {})},
                )
            )
        return records, classes, "multilabel" if multilabel else "class"

    @staticmethod
    def _records_from_subfolders(directory: Path) -> tuple[list[ClipRecord], list[str]]:
        class_folders = {
            entry.name: sorted(file for file in entry.iterdir() if file.is_file() and is_audio_file(file))
            for entry in directory.iterdir()
            if entry.is_dir() and not entry.name.startswith(".")
        }
        classes = sorted(name for name, files in class_folders.items() if files)
        if not classes:
            raise MetadataError(
                f"dataset 'folder': {directory} has no subfolders of audio files; pass labels=<CSV with "
                f"columns filename,label> or put the files in one subfolder per class"
            )
        records = [
            ClipRecord(id=f"{name}/{file.stem}", path=file, target=index, extra={"label": name})
            for index, name in enumerate(classes)
            for file in class_folders[name]
        ]
        return records, classes


def _check_rows(labels: Path, rows: Sequence[dict[str, str]], clip_labels: Sequence[Sequence[str]]) -> None:
    """Raise one MetadataError listing every clip that the CSV lists on more than one row.

    A clip is its filename without the extension (``a.wav`` and ``a.flac`` are one clip). Each
    repeated clip is reported with its line numbers and what differs: its labels (contradicting
    labels), its fold or split (one clip in two partitions, e.g. train and test), or nothing (a
    duplicate row).
    """
    lines_of: dict[str, list[int]] = {}
    for line, row in enumerate(rows, start=2):
        lines_of.setdefault(str(PurePosixPath(row["filename"]).with_suffix("")), []).append(line)
    problems = []
    for clip, lines in lines_of.items():
        if len(lines) < 2:
            continue
        picked = [rows[line - 2] for line in lines]
        label_sets = {tuple(sorted(clip_labels[line - 2])) for line in lines}
        folds = {row.get("fold", "") for row in picked}
        splits = {row.get("split", "") for row in picked}
        where = f"lines {', '.join(str(line) for line in lines)}"
        if len(label_sets) > 1:
            shown = " vs ".join(repr(";".join(names)) for names in sorted(label_sets))
            problems.append(f"clip {clip!r} on {where} has contradicting labels {shown}")
        elif len(folds) > 1 or len(splits) > 1:
            parts = [f"folds {sorted(folds)}"] if len(folds) > 1 else []
            parts += [f"splits {sorted(splits)}"] if len(splits) > 1 else []
            problems.append(f"clip {clip!r} on {where} is in two partitions ({', '.join(parts)})")
        else:
            problems.append(f"clip {clip!r} is listed twice, on {where}")
    if problems:
        raise MetadataError(
            f"{labels}: {len(problems)} clip(s) listed on more than one row: {_first_few(problems, '; ')}. "
            f"List each clip once, with all its labels on one row (separated by ';' for multi-label data) and one "
            f"fold/split."
        )


@register(FOLDER_INFO)
def folder(root: Path, **options: Any) -> FolderDataset:
    """Registry factory of :class:`FolderDataset` (``workbench.data.get("folder", path=..., labels=...)``)."""
    reject_unknown_options("folder", options, FOLDER_OPTIONS)
    if options.get("path") is None:
        raise MissingFileError("dataset 'folder' needs path=<folder holding your audio files>")
    return FolderDataset(root=root, **options)
