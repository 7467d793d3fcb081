"""ESC-50 and its ESC-10 subset: 5-second environmental sound clips in five official folds.

Piczak, "ESC: Dataset for Environmental Sound Classification", ACM Multimedia 2015.
https://github.com/karolpiczak/ESC-50

Layout (the official repository, as its zip unpacks; ``ESC-50-master`` is accepted as well)::

    <root>/ESC-50/audio/1-100032-A-0.wav ...      2000 clips, 44.1 kHz mono, 5 s
    <root>/ESC-50/meta/esc50.csv                  filename,fold,target,category,esc10,src_file,take

``meta/esc50.csv`` is the truth: every clip it lists must exist (checked when the dataset is built,
by one directory listing), and a listed ``name.wav`` may be held as ``name.flac`` (or any audio
format libsndfile reads) with the same stem. ``root`` may also be the dataset folder itself, or
the folder may be given with ``path=``.

Targets:

- ``"esc50"``: the official ``target`` column, class indices 0..49; ``classes[i]`` is the
  ``category`` of target ``i`` (``"target_<i>"`` for a target the listing does not contain).
- ``"esc10"``: the rows whose ``esc10`` column is True, re-indexed 0..9 in sorted category order
  (``chainsaw``=0, ``clock_tick``=1, ... ``sneezing``=9 with the official listing); the
  original index is kept in ``meta["esc50_target"]``.

The official zip publishes no checksum (it is built by GitHub from the ``master`` branch), so a
download is verified by its listing instead: 2000 clips, every one present.
"""

from __future__ import annotations

import dataclasses
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

URL = "https://github.com/karolpiczak/ESC-50"
FOLDER = "ESC-50"
FOLDER_ALIASES = ("ESC-50-master", "esc50", "esc10", "ESC-10")
LISTING = "meta/esc50.csv"
N_CLASSES = 50
CLIP_SECONDS = 5.0
NATIVE_RATE = 44100

REMOTE = RemoteFile(
    url="https://github.com/karolpiczak/ESC-50/archive/master.zip",
    sha256=None,  # none published: GitHub builds this zip from the branch; the listing is checked instead
    filename="ESC-50-master.zip",
)

ESC50_INFO = DatasetInfo(
    name="esc50",
    description="ESC-50: 2000 environmental sound clips, 50 classes, 5 folds, 5 s at 44.1 kHz.",
    sample_rate=NATIVE_RATE,
    target_kind="class",
    url=URL,
    licence="CC BY-NC 3.0 (ESC-10 subset: CC BY 3.0)",
    obtain=(
        "download the repository zip (about 600 MB) and unpack it so that meta/esc50.csv and audio/ "
        "sit in that folder"
    ),
    remotes=(REMOTE,),
    folder=FOLDER,
    expected_clips=2000,
    expected_folds=tuple((fold, 400) for fold in range(1, 6)),
)
ESC10_INFO = dataclasses.replace(
    ESC50_INFO,
    name="esc10",
    description="ESC-10: the 400-clip, 10-class subset of ESC-50 (same files, same folds).",
    licence="CC BY 3.0",
    expected_clips=400,
    expected_folds=tuple((fold, 80) for fold in range(1, 6)),
)
OPTIONS = ("folds", "sample_rate", "mono", "path")
_COLUMNS = ("filename", "fold", "target", "category", "esc10")


