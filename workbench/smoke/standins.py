"""Stand-in datasets in the real datasets' on-disk layouts: the file names, folders, sample rates, clip
lengths, channel counts and listing columns the loaders of :mod:`workbench.data` read, with generated
audio (a class-dependent tone in noise, so no clip is silent and classes differ).

A smoke run reads them through the same registry (``workbench.data.get(name, root=standin_root(name))``)
as the real data, so the loader, the resampling and the crops run as they will at full size. They are
written once per (dataset, clips per class, seed) under ``$WORKBENCH_CACHE/smoke-standins/``.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import soundfile

from workbench.errors import UnknownNameError
from workbench.paths import cache_dir

CACHE = "smoke-standins-2"
"""Under the cache folder; the number rises when a stand-in's layout or contents change (2: ESC-10's real names)."""


def _tone(rng: np.random.Generator, label: int, rate: int, seconds: float, channels: int = 1) -> np.ndarray:
    """``(samples, channels)`` float32: a tone whose pitch names the class, in noise."""
    samples = int(round(rate * seconds))
    time = np.arange(samples) / rate
    frequency = 110.0 * 2 ** (label / 6.0)
    tone = 0.3 * np.sin(2 * np.pi * frequency * time + rng.uniform(0, 2 * np.pi))
    noise = 0.05 * rng.standard_normal((samples, channels))
    return (tone[:, None] + noise).astype(np.float32)


def _write(path: Path, audio: np.ndarray, rate: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, audio, rate, subtype="PCM_16")


def _write_csv(path: Path, header: list[str], rows: list[list[object]], delimiter: str = ",") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as stream:
        writer = csv.writer(stream, delimiter=delimiter)
        writer.writerow(header)
        writer.writerows(rows)


def _esc50(root: Path, rng: np.random.Generator, clips_per_class: int) -> None:
    """``ESC-50/audio/{fold}-{source}-{take}-{target}.wav`` (44.1 kHz mono, 5 s) and ``meta/esc50.csv``;
    the clips of a class spread over the five folds."""
    folder = root / "ESC-50"
    rows = []
    # The official ESC-10 targets, with their real names: recipes select ESC-10 categories by name (the
    # recorded backgrounds: rain, sea waves, ...); the other classes are named by number.
    esc10 = {0: "dog", 1: "rooster", 10: "rain", 11: "sea_waves", 12: "crackling_fire", 20: "crying_baby",
             21: "sneezing", 38: "clock_tick", 40: "helicopter", 41: "chainsaw"}  # fmt: skip
    for target in range(50):
        for clip in range(clips_per_class):
            fold = (target + clip) % 5 + 1
            source = 100000 + target * 100 + clip
            name = f"{fold}-{source}-A-{target}.wav"
            _write(folder / "audio" / name, _tone(rng, target, 44100, 5.0), 44100)
            rows.append([name, fold, target, esc10.get(target, f"class_{target:02d}"), target in esc10, source, "A"])
    _write_csv(folder / "meta" / "esc50.csv", ["filename", "fold", "target", "category", "esc10", "src_file", "take"],
               rows)  # fmt: skip


SPEECH_COMMANDS_WORDS = (
    "backward", "bed", "bird", "cat", "dog", "down", "eight", "five", "follow", "forward", "four", "go", "happy",
    "house", "learn", "left", "marvin", "nine", "no", "off", "on", "one", "right", "seven", "sheila", "six", "stop",
    "three", "tree", "two", "up", "visual", "wow", "yes", "zero",
)  # fmt: skip
"""The 35 words of Speech Commands v0.02."""


def _speech_commands(root: Path, rng: np.random.Generator, clips_per_class: int) -> None:
    """``SpeechCommands/speech_commands_v0.02/<word>/<speaker>_nohash_<n>.wav`` (16 kHz mono, 1 s), the
    ``_background_noise_`` folder and the two split lists; each word's first clip is listed for testing,
    its second (with three or more) for validation, the rest train."""
    folder = root / "SpeechCommands" / "speech_commands_v0.02"
    testing, validation = [], []
    for label, word in enumerate(SPEECH_COMMANDS_WORDS):
        for clip in range(clips_per_class):
            name = f"{word}/{clip:04x}beef_nohash_0.wav"
            _write(folder / name, _tone(rng, label, 16000, 1.0), 16000)
            (testing if clip == 0 else validation if clip == 1 and clips_per_class > 2 else []).append(name)
    _write(folder / "_background_noise_" / "white_noise.wav", _tone(rng, 0, 16000, 10.0), 16000)
    (folder / "testing_list.txt").write_text("\n".join(testing) + "\n")
    (folder / "validation_list.txt").write_text("\n".join(validation) + "\n")


def _iemocap(root: Path, rng: np.random.Generator, clips_per_class: int) -> None:
    """``IEMOCAP_full_release/Session<s>/dialog/EmoEvaluation/<dialog>.txt`` and
    ``Session<s>/sentences/wav/<dialog>/<utterance>.wav`` (16 kHz mono, 3 s): five sessions, each with
    ``clips_per_class`` utterances of each of the four emotions."""
    folder = root / "IEMOCAP_full_release"
    for session in range(1, 6):
        dialog = f"Ses0{session}F_impro01"
        lines = ["% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]", ""]
        for label, emotion in enumerate(("neu", "hap", "ang", "sad")):
            for clip in range(clips_per_class):
                utterance = f"{dialog}_F{label * clips_per_class + clip:03d}"
                start = 4.0 * (label * clips_per_class + clip)
                lines += [f"[{start:.4f} - {start + 3.0:.4f}]\t{utterance}\t{emotion}\t[2.5000, 2.5000, 2.5000]", ""]
                _write(folder / f"Session{session}" / "sentences" / "wav" / dialog / f"{utterance}.wav",
                       _tone(rng, label, 16000, 3.0), 16000)  # fmt: skip
        evaluation = folder / f"Session{session}" / "dialog" / "EmoEvaluation" / f"{dialog}.txt"
        evaluation.parent.mkdir(parents=True, exist_ok=True)
        evaluation.write_text("\n".join(lines))


DCASE2019_SCENES = ("airport", "bus", "metro", "metro_station", "park", "public_square", "shopping_mall",
                    "street_pedestrian", "street_traffic", "tram")  # fmt: skip


def _dcase2019_task1a(root: Path, rng: np.random.Generator, clips_per_class: int) -> None:
    """``TAU-urban-acoustic-scenes-2019-development/audio/<scene>-<city>-<location>-<segment>-a.wav``
    (48 kHz stereo, 10 s), the tab-separated ``meta.csv`` and ``evaluation_setup/fold1_{train,evaluate}.csv``;
    each scene's last clip is in the test list."""
    folder = root / "TAU-urban-acoustic-scenes-2019-development"
    meta, train, test = [], [], []
    for label, scene in enumerate(DCASE2019_SCENES):
        for clip in range(clips_per_class):
            name = f"audio/{scene}-lyon-{clip}-{label * 100 + clip}-a.wav"
            _write(folder / name, _tone(rng, label, 48000, 10.0, channels=2), 48000)
            meta.append([name, scene, f"lyon-{clip}", "a"])
            (test if clip == clips_per_class - 1 else train).append([name, scene])
    _write_csv(folder / "meta.csv", ["filename", "scene_label", "identifier", "source_label"], meta, "\t")
    _write_csv(folder / "evaluation_setup" / "fold1_train.csv", ["filename", "scene_label"], train, "\t")
    _write_csv(folder / "evaluation_setup" / "fold1_evaluate.csv", ["filename", "scene_label"], test, "\t")


