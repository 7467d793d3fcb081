"""Datasets read from a folder of audio files: the base of every file-based dataset, and ``"folder"``.

- :class:`ListedAudioDataset`: a dataset whose clips are listed once, up front, as
  :class:`~workbench.data.records.ClipRecord` (metadata only; audio is read on indexing). ESC-50,
  FSDD and Speech Commands derive from it and only build their records.
- ``"folder"``: bring your own data. A folder of audio plus a CSV ``filename,label[,fold][,split]``
  (``;`` between labels makes it multi-label), or one subfolder per class.

The file helpers these datasets share live in :mod:`workbench.data.files` and are re-exported here.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import torch

from workbench.audio.io import load, resample
# The dataset modules import these from here; most are re-exported, unused in this module.
from workbench.data.files import (  # noqa: F401
    AUDIO_EXTENSIONS,
    MetadataError,
    check_split,
    dataset_not_found,
    find_dataset_folder,
    first_few,
    header_rate,
    highest_header_rate,
    is_audio_file,
    parse_int,
    read_csv_rows,
    reject_unknown_options,
    resolve_listed_files,
)
from workbench.data.fingerprint import content_stamps, file_stamp, verify_data
from workbench.data.records import AudioDataset, ClipRecord, DatasetInfo, TargetKind
from workbench.data.registry import register
from workbench.errors import AudioError, DatasetNotFoundError, MissingFileError
from workbench.typing import SampleRate, Seconds


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
            self.sample_rate = header_rate(self.records[0].path)
        else:
            self.sample_rate = highest_header_rate(self.records, self.directory)

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
        modification and status-change times (ns), id, target, fold and split and the class names (one ``stat`` per
        file, no audio read); under ``--verify-data`` (:func:`~workbench.data.fingerprint.verify_data`) each file's
        sha256 instead of its times, and ``"contents": "sha256"``."""
        digest = hashlib.sha256()
        total_bytes = 0
        # --verify-data: each file's sha256 instead of its times (hashed once per file version).
        contents = content_stamps([record.path for record in self.records]) if verify_data() else {}
        for record in self.records:
            if record.path is None:
                size, mtime, name = -1, -1, ""
            else:
                path = Path(record.path)
                size, *times = file_stamp(path)  # ctime too: see workbench.data.fingerprint
                mtime = contents.get(str(record.path)) or "/".join(map(str, times))
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
            **({"contents": "sha256"} if contents else {}),
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
            f"{first_few([repr(clip_id) for clip_id in repeated])}; "
            f"each clip must be listed once (remove the repeated rows or files)"
        )


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
            f"{labels}: {len(problems)} clip(s) listed on more than one row: {first_few(problems, '; ')}. "
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
