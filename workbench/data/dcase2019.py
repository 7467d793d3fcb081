"""DCASE 2019 task 1a: TAU Urban Acoustic Scenes 2019, development set, with the official fold-1 split.

Mesaros, Heittola and Virtanen, "A multi-device dataset for urban acoustic scene classification",
DCASE 2018 Workshop; the 2019 development set: https://zenodo.org/record/2589280 (licence: free for
academic, non-commercial use; see the archive's LICENSE). 14,400 ten-second binaural recordings (48 kHz,
24-bit stereo, device A) of ten scenes in ten European cities.

Layout (the Zenodo archives unpacked into one folder, as they are)::

    <root>/TAU-urban-acoustic-scenes-2019-development/audio/airport-barcelona-0-0-a.wav ...
    <root>/TAU-urban-acoustic-scenes-2019-development/meta.csv
        filename<TAB>scene_label<TAB>identifier<TAB>source_label
    <root>/TAU-urban-acoustic-scenes-2019-development/evaluation_setup/fold1_train.csv
    <root>/TAU-urban-acoustic-scenes-2019-development/evaluation_setup/fold1_evaluate.csv
        filename<TAB>scene_label        (header line first; filenames as "audio/<name>.wav")

``meta.csv`` is the truth: every clip it lists must exist (checked with one directory listing); the
official split of fold 1 assigns ``"train"`` (9185 clips) and ``"test"`` (the 4185 of
``fold1_evaluate.csv``, what the DCASE 2019 papers report accuracy on). The remaining 1030 clips are in
neither list (``split`` None); ``split="train"`` or ``"test"`` keeps one side only. Scene classes are
the ten labels in sorted order (``airport`` = 0 ... ``tram`` = 9). ``root`` may also be the dataset
folder itself, or it may be given with ``path=``.

Download: ``workbench download dcase2019_task1a`` fetches the 21 audio archives and the metadata
archive (about 41 GB of 24-bit audio once unpacked). Zenodo publishes MD5 digests only, so no sha256
is recorded; the download is verified by its listing instead: 14,400 clips, every one present.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from workbench.data.download import RemoteFile, download_dataset
from workbench.data.folder import (
    check_split,
    ListedAudioDataset,
    MetadataError,
    dataset_not_found,
    find_dataset_folder,
    read_csv_rows,
    reject_unknown_options,
    resolve_listed_files,
)
from workbench.data.records import ClipRecord, DatasetInfo
from workbench.data.registry import register
from workbench.typing import SampleRate

NAME = "dcase2019_task1a"
URL = "https://zenodo.org/record/2589280"
FOLDER = "TAU-urban-acoustic-scenes-2019-development"
FOLDER_ALIASES = ("dcase2019_task1a", "dcase2019", "TAU-urban-acoustic-scenes-2019")
LISTING = "meta.csv"
SPLIT_FILES = {"train": "evaluation_setup/fold1_train.csv", "test": "evaluation_setup/fold1_evaluate.csv"}
"""The official fold-1 lists: training clips, and the clips DCASE 2019 evaluates on."""
SPLITS = ("train", "test")
NATIVE_RATE = 48000
CLIP_SECONDS = 10.0
EXPECTED_CLIPS = 14400
AUDIO_ARCHIVES = 21

_ZENODO_FILES = "https://zenodo.org/record/2589280/files/"
REMOTES = tuple(
    RemoteFile(url=f"{_ZENODO_FILES}{FOLDER}.{part}.zip?download=1", sha256=None, filename=f"{FOLDER}.{part}.zip")
    for part in (*(f"audio.{index}" for index in range(1, AUDIO_ARCHIVES + 1)), "meta")
)
"""The 21 audio archives and the metadata archive; each unpacks into ``TAU-urban-acoustic-scenes-2019-development/``."""

INFO = DatasetInfo(
    name=NAME,
    description="DCASE 2019 task 1a (TAU Urban Acoustic Scenes 2019 dev.): 14,400 10-s stereo clips, 10 scenes.",
    sample_rate=NATIVE_RATE,
    target_kind="class",
    url=URL,
    licence="TAU Urban Acoustic Scenes 2019 licence: academic, non-commercial use",
    obtain=(
        f"download the {AUDIO_ARCHIVES} audio zips and the meta zip from Zenodo (about 41 GB unpacked) and "
        f"unzip them all into the same place: they share the top folder {FOLDER}/"
    ),
    remotes=REMOTES,
    folder=FOLDER,
    expected_clips=EXPECTED_CLIPS,
)
OPTIONS = ("split", "sample_rate", "mono", "path")


class DCASE2019Task1a(ListedAudioDataset):
    """TAU Urban Acoustic Scenes 2019 (development) with the official fold-1 train/test split.

    Args:
        root: the data root holding ``TAU-urban-acoustic-scenes-2019-development/``, or that folder.
        split: ``"train"`` or ``"test"`` (fold 1); None keeps every clip of ``meta.csv``.
        sample_rate: resample to this rate on load; None keeps 48 kHz.
        mono: average the two channels (False, the default, keeps the binaural stereo the paper uses).
        path: the dataset folder, overriding the search under ``root``.

    Items:
        ``(waveform (2, samples), scene index, meta)``; meta has ``id``, ``path``, ``split``,
        ``scene_label``, ``city``, ``location`` (the recording location's identifier) and ``device``.

    Raises:
        DatasetNotFoundError: no ``meta.csv`` where it was looked for; the message says where the
            files go, where to get them and the ``workbench download`` command.
        MissingFileError: listed clips are absent (up to five named), or a split file is missing.
        MetadataError: a malformed listing, or a split file naming a clip ``meta.csv`` lacks.
        ValueError: an unknown ``split``.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        *,
        split: Literal["train", "test"] | None = None,
        sample_rate: SampleRate | None = None,
        mono: bool = False,
        path: str | os.PathLike | None = None,
    ):
        check_split(NAME, split, SPLITS)
        directory, looked_in = find_dataset_folder(Path(root), (FOLDER, *FOLDER_ALIASES), LISTING, path)
        if directory is None:
            base = Path(root) / FOLDER
            layout = (f"{base}/audio/<scene>-<city>-<location>-<segment>-a.wav", f"{base}/{LISTING}",
                      *(f"{base}/{file}" for file in SPLIT_FILES.values()))  # fmt: skip
            raise dataset_not_found(NAME, looked_in, layout, INFO)
        listing = directory / LISTING
        rows = read_csv_rows(listing, ("filename", "scene_label"), delimiter="\t")
        # Classes from every row, so that indices agree whichever split is kept.
        classes = sorted({row["scene_label"] for row in rows})
        names = {str(PurePosixPath(row["filename"])) for row in rows}
        split_of: dict[str, str] = {}
        for split_name, file in SPLIT_FILES.items():
            split_path = directory / file
            for line, row in enumerate(read_csv_rows(split_path, ("filename",), delimiter="\t"), start=2):
                name = str(PurePosixPath(row["filename"]))
                if name not in names:
                    raise MetadataError(f"{split_path}, line {line}: {name} is not listed in {listing}")
                split_of[name] = split_name
        if split is not None:
            rows = [row for row in rows if split_of.get(str(PurePosixPath(row["filename"]))) == split]
        class_index = {label: index for index, label in enumerate(classes)}
        files = resolve_listed_files(
            directory,
            [row["filename"] for row in rows],
            listing=listing,
            remedy=f"Unpack the audio archives again (`workbench download {NAME}`), or remove their rows.",
        )
        records = []
        for row, file in zip(rows, files, strict=True):
            name = str(PurePosixPath(row["filename"]))
            # <scene>-<city>-<location>-<segment>-<device>; scene labels may hold underscores, not hyphens.
            parts = PurePosixPath(name).stem.split("-")
            records.append(
                ClipRecord(
                    id=PurePosixPath(name).stem,
                    path=file,
                    target=class_index[row["scene_label"]],
                    split=split_of.get(name),
                    extra={
                        "scene_label": row["scene_label"],
                        "city": parts[1] if len(parts) == 5 else "",
                        "location": row.get("identifier", ""),
                        "device": row.get("source_label", parts[-1] if len(parts) == 5 else ""),
                    },
                )
            )
        super().__init__(
            records,
            classes=classes,
            directory=directory,
            sample_rate=sample_rate,
            default_rate=NATIVE_RATE,
            mono=mono,
            duration=CLIP_SECONDS,
        )


@register(INFO)
def dcase2019_task1a(root: Path, **options: Any) -> DCASE2019Task1a:
    """Registry factory: ``workbench.data.get("dcase2019_task1a", split=..., sample_rate=..., mono=..., path=...)``."""
    reject_unknown_options(NAME, options, OPTIONS)
    return DCASE2019Task1a(root, **options)


def download(root: str | os.PathLike | None = None, **options: Any) -> Path:
    """Download (about 41 GB) and unpack the development set; see :func:`download_dataset`."""
    return download_dataset(NAME, root, **options)
