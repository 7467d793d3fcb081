"""FSDKaggle2019: multi-label audio tagging with 80 AudioSet classes; curated, noisy and test sets.

Fonseca, Plakal, Font, Ellis and Serra, "Audio tagging with noisy labels and minimal supervision",
DCASE 2019 Workshop (task 2 of DCASE 2019); https://zenodo.org/record/3612637 (CC BY 4.0 as a
whole, each clip under its own Creative Commons licence, listed in the metadata). 44.1 kHz mono WAV
clips of 0.3 to 30 s.

Layout (the Zenodo archives unpacked side by side, as they are)::

    <root>/FSDKaggle2019/FSDKaggle2019.audio_train_curated/<fname>.wav   4970 clips, correct labels
    <root>/FSDKaggle2019/FSDKaggle2019.audio_train_noisy/<fname>.wav     19,815 clips, noisy labels
    <root>/FSDKaggle2019/FSDKaggle2019.audio_test/<fname>.wav            4481 clips, complete labels
    <root>/FSDKaggle2019/FSDKaggle2019.meta/train_curated_post_competition.csv   fname,labels,...
    <root>/FSDKaggle2019/FSDKaggle2019.meta/train_noisy_post_competition.csv     fname,labels,...
    <root>/FSDKaggle2019/FSDKaggle2019.meta/test_post_competition.csv            fname,labels,usage,...
    <root>/FSDKaggle2019/FSDKaggle2019.meta/vocabulary.csv                       index,label (no header)

``labels`` holds one or more class names separated by commas (quoted in the CSV). Targets are
multi-hot over the 80 classes of ``vocabulary.csv`` in its order (the sorted label names where the
vocabulary file is absent). A subset's listing is the truth: every clip it lists must exist. ``root``
may also be the dataset folder itself, or it may be given with ``path=``.

Subsets: ``"curated"`` (default), ``"noisy"``, ``"train"`` (curated then noisy), ``"test"``.

Download: ``workbench download fsdkaggle2019`` fetches the curated, test, metadata and documentation
archives (about 7.5 GB: 23 hours of 16-bit audio); the noisy set is a split zip (``.z01`` .. ``.z06``
and ``.zip``) that must be merged by hand (``zip -s 0 FSDKaggle2019.audio_train_noisy.zip --out
unsplit.zip``, then unzipped into the dataset folder). Zenodo publishes MD5 digests only, so no
sha256 is recorded; a download is verified by the curated listing instead: 4970 clips, every one
present.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any, Literal

from workbench.data.download import RemoteFile, download_dataset
from workbench.data.folder import (
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

NAME = "fsdkaggle2019"
URL = "https://zenodo.org/record/3612637"
FOLDER = "FSDKaggle2019"
FOLDER_ALIASES = ("fsdkaggle2019", "FSDKaggle2019-master")
META = "FSDKaggle2019.meta"
LISTINGS = {
    "curated": (f"{META}/train_curated_post_competition.csv", "FSDKaggle2019.audio_train_curated"),
    "noisy": (f"{META}/train_noisy_post_competition.csv", "FSDKaggle2019.audio_train_noisy"),
    "test": (f"{META}/test_post_competition.csv", "FSDKaggle2019.audio_test"),
}
"""Subset -> (its listing, its audio folder), relative to the dataset folder."""
SUBSETS = ("curated", "noisy", "train", "test")
VOCABULARY = f"{META}/vocabulary.csv"
N_CLASSES = 80
NATIVE_RATE = 44100
EXPECTED_CURATED_CLIPS = 4970

_ZENODO_FILES = "https://zenodo.org/record/3612637/files/"
REMOTES = tuple(
    RemoteFile(
        url=f"{_ZENODO_FILES}FSDKaggle2019.{part}.zip?download=1", sha256=None, filename=f"FSDKaggle2019.{part}.zip"
    )
    for part in ("audio_train_curated", "audio_test", "meta", "doc")
)
"""The archives a download fetches; the split noisy-set archive is merged by hand (module docstring)."""

INFO = DatasetInfo(
    name=NAME,
    description="FSDKaggle2019: 80-class audio tagging; 4970 curated, 19,815 noisy and 4481 test clips, 44.1 kHz.",
    sample_rate=NATIVE_RATE,
    target_kind="multilabel",
    url=URL,
    licence="CC BY 4.0 (each clip: its own CC licence, listed in the metadata)",
    obtain=(
        "download FSDKaggle2019.audio_train_curated.zip, .audio_test.zip and .meta.zip and unzip them into that "
        "folder; for the noisy set, download FSDKaggle2019.audio_train_noisy.z01-.z06 and .zip, merge them with "
        "`zip -s 0 FSDKaggle2019.audio_train_noisy.zip --out unsplit.zip` and unzip unsplit.zip there too"
    ),
    remotes=REMOTES,
    folder=FOLDER,
    expected_clips=EXPECTED_CURATED_CLIPS,
)
OPTIONS = ("subset", "sample_rate", "mono", "path")


def read_vocabulary(path: Path) -> list[str] | None:
    """The class names of ``vocabulary.csv`` (rows ``index,label``, no header) in index order, or None
    when the file is absent.

    Raises:
        MetadataError: a row that is not ``<integer>,<label>``, or indices that are not 0..n-1.
    """
    if not path.is_file():
        return None
    entries: dict[int, str] = {}
    with open(path, newline="", encoding="utf-8-sig") as stream:
        for line, row in enumerate(csv.reader(stream), start=1):
            if not row:
                continue
            if len(row) != 2 or not row[0].strip().isdigit():
                raise MetadataError(f"{path}, line {line}: expected '<index>,<label>', got {','.join(row)!r}")
            entries[int(row[0])] = row[1].strip()
    if sorted(entries) != list(range(len(entries))):
        raise MetadataError(f"{path}: the indices must be 0..{len(entries) - 1}, each once")
    return [entries[index] for index in range(len(entries))]


class FSDKaggle2019(ListedAudioDataset):
    """FSDKaggle2019 with multi-hot targets over its 80-class vocabulary.

    Args:
        root: the data root holding ``FSDKaggle2019/``, or that folder itself.
        subset: ``"curated"``, ``"noisy"``, ``"train"`` (curated and noisy) or ``"test"``.
        sample_rate: resample to this rate on load; None keeps 44.1 kHz.
        mono: average channels (the clips are mono).
        path: the dataset folder, overriding the search under ``root``.

    Items:
        ``(waveform (1, samples), multi-hot (80,) float tensor, meta)``; clips differ in length (crop
        or pad before batching). meta has ``id``, ``path``, ``split`` (the subset), ``labels`` (the
        names) and ``license``.

    Raises:
        DatasetNotFoundError: the listing of the subset is not where it was looked for; the message
            says where the files go, where to get them and the ``workbench download`` command.
        MissingFileError: listed clips are absent (up to five named).
        MetadataError: a malformed listing or vocabulary, or a label outside the vocabulary.
        ValueError: an unknown ``subset``.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        *,
        subset: Literal["curated", "noisy", "train", "test"] = "curated",
        sample_rate: SampleRate | None = None,
        mono: bool = True,
        path: str | os.PathLike | None = None,
    ):
        if subset not in SUBSETS:
            raise ValueError(f"{NAME}: subset must be one of {list(SUBSETS)}, got {subset!r}")
        parts = ("curated", "noisy") if subset == "train" else (subset,)
        directory, looked_in = find_dataset_folder(Path(root), (FOLDER, *FOLDER_ALIASES), LISTINGS[parts[0]][0], path)
        if directory is None:
            base = Path(root) / FOLDER
            layout = [f"{base}/{LISTINGS[part][1]}/<fname>.wav" for part in parts]
            layout += [f"{base}/{LISTINGS[part][0]}" for part in parts] + [f"{base}/{VOCABULARY}"]
            raise dataset_not_found(NAME, looked_in, layout, INFO)

        listed: list[tuple[str, dict[str, str], list[str], Path]] = []
        for part in parts:
            listing_name, audio_folder = LISTINGS[part]
            listing = directory / listing_name
            rows = read_csv_rows(listing, required=("fname", "labels"))
            labels = [[name.strip() for name in row["labels"].split(",") if name.strip()] for row in rows]
            for line, names in enumerate(labels, start=2):
                if not names:
                    raise MetadataError(f"{listing}, line {line}: the clip has no label")
            files = resolve_listed_files(
                directory / audio_folder,
                [row["fname"] for row in rows],
                listing=listing,
                remedy=(
                    f"Merge the split archive (zip -s 0 {audio_folder}.zip --out unsplit.zip) and unzip it there."
                    if part == "noisy"
                    else f"Unpack {audio_folder}.zip again (`workbench download {NAME}`), or remove their rows."
                ),
            )
            listed += [(part, row, names, file) for row, names, file in zip(rows, labels, files, strict=True)]

        vocabulary = read_vocabulary(directory / VOCABULARY)
        classes = vocabulary or sorted({name for _, _, names, _ in listed for name in names})
        index_of = {name: index for index, name in enumerate(classes)}
        records = []
        for part, row, names, file in listed:
            if unknown := [name for name in names if name not in index_of]:
                raise MetadataError(
                    f"{directory / LISTINGS[part][0]}: clip {row['fname']} has label(s) {unknown} that "
                    f"{directory / VOCABULARY} does not list"
                )
            records.append(
                ClipRecord(
                    id=Path(row["fname"]).stem,
                    path=file,
                    target=tuple(sorted(index_of[name] for name in names)),
                    split=part,
                    extra={"labels": names, "license": row.get("license", "")},
                )
            )
        super().__init__(
            records,
            classes=classes,
            directory=directory,
            sample_rate=sample_rate,
            default_rate=NATIVE_RATE,
            mono=mono,
            target_kind="multilabel",
        )


@register(INFO)
def fsdkaggle2019(root: Path, **options: Any) -> FSDKaggle2019:
    """Registry factory: ``workbench.data.get("fsdkaggle2019", subset=..., sample_rate=..., mono=..., path=...)``."""
    reject_unknown_options(NAME, options, OPTIONS)
    return FSDKaggle2019(root, **options)


def download(root: str | os.PathLike | None = None, **options: Any) -> Path:
    """Download and unpack the curated, test and metadata archives; see :func:`download_dataset`."""
    return download_dataset(NAME, root, **options)