class ESC50(ListedAudioDataset):
    """ESC-50 (or its ESC-10 subset) read from the official layout.

    Clips cut from one Freesound recording share ``src_file``: that is their group for grouped k-fold.

    Args:
        root: the data root holding ``ESC-50/`` (or ``ESC-50-master/``), or the dataset folder itself.
        esc10: keep only the ESC-10 rows, with targets re-indexed 0..9 in sorted category order.
        folds: keep these folds (1..5); an int keeps one; None keeps all.
        sample_rate: resample to this rate on load; None keeps the files' rate (44.1 kHz officially).
        mono: average channels to one (the official clips are mono).
        path: the dataset folder, overriding the search under ``root``.

    Raises:
        DatasetNotFoundError: no ``meta/esc50.csv`` where it was looked for; the message says where
            the files go, where to get them and the ``workbench download`` command.
        MissingFileError: the listing names clips that are absent (up to five named).
        MetadataError: a malformed listing, or ``folds`` naming a fold it does not have.
    """

    group_key = "src_file"


    def __init__(
        self,
        root: str | os.PathLike,
        *,
        esc10: bool = False,
        folds: int | Sequence[int] | None = None,
        sample_rate: SampleRate | None = None,
        mono: bool = True,
        path: str | os.PathLike | None = None,
    ):
        name = "esc10" if esc10 else "esc50"
        directory, looked_in = find_dataset_folder(Path(root), (FOLDER, *FOLDER_ALIASES), LISTING, path)
        if directory is None:
            layout = (f"{Path(root) / FOLDER}/audio/*.wav", f"{Path(root) / FOLDER}/{LISTING}")
            raise dataset_not_found(name, looked_in, layout, ESC10_INFO if esc10 else ESC50_INFO)
        listing = directory / LISTING
        rows = [
            (
                row,
                parse_int(row["fold"], path=listing, line=line, column="fold"),
                parse_int(row["target"], path=listing, line=line, column="target"),
            )
            for line, row in enumerate(read_csv_rows(listing, required=_COLUMNS), start=2)
            if not esc10 or row["esc10"].lower() == "true"
        ]
        esc50_target_of = {row["category"]: target for row, _, target in rows}
        if esc10:
            classes = sorted(esc50_target_of)
            target_of = {category: index for index, category in enumerate(classes)}
        else:
            category_of = {target: category for category, target in esc50_target_of.items()}
            if outside := sorted(target for target in category_of if not 0 <= target < N_CLASSES):
                raise MetadataError(f"{listing}: target(s) {outside} outside 0..{N_CLASSES - 1}")
            classes = [category_of.get(index, f"target_{index}") for index in range(N_CLASSES)]
            target_of = esc50_target_of

        if folds is not None:
            wanted = {folds} if isinstance(folds, int) else {int(fold) for fold in folds}
            present = {fold for _, fold, _ in rows}
            if unknown := sorted(wanted - present):
                raise MetadataError(f"{name}: fold(s) {unknown} not in {listing}; it has folds {sorted(present)}")
            rows = [(row, fold, target) for row, fold, target in rows if fold in wanted]

        files = resolve_listed_files(
            directory / "audio",
            [row["filename"] for row, _, _ in rows],
            listing=listing,
            remedy=(
                f"Restore them (unpack the archive again, or `workbench download {name}`), "
                f"or remove their rows."
            ),
        )
        records = [
            ClipRecord(
                id=PurePosixPath(row["filename"]).stem,
                path=file,
                target=target_of[row["category"]],
                fold=fold,
                extra={
                    "category": row["category"],
                    "esc50_target": esc50_target,
                    "esc10": row["esc10"].lower() == "true",
                    "src_file": row.get("src_file", ""),
                    "take": row.get("take", ""),
                },
            )
            for (row, fold, esc50_target), file in zip(rows, files, strict=True)
        ]
        super().__init__(
            records,
            classes=classes,
            directory=directory,
            sample_rate=sample_rate,
            default_rate=NATIVE_RATE,
            mono=mono,
            duration=CLIP_SECONDS,
        )
        self.name = name


@register(ESC50_INFO)
def esc50(root: Path, **options: Any) -> ESC50:
    """Registry factory: ``workbench.data.get("esc50", folds=..., sample_rate=..., mono=..., path=...)``."""
    reject_unknown_options("esc50", options, OPTIONS)
    return ESC50(root, **options)


@register(ESC10_INFO)
def esc10(root: Path, **options: Any) -> ESC50:
    """Registry factory: ``workbench.data.get("esc10", ...)``, the same options as ``"esc50"``."""
    reject_unknown_options("esc10", options, OPTIONS)
    return ESC50(root, esc10=True, **options)


def download(root: str | os.PathLike | None = None, **options: Any) -> Path:
    """Download and unpack ESC-50 (which holds ESC-10) into ``root/ESC-50``; see :func:`download_dataset`."""
    return download_dataset("esc50", root, **options)
