"""The frozen class definitions of the synthetic world and how a seed draws them.

Event classes start from hand-written templates (the names and the kind of sound) whose numbers
the seed jitters, so every seed makes a different but recognisable world (:mod:`.event_classes`,
re-exported here). Speakers, words and scenes are drawn from the seed entirely. Each definition is
drawn from its own random stream (``[seed, 0, family, index]``, :mod:`.definition_streams`), so
asking for more classes never changes the first ones.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from workbench.data.synthetic.definition_streams import DefinitionFamily, definition_rng
# Re-exported: the event family lives in its own module, and this one stays the place to import classes from.
from workbench.data.synthetic.event_classes import EVENT_TEMPLATES, EventClass, draw_event_class  # noqa: F401

PITCH_CLASS_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
BACKGROUND_KINDS = ("pink", "brown", "babble", "hum")
"""Background textures: pink and brown noise, babble of distant voices, mains hum; all slowly modulated."""

VOWEL_FORMANTS_HZ = {
    # F1, F2, F3 of an adult voice (after Peterson & Barney, 1952); a speaker scales them.
    "a": (730.0, 1090.0, 2440.0),
    "e": (530.0, 1840.0, 2480.0),
    "i": (270.0, 2290.0, 3010.0),
    "o": (570.0, 840.0, 2410.0),
    "u": (300.0, 870.0, 2240.0),
}
NASAL_FORMANTS_HZ = (250.0, 1100.0, 2300.0)
CONSONANTS = {
    # name: (noise band in Hz, seconds, gain in dB); "m" is voiced (a nasal murmur), "" is none.
    "": None,
    "s": ((4000.0, 7500.0), 0.08, -10.0),
    "t": ((2500.0, 6000.0), 0.025, -4.0),
    "k": ((1200.0, 3000.0), 0.03, -4.0),
    "m": (None, 0.06, -8.0),
}
CONTOURS = {
    # name: (start, end) in semitones around the speaker's median pitch
    "flat": (0.0, 0.0),
    "rise": (-2.0, 4.0),
    "fall": (4.0, -3.0),
    "high": (3.0, 3.5),
    "low": (-3.0, -3.5),
}
SCENE_NAMES = ("street", "park", "kitchen", "office", "workshop", "station", "beach", "forest", "market", "harbour")


@dataclass(frozen=True)
class Speaker:
    """A synthetic talker: a glottal pitch register and a vocal-tract colour.

    Within-speaker variation per clip: median pitch +-1 semitone (s.d.), formant scale +-3 %.
    """

    name: str
    f0_hz: float
    """Median fundamental frequency."""
    formant_scale: float
    """Multiplies every formant frequency (a shorter vocal tract has higher formants)."""
    tilt_hz: float
    """Corner of the glottal source's roll-off (low: dark voice)."""
    breathiness: float
    """Level of aspiration noise relative to the voiced source."""
    bandwidth_scale: float
    """Multiplies the formant bandwidths (wide: muffled, narrow: ringing)."""

    @property
    def summary(self) -> str:
        return (
            f"f0 {self.f0_hz:.0f} Hz, formants x{self.formant_scale:.2f}, tilt corner {self.tilt_hz:.0f} Hz, "
            f"breathiness {self.breathiness:.2f}"
        )


def draw_speaker(rng: np.random.Generator, name: str) -> Speaker:
    """A random speaker; pitch and formant scale are correlated as in real voices."""
    f0 = float(np.exp(rng.uniform(np.log(85.0), np.log(260.0))))
    register = np.log(f0 / 150.0) / np.log(260.0 / 85.0)  # about -0.5 (low) .. 0.5 (high)
    return Speaker(
        name=name,
        f0_hz=round(f0, 1),
        formant_scale=round(float(np.clip(1.0 + 0.3 * register + rng.normal(0, 0.05), 0.8, 1.3)), 3),
        tilt_hz=round(float(rng.uniform(150, 500)), 1),
        breathiness=round(float(rng.uniform(0.02, 0.3)), 3),
        bandwidth_scale=round(float(rng.uniform(0.8, 1.5)), 3),
    )


def speaker_name(index: int) -> str:
    return f"speaker {chr(ord('A') + index)}" if index < 26 else f"speaker {index + 1}"


def draw_world_speaker(seed: int, index: int) -> Speaker:
    return draw_speaker(definition_rng(seed, DefinitionFamily.SPEAKER, index), speaker_name(index))


@dataclass(frozen=True)
class Syllable:
    """One syllable of a word: an optional consonant, a vowel, its relative length, pitch contour and stress."""

    consonant: str
    vowel: str
    length: float
    """Relative duration (1 is about 0.17 s at normal tempo)."""
    contour: tuple[float, float]
    """Pitch at the start and the end of the vowel, semitones around the speaker's median."""
    stress_db: float


@dataclass(frozen=True)
class Word:
    """A pseudo-word: its syllables fix the rhythm, the pitch-contour pattern and the vowel colours."""

    name: str
    syllables: tuple[Syllable, ...]

    @property
    def summary(self) -> str:
        rhythm = " ".join(f"{s.length:.1f}" for s in self.syllables)
        contour = " ".join(f"{s.contour[0]:+.0f}>{s.contour[1]:+.0f}" for s in self.syllables)
        return f"{len(self.syllables)} syllables, lengths {rhythm}, contour (st) {contour}"


