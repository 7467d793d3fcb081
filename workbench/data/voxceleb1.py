"""VoxCeleb1 speaker identification: 153,516 utterances of 1251 celebrities, the official iden_split.

Nagrani, Chung and Zisserman, "VoxCeleb: a large-scale speaker identification dataset", Interspeech 2017.
https://www.robots.ox.ac.uk/~vgg/data/voxceleb/vox1.html

VoxCeleb1's audio is handed out after a request form on the VGG site, so the workbench never downloads
it. Point ``root`` (or ``path=``) at your copy, in the release's layout plus the split file::

    <root>/VoxCeleb1/wav/<speaker id>/<video id>/<nnnnn>.wav      16 kHz mono, e.g. id10001/1zcIwhmdeo4/00001.wav
    <root>/VoxCeleb1/iden_split.txt                               the official identification split

(``iden_split.txt``: https://www.robots.ox.ac.uk/~vgg/data/voxceleb/meta/iden_split.txt.)

The development and test archives both unpack into ``wav/``; ``VoxCeleb1``, ``voxceleb1``, ``vox1`` and
``vc1`` are looked for under ``root``, and ``root`` may be that folder itself.

``iden_split.txt`` is the truth: each line is ``<split> <speaker>/<video>/<file>.wav`` with split 1 =
train, 2 = validation, 3 = test (138,361 / 6,904 / 8,251 lines), and every file it names must exist
(checked with one directory listing per video folder; another audio extension with the same stem is
accepted). Targets: the speaker, classes the 1251 speaker ids in sorted order (``id10001`` = 0), the
same whichever ``split`` is kept. Utterances last 4 s to over a minute: ``duration`` is None.
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
    reject_unknown_options,
    resolve_listed_files,
)
from workbench.data.records import ClipRecord, DatasetInfo
from workbench.data.registry import register
from workbench.errors import DatasetNotFoundError
from workbench.typing import SampleRate

NAME = "voxceleb1"
URL = "https://www.robots.ox.ac.uk/~vgg/data/voxceleb/vox1.html"
SPLIT_FILE_URL = "https://www.robots.ox.ac.uk/~vgg/data/voxceleb/meta/iden_split.txt"
FOLDER = "VoxCeleb1"
FOLDER_ALIASES = ("voxceleb1", "vox1", "vc1")
LISTING = "iden_split.txt"
SPLIT_CODES = {"1": "train", "2": "valid", "3": "test"}
SPLITS = tuple(SPLIT_CODES.values())
N_SPEAKERS = 1251
EXPECTED_CLIPS = 153_516
NATIVE_RATE = 16000

INFO = DatasetInfo(
    name=NAME,
    description="VoxCeleb1 identification: 153,516 utterances, 1251 speakers, official iden_split, 16 kHz.",
    sample_rate=NATIVE_RATE,
    target_kind="class",
    url=URL,
    licence="CC BY 4.0 (metadata); the audio is released after a request form, for research",
    obtain=(
        "request access with the form on the VGG VoxCeleb page, download and unpack the development and test "
        f"audio into wav/, and put {SPLIT_FILE_URL} beside it; it cannot be downloaded automatically"
    ),
    folder=FOLDER,
    expected_clips=EXPECTED_CLIPS,
)
OPTIONS = ("split", "sample_rate", "mono", "path")


def not_found_error(looked_in: list[Path], root: Path) -> DatasetNotFoundError:
    """The error for an absent copy: the audio is behind a request form, so the user brings their own."""
    places = "\n".join(f"    {place}" for place in looked_in)
    return DatasetNotFoundError(
        f"dataset {NAME!r} not found; looked in\n{places}\n"
        f"VoxCeleb1 is handed out after a request form and cannot be downloaded by the workbench: "
        f"{INFO.obtain}.\nThe release's layout is expected:\n"
        f"    {root / FOLDER}/wav/<speaker id>/<video id>/<nnnnn>.wav\n"
        f"    {root / FOLDER}/{LISTING}\n"
        f"Or pass path=<your VoxCeleb1 folder>."
    )


def read_iden_split(path: Path) -> list[tuple[str, str]]:
    """``(split, "<speaker>/<video>/<file>.wav")`` for each line of ``iden_split.txt``.

    Raises:
        MetadataError: a line that is not ``<1|2|3> <speaker>/<video>/<file>`` (names file and line).
    """
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or parts[0] not in SPLIT_CODES or len(PurePosixPath(parts[1]).parts) != 3:
            raise MetadataError(f"{path}, line {number}: expected '<1|2|3> <speaker>/<video>/<file>.wav', got {line!r}")
        rows.append((SPLIT_CODES[parts[0]], parts[1]))
    return rows


class VoxCeleb1(ListedAudioDataset):
    """VoxCeleb1 speaker identification with the official train/valid/test split.

    Args:
        root: the data root holding ``VoxCeleb1/`` (``wav/`` and ``iden_split.txt``), or that folder itself.
        split: ``"train"``, ``"valid"`` or ``"test"``; None keeps every line of ``iden_split.txt``.
        sample_rate: resample to this rate on load; None keeps the files' rate (16 kHz).
        mono: average channels to one (the utterances are mono).
        path: the dataset folder, overriding the search under ``root``.

    Items:
        ``(waveform (1, samples), speaker index, meta)``; meta has ``id`` (``<speaker>/<video>/<nnnnn>``),
        ``path``, ``split``, ``speaker`` and ``video``.

    Raises:
        DatasetNotFoundError: no ``iden_split.txt`` where it was looked for; the message says the audio
            is behind a request form and where the files go.
        MissingFileError: ``iden_split.txt`` names utterances that are absent (up to five named).
        MetadataError: a malformed ``iden_split.txt``.
        ValueError: an unknown ``split``.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        *,
        split: Literal["train", "valid", "test"] | None = None,
        sample_rate: SampleRate | None = None,
        mono: bool = True,
        path: str | os.PathLike | None = None,
    ):
        check_split(NAME, split, SPLITS)
        directory, looked_in = find_dataset_folder(Path(root), (FOLDER, *FOLDER_ALIASES), LISTING, path)
        if directory is None:
            raise not_found_error(looked_in, Path(root))
        listing = directory / LISTING
        rows = read_iden_split(listing)
        # Classes from every line, so that indices agree whichever split is kept.
        speakers = sorted({PurePosixPath(name).parts[0] for _, name in rows})
        if split is not None:
            rows = [(clip_split, name) for clip_split, name in rows if clip_split == split]
        files = resolve_listed_files(
            directory / "wav",
            [name for _, name in rows],
            listing=listing,
            remedy="Unpack the development and test archives into wav/ (both are needed for the identification split).",
        )
        speaker_index = {speaker: index for index, speaker in enumerate(speakers)}
        records = []
        for (clip_split, name), file in zip(rows, files, strict=True):
            speaker, video, _ = PurePosixPath(name).parts
            records.append(
                ClipRecord(
                    id=str(PurePosixPath(name).with_suffix("")),
                    path=file,
                    target=speaker_index[speaker],
                    split=clip_split,
                    extra={"speaker": speaker, "video": video},
                )
            )
        super().__init__(
            records,
            classes=speakers,
            directory=directory,
            sample_rate=sample_rate,
            default_rate=NATIVE_RATE,
            mono=mono,
        )
        self.name = NAME


@register(INFO)
def voxceleb1(root: Path, **options: Any) -> VoxCeleb1:
    """Registry factory: ``workbench.data.get("voxceleb1", split=..., sample_rate=..., mono=..., path=...)``."""
    reject_unknown_options(NAME, options, OPTIONS)
    return VoxCeleb1(root, **options)