def _fsdkaggle2019(root: Path, rng: np.random.Generator, clips_per_class: int) -> None:
    """``FSDKaggle2019/FSDKaggle2019.audio_{train_curated,train_noisy,test}/<id>.wav`` (44.1 kHz mono, 1-6 s)
    with the ``FSDKaggle2019.meta`` listings (fname, labels, freesound_id, license) and ``vocabulary.csv``
    of 80 labels; every label has ``clips_per_class`` clips in each subset, a few with two labels."""
    folder = root / "FSDKaggle2019"
    vocabulary = [f"Label_{index:02d}" for index in range(80)]
    subsets = {"train_curated": "train_curated_post_competition.csv",
               "train_noisy": "train_noisy_post_competition.csv", "test": "test_post_competition.csv"}  # fmt: skip
    for number, (subset, listing) in enumerate(subsets.items()):
        rows = []
        for label, name in enumerate(vocabulary):
            for clip in range(clips_per_class):
                fname = f"{number:x}{label:03x}{clip:04x}.wav"
                seconds = 1.0 + 5.0 * rng.random()
                _write(folder / f"FSDKaggle2019.audio_{subset}" / fname, _tone(rng, label % 24, 44100, seconds), 44100)
                labels = name if clip % 4 else f"{name},{vocabulary[(label + 1) % 80]}"
                rows.append([fname, labels, str(1000 + label), "CC-BY"])
        _write_csv(folder / "FSDKaggle2019.meta" / listing, ["fname", "labels", "freesound_id", "license"], rows)
    (folder / "FSDKaggle2019.meta" / "vocabulary.csv").write_text(
        "".join(f"{index},{name}\n" for index, name in enumerate(vocabulary))
    )