def draw_word(rng: np.random.Generator, pool: tuple[tuple[str, str], ...], n_syllables: tuple[int, int]) -> Word:
    """A random pseudo-word built from ``(consonant, vowel)`` syllables of ``pool`` (name e.g. ``"ka-mi"``).

    Args:
        n_syllables: inclusive range of the syllable count.
    """
    contour_names = list(CONTOURS)
    syllables = []
    for _ in range(int(rng.integers(n_syllables[0], n_syllables[1] + 1))):
        consonant, vowel = pool[int(rng.integers(len(pool)))]
        start, end = CONTOURS[contour_names[int(rng.integers(len(contour_names)))]]
        syllables.append(
            Syllable(
                consonant=consonant,
                vowel=vowel,
                length=round(float(rng.uniform(0.6, 1.5)), 2),
                contour=(start + round(float(rng.normal(0, 0.5)), 2), end + round(float(rng.normal(0, 0.5)), 2)),
                stress_db=round(float(rng.uniform(-6, 0)), 2),
            )
        )
    name = "-".join(s.consonant + s.vowel for s in syllables)
    return Word(name=name, syllables=tuple(syllables))


WORD_SYLLABLE_POOL = 3
"""Distinct syllables that all the world's words are built from: words share their sounds and differ
in order, rhythm and pitch contour, so telling them apart takes the temporal pattern."""


def draw_world_words(seed: int, count: int) -> tuple[Word, ...]:
    """``count`` words of two or three syllables from a shared syllable pool, with distinct names.

    Word ``w`` redraws from its own stream until its name is new (after 50 tries it takes a numbered
    name, which only happens when ``count`` nears the 36 names three syllables allow).
    """
    pool_rng = definition_rng(seed, DefinitionFamily.WORD_POOL, 0)
    consonants = [str(c) for c in pool_rng.permutation(list(CONSONANTS))]
    vowels = [str(v) for v in pool_rng.permutation(list(VOWEL_FORMANTS_HZ))]
    pool = tuple(zip(consonants[:WORD_SYLLABLE_POOL], vowels[:WORD_SYLLABLE_POOL]))
    words: list[Word] = []
    for index in range(count):
        rng = definition_rng(seed, DefinitionFamily.WORD, index)
        taken = {w.name for w in words}
        for _ in range(50):
            word = draw_word(rng, pool, n_syllables=(2, 3))
            if word.name not in taken:
                break
        else:
            word = dataclasses.replace(word, name=f"{word.name} {index + 1}")
        words.append(word)
    return tuple(words)


@dataclass(frozen=True)
class SceneClass:
    """An acoustic scene: which events happen there, how often, and which background it prefers.

    Events carry most of the scene information (each scene has its own event distribution); the
    background carries a little: each clip draws its main texture from the scene's preference
    (one favourite kind, the others still likely), a second texture at random, and a level that
    does not depend on the scene.
    """

    name: str
    event_weights: tuple[float, ...]
    """Probability of each event class for an event of this scene (sums to 1)."""
    events_per_second: float
    background_preference: tuple[float, ...]
    """Probability of each of :data:`BACKGROUND_KINDS` being a clip's main background texture."""

    def summary(self, event_names: tuple[str, ...] | list[str]) -> str:
        order = np.argsort(self.event_weights)[::-1][:3]
        events = ", ".join(f"{event_names[i]} {self.event_weights[i]:.0%}" for i in order)
        favourite = int(np.argmax(self.background_preference))
        return (
            f"events: {events}; {self.events_per_second:.1f} events/s; background mostly "
            f"{BACKGROUND_KINDS[favourite]} ({self.background_preference[favourite]:.0%})"
        )

    def draw_background(self, rng: np.random.Generator) -> tuple[tuple[str, float], ...]:
        """A clip's background mix: ``((main kind, weight), (second kind, weight))``, weights summing to 1."""
        main = int(rng.choice(len(BACKGROUND_KINDS), p=np.asarray(self.background_preference)))
        others = [kind for kind in range(len(BACKGROUND_KINDS)) if kind != main]
        second = others[int(rng.integers(len(others)))]
        weight = round(float(rng.uniform(0.6, 0.9)), 3)
        return ((BACKGROUND_KINDS[main], weight), (BACKGROUND_KINDS[second], round(1 - weight, 3)))


SCENE_FAVOURITE_BACKGROUND = 0.5
"""Probability of a scene's favourite background kind (the other three share the rest)."""


def draw_scene_class(seed: int, index: int, n_event_classes: int) -> SceneClass:
    """Scene ``index``: a sparse Dirichlet event distribution and a favourite background kind."""
    rng = definition_rng(seed, DefinitionFamily.SCENE, index)
    name = SCENE_NAMES[index] if index < len(SCENE_NAMES) else f"scene {index + 1}"
    # Concentration 0.5 makes two or three events dominate while the rest stay possible.
    weights = rng.dirichlet(np.full(n_event_classes, 0.5))
    weights = 0.9 * weights + 0.1 / n_event_classes  # every event can occur in every scene
    n_kinds = len(BACKGROUND_KINDS)
    preference = np.full(n_kinds, (1 - SCENE_FAVOURITE_BACKGROUND) / (n_kinds - 1))
    preference[index % n_kinds] = SCENE_FAVOURITE_BACKGROUND
    return SceneClass(
        name=name,
        event_weights=tuple(float(w) for w in weights / weights.sum()),
        events_per_second=round(float(rng.uniform(0.7, 1.5)), 2),
        background_preference=tuple(float(p) for p in preference),
    )
