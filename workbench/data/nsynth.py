"""NSynth: 305,979 four-second musical notes, official train/valid/test; instrument family, source or pitch.

Engel, Resnick, Roberts, Dieleman, Eck, Simonyan and Norouzi, "Neural Audio Synthesis of Musical Notes
with WaveNet Autoencoders", ICML 2017. https://magenta.tensorflow.org/datasets/nsynth (licence: CC BY 4.0).

Layout (the three ``jsonwav`` archives unpacked side by side, as they are)::

    <root>/nsynth/nsynth-train/examples.json    289,205 notes
    <root>/nsynth/nsynth-valid/examples.json     12,678 notes
    <root>/nsynth/nsynth-test/examples.json       4,096 notes
    <root>/nsynth/nsynth-<split>/audio/<note_str>.wav     16 kHz mono, 4 s

``examples.json`` of each split is the truth: one entry per note (``note_str`` -> ``pitch``,
``velocity``, ``instrument_family``, ``instrument_family_str``, ``instrument_source``,
``instrument_source_str``, ``qualities_str``, ...), and every note it lists must have its wav file
(checked with one directory listing per split). Only the splits present are read; ``split=`` naming
a split whose folder is absent is an error. ``root`` may also be the folder holding the
``nsynth-<split>`` folders, or it may be given with ``path=``.

Tasks (``task=``):

- ``"family"`` (default; EVAR's NSynth task, ``instrument_family_str``): 11 classes, the official
  ``instrument_family`` index (``bass`` = 0 ... ``vocal`` = 10, which is also their sorted order).
- ``"source"``: ``acoustic``, ``electronic``, ``synthetic`` (``instrument_source`` 0..2).
- ``"pitch"``: the MIDI pitch of the 88 piano keys, 21..108 (classes ``"21"``..``"108"``, target =
  pitch - 21), as HEAR's NSynth pitch task; notes outside that range are left out.

Split: the official one, ``split_of(i)`` is ``"train"``, ``"valid"`` or ``"test"``.

Download: ``workbench download nsynth`` fetches the three ``nsynth-<split>.jsonwav.tar.gz`` archives
(about 24 GB in all) from Magenta's storage (``download.magenta.tensorflow.org`` is the same bucket).
No sha256 is published for them (TensorFlow Datasets records checksums of its own TFRecord files, not
of these), so the download is verified by its listings: 305,979 notes, every one present.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal

from workbench.data.download import RemoteFile, download_dataset
from workbench.data.folder import check_split, ListedAudioDataset, MetadataError, reject_unknown_options, resolve_listed_files
from workbench.data.records import ClipRecord, DatasetInfo
from workbench.data.registry import register
from workbench.errors import DatasetNotFoundError
from workbench.typing import SampleRate

NAME = "nsynth"
URL = "https://magenta.tensorflow.org/datasets/nsynth"
FOLDER = "nsynth"
FOLDER_ALIASES = ("NSynth",)
SPLITS = ("train", "valid", "test")
SPLIT_CLIPS = {"train": 289_205, "valid": 12_678, "test": 4_096}
EXPECTED_CLIPS = sum(SPLIT_CLIPS.values())
NATIVE_RATE = 16000
CLIP_SECONDS = 4.0
TASKS = ("family", "source", "pitch")
FAMILIES = ("bass", "brass", "flute", "guitar", "keyboard", "mallet", "organ", "reed", "string", "synth_lead", "vocal")
SOURCES = ("acoustic", "electronic", "synthetic")
PITCHES = tuple(range(21, 109))
"""MIDI pitches of the 88 piano keys, the classes of ``task="pitch"``."""

_ARCHIVE_BASE = "https://storage.googleapis.com/magentadata/datasets/nsynth/"
REMOTES = tuple(
    RemoteFile(
        url=f"{_ARCHIVE_BASE}nsynth-{split}.jsonwav.tar.gz", sha256=None, filename=f"nsynth-{split}.jsonwav.tar.gz"
    )
    for split in ("valid", "test", "train")
)
"""No sha256 published for the jsonwav archives; the 305,979-note listing is checked after extraction."""

INFO = DatasetInfo(
    name=NAME,
    description="NSynth: 305,979 4-s notes, instrument family (11) / source (3) / pitch (88), official splits, 16 kHz.",
    sample_rate=NATIVE_RATE,
    target_kind="class",
    url=URL,
    licence="CC BY 4.0",
    obtain=(
        "download nsynth-train/valid/test.jsonwav.tar.gz (about 24 GB in all) and unpack them side by side, "
        "so that nsynth-<split>/examples.json and nsynth-<split>/audio/ sit in that folder"
    ),
    remotes=REMOTES,
    folder=FOLDER,
    expected_clips=EXPECTED_CLIPS,
    expected_splits=tuple(SPLIT_CLIPS.items()),
)
OPTIONS = ("task", "split", "sample_rate", "mono", "path")


def _splits_in(folder: Path) -> list[str]:
    return [split for split in SPLITS if (folder / f"nsynth-{split}" / "examples.json").is_file()]


def read_examples(path: Path) -> dict[str, dict[str, Any]]:
    """The entries of one ``examples.json`` (``note_str`` -> fields).

    Raises:
        MetadataError: not JSON, not an object of objects, or an entry without the fields the tasks use.
    """
    try:
        examples = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise MetadataError(f"{path}: not a readable JSON file ({error})") from None
    if not isinstance(examples, dict):
        raise MetadataError(f"{path}: expected an object mapping note_str to its fields")
    required = ("pitch", "instrument_family", "instrument_source")
    for note, fields in examples.items():
        if not isinstance(fields, dict):
            raise MetadataError(f"{path}: entry {note!r} is not an object of fields")
        if absent := [key for key in required if key not in fields]:
            raise MetadataError(f"{path}: entry {note!r} lacks field(s) {', '.join(absent)}")
    return examples


class NSynth(ListedAudioDataset):
    """NSynth notes with the official splits, labelled by instrument family, source or pitch.

    Args:
        root: the data root holding ``nsynth/nsynth-<split>/``, or the folder holding those folders.
        task: ``"family"`` (11 classes), ``"source"`` (3) or ``"pitch"`` (88 keys, MIDI 21..108).
        split: ``"train"``, ``"valid"`` or ``"test"``; None keeps every split present.
        sample_rate: resample to this rate on load; None keeps the files' rate (16 kHz).
        mono: average channels to one (the notes are mono).
        path: the folder holding the ``nsynth-<split>`` folders, overriding the search under ``root``.

    Items:
        ``(waveform (1, samples), class index, meta)``; meta has ``id`` (``note_str``), ``path``,
        ``split``, ``pitch``, ``velocity``, ``instrument_str``, ``family``, ``source`` and ``qualities``.

    Raises:
        DatasetNotFoundError: no ``nsynth-<split>/examples.json`` where it was looked for, or ``split``
            naming a split whose folder is absent; the message says where the files go.
        MissingFileError: ``examples.json`` lists notes whose wav files are absent (up to five named).
        MetadataError: a malformed ``examples.json``.
        ValueError: an unknown ``task`` or ``split``.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        *,
        task: Literal["family", "source", "pitch"] = "family",
        split: Literal["train", "valid", "test"] | None = None,
        sample_rate: SampleRate | None = None,
        mono: bool = True,
        path: str | os.PathLike | None = None,
    ):
        if task not in TASKS:
            raise ValueError(f"{NAME}: task must be one of {list(TASKS)}, got {task!r}")
        check_split(NAME, split, SPLITS)
        root = Path(root)
        if path is not None:
            places = [Path(path).expanduser()]
        else:
            places = [root, *(root / name for name in (FOLDER, *FOLDER_ALIASES))]
        directory = next((place for place in places if _splits_in(place)), None)
        if directory is None:
            raise DatasetNotFoundError(_not_found_message(places, root))
        present = _splits_in(directory)
        if split is not None and split not in present:
            raise DatasetNotFoundError(
                f"{NAME}: split {split!r} not found in {directory} (it has {present}): unpack "
                f"nsynth-{split}.jsonwav.tar.gz there so that nsynth-{split}/examples.json exists, "
                f"or run `workbench download {NAME}`"
            )

        records: list[ClipRecord] = []
        for split_name in [split] if split is not None else present:
            folder = directory / f"nsynth-{split_name}"
            listing = folder / "examples.json"
            examples = read_examples(listing)
            notes = sorted(examples)
            if task == "pitch":
                notes = [note for note in notes if PITCHES[0] <= int(examples[note]["pitch"]) <= PITCHES[-1]]
            files = resolve_listed_files(
                folder / "audio",
                [f"{note}.wav" for note in notes],
                listing=listing,
                remedy=f"Unpack nsynth-{split_name}.jsonwav.tar.gz again (`workbench download {NAME}`).",
            )
            for note, file in zip(notes, files, strict=True):
                fields = examples[note]
                target = _target(task, fields, listing, note)
                records.append(
                    ClipRecord(
                        id=note,
                        path=file,
                        target=target,
                        split=split_name,
                        extra={
                            "pitch": int(fields["pitch"]),
                            "velocity": fields.get("velocity"),
                            "instrument_str": fields.get("instrument_str", ""),
                            "family": fields.get("instrument_family_str", ""),
                            "source": fields.get("instrument_source_str", ""),
                            "qualities": tuple(fields.get("qualities_str", ())),
                        },
                    )
                )
        classes = {"family": FAMILIES, "source": SOURCES, "pitch": tuple(str(pitch) for pitch in PITCHES)}[task]
        super().__init__(
            records,
            classes=classes,
            directory=directory,
            sample_rate=sample_rate,
            default_rate=NATIVE_RATE,
            mono=mono,
            duration=CLIP_SECONDS,
        )
        self.name = NAME
        self.task = task


