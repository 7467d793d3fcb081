"""UrbanSound8K: 8732 urban sound excerpts (at most 4 s) of ten classes in ten official folds.

Salamon, Jacoby and Bello, "A Dataset and Taxonomy for Urban Sound Research", ACM Multimedia 2014.
https://urbansounddataset.weebly.com/urbansound8k.html (archive on Zenodo: https://zenodo.org/record/1203745)

Layout (the Zenodo archive unpacked, as it is)::

    <root>/UrbanSound8K/audio/fold<k>/<fsID>-<classID>-<occurrence>-<slice>.wav     k = 1..10
    <root>/UrbanSound8K/metadata/UrbanSound8K.csv
        slice_file_name,fsID,start,end,salience,fold,classID,class

``metadata/UrbanSound8K.csv`` is the truth: every clip it lists must exist in ``audio/fold<fold>/``
(checked when the dataset is built, one directory listing per fold), and a listed ``name.wav`` may be
held as ``name.flac`` (or any audio format libsndfile reads). ``root`` may also be the dataset folder
itself (``UrbanSound8K``, ``urbansound8k`` and ``us8k`` are looked for), or it may be given with ``path=``.

Targets: the official ``classID`` column (0..9); ``classes[i]`` is the ``class`` of ``classID`` ``i``
(``air_conditioner`` = 0 ... ``street_music`` = 9). Folds: the official ten folds, which must be used
as they are (the authors warn that re-shuffled splits inflate scores): ``fold_of(i)`` is the
``fold`` column. The clips keep the sample rates, bit depths and channel counts of their Freesound
sources (mixed), so ``sample_rate=None`` gives every clip at 44.1 kHz, most clips' rate, each file
resampled on its own; pass ``sample_rate`` (e.g. your encoder's) to choose another. Clips last from a few tenths of a
second to 4 s: ``duration`` is None and batches need cropping or padding.

Download: ``workbench download urbansound8k`` fetches ``UrbanSound8K.tar.gz`` (about 6 GB) from Zenodo.
Zenodo publishes an MD5 digest only, so no sha256 is recorded; the download is verified by its
listing instead: 8732 clips, every one present.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from workbench.data.download import RemoteFile, download_dataset
from workbench.data.folder import (
    ListedAudioDataset,
    MetadataError,
    dataset_not_found,
    find_dataset_folder,
    parse_int,
    read_csv_rows,
    reject_unknown_options,
    resolve_listed_files,
)
from workbench.data.records import ClipRecord, DatasetInfo
from workbench.data.registry import register
from workbench.typing import SampleRate

NAME = "urbansound8k"
URL = "https://urbansounddataset.weebly.com/urbansound8k.html"
FOLDER = "UrbanSound8K"
FOLDER_ALIASES = ("urbansound8k", "us8k")
LISTING = "metadata/UrbanSound8K.csv"
N_CLASSES = 10
FOLDS = tuple(range(1, 11))
EXPECTED_CLIPS = 8732
FOLD_CLIPS = ((1, 873), (2, 888), (3, 925), (4, 990), (5, 936), (6, 823), (7, 838), (8, 806), (9, 816), (10, 837))
"""Clips per official fold (the rows of ``metadata/UrbanSound8K.csv`` per ``fold``)."""
NATIVE_RATE = 44100
"""The most common rate of the clips (declared when the listing is empty); the clips' rates vary."""

REMOTE = RemoteFile(
    url="https://zenodo.org/record/1203745/files/UrbanSound8K.tar.gz?download=1",
    sha256=None,  # Zenodo publishes an MD5 only; the 8732-clip listing is checked after extraction
    filename="UrbanSound8K.tar.gz",
)

INFO = DatasetInfo(
    name=NAME,
    description="UrbanSound8K: 8732 urban sound clips (<= 4 s), 10 classes, 10 official folds.",
    sample_rate=NATIVE_RATE,
    target_kind="class",
    url=URL,
    licence="CC BY-NC 3.0",
    obtain=(
        "download UrbanSound8K.tar.gz (about 6 GB) from https://zenodo.org/record/1203745 and unpack it so "
        "that metadata/UrbanSound8K.csv and audio/fold1..10 sit in that folder"
    ),
    remotes=(REMOTE,),
    folder=FOLDER,
    expected_clips=EXPECTED_CLIPS,
    expected_folds=FOLD_CLIPS,
)
OPTIONS = ("folds", "sample_rate", "mono", "path")
_COLUMNS = ("slice_file_name", "fsID", "start", "end", "salience", "fold", "classID", "class")


