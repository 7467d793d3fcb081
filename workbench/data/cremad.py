"""CREMA-D: acted emotional speech, six emotions, 91 actors, with EVAR's speaker-independent split.

Cao, Cooper, Keutmann, Gur, Nenkova and Verma, "CREMA-D: Crowd-sourced Emotional Multimodal Actors
Dataset", IEEE Transactions on Affective Computing 5(4), 2014. https://github.com/CheyneyComputerScience/CREMA-D
(licence: Open Database License v1.0, contents under the Database Contents License v1.0).

Layout (the repository's ``AudioWAV`` folder; its audio is stored with Git LFS)::

    <root>/CREMA-D/AudioWAV/<actor>_<sentence>_<emotion>_<level>.wav      e.g. 1001_DFA_ANG_XX.wav

``CREMA-D``, ``cremad``, ``crema_d`` and ``CREMA-D-master`` are looked for under ``root``; ``root`` may
also be the folder holding ``AudioWAV`` itself, or it may be given with ``path=``. The file names are
the metadata (the release lists no clips elsewhere): ``<actor>`` is 1001..1091, ``<sentence>`` one of the
12 sentence codes, ``<emotion>`` one of ``ANG``, ``DIS``, ``FEA``, ``HAP``, ``NEU``, ``SAD`` and
``<level>`` ``LO``/``MD``/``HI``/``XX`` (unspecified). Audio files whose names do not follow the pattern
are skipped; an unknown emotion code, or two files with the same stem, is an error. Every actor of the
split below must have clips (an absent actor is named in the error): a complete copy has 7442 clips,
16 kHz mono.

Targets: the emotion, classes ``anger, disgust, fear, happy, neutral, sad`` (the codes in sorted
order, as EVAR orders them).

Split: the speaker-independent split of EVAR (``evar/metadata/cremad.csv`` of
https://github.com/nttcslab/eval-audio-repr, after NOSS, Shor et al. 2020): 63 actors train, 9 valid,
19 test, no actor in two splits (:data:`VALID_ACTORS`, :data:`TEST_ACTORS`; every other actor trains).
EVAR's metadata lists 7438 clips, four fewer than the repository; the split is by actor, so the extra
clips take their actor's split.

No download: the repository keeps its audio in Git LFS, which no release archive contains. Clone it
with Git LFS installed (``git lfs install; git clone https://github.com/CheyneyComputerScience/CREMA-D``,
about 600 MB of audio) into the data root; the error for a missing copy says so.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

from workbench.data.folder import (
    check_split,
    ListedAudioDataset,
    MetadataError,
    find_dataset_folder,
    is_audio_file,
    reject_unknown_options,
)
from workbench.data.records import ClipRecord, DatasetInfo
from workbench.data.registry import register
from workbench.errors import DatasetNotFoundError, MissingFileError
from workbench.typing import SampleRate

NAME = "cremad"
URL = "https://github.com/CheyneyComputerScience/CREMA-D"
FOLDER = "CREMA-D"
FOLDER_ALIASES = ("cremad", "crema_d", "CREMA-D-master")
AUDIO_FOLDER = "AudioWAV"
NATIVE_RATE = 16000
EXPECTED_CLIPS = 7442
EMOTIONS = ("ANG", "DIS", "FEA", "HAP", "NEU", "SAD")
"""Emotion codes in target order (sorted, as EVAR's labels sort)."""
CLASS_NAMES = ("anger", "disgust", "fear", "happy", "neutral", "sad")
ACTORS = tuple(range(1001, 1092))
VALID_ACTORS = frozenset({1009, 1011, 1022, 1034, 1039, 1047, 1066, 1070, 1082})
"""The 9 validation actors of EVAR's ``cremad.csv``."""
TEST_ACTORS = frozenset(
    {1001, 1004, 1017, 1019, 1020, 1025, 1026, 1029, 1033, 1035, 1042, 1044, 1050, 1053, 1056, 1058, 1060, 1069, 1083}
)
"""The 19 test actors of EVAR's ``cremad.csv``; the other 63 actors are the training split."""
SPLITS = ("train", "valid", "test")

INFO = DatasetInfo(
    name=NAME,
    description="CREMA-D: 7442 acted sentences, 6 emotions, 91 actors, EVAR speaker-independent split, 16 kHz.",
    sample_rate=NATIVE_RATE,
    target_kind="class",
    url=URL,
    licence="Open Database License v1.0 (contents: Database Contents License v1.0)",
    obtain=(
        "clone the repository with Git LFS installed (git lfs install; git clone "
        "https://github.com/CheyneyComputerScience/CREMA-D) so that its AudioWAV folder is there; the "
        "audio lives in Git LFS, so the repository's zip archive does not contain it and the workbench "
        "cannot download it"
    ),
    folder=FOLDER,
    expected_clips=EXPECTED_CLIPS,
)
OPTIONS = ("split", "sample_rate", "mono", "path")
_NAME_PATTERN = re.compile(r"^(?P<actor>\d{4})_(?P<sentence>[A-Z]{3})_(?P<emotion>[A-Z]{3})_(?P<level>[A-Z]{2})$")


def split_of_actor(actor: int) -> str:
    """EVAR's split of an actor: ``"train"``, ``"valid"`` or ``"test"``."""
    return "test" if actor in TEST_ACTORS else "valid" if actor in VALID_ACTORS else "train"


def not_found_error(looked_in: list[Path], root: Path) -> DatasetNotFoundError:
    places = "\n".join(f"    {place}" for place in looked_in)
    return DatasetNotFoundError(
        f"dataset {NAME!r} not found; looked in\n{places}\n"
        f"Put the files in the repository's layout:\n"
        f"    {root / FOLDER}/{AUDIO_FOLDER}/<actor>_<sentence>_<emotion>_<level>.wav\n"
        f"Get them from {URL} (licence: {INFO.licence}): {INFO.obtain}.\n"
        f"Or pass path=<the folder holding {AUDIO_FOLDER}>."
    )


class CremaD(ListedAudioDataset):
    """CREMA-D emotion recognition with EVAR's speaker-independent train/valid/test split.

    Args:
        root: the data root holding ``CREMA-D/AudioWAV``, or the folder holding ``AudioWAV`` itself.
        split: ``"train"``, ``"valid"`` or ``"test"``; None keeps every clip.
        sample_rate: resample to this rate on load; None keeps the files' rate (16 kHz).
        mono: average channels to one (the clips are mono).
        path: the folder holding ``AudioWAV``, overriding the search under ``root``.

    Items:
        ``(waveform (1, samples), emotion index, meta)``; meta has ``id`` (the file stem), ``path``,
        ``split``, ``actor`` (int), ``sentence``, ``emotion`` (the code) and ``level``.

    Raises:
        DatasetNotFoundError: no ``AudioWAV`` folder where it was looked for; the message says where
            the files go and how to get them (there is no download).
        MissingFileError: actors of the split have no clips (up to five named).
        MetadataError: an unknown emotion code or actor, or two files holding the same clip.
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
        directory, looked_in = find_dataset_folder(Path(root), (FOLDER, *FOLDER_ALIASES), AUDIO_FOLDER, path)
        if directory is None:
            raise not_found_error(looked_in, Path(root))
        audio = directory / AUDIO_FOLDER

        seen: dict[str, Path] = {}
        parsed: list[tuple[int, str, str, str, Path]] = []  # (actor, sentence, emotion, level, file)
        for file in audio.iterdir():
            match = _NAME_PATTERN.match(file.stem)
            if not (match and is_audio_file(file)):
                continue
            if file.stem in seen:
                pair = " and ".join(sorted((seen[file.stem].name, file.name)))
                raise MetadataError(f"{NAME}: {pair} in {audio} hold the same clip; keep one of them")
            seen[file.stem] = file
            actor = int(match["actor"])
            if match["emotion"] not in EMOTIONS:
                raise MetadataError(f"{NAME}: {file.name}: unknown emotion code {match['emotion']!r}; "
                                    f"expected one of {', '.join(EMOTIONS)}")  # fmt: skip
            if actor not in ACTORS:
                raise MetadataError(f"{NAME}: {file.name}: actor {actor} outside {ACTORS[0]}..{ACTORS[-1]}")
            parsed.append((actor, match["sentence"], match["emotion"], match["level"], file))
        parsed.sort()  # by actor, sentence, emotion, level: the order does not depend on the file system

        wanted = [actor for actor in ACTORS if split is None or split_of_actor(actor) == split]
        present = {actor for actor, *_ in parsed}
        if absent := [actor for actor in wanted if actor not in present]:
            shown = ", ".join(map(str, absent[:5])) + (f" and {len(absent) - 5} more" if len(absent) > 5 else "")
            raise MissingFileError(
                f"{NAME}: {audio} has no clips of {len(absent)} actor(s) of the split: {shown}. "
                f"The copy is incomplete (Git LFS files not fetched?); run `git lfs pull` in the repository."
            )
        target_of = {code: index for index, code in enumerate(EMOTIONS)}
        records = [
            ClipRecord(
                id=file.stem,
                path=file,
                target=target_of[emotion],
                split=split_of_actor(actor),
                extra={"actor": actor, "sentence": sentence, "emotion": emotion, "level": level},
            )
            for actor, sentence, emotion, level, file in parsed
            if split is None or split_of_actor(actor) == split
        ]
        super().__init__(
            records,
            classes=CLASS_NAMES,
            directory=directory,
            sample_rate=sample_rate,
            default_rate=NATIVE_RATE,
            mono=mono,
        )
        self.name = NAME


@register(INFO)
def cremad(root: Path, **options: Any) -> CremaD:
    """Registry factory: ``workbench.data.get("cremad", split=..., sample_rate=..., mono=..., path=...)``."""
    reject_unknown_options(NAME, options, OPTIONS)
    return CremaD(root, **options)
