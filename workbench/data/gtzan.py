"""GTZAN genre collection: 1000 30-second excerpts of ten genres; fault-filtered split or ten folds.

Tzanetakis and Cook, "Musical genre classification of audio signals", IEEE Transactions on Speech and
Audio Processing 10(5), 2002. http://marsyas.info/downloads/datasets.html (no licence is stated: the
excerpts come from commercial recordings and are distributed for research).

Layout (``genres.tar.gz`` unpacked; EVAR renames ``genres`` to ``gtzan``, both are looked for)::

    <root>/gtzan/<genre>/<genre>.000NN.wav     genre: blues classical country disco hiphop jazz metal pop reggae rock
    <root>/gtzan/train_filtered.txt            optional: the fault-filtered split, one "<genre>/<file>" a line
    <root>/gtzan/valid_filtered.txt
    <root>/gtzan/test_filtered.txt

The archive holds ``.au`` files (22,050 Hz mono); a ``.wav`` (or any audio format libsndfile reads)
copy with the same stems is accepted, and so are the names the split lists use whatever their
extension. ``root`` may also be the folder holding the genre folders, or it may be given with
``path=``; ``genres`` and ``Data/genres_original`` (the Kaggle copy) are looked for as well. The file
names are the metadata: audio files named ``<genre>.<number>`` in a genre folder are the clips, other
files are skipped. Classes are the ten genres in sorted order (``blues`` = 0 ... ``rock`` = 9).

Split, two protocols, chosen by the files present:

- **fault-filtered** (EVAR's, when the three ``*_filtered.txt`` lists are in the folder): the artist-
  filtered split of Kereliuk, Sturm and Larsen ("Deep Learning and Music Adversaries", 2015), as
  published in https://github.com/jongpillee/music_dataset_split/tree/master/GTZAN_split (MIT licence):
  443 train, 197 valid, 290 test; the 70 excerpts in no list (repetitions, distortions, mislabels)
  are left out. Every listed file must exist (the missing ones are named). ``split=`` keeps one side.
- **ten folds** (without the lists): ``fold = number % 10 + 1`` (``blues.00000`` and ``blues.00010`` in
  fold 1, ...), so each fold holds 10 excerpts of every genre. This is not artist-filtered: the same
  artist can sit in the training and test folds, which is known to inflate accuracy; prefer the
  filtered lists. ``folds=`` keeps some folds.

Download: ``workbench download gtzan`` fetches ``genres.tar.gz`` (about 1.2 GB) from its original
host, which is often unreachable (then put the archive where the error says, from a mirror). No
checksum is published, so the download is verified by its listing: 1000 excerpts.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from workbench.data.download import RemoteFile, download_dataset
from workbench.data.folder import (
    check_split,
    ListedAudioDataset,
    MetadataError,
    dataset_not_found,
    is_audio_file,
    reject_unknown_options,
    resolve_listed_files,
)
from workbench.data.records import ClipRecord, DatasetInfo
from workbench.data.registry import register
from workbench.errors import MissingFileError
from workbench.typing import SampleRate

NAME = "gtzan"
URL = "http://marsyas.info/downloads/datasets.html"
FOLDER = "gtzan"
FOLDER_ALIASES = ("genres", "GTZAN", "Data/genres_original")
GENRES = ("blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock")
SPLIT_LISTS = {"train": "train_filtered.txt", "valid": "valid_filtered.txt", "test": "test_filtered.txt"}
SPLIT_LISTS_URL = "https://github.com/jongpillee/music_dataset_split/tree/master/GTZAN_split"
SPLITS = tuple(SPLIT_LISTS)
N_FOLDS = 10
NATIVE_RATE = 22050
EXPECTED_CLIPS = 1000

REMOTE = RemoteFile(
    url="http://opihi.cs.uvic.ca/sound/genres.tar.gz",
    sha256=None,  # none published; the 1000-excerpt listing is checked after extraction
    filename="genres.tar.gz",
)

INFO = DatasetInfo(
    name=NAME,
    description="GTZAN: 1000 30-s music excerpts, 10 genres; fault-filtered split (EVAR) or 10 folds, 22.05 kHz.",
    sample_rate=NATIVE_RATE,
    target_kind="class",
    url=URL,
    licence="no licence stated (excerpts of commercial recordings, distributed for research)",
    obtain=(
        "download genres.tar.gz (about 1.2 GB) and unpack it there (its genres/ folder may keep its name); "
        f"for EVAR's fault-filtered split add train/valid/test_filtered.txt from {SPLIT_LISTS_URL}"
    ),
    remotes=(REMOTE,),
    folder=FOLDER,
    expected_clips=EXPECTED_CLIPS,
)
OPTIONS = ("split", "folds", "sample_rate", "mono", "path")
_NAME_PATTERN = re.compile(r"^(?P<genre>[a-z]+)\.(?P<number>\d{5})$")
_LISTED_NAME = re.compile(r"^(?P<genre>[a-z]+)/(?P<stem>(?P=genre)\.\d{5})(\.[A-Za-z0-9]+)?$")


def _is_gtzan_folder(folder: Path) -> bool:
    return (folder / GENRES[0]).is_dir()


def read_split_list(path: Path) -> list[str]:
    """The ``<genre>/<genre>.<number>`` stems a split list names (extensions dropped), in file order.

    Raises:
        MetadataError: a line that is not ``<genre>/<genre>.<number>[.<extension>]`` (names file and line).
    """
    stems = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not (line := line.strip()):
            continue
        match = _LISTED_NAME.match(line)
        if match is None:
            raise MetadataError(f"{path}, line {number}: expected '<genre>/<genre>.<number>.wav', got {line!r}")
        stems.append(f"{match['genre']}/{match['stem']}")
    return stems


class GTZAN(ListedAudioDataset):
    """GTZAN genres with the fault-filtered split (when its lists are present) or ten folds.

    Args:
        root: the data root holding ``gtzan/`` (or ``genres/``), or the folder holding the genre folders.
        split: ``"train"``, ``"valid"`` or ``"test"`` of the fault-filtered split (needs the lists);
            None keeps every clip of the protocol in use.
        folds: with the ten-fold protocol, keep these folds (1..10); an int keeps one.
        sample_rate: resample to this rate on load; None keeps the files' rate (22,050 Hz).
        mono: average channels to one (the excerpts are mono).
        path: the folder holding the genre folders, overriding the search under ``root``.

    Items:
        ``(waveform (1, samples), genre index, meta)``; meta has ``id`` (``<genre>.<number>``), ``path``,
        ``genre``, ``number`` and either ``split`` or ``fold``.

    Raises:
        DatasetNotFoundError: no genre folders where it was looked for; the message says where the
            files go, where to get them and the ``workbench download`` command.
        MissingFileError: a split list names files that are absent (up to five named), only some of the
            three lists are present, or ``split`` is given without the lists.
        MetadataError: a malformed split list, a clip in two lists, or ``folds`` with the filtered split.
        ValueError: an unknown ``split``.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        *,
        split: Literal["train", "valid", "test"] | None = None,
        folds: int | Sequence[int] | None = None,
        sample_rate: SampleRate | None = None,
        mono: bool = True,
        path: str | os.PathLike | None = None,
    ):
        check_split(NAME, split, SPLITS)
        root = Path(root)
        if path is not None:
            places = [Path(path).expanduser()]
        else:
            places = [root, *(root / name for name in (FOLDER, *FOLDER_ALIASES))]
        directory = next((place for place in places if _is_gtzan_folder(place)), None)
        if directory is None:
            base = root / FOLDER
            layout = (f"{base}/<genre>/<genre>.000NN.wav   (or .au)",
                      *(f"{base}/{name}   (optional)" for name in SPLIT_LISTS.values()))  # fmt: skip
            raise dataset_not_found(NAME, places, layout, INFO)

        lists = {name: directory / file for name, file in SPLIT_LISTS.items()}
        present = [name for name, file in lists.items() if file.is_file()]
        if present and len(present) < len(lists):
            absent = [str(lists[name]) for name in SPLIT_LISTS if name not in present]
            raise MissingFileError(
                f"{NAME}: {', '.join(absent)} missing; the fault-filtered split needs all three lists "
                f"(from {SPLIT_LISTS_URL}), or none of them for the ten folds"
            )
        filtered = bool(present)
        if split is not None and not filtered:
            raise MissingFileError(
                f"{NAME}: split={split!r} needs the fault-filtered split lists "
                f"{', '.join(SPLIT_LISTS.values())} in {directory} (from {SPLIT_LISTS_URL}); "
                f"without them the clips have ten folds (use folds=)"
            )
        if folds is not None and filtered:
            raise MetadataError(
                f"{NAME}: folds= applies to the ten-fold protocol, but {directory} holds the fault-filtered "
                f"split lists; use split= (or remove the lists to use the folds)"
            )

        class_index = {genre: index for index, genre in enumerate(GENRES)}
        entries: list[tuple[str, str | None, int | None]] = []  # (genre/stem, split, fold)
        files: list[Path] = []
        if filtered:
            split_of: dict[str, str] = {}
            for name in SPLITS:
                stems = read_split_list(lists[name])
                for stem in stems:
                    if stem in split_of:
                        raise MetadataError(
                            f"{NAME}: {stem} is in both {lists[split_of[stem]]} and {lists[name]}"
                        )
                    split_of[stem] = name
                if split is not None and name != split:
                    continue
                # Resolving the names checks each listed file exists (one scan per genre folder).
                files += resolve_listed_files(
                    directory,
                    [f"{stem}.wav" for stem in stems],
                    listing=lists[name],
                    remedy=f"Restore them (unpack the archive again, or `workbench download {NAME}`).",
                )
                entries += [(stem, name, None) for stem in stems]
        else:
            for genre in GENRES:
                genre_folder = directory / genre
                if not genre_folder.is_dir():
                    continue
                for file in sorted(genre_folder.iterdir()):
                    match = _NAME_PATTERN.match(file.stem)
                    if match and match["genre"] == genre and is_audio_file(file):
                        entries.append((f"{genre}/{file.stem}", None, int(match["number"]) % N_FOLDS + 1))
                        files.append(file)
            if folds is not None:
                wanted = {folds} if isinstance(folds, int) else {int(fold) for fold in folds}
                if unknown := sorted(wanted - set(range(1, N_FOLDS + 1))):
                    raise MetadataError(f"{NAME}: fold(s) {unknown} outside 1..{N_FOLDS}")
                kept = [index for index, (_, _, fold) in enumerate(entries) if fold in wanted]
                entries, files = [entries[index] for index in kept], [files[index] for index in kept]

        records = []
        for (stem, clip_split, fold), file in zip(entries, files, strict=True):
            genre, clip_id = stem.split("/")
            if genre not in class_index:
                raise MetadataError(f"{NAME}: {stem}: unknown genre {genre!r}; expected one of {', '.join(GENRES)}")
            records.append(
                ClipRecord(
                    id=clip_id,
                    path=file,
                    target=class_index[genre],
                    fold=fold,
                    split=clip_split,
                    extra={"genre": genre, "number": int(clip_id.split(".")[1])},
                )
            )
        super().__init__(
            records,
            classes=GENRES,
            directory=directory,
            sample_rate=sample_rate,
            default_rate=NATIVE_RATE,
            mono=mono,
        )
        self.name = NAME
        self.protocol = "filtered" if filtered else "folds"


@register(INFO)
def gtzan(root: Path, **options: Any) -> GTZAN:
    """Registry factory: ``workbench.data.get("gtzan", split=..., folds=..., sample_rate=..., path=...)``."""
    reject_unknown_options(NAME, options, OPTIONS)
    return GTZAN(root, **options)


def download(root: str | os.PathLike | None = None, **options: Any) -> Path:
    """Download (about 1.2 GB) and unpack GTZAN into ``root/gtzan``; see :func:`download_dataset`."""
    return download_dataset(NAME, root, **options)