def _urbansound8k(root: Path, rng: np.random.Generator, clips_per_class: int) -> None:
    """``UrbanSound8K/audio/fold<k>/<fsID>-<classID>-0-<n>.wav`` (44.1 kHz mono, 4 s) and
    ``metadata/UrbanSound8K.csv``; 10 classes over the 10 folds."""
    folder = root / "UrbanSound8K"
    rows = []
    for label in range(10):
        for clip in range(clips_per_class):
            fold, source = (label + clip) % 10 + 1, 100000 + 100 * label + clip
            name = f"{source}-{label}-0-{clip}.wav"
            _write(folder / "audio" / f"fold{fold}" / name, _tone(rng, label, 44100, 4.0), 44100)
            rows.append([name, source, 0.0, 4.0, 1, fold, label, f"class_{label}"])
    _write_csv(folder / "metadata" / "UrbanSound8K.csv",
               ["slice_file_name", "fsID", "start", "end", "salience", "fold", "classID", "class"], rows)  # fmt: skip


def _voxceleb1(root: Path, rng: np.random.Generator, clips_per_class: int) -> None:
    """``VoxCeleb1/wav/id<speaker>/<video>/<n>.wav`` (16 kHz mono, 4 s) and ``iden_split.txt`` (1 train,
    2 validation, 3 test): 20 speakers, each with ``clips_per_class`` utterances."""
    folder = root / "VoxCeleb1"
    lines = []
    for speaker in range(20):
        for clip in range(clips_per_class):
            name = f"id{10001 + speaker}/video{clip % 2}/{clip + 1:05d}.wav"
            _write(folder / "wav" / name, _tone(rng, speaker, 16000, 4.0), 16000)
            lines.append(f"{3 if clip == 0 else 2 if clip == 1 and clips_per_class > 2 else 1} {name}\n")
    (folder / "iden_split.txt").write_text("".join(lines))


def _voxforge(root: Path, rng: np.random.Generator, clips_per_class: int) -> None:
    """``voxforge/<speaker>/wav/<n>.wav`` (16 kHz mono, 5 s) and EVAR's ``voxforge.csv`` (pandas index,
    file_name, label, split) over the six languages."""
    folder = root / "voxforge"
    rows = []
    for label, language in enumerate(("de", "en", "es", "fr", "it", "ru")):
        for clip in range(clips_per_class):
            name = f"speaker{label}{clip}-20100101-abc/wav/{language}-{clip:04d}.wav"
            _write(folder / name, _tone(rng, label, 16000, 5.0), 16000)
            split = "test" if clip == 0 else "valid" if clip == 1 and clips_per_class > 2 else "train"
            rows.append([len(rows), name, language, split])
    _write_csv(folder / "voxforge.csv", ["", "file_name", "label", "split"], rows)


def _cremad(root: Path, rng: np.random.Generator, clips_per_class: int) -> None:
    """``CREMA-D/AudioWAV/<actor>_<sentence>_<emotion>_<level>.wav`` (16 kHz mono, 2.5 s): every one of
    the 91 actors (the loader checks its splits' actors) says one sentence in each of the six emotions."""
    folder = root / "CREMA-D" / "AudioWAV"
    for actor in range(1001, 1092):
        for label, emotion in enumerate(("ANG", "DIS", "FEA", "HAP", "NEU", "SAD")):
            _write(folder / f"{actor}_DFA_{emotion}_XX.wav", _tone(rng, label, 16000, 2.5), 16000)


def _gtzan(root: Path, rng: np.random.Generator, clips_per_class: int) -> None:
    """``gtzan/<genre>/<genre>.<n>.wav`` (22.05 kHz mono, 30 s) over the ten genres."""
    genres = ("blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock")
    for label, genre in enumerate(genres):
        for clip in range(clips_per_class):
            _write(root / "gtzan" / genre / f"{genre}.{clip:05d}.wav", _tone(rng, label, 22050, 30.0), 22050)


