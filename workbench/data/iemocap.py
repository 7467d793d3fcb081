"""IEMOCAP, four emotions: neutral, happy, angry, sad; leave-one-session-out folds.

Busso et al., "IEMOCAP: Interactive emotional dyadic motion capture database", Language Resources and
Evaluation 42(4), 2008. https://sail.usc.edu/iemocap/

IEMOCAP is licensed: every user requests their own copy from USC SAIL and signs its licence, so the
workbench never downloads it. Point ``root`` (or ``path=``) at your copy, in the release's layout::

    <root>/IEMOCAP_full_release/Session<n>/dialog/EmoEvaluation/<dialog>.txt
    <root>/IEMOCAP_full_release/Session<n>/sentences/wav/<dialog>/<utterance>.wav

``IEMOCAP`` is accepted as the folder name too, and ``root`` may be the release folder itself.

Labels: the consensus category of each utterance in ``EmoEvaluation/*.txt`` (the lines
``[start - end]<TAB>utterance<TAB>category<TAB>[V, A, D]``). The four classes are ``neu``, ``hap``,
``ang`` and ``sad``, in that order, as in the ADD-loss code (``configs/base/iemocap-*.yaml``); every
other category (frustrated, excited, surprised, ``xxx`` = no agreement, ...) is left out.
``merge_excited=True`` counts ``exc`` as happy, the other common four-class setup (5531 utterances
instead of 4490 in the full release).

Folds: the fold of an utterance is its session (1-5), so leaving one fold out is leaving one session
(one pair of actors) out. Utterances last from under a second to over 30 s: ``duration`` is None and
batches need cropping or padding.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from workbench.data.folder import ListedAudioDataset, MetadataError, reject_unknown_options, resolve_listed_files
from workbench.data.records import ClipRecord, DatasetInfo
from workbench.data.registry import register
from workbench.errors import DatasetNotFoundError
from workbench.typing import SampleRate

URL = "https://sail.usc.edu/iemocap/"
FOLDER = "IEMOCAP_full_release"
FOLDER_ALIASES = ("IEMOCAP",)
NATIVE_RATE = 16000
SESSIONS = (1, 2, 3, 4, 5)
EMOTIONS = ("neu", "hap", "ang", "sad")
"""Category codes of the four classes, in target order."""
CLASS_NAMES = ("neutral", "happy", "angry", "sad")
EXCITED = "exc"
UTTERANCE_TYPES = ("improvised", "scripted")

INFO = DatasetInfo(
    name="iemocap",
    description="IEMOCAP: acted English dialogues, 4 emotions (neutral, happy, angry, sad), 5 sessions as folds.",
    sample_rate=NATIVE_RATE,
    target_kind="class",
    url=URL,
    licence="IEMOCAP release licence (USC SAIL): research use, each user requests a copy",
    obtain=(
        "request the release from USC SAIL (https://sail.usc.edu/iemocap/iemocap_release.htm), accept its "
        "licence, and unpack IEMOCAP_full_release into the data root; it cannot be downloaded automatically"
    ),
    folder=FOLDER,
)
OPTIONS = ("sessions", "merge_excited", "utterance_type", "sample_rate", "mono", "path")

# "[6.2901 - 8.2357]<TAB>Ses01F_impro01_F000<TAB>neu<TAB>[2.5000, 2.5000, 2.5000]"
_EVALUATION_LINE = re.compile(r"^\[\s*([\d.]+)\s*-\s*([\d.]+)\s*\]\t(\S+)\t(\S+)")
_SESSION_FOLDER = re.compile(r"^Session(\d+)$")


def _sessions_in(folder: Path) -> list[int]:
    """Numbers of the ``Session<n>`` folders that hold ``dialog/EmoEvaluation``."""
    if not folder.is_dir():
        return []
    found = []
    for entry in folder.iterdir():
        match = _SESSION_FOLDER.match(entry.name)
        if match and (entry / "dialog" / "EmoEvaluation").is_dir():
            found.append(int(match.group(1)))
    return sorted(found)


def not_found_error(looked_in: Sequence[Path], root: Path) -> DatasetNotFoundError:
    """The error for an absent copy: IEMOCAP is licensed, so the user must bring their own."""
    places = "\n".join(f"    {place}" for place in looked_in)
    return DatasetNotFoundError(
        f"dataset 'iemocap' not found; looked in\n{places}\n"
        f"IEMOCAP is licensed and cannot be downloaded by the workbench: use your own licensed copy "
        f"({INFO.obtain}).\nThe release's layout is expected:\n"
        f"    {root / FOLDER}/Session<n>/dialog/EmoEvaluation/<dialog>.txt\n"
        f"    {root / FOLDER}/Session<n>/sentences/wav/<dialog>/<utterance>.wav\n"
        f"Or pass path=<your IEMOCAP_full_release folder>."
    )


def read_evaluation(path: Path) -> list[tuple[str, str, float, float]]:
    """The ``(utterance, category, start, end)`` lines of one ``EmoEvaluation/<dialog>.txt`` file.

    Raises:
        MetadataError: a line starting with ``[`` that is not an evaluation line (names file and line).
    """
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
        if not line.startswith("["):
            continue  # headers, the annotators' lines ("C-E1: ..."), the dimensional ones ("A-E1: ...")
        match = _EVALUATION_LINE.match(line)
        if match is None:
            raise MetadataError(
                f"{path}, line {number}: expected '[start - end]<TAB>utterance<TAB>category<TAB>[V, A, D]', "
                f"got {line[:80]!r}"
            )
        start, end, utterance, category = match.groups()
        rows.append((utterance, category, float(start), float(end)))
    return rows


class IEMOCAP(ListedAudioDataset):
    """The four-emotion IEMOCAP task with the five sessions as folds.

    Args:
        root: the data root holding ``IEMOCAP_full_release/`` (or ``IEMOCAP/``), or that folder itself.
        sessions: keep these sessions (1-5); an int keeps one; None keeps every session present.
        merge_excited: count ``exc`` (excited) utterances as happy.
        utterance_type: ``"improvised"`` or ``"scripted"`` dialogues only; None keeps both.
        sample_rate: resample to this rate on load; None keeps the files' 16 kHz.
        mono: average channels to one (the sentence files are mono).
        path: the release folder, overriding the search under ``root``.

    Items:
        ``(waveform (1, samples), class index, meta)``; meta has ``id`` (the utterance), ``fold``
        (= ``session``), ``emotion`` (the category code), ``speaker`` (e.g. ``"Ses01F"``: session and
        the speaker's gender), ``dialog``, ``utterance_type``, ``start`` and ``end`` (seconds in the dialog).

    Raises:
        DatasetNotFoundError: no release with ``Session<n>/dialog/EmoEvaluation`` where it was looked
            for, or a requested session absent; the message says IEMOCAP is licensed and where the
            files go.
        MissingFileError: evaluation files name utterances whose wav files are absent (up to five named).
        MetadataError: a malformed evaluation line.
        ValueError: an unknown ``utterance_type``.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        *,
        sessions: int | Sequence[int] | None = None,
        merge_excited: bool = False,
        utterance_type: Literal["improvised", "scripted"] | None = None,
        sample_rate: SampleRate | None = None,
        mono: bool = True,
        path: str | os.PathLike | None = None,
    ):
        if utterance_type is not None and utterance_type not in UTTERANCE_TYPES:
            raise ValueError(f"iemocap: utterance_type must be one of {list(UTTERANCE_TYPES)} or None, "
                             f"got {utterance_type!r}")  # fmt: skip
        root = Path(root)
        if path is not None:
            places = [Path(path).expanduser()]
        else:
            places = [root, *(root / name for name in (FOLDER, *FOLDER_ALIASES))]
        directory = next((place for place in places if _sessions_in(place)), None)
        if directory is None:
            raise not_found_error(places, root)
        present = _sessions_in(directory)
        if sessions is None:
            wanted = present
        else:
            wanted = sorted({sessions} if isinstance(sessions, int) else {int(session) for session in sessions})
            if absent := [session for session in wanted if session not in present]:
                raise DatasetNotFoundError(
                    f"iemocap: session(s) {absent} not found in {directory} (it has sessions {present}); "
                    f"unpack the complete licensed release there"
                )
        target_of = {emotion: index for index, emotion in enumerate(EMOTIONS)}
        if merge_excited:
            target_of[EXCITED] = target_of["hap"]

        records: list[ClipRecord] = []
        for session in wanted:
            session_dir = directory / f"Session{session}"
            evaluations = sorted((session_dir / "dialog" / "EmoEvaluation").glob("*.txt"))
            for evaluation in evaluations:
                dialog = evaluation.stem
                kind = "scripted" if "_script" in dialog else "improvised"
                if utterance_type is not None and kind != utterance_type:
                    continue
                kept = [row for row in read_evaluation(evaluation) if row[1] in target_of]
                files = resolve_listed_files(
                    session_dir / "sentences" / "wav",
                    [f"{dialog}/{utterance}.wav" for utterance, *_ in kept],
                    listing=evaluation,
                    remedy="Unpack the licensed release again: every evaluated utterance has a wav file.",
                )
                for (utterance, category, start, end), file in zip(kept, files, strict=True):
                    gender = utterance.rsplit("_", 1)[-1][:1]  # "..._F000": the female actor speaks
                    records.append(
                        ClipRecord(
                            id=utterance,
                            path=file,
                            target=target_of[category],
                            fold=session,
                            extra={
                                "session": session,
                                "emotion": category,
                                "speaker": f"Ses{session:02d}{gender}",
                                "dialog": dialog,
                                "utterance_type": kind,
                                "start": start,
                                "end": end,
                            },
                        )
                    )
        super().__init__(
            records,
            classes=CLASS_NAMES,
            directory=directory,
            sample_rate=sample_rate,
            default_rate=NATIVE_RATE,
            mono=mono,
        )
        self.name = "iemocap"


@register(INFO)
def iemocap(root: Path, **options: Any) -> IEMOCAP:
    """Registry factory: ``workbench.data.get("iemocap", sessions=..., merge_excited=..., ...)``."""
    reject_unknown_options("iemocap", options, OPTIONS)
    return IEMOCAP(root, **options)
