"""Surge synthesizer pitch dataset: every preset ("tone") of Surge played at each of 88 pitches.

Turian, Shier, Tzanetakis, McNally and Henry, "One Billion Audio Sounds from GPU-enabled Modular
Synthesis", DAFx 2021 (arXiv:2104.12922), the "subtractive synth pitch" dataset; Zenodo record
https://zenodo.org/record/4677097 (``surge-velocity64-2K.tar``; licence: CC BY 4.0 on Zenodo, the
presets are Surge's own, GPL-3.0). EVAR and the layer-fusion paper use it as a pitch task.

Layout (the archive unpacked, as it is)::

    <root>/surge/<tone>/<pitch>.ogg             e.g. surge-patches-3rdparty-Bluelight-Basses-Bass-1-velocity64/60.ogg
    <root>/surge/dataset_surge_tone_splits.csv  optional: EVAR's tone split, columns tone,split

``surge`` and ``surge-velocity64-2K`` are looked for under ``root``; ``root`` may be the folder holding
the tone folders itself, or it may be given with ``path=``. A folder is taken for the dataset when its
first sub-folder (in sorted order) holds audio files. The file names are the metadata: each audio file
in a tone folder is one clip, its stem the pitch label, as EVAR reads them (``label = file stem``).
Classes are the distinct stems, in numeric order when they are all integers (the MIDI notes), else
in sorted order; any audio format libsndfile reads is accepted.

Split: EVAR's split by tone (``evar/predefined/dataset_surge_tone_splits.csv`` of
https://github.com/nttcslab/eval-audio-repr: about 80 % of the tones train, 10 % valid, 10 % test,
so a test tone is never heard in training). Put that file (or ``tone_splits.csv`` in the same format)
in the folder: it is then the truth, every tone it names must be a folder (the missing ones are named)
and a tone folder it does not name is an error. Without it the clips have no split (``split_of`` is
None; the workbench's linear evaluation then draws a random hold-out, which mixes tones across train
and test) and ``split=`` raises an error saying where to get the file.

Download: ``workbench download surge`` fetches ``surge-velocity64-2K.tar`` from Zenodo. Zenodo
publishes an MD5 only, and no clip count is published that the workbench could check, so the download
is verified by its listing alone (tone folders holding audio); add EVAR's split file afterwards.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from workbench.data.download import RemoteFile, download_dataset
from workbench.data.folder import (
    check_split,
    ListedAudioDataset,
    MetadataError,
    dataset_not_found,
    is_audio_file,
    read_csv_rows,
    reject_unknown_options,
)
from workbench.data.records import ClipRecord, DatasetInfo
from workbench.data.registry import register
from workbench.errors import MissingFileError
from workbench.typing import SampleRate

NAME = "surge"
URL = "https://zenodo.org/record/4677097"
FOLDER = "surge"
FOLDER_ALIASES = ("surge-velocity64-2K",)
SPLIT_FILES = ("dataset_surge_tone_splits.csv", "tone_splits.csv")
"""Accepted names of the tone split file (EVAR's name first)."""
SPLIT_FILE_URL = (
    "https://github.com/nttcslab/eval-audio-repr/blob/main/evar/predefined/dataset_surge_tone_splits.csv"
)
SPLITS = ("train", "valid", "test")
NATIVE_RATE = 44100
"""Declared when the folder holds no clips; otherwise the first clip's rate is used."""

REMOTE = RemoteFile(
    url="https://zenodo.org/record/4677097/files/surge-velocity64-2K.tar?download=1",
    sha256=None,  # Zenodo publishes an MD5 only; the listing is checked after extraction
    filename="surge-velocity64-2K.tar",
)

INFO = DatasetInfo(
    name=NAME,
    description="Surge synth pitch: every Surge preset at 88 pitches (4 s), EVAR's tone split when present.",
    sample_rate=NATIVE_RATE,
    target_kind="class",
    url=URL,
    licence="CC BY 4.0 (Zenodo record; Surge presets GPL-3.0)",
    obtain=(
        "download surge-velocity64-2K.tar from Zenodo and unpack it there (its surge/ folder holds one folder "
        f"per tone); for EVAR's split add {SPLIT_FILE_URL}"
    ),
    remotes=(REMOTE,),
    folder=FOLDER,
)
OPTIONS = ("split", "sample_rate", "mono", "path")


def _is_surge_folder(folder: Path) -> bool:
    """A folder whose first sub-folder (sorted) holds an audio file."""
    if not folder.is_dir():
        return False
    subfolders = sorted(entry for entry in folder.iterdir() if entry.is_dir() and not entry.name.startswith("."))
    return bool(subfolders) and any(is_audio_file(file) for file in subfolders[0].iterdir())


def _class_order(labels: set[str]) -> list[str]:
    if all(label.lstrip("-").isdigit() for label in labels):
        return sorted(labels, key=int)
    return sorted(labels)


class Surge(ListedAudioDataset):
    """Surge synthesizer tones at 88 pitches, labelled by pitch, with EVAR's tone split when present.

    Args:
        root: the data root holding ``surge/``, or the folder holding the tone folders.
        split: ``"train"``, ``"valid"`` or ``"test"`` of the tone split (needs the split file); None
            keeps every clip.
        sample_rate: resample to this rate on load; None adopts the first clip's rate.
        mono: average channels to one.
        path: the folder holding the tone folders, overriding the search under ``root``.

    Items:
        ``(waveform (channels, samples), pitch index, meta)``; meta has ``id`` (``<tone>/<pitch>``),
        ``path``, ``tone``, ``pitch`` (the file stem) and ``split`` when the split file is present.

    Raises:
        DatasetNotFoundError: no tone folders where it was looked for; the message says where the
            files go, where to get them and the ``workbench download`` command.
        MissingFileError: the split file names tones whose folders are absent (up to five named), or
            ``split`` is given without the split file.
        MetadataError: a malformed split file, a tone folder it does not name, or an unknown split name.
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
        root = Path(root)
        if path is not None:
            places = [Path(path).expanduser()]
        else:
            places = [*(root / name for name in (FOLDER, *FOLDER_ALIASES)), root]
        directory = next((place for place in places if _is_surge_folder(place)), None)
        if directory is None:
            base = root / FOLDER
            layout = (f"{base}/<tone>/<pitch>.ogg", f"{base}/{SPLIT_FILES[0]}   (optional: tone,split)")
            raise dataset_not_found(NAME, places, layout, INFO)

        tones = sorted(
            entry.name for entry in directory.iterdir() if entry.is_dir() and not entry.name.startswith(".")
        )
        split_file = next((directory / name for name in SPLIT_FILES if (directory / name).is_file()), None)
        split_of: dict[str, str] | None = None
        if split_file is not None:
            split_of = {}
            for line, row in enumerate(read_csv_rows(split_file, required=("tone", "split")), start=2):
                if row["split"] not in SPLITS:
                    raise MetadataError(
                        f"{split_file}, line {line}: split {row['split']!r} is not one of {', '.join(SPLITS)}"
                    )
                split_of[row["tone"]] = row["split"]
            present = set(tones)
            if absent := [tone for tone in split_of if tone not in present]:
                shown = ", ".join(absent[:5]) + (f" and {len(absent) - 5} more" if len(absent) > 5 else "")
                raise MissingFileError(
                    f"{split_file} lists {len(absent)} tone folder(s) missing from {directory}: {shown}. "
                    f"Unpack the archive again (`workbench download {NAME}`)."
                )
            if unlisted := [tone for tone in tones if tone not in split_of]:
                raise MetadataError(
                    f"{NAME}: {len(unlisted)} tone folder(s) in {directory} are not in {split_file.name}: "
                    f"{', '.join(unlisted[:5])}; the folder and the split file come from different releases"
                )
        elif split is not None:
            raise MissingFileError(
                f"{NAME}: split={split!r} needs EVAR's tone split file in {directory} "
                f"(save {SPLIT_FILE_URL} there as {SPLIT_FILES[0]})"
            )

        clips: list[tuple[str, str, Path]] = []  # (tone, pitch label, file), every tone
        for tone in tones:
            seen: dict[str, Path] = {}
            for file in (directory / tone).iterdir():
                if not is_audio_file(file):
                    continue
                if file.stem in seen:
                    pair = " and ".join(sorted((seen[file.stem].name, file.name)))
                    raise MetadataError(f"{NAME}: {pair} in {directory / tone} hold the same pitch; keep one of them")
                seen[file.stem] = file
                clips.append((tone, file.stem, file))
        # Classes from every tone, so that indices agree whichever split is kept.
        classes = _class_order({pitch for _, pitch, _ in clips})
        class_index = {label: index for index, label in enumerate(classes)}
        clips.sort(key=lambda clip: (clip[0], class_index[clip[1]]))
        if split is not None and split_of is not None:
            clips = [clip for clip in clips if split_of[clip[0]] == split]
        records = [
            ClipRecord(
                id=f"{tone}/{pitch}",
                path=file,
                target=class_index[pitch],
                split=None if split_of is None else split_of[tone],
                extra={"tone": tone, "pitch": pitch},
            )
            for tone, pitch, file in clips
        ]
        super().__init__(
            records,
            classes=classes,
            directory=directory,
            sample_rate=sample_rate,
            default_rate=NATIVE_RATE,
            mono=mono,
        )
        self.name = NAME


@register(INFO)
def surge(root: Path, **options: Any) -> Surge:
    """Registry factory: ``workbench.data.get("surge", split=..., sample_rate=..., mono=..., path=...)``."""
    reject_unknown_options(NAME, options, OPTIONS)
    return Surge(root, **options)


def download(root: str | os.PathLike | None = None, **options: Any) -> Path:
    """Download and unpack the Surge pitch dataset into ``root/surge``; see :func:`download_dataset`."""
    return download_dataset(NAME, root, **options)