def _nsynth(root: Path, rng: np.random.Generator, clips_per_class: int) -> None:
    """``nsynth/nsynth-{train,valid,test}/audio/<note>.wav`` (16 kHz mono, 4 s) with each split's
    ``examples.json``: 12 pitches (the 88-key range, every 8th) of one instrument, per split."""
    families = ("bass", "brass", "flute", "guitar", "keyboard", "mallet", "organ", "reed", "string", "synth_lead", "vocal")
    for number, (split, count) in enumerate((("train", clips_per_class), ("valid", 1), ("test", 1))):
        examples = {}
        for position, pitch in enumerate(range(21, 109, 8)):
            for clip in range(count):
                family = (position + clip) % len(families)
                note = f"{families[family]}_acoustic_{100 * number + clip:03d}-{pitch:03d}-100"  # ids unique over splits
                _write(root / "nsynth" / f"nsynth-{split}" / "audio" / f"{note}.wav",
                       _tone(rng, pitch - 45, 16000, 4.0), 16000)  # fmt: skip
                examples[note] = {
                    "note_str": note, "pitch": pitch, "velocity": 100, "instrument_str": note.rsplit("-", 2)[0],
                    "instrument_family": family, "instrument_family_str": families[family], "instrument_source": 0,
                    "instrument_source_str": "acoustic", "qualities_str": [],
                }  # fmt: skip
        (root / "nsynth" / f"nsynth-{split}" / "examples.json").write_text(json.dumps(examples))


def _surge(root: Path, rng: np.random.Generator, clips_per_class: int) -> None:
    """``surge/<tone>/<pitch>.ogg`` (44.1 kHz mono, 4 s) and ``dataset_surge_tone_splits.csv``: tones of
    12 pitches each, split by tone."""
    rows = []
    for tone in range(max(3, clips_per_class)):
        name = f"surge-patches-standin-Tone-{tone}-velocity64"
        split = ("test", "valid")[tone] if tone < 2 else "train"
        for pitch in range(21, 109, 8):
            path = root / "surge" / name / f"{pitch}.ogg"
            path.parent.mkdir(parents=True, exist_ok=True)
            soundfile.write(path, _tone(rng, pitch - 45, 44100, 4.0), 44100, format="OGG", subtype="VORBIS")
        rows.append(f"{name},{split}\n")
    (root / "surge" / "dataset_surge_tone_splits.csv").write_text("tone,split\n" + "".join(rows))


STANDINS: dict[str, Callable[[Path, np.random.Generator, int], None]] = {
    "esc50": _esc50,
    "esc10": _esc50,  # ESC-10 is the esc10 column of the ESC-50 listing
    "speech_commands": _speech_commands,
    "iemocap": _iemocap,
    "dcase2019_task1a": _dcase2019_task1a,
    "fsdkaggle2019": _fsdkaggle2019,
    "urbansound8k": _urbansound8k,
    "voxceleb1": _voxceleb1,
    "voxforge": _voxforge,
    "cremad": _cremad,
    "gtzan": _gtzan,
    "nsynth": _nsynth,
    "surge": _surge,
}
"""Registry name -> writer of its stand-in under a data root."""


def standin_root(name: str | Sequence[str], clips_per_class: int = 2, seed: int = 0) -> Path:
    """The data root of dataset ``name``'s stand-in (written now if absent), to pass as ``root=``; several
    names write their stand-ins under one root (a recipe that reads two datasets from one ``data_root``).

    Raises:
        UnknownNameError: no stand-in for ``name``.
    """
    names = [name] if isinstance(name, str) else list(name)
    for each in names:
        if each not in STANDINS:
            raise UnknownNameError("smoke stand-in dataset", each, tuple(STANDINS))
    name = "+".join(names)
    root = cache_dir() / CACHE / f"{name}-{clips_per_class}x-seed{seed}"
    if (root / ".complete").is_file():
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=root.parent))
    try:
        for number, each in enumerate(names):
            STANDINS[each](staging, np.random.default_rng([seed, number]), clips_per_class)
        (staging / ".complete").write_text("written by workbench.smoke.standins\n")
        try:
            os.rename(staging, root)
        except OSError:  # another process wrote it first: keep theirs
            if not (root / ".complete").is_file():
                raise
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return root