class UrbanSound8K(ListedAudioDataset):
    """UrbanSound8K read from the official layout, with its ten folds.

    Args:
        root: the data root holding ``UrbanSound8K/``, or the dataset folder itself.
        folds: keep these folds (1..10); an int keeps one; None keeps all.
        sample_rate: resample to this rate on load; None gives 44.1 kHz (the clips' rates vary; each is
            resampled on its own).
        mono: average channels to one (some clips are stereo).
        path: the dataset folder, overriding the search under ``root``.

    Items:
        ``(waveform (channels, samples), classID, meta)``; meta has ``id`` (the file stem), ``path``,
        ``fold``, ``class``, ``fsID``, ``start``, ``end`` (seconds in the Freesound recording) and
        ``salience`` (``"1"`` foreground, ``"2"`` background), the last four as the listing writes them.

    Raises:
        DatasetNotFoundError: no ``metadata/UrbanSound8K.csv`` where it was looked for; the message says
            where the files go, where to get them and the ``workbench download`` command.
        MissingFileError: the listing names clips that are absent (up to five named).
        MetadataError: a malformed listing, or ``folds`` naming a fold it does not have.
    """

    group_key = "fsID"  # slices of one Freesound recording share it


    def __init__(
        self,
        root: str | os.PathLike,
        *,
        folds: int | Sequence[int] | None = None,
        sample_rate: SampleRate | None = None,
        mono: bool = True,
        path: str | os.PathLike | None = None,
    ):
        directory, looked_in = find_dataset_folder(Path(root), (FOLDER, *FOLDER_ALIASES), LISTING, path)
        if directory is None:
            base = Path(root) / FOLDER
            layout = (f"{base}/audio/fold<k>/<fsID>-<classID>-<occurrence>-<slice>.wav", f"{base}/{LISTING}")
            raise dataset_not_found(NAME, looked_in, layout, INFO)
        listing = directory / LISTING
        rows = [
            (
                row,
                parse_int(row["fold"], path=listing, line=line, column="fold"),
                parse_int(row["classID"], path=listing, line=line, column="classID"),
            )
            for line, row in enumerate(read_csv_rows(listing, required=_COLUMNS), start=2)
        ]
        class_of = {target: row["class"] for row, _, target in rows}
        if outside := sorted(target for target in class_of if not 0 <= target < N_CLASSES):
            raise MetadataError(f"{listing}: classID(s) {outside} outside 0..{N_CLASSES - 1}")
        classes = [class_of.get(index, f"class_{index}") for index in range(N_CLASSES)]

        if folds is not None:
            wanted = {folds} if isinstance(folds, int) else {int(fold) for fold in folds}
            present = {fold for _, fold, _ in rows}
            if unknown := sorted(wanted - present):
                raise MetadataError(f"{NAME}: fold(s) {unknown} not in {listing}; it has folds {sorted(present)}")
            rows = [(row, fold, target) for row, fold, target in rows if fold in wanted]

        files = resolve_listed_files(
            directory / "audio",
            [f"fold{fold}/{row['slice_file_name']}" for row, fold, _ in rows],
            listing=listing,
            remedy=f"Restore them (unpack the archive again, or `workbench download {NAME}`), or remove their rows.",
        )
        records = [
            ClipRecord(
                id=PurePosixPath(row["slice_file_name"]).stem,
                path=file,
                target=target,
                fold=fold,
                extra={
                    "class": row["class"],
                    "fsID": row["fsID"],
                    "start": row["start"],
                    "end": row["end"],
                    "salience": row["salience"],
                },
            )
            for (row, fold, target), file in zip(rows, files, strict=True)
        ]
        super().__init__(
            records,
            classes=classes,
            directory=directory,
            sample_rate=sample_rate,
            default_rate=NATIVE_RATE,
            rate_from="declared",  # the official files mix rates: each is resampled on its own
            mono=mono,
        )
        self.name = NAME


@register(INFO)
def urbansound8k(root: Path, **options: Any) -> UrbanSound8K:
    """Registry factory: ``workbench.data.get("urbansound8k", folds=..., sample_rate=..., mono=..., path=...)``."""
    reject_unknown_options(NAME, options, OPTIONS)
    return UrbanSound8K(root, **options)


def download(root: str | os.PathLike | None = None, **options: Any) -> Path:
    """Download (about 6 GB) and unpack UrbanSound8K into ``root/UrbanSound8K``; see :func:`download_dataset`."""
    return download_dataset(NAME, root, **options)