def _target(task: str, fields: dict[str, Any], listing: Path, note: str) -> int:
    if task == "pitch":
        return int(fields["pitch"]) - PITCHES[0]
    column, count = ("instrument_family", len(FAMILIES)) if task == "family" else ("instrument_source", len(SOURCES))
    value = int(fields[column])
    if not 0 <= value < count:
        raise MetadataError(f"{listing}: entry {note!r} has {column} {value}, outside 0..{count - 1}")
    return value


def _not_found_message(places: list[Path], root: Path) -> str:
    looked = "\n".join(f"    {place}" for place in places)
    base = root / FOLDER
    return (
        f"dataset {NAME!r} not found; looked in\n{looked}\n"
        f"Put the files in the official layout:\n"
        f"    {base}/nsynth-<split>/examples.json      (split = train, valid, test)\n"
        f"    {base}/nsynth-<split>/audio/<note_str>.wav\n"
        f"Get them from {URL} (licence: {INFO.licence}): {INFO.obtain};\n"
        f"or run `workbench download {NAME}`."
    )


@register(INFO)
def nsynth(root: Path, **options: Any) -> NSynth:
    """Registry factory: ``workbench.data.get("nsynth", task=..., split=..., sample_rate=..., path=...)``."""
    reject_unknown_options(NAME, options, OPTIONS)
    return NSynth(root, **options)


def download(root: str | os.PathLike | None = None, **options: Any) -> Path:
    """Download (about 24 GB) and unpack the three NSynth splits into ``root/nsynth``; see :func:`download_dataset`."""
    return download_dataset(NAME, root, **options)

