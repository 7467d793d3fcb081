"""VoxForge language identification (six languages), the task of EVAR / BYOL-A, read from a folder + CSV.

MacLean, VoxForge, http://www.voxforge.org (GPL: the recordings are released under the GNU General
Public License). The subset is that of TensorFlow Datasets' ``voxforge`` (``de``, ``en``, ``es``, ``fr``,
``it``, ``ru``), as EVAR (https://github.com/nttcslab/eval-audio-repr) fetches it:
``evar/utils/download_voxforge.py`` downloads the 13,837 speaker-session archives listed by TFDS
(``voxforge_urls.txt``) and unpacks each into its own folder, and EVAR ships the labels and the
train/valid/test split as ``evar/metadata/voxforge.csv`` (sessions assigned 70/15/15 %, about 176,000
utterances). No fixed public archive exists, so the workbench does not download VoxForge: fetch it
with EVAR's script (or TFDS), then put EVAR's CSV (or your own in the same format) beside the audio::

    <root>/voxforge/voxforge.csv               file_name,label,split   (extra columns, e.g. an index, ignored)
    <root>/voxforge/<file_name>                 the audio each row names, relative to the folder

``voxforge``, ``VoxForge`` are looked for under ``root``; ``root`` may be that folder itself, or it may
be given with ``path=`` (and the CSV with ``labels=``, relative to the folder or absolute).

``voxforge.csv`` is the truth: every file it lists must exist (another audio extension with the same
stem is accepted); ``split`` is ``train``, ``valid`` (``validation``/``val`` accepted) or ``test``.
Targets: the ``label`` column (language codes), classes in sorted order, the same whichever ``split``
is kept. Most recordings are 16 kHz; ``sample_rate=None`` gives every clip at 16 kHz, each file
resampled on its own; pass ``sample_rate`` (e.g. your encoder's) to choose another.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from workbench.data.folder import (
    check_split,
    ListedAudioDataset,
    MetadataError,
    find_dataset_folder,
    read_csv_rows,
    reject_unknown_options,
    resolve_listed_files,
)
from workbench.data.records import ClipRecord, DatasetInfo
from workbench.data.registry import register
from workbench.errors import DatasetNotFoundError
from workbench.typing import SampleRate

NAME = "voxforge"
URL = "http://www.voxforge.org"
EVAR_URL = "https://github.com/nttcslab/eval-audio-repr"
FOLDER = "voxforge"
FOLDER_ALIASES = ("VoxForge",)
LISTING = "voxforge.csv"
SPLITS = ("train", "valid", "test")
_SPLIT_NAMES = {"train": "train", "valid": "valid", "validation": "valid", "val": "valid", "test": "test"}
NATIVE_RATE = 16000
LANGUAGES = ("de", "en", "es", "fr", "it", "ru")
"""The six languages of the TFDS / EVAR subset (the classes come from the CSV, not from this list)."""

INFO = DatasetInfo(
    name=NAME,
    description="VoxForge language identification (de, en, es, fr, it, ru) as in EVAR: your folder + voxforge.csv.",
    sample_rate=NATIVE_RATE,
    target_kind="class",
    url=URL,
    licence="GPL (VoxForge recordings)",
    obtain=(
        f"fetch the TFDS subset with EVAR's evar/utils/download_voxforge.py ({EVAR_URL}) and put EVAR's "
        f"evar/metadata/voxforge.csv (columns file_name,label,split) in that folder; there is no archive "
        f"to download automatically"
    ),
    folder=FOLDER,
)
OPTIONS = ("split", "labels", "sample_rate", "mono", "path")


def not_found_error(looked_in: list[Path], root: Path) -> DatasetNotFoundError:
    places = "\n".join(f"    {place}" for place in looked_in)
    return DatasetNotFoundError(
        f"dataset {NAME!r} not found; looked in\n{places}\n"
        f"VoxForge has no fixed public archive, so the workbench cannot download it: {INFO.obtain}.\n"
        f"Expected layout:\n"
        f"    {root / FOLDER}/{LISTING}      file_name,label,split\n"
        f"    {root / FOLDER}/<file_name>    the audio each row names\n"
        f"Or pass path=<folder of the audio> and labels=<CSV with columns file_name,label,split>."
    )


class VoxForge(ListedAudioDataset):
    """VoxForge language identification from a folder of audio and EVAR's ``voxforge.csv``.

    Args:
        root: the data root holding ``voxforge/``, or that folder itself.
        split: ``"train"``, ``"valid"`` or ``"test"``; None keeps every row.
        labels: the CSV (columns ``file_name,label,split``); default ``voxforge.csv`` in the folder.
        sample_rate: resample to this rate on load; None gives 16 kHz (each file resampled on its own).
        mono: average channels to one.
        path: the folder of the audio, overriding the search under ``root``.

    Items:
        ``(waveform (channels, samples), language index, meta)``; meta has ``id`` (``file_name``
        without extension), ``path``, ``split`` and ``language``.

    Raises:
        DatasetNotFoundError: no CSV where it was looked for; the message says how to get the data.
        MissingFileError: the CSV lists files that are absent (up to five named).
        MetadataError: a malformed CSV or an unknown split name in it.
        ValueError: an unknown ``split``.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        *,
        split: Literal["train", "valid", "test"] | None = None,
        labels: str | os.PathLike | None = None,
        sample_rate: SampleRate | None = None,
        mono: bool = True,
        path: str | os.PathLike | None = None,
    ):
        check_split(NAME, split, SPLITS)
        if labels is None:
            directory, looked_in = find_dataset_folder(Path(root), (FOLDER, *FOLDER_ALIASES), LISTING, path)
            if directory is None:
                raise not_found_error(looked_in, Path(root))
            listing = directory / LISTING
        else:
            # An explicit CSV: the audio folder is path=, else the first dataset folder that exists.
            places = [Path(path).expanduser()] if path is not None else [
                *(Path(root) / name for name in (FOLDER, *FOLDER_ALIASES)), Path(root)]
            directory = next((place for place in places if place.is_dir()), None)
            if directory is None:
                raise not_found_error(places, Path(root))
            listing = Path(labels).expanduser()
            if not listing.is_absolute() and not listing.is_file():
                listing = directory / listing
        rows = read_csv_rows(listing, required=("file_name", "label", "split"))
        parsed = []
        for line, row in enumerate(rows, start=2):
            clip_split = _SPLIT_NAMES.get(row["split"].lower())
            if clip_split is None:
                raise MetadataError(
                    f"{listing}, line {line}: split {row['split']!r} is not one of train, valid (validation, val), test"
                )
            parsed.append((row["file_name"], row["label"], clip_split))
        classes = sorted({label for _, label, _ in parsed})
        if split is not None:
            parsed = [entry for entry in parsed if entry[2] == split]
        files = resolve_listed_files(
            directory,
            [name for name, _, _ in parsed],
            listing=listing,
            remedy="Fetch the missing sessions again (EVAR's download_voxforge.py skips finished ones), "
            "or remove their rows.",
        )
        class_index = {label: index for index, label in enumerate(classes)}
        records = [
            ClipRecord(
                id=str(PurePosixPath(name).with_suffix("")),
                path=file,
                target=class_index[label],
                split=clip_split,
                extra={"language": label},
            )
            for (name, label, clip_split), file in zip(parsed, files, strict=True)
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
def voxforge(root: Path, **options: Any) -> VoxForge:
    """Registry factory: ``workbench.data.get("voxforge", split=..., labels=..., sample_rate=..., path=...)``."""
    reject_unknown_options(NAME, options, OPTIONS)
    return VoxForge(root, **options)
