"""Free Spoken Digit Dataset (FSDD): spoken digits 0-9 by six speakers, 50 takes each, 8 kHz.

Jackson et al., Free Spoken Digit Dataset, https://github.com/Jakobovski/free-spoken-digit-dataset
(release v1.0.10: 3000 recordings, speakers george, jackson, lucas, nicolas, theo, yweweler).

Layout (the release archive's ``recordings`` folder)::

    <root>/free-spoken-digit-dataset/recordings/{digit}_{speaker}_{index}.wav

Any audio extension libsndfile reads is accepted (e.g. a FLAC copy), and ``root`` may also be the
recordings' parent (``<root>/recordings``) or hold ``fsdd/recordings``; ``path=`` names the
recordings' parent directly. The file names are the metadata: audio files whose names do not
follow ``{digit}_{speaker}_{index}`` are skipped.

Official split (the dataset's README): takes with index 0-4 are the test set, 5-49 the training
set, for every speaker and digit, so ``split_of`` is ``"test"`` for 10 % of the clips.

Targets: ``task="digit"`` gives the spoken digit (classes ``"0"``..``"9"``); ``task="speaker"``
the speaker's index in sorted name order (classes the sorted speaker names).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

from workbench.data.download import RemoteFile, download_dataset
from workbench.data.folder import (
    ListedAudioDataset,
    MetadataError,
    dataset_not_found,
    find_dataset_folder,
    is_audio_file,
    reject_unknown_options,
)
from workbench.data.records import ClipRecord, DatasetInfo
from workbench.data.registry import register
from workbench.typing import SampleRate

URL = "https://github.com/Jakobovski/free-spoken-digit-dataset"
FOLDER = "free-spoken-digit-dataset"
FOLDER_ALIASES = ("fsdd", "free-spoken-digit-dataset-1.0.10", "free-spoken-digit-dataset-master")
NATIVE_RATE = 8000
TEST_TAKES = range(0, 5)
"""Takes 0-4 of every speaker and digit form the official test set; 5-49 the training set."""

REMOTE = RemoteFile(
    url="https://github.com/Jakobovski/free-spoken-digit-dataset/archive/refs/tags/v1.0.10.zip",
    # Digest and size of the v1.0.10 tag archive as recorded by an independent audit of that
    # release (upstream publishes none); the 3000-clip count is checked after extraction as well.
    sha256="c680098f5d2355ba7cc4bd8b0ca9e0a24c00ebe3b4c552208889a4d28d4fbc2b",
    filename="free-spoken-digit-dataset-1.0.10.zip",
    size_bytes=16_419_872,
)

INFO = DatasetInfo(
    name="fsdd",
    description="Free Spoken Digit Dataset: 3000 recordings of digits 0-9, 6 speakers, 8 kHz.",
    sample_rate=NATIVE_RATE,
    target_kind="class",
    url=URL,
    licence="CC BY-SA 4.0",
    obtain="download the v1.0.10 release archive (16 MB) and keep its recordings/ folder",
    remotes=(REMOTE,),
    folder=FOLDER,
    expected_clips=3000,
)
OPTIONS = ("task", "split", "sample_rate", "mono", "path")
_NAME_PATTERN = re.compile(r"^(?P<digit>[0-9])_(?P<speaker>[^_]+)_(?P<index>[0-9]+)$")


class FSDD(ListedAudioDataset):
    """The Free Spoken Digit Dataset read from its ``recordings`` folder.

    Args:
        root: the data root holding ``free-spoken-digit-dataset/recordings`` (or ``fsdd/recordings``),
            or the recordings' parent itself.
        task: ``"digit"`` (10 classes) or ``"speaker"`` (one class per speaker, sorted by name).
        split: ``"train"`` or ``"test"`` keeps that official split; None keeps both.
        sample_rate: resample to this rate on load; None keeps the files' rate (8 kHz).
        mono: average channels to one (the recordings are mono).
        path: the recordings' parent folder, overriding the search under ``root``.

    Raises:
        DatasetNotFoundError: no ``recordings`` folder where it was looked for.
        MetadataError: two files hold the same recording (same name, different extensions).
        ValueError: an unknown ``task`` or ``split``.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        *,
        task: Literal["digit", "speaker"] = "digit",
        split: Literal["train", "test"] | None = None,
        sample_rate: SampleRate | None = None,
        mono: bool = True,
        path: str | os.PathLike | None = None,
    ):
        if task not in ("digit", "speaker"):
            raise ValueError(f"fsdd: task must be 'digit' or 'speaker', got {task!r}")
        if split not in (None, "train", "test"):
            raise ValueError(f"fsdd: split must be 'train', 'test' or None, got {split!r}")
        directory, looked_in = find_dataset_folder(Path(root), (FOLDER, *FOLDER_ALIASES), "recordings", path)
        if directory is None:
            layout = (f"{Path(root) / FOLDER}/recordings/{{digit}}_{{speaker}}_{{index}}.wav",)
            raise dataset_not_found("fsdd", looked_in, layout, INFO)
        recordings = directory / "recordings"

        seen: dict[str, Path] = {}
        parsed: list[tuple[str, int, int, Path]] = []  # (speaker, digit, take, file)
        for file in recordings.iterdir():
            match = _NAME_PATTERN.match(file.stem)
            if not (match and is_audio_file(file)):
                continue
            if file.stem in seen:
                pair = " and ".join(sorted((seen[file.stem].name, file.name)))
                raise MetadataError(f"fsdd: {pair} in {recordings} hold the same recording; keep one of them")
            seen[file.stem] = file
            parsed.append((match["speaker"], int(match["digit"]), int(match["index"]), file))
        parsed.sort()  # by speaker, digit and take: the order does not depend on the file system
        speakers = sorted({speaker for speaker, _, _, _ in parsed})
        classes = [str(digit) for digit in range(10)] if task == "digit" else speakers
        speaker_index = {speaker: index for index, speaker in enumerate(speakers)}

        records = []
        for speaker, digit, take, file in parsed:
            clip_split = "test" if take in TEST_TAKES else "train"
            if split is not None and clip_split != split:
                continue
            records.append(
                ClipRecord(
                    id=file.stem,
                    path=file,
                    target=digit if task == "digit" else speaker_index[speaker],
                    split=clip_split,
                    extra={"digit": digit, "speaker": speaker, "take": take},
                )
            )
        super().__init__(
            records,
            classes=classes,
            directory=directory,
            sample_rate=sample_rate,
            default_rate=NATIVE_RATE,
            mono=mono,
        )
        self.task = task
        self.speakers = tuple(speakers)
        # Digits said by one speaker must stay on one side of a split; for speaker identification the
        # speaker is the class itself, so there is nothing to group by.
        self.group_key = "speaker" if task == "digit" else None


@register(INFO)
def fsdd(root: Path, **options: Any) -> FSDD:
    """Registry factory: ``workbench.data.get("fsdd", task=..., split=..., sample_rate=..., path=...)``."""
    reject_unknown_options("fsdd", options, OPTIONS)
    return FSDD(root, **options)


def download(root: str | os.PathLike | None = None, **options: Any) -> Path:
    """Download and unpack FSDD v1.0.10 into ``root/free-spoken-digit-dataset``; see :func:`download_dataset`."""
    return download_dataset("fsdd", root, **options)
