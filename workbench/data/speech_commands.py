"""Speech Commands v0.02: one-second utterances of 35 words by thousands of speakers, 16 kHz.

Warden, "Speech Commands: A Dataset for Limited-Vocabulary Speech Recognition", arXiv:1804.03209.
https://www.tensorflow.org/datasets/catalog/speech_commands

Layout (torchaudio's, the archive unpacked into ``speech_commands_v0.02``)::

    <root>/SpeechCommands/speech_commands_v0.02/<word>/<speaker>_nohash_<n>.wav
    <root>/SpeechCommands/speech_commands_v0.02/validation_list.txt
    <root>/SpeechCommands/speech_commands_v0.02/testing_list.txt

``root`` may also be the ``speech_commands_v0.02`` folder itself, or it may be given with ``path=``.

Official split: the files named in ``validation_list.txt`` are ``"validation"``, those in
``testing_list.txt`` are ``"test"``, every other clip is ``"train"``. A file the lists name but
the folder lacks is an error. ``_background_noise_`` (long noise recordings, not utterances) is
excluded. Classes are the word folders in sorted order (35 in v0.02) and are the same whatever
``split`` is chosen, so indices agree across splits. Clips last at most one second; some are
shorter, so batches need padding (the waveforms are returned as recorded).
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from workbench.data.download import RemoteFile, download_dataset
from workbench.data.folder import (
    check_split,
    ListedAudioDataset,
    dataset_not_found,
    find_dataset_folder,
    is_audio_file,
    reject_unknown_options,
    resolve_listed_files,
)
from workbench.data.records import ClipRecord, DatasetInfo
from workbench.data.registry import register
from workbench.errors import MissingFileError
from workbench.typing import SampleRate

URL = "https://www.tensorflow.org/datasets/catalog/speech_commands"
FOLDER = "SpeechCommands/speech_commands_v0.02"
NATIVE_RATE = 16000
BACKGROUND_FOLDER = "_background_noise_"
SPLIT_LISTS = {"validation": "validation_list.txt", "test": "testing_list.txt"}
SPLITS = ("train", "validation", "test")

REMOTE = RemoteFile(
    # The https address of download.tensorflow.org; the sha256 and size are those TensorFlow
    # Datasets (url_checksums/speech_commands.txt) and torchaudio (SPEECHCOMMANDS) publish.
    url="https://storage.googleapis.com/download.tensorflow.org/data/speech_commands_v0.02.tar.gz",
    sha256="af14739ee7dc311471de98f5f9d2c9191b18aedfe957f4a6ff791c709868ff58",
    filename="speech_commands_v0.02.tar.gz",
    size_bytes=2_428_923_189,
)

INFO = DatasetInfo(
    name="speech_commands",
    description="Speech Commands v0.02: 35 spoken words, ~105k one-second clips, official splits, 16 kHz.",
    sample_rate=NATIVE_RATE,
    target_kind="class",
    url=URL,
    licence="CC BY 4.0",
    obtain="download speech_commands_v0.02.tar.gz (2.4 GB) and unpack it into that folder",
    remotes=(REMOTE,),
    folder=FOLDER,
)
OPTIONS = ("split", "sample_rate", "mono", "path")


class SpeechCommands(ListedAudioDataset):
    """Speech Commands v0.02 with its official train/validation/test split.

    Args:
        root: the data root holding ``SpeechCommands/speech_commands_v0.02``, or that folder itself.
        split: ``"train"``, ``"validation"`` or ``"test"``; None keeps every clip.
        sample_rate: resample to this rate on load; None keeps the files' rate (16 kHz).
        mono: average channels to one (the clips are mono).
        path: the ``speech_commands_v0.02`` folder, overriding the search under ``root``.

    Raises:
        DatasetNotFoundError: no ``testing_list.txt`` where it was looked for.
        MissingFileError: a split list names files that are absent (up to five named).
        ValueError: an unknown ``split``.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        *,
        split: Literal["train", "validation", "test"] | None = None,
        sample_rate: SampleRate | None = None,
        mono: bool = True,
        path: str | os.PathLike | None = None,
    ):
        check_split("speech_commands", split, SPLITS)
        candidates = (FOLDER, "speech_commands_v0.02")
        directory, looked_in = find_dataset_folder(Path(root), candidates, SPLIT_LISTS["test"], path)
        if directory is None:
            base = Path(root) / FOLDER
            lists = (f"{base}/{list_name}" for list_name in SPLIT_LISTS.values())
            layout = (f"{base}/<word>/<speaker>_nohash_<n>.wav", *lists)
            raise dataset_not_found("speech_commands", looked_in, layout, INFO)

        words = sorted(
            entry.name
            for entry in directory.iterdir()
            if entry.is_dir() and entry.name != BACKGROUND_FOLDER and not entry.name.startswith(".")
        )
        split_of: dict[str, str] = {}
        for split_name, list_name in SPLIT_LISTS.items():
            listing = directory / list_name
            if not listing.is_file():
                raise MissingFileError(f"speech_commands: {listing} is missing; unpack the archive again")
            names = [str(PurePosixPath(line)) for line in map(str.strip, listing.read_text().splitlines()) if line]
            # Resolving the names checks each listed file exists (one scan per word folder).
            resolve_listed_files(
                directory,
                names,
                listing=listing,
                remedy="Unpack the archive again (`workbench download speech_commands`).",
            )
            # Keyed by word/stem: a copy may hold the listed .wav files in another format.
            for name in names:
                split_of[str(PurePosixPath(name).with_suffix(""))] = split_name

        records = []
        for target, word in enumerate(words):
            for file in sorted((directory / word).iterdir()):
                if not is_audio_file(file):
                    continue
                clip_id = f"{word}/{file.stem}"
                clip_split = split_of.get(clip_id, "train")
                if split is not None and clip_split != split:
                    continue
                speaker, _, utterance = file.stem.partition("_nohash_")
                records.append(
                    ClipRecord(
                        id=clip_id,
                        path=file,
                        target=target,
                        split=clip_split,
                        extra={"word": word, "speaker": speaker, "utterance": utterance},
                    )
                )
        super().__init__(
            records,
            classes=words,
            directory=directory,
            sample_rate=sample_rate,
            default_rate=NATIVE_RATE,
            mono=mono,
        )


@register(INFO)
def speech_commands(root: Path, **options: Any) -> SpeechCommands:
    """Registry factory: ``workbench.data.get("speech_commands", split=..., sample_rate=..., path=...)``."""
    reject_unknown_options("speech_commands", options, OPTIONS)
    return SpeechCommands(root, **options)


def download(root: str | os.PathLike | None = None, **options: Any) -> Path:
    """Download (2.4 GB) and unpack Speech Commands v0.02; see :func:`download_dataset`."""
    return download_dataset("speech_commands", root, **options)
