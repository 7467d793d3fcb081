"""The synthetic world: frozen class definitions drawn from a seed, and the renderers of every clip.

A :class:`SyntheticWorld` owns the definitions (event classes, speakers, words, scenes) and renders
audio from them with numpy. Every renderer takes the ``numpy.random.Generator`` that draws the
clip's within-class variation, so a clip is a pure function of ``(world, class, random stream)``;
the datasets in :mod:`workbench.data.synthetic.views` derive that stream from ``[seed, view, index]``.

Levels: a rendered event, voice or tone has an RMS of :data:`REFERENCE_RMS` (-26 dBFS) over its
active span and a peak of at most :data:`PEAK_LIMIT`; a background has that RMS over its whole length.
Mono renderers return ``(samples,)``; :meth:`SyntheticWorld.render_background` and
:meth:`SyntheticWorld.render_scene` return ``(channels, samples)``. All are float32 and DC-free.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum

import numpy as np

from workbench.data.synthetic import signals
# Re-exported: the class table lives in its own module.
from workbench.data.synthetic.class_table import describe  # noqa: F401
from workbench.data.synthetic.classes import (
    BACKGROUND_KINDS,
    PITCH_CLASS_NAMES,
    EventClass,
    SceneClass,
    Speaker,
    Word,
    draw_event_class,
    draw_scene_class,
    draw_world_speaker,
    draw_world_words,
)
from workbench.data.synthetic.events import render_event_sound
from workbench.data.synthetic.scene_plans import SceneEvent, ScenePlan
from workbench.data.synthetic.textures import render_texture
from workbench.data.synthetic.tones import OCTAVES, render_note
from workbench.data.synthetic.voices import render_word
from workbench.errors import UnknownNameError
from workbench.typing import SampleRate, Seconds

REFERENCE_RMS = signals.REFERENCE_RMS
PEAK_LIMIT = signals.PEAK_LIMIT
MAX_INTERAURAL_DELAY = 0.0006
"""Delay in seconds of the far channel for a fully panned event in stereo scenes (about a human head's)."""
MAX_SCENE_EVENTS = 12
SCENE_BACKGROUND_DB = (-15.0, -5.0)
"""Range of a scene clip's background level relative to :data:`REFERENCE_RMS` (the same for every scene)."""


class Stream(IntEnum):
    """Second element of every per-clip random key ``[seed, stream, ...]``: one stream per use."""

    EVENT_VIEW = 1
    VOICE_VIEW = 2
    TONE_VIEW = 3
    SCENE_VIEW = 4
    SCENE_EVENT = 5
    SCENE_BACKGROUND = 6
    SEPARATION_VIEW = 7
    ANCHOR = 8
    BACKGROUND_VIEW = 9
    ASSIGNMENT = 10


def check_index(index: int, count: int, what: str) -> int:
    """``index`` as an int if it is an integer in ``0..count - 1``, else a ValueError naming ``what``."""
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= index < count:
        raise ValueError(f"{what} must be an integer in 0..{count - 1}, got {index!r}")
    return int(index)


def _check_rng(rng: np.random.Generator) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator (np.random.default_rng(...)), got {type(rng).__name__}")
    return rng


def _check_channels(channels: int) -> int:
    if channels not in (1, 2):
        raise ValueError(f"channels must be 1 (mono) or 2 (stereo), got {channels!r}")
    return int(channels)


class SyntheticWorld:
    """A seeded world of sound classes and the renderers that make clips of them.

    Args:
        seed: the world's seed (non-negative); the same seed gives the same classes and audio.
        sample_rate: rate of every rendered clip (at least 4 kHz); generators keep their energy
            below 0.45 of it.
        n_event_classes: event classes (at least 2; the first ten templates are the default, more
            reuse templates in another register).
        n_speakers: talkers of the speaker task.
        n_words: pseudo-words of the word task.
        n_scenes: acoustic scene classes.

    Raises:
        ValueError: a negative seed, a count below its minimum or a sample rate below 4 kHz.
    """

    def __init__(
        self,
        seed: int = 0,
        sample_rate: SampleRate = 16000,
        n_event_classes: int = 10,
        n_speakers: int = 6,
        n_words: int = 6,
        n_scenes: int = 5,
    ):
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        if isinstance(sample_rate, bool) or int(sample_rate) != sample_rate or sample_rate < 4000:
            raise ValueError(f"sample_rate must be an integer of at least 4000 Hz, got {sample_rate!r}")
        minimum = {"n_event_classes": 2, "n_speakers": 1, "n_words": 1, "n_scenes": 1}
        given = {"n_event_classes": n_event_classes, "n_speakers": n_speakers, "n_words": n_words, "n_scenes": n_scenes}
        for name, count in given.items():
            if isinstance(count, bool) or int(count) != count or count < minimum[name]:
                raise ValueError(f"{name} must be an integer of at least {minimum[name]}, got {count!r}")
        self.seed = int(seed)
        self.sample_rate = int(sample_rate)
        self.events: tuple[EventClass, ...] = tuple(draw_event_class(self.seed, i) for i in range(n_event_classes))
        self.speakers: tuple[Speaker, ...] = tuple(draw_world_speaker(self.seed, i) for i in range(n_speakers))
        self.words: tuple[Word, ...] = draw_world_words(self.seed, n_words)
        self.scenes: tuple[SceneClass, ...] = tuple(
            draw_scene_class(self.seed, i, n_event_classes) for i in range(n_scenes)
        )
        self.pitch_classes: tuple[str, ...] = PITCH_CLASS_NAMES
        self.background_kinds: tuple[str, ...] = BACKGROUND_KINDS

    def __repr__(self) -> str:
        return (
            f"SyntheticWorld(seed={self.seed}, sample_rate={self.sample_rate}, events={len(self.events)}, "
            f"speakers={len(self.speakers)}, words={len(self.words)}, scenes={len(self.scenes)})"
        )

    def n_samples(self, duration: Seconds) -> int:
        """Samples in ``duration`` seconds, rounded."""
        return int(round(duration * self.sample_rate))

    def clip_samples(self, duration: Seconds, what: str = "duration") -> int:
        """Samples of a clip of ``duration`` seconds; ValueError below 16 samples, for NaN or infinity."""
        n_samples = self.n_samples(duration) if np.isfinite(duration) else 0
        if n_samples < 16:
            raise ValueError(f"{what} must be a finite number of seconds of at least 16 samples, got {duration!r}")
        return n_samples

    def event_rng(self, class_index: int, variation: int) -> np.random.Generator:
        """The random stream of instance ``variation`` of an event class in scenes (see :class:`SceneEvent`)."""
        return np.random.default_rng([self.seed, Stream.SCENE_EVENT, int(class_index), int(variation)])

    # ---------------------------------------------------------------------------- single sounds

    def render_event(
        self,
        class_index: int,
        rng: np.random.Generator,
        duration: Seconds,
        *,
        span: tuple[Seconds, Seconds] | None = None,
    ) -> np.ndarray:
        """One instance of an event class in a clip of ``duration`` seconds.

        Args:
            class_index: index into :attr:`events`.
            rng: draws the instance (span, bursts, pitch, partial gains, colour, modulation, noise).
            duration: clip length in seconds.
            span: ``(onset, length)`` in seconds of the part of the clip the event occupies; None
                draws a length of 50-100 % of the clip and a random onset.

        Returns:
            ``(samples,)`` float32 with RMS :data:`REFERENCE_RMS` over the span, silent outside it.

        Raises:
            ValueError: an unknown class index, or a span outside the clip.
        """
        event_class = self.events[check_index(class_index, len(self.events), "class_index")]
        rng = _check_rng(rng)
        n_samples = self.clip_samples(duration)
        if span is None:
            length = max(16, int(round(rng.uniform(0.5, 1.0) * n_samples)))
            onset = int(rng.integers(0, n_samples - length + 1))
        else:
            onset, length = self.n_samples(span[0]), self.n_samples(span[1])
            if onset < 0 or length < 16 or onset + length > n_samples:
                raise ValueError(f"span {span} (onset, length in seconds) must lie inside the {duration} s clip")
        clip = np.zeros(n_samples, dtype=np.float32)
        clip[onset : onset + length] = render_event_sound(event_class, rng, length, self.sample_rate)
        return signals.remove_dc(clip)

    def render_voice(self, speaker: int, word: int, rng: np.random.Generator, duration: Seconds) -> np.ndarray:
        """A speaker saying a pseudo-word at a random onset in a clip of ``duration`` seconds.

        Source-filter synthesis (:mod:`~workbench.data.synthetic.voices`): the word's pitch contour
        around the speaker's median pitch, its vowels' formants scaled by the speaker's vocal tract.

        Returns:
            ``(samples,)`` float32 with RMS :data:`REFERENCE_RMS` over the word.

        Raises:
            ValueError: an unknown speaker or word index.
        """
        talker = self.speakers[check_index(speaker, len(self.speakers), "speaker")]
        pseudo_word = self.words[check_index(word, len(self.words), "word")]
        clip = render_word(talker, pseudo_word, _check_rng(rng), self.clip_samples(duration), self.sample_rate)
        return signals.remove_dc(clip)

    def render_tone(
        self, pitch_class: int, rng: np.random.Generator, duration: Seconds, *, octave: int | None = None
    ) -> np.ndarray:
        """A harmonic tone of ``pitch_class`` (0 = C .. 11 = B) with a random timbre.

        Args:
            octave: the octave (C4 = middle C); None draws one of :data:`OCTAVES`.

        Returns:
            ``(samples,)`` float32 with RMS :data:`REFERENCE_RMS` over the note.

        Raises:
            ValueError: a pitch class outside 0..11.
        """
        pitch_class = check_index(pitch_class, 12, "pitch_class")
        rng = _check_rng(rng)
        n_samples = self.clip_samples(duration)
        octave = int(rng.choice(OCTAVES)) if octave is None else int(octave)
        return signals.remove_dc(render_note(pitch_class, octave, rng, n_samples, self.sample_rate))

    def render_background(
        self,
        texture: str | int | Sequence[tuple[str, float]],
        rng: np.random.Generator,
        duration: Seconds,
        channels: int = 1,
    ) -> np.ndarray:
        """A background texture whose level swells slowly (0.05-0.4 Hz, 10-40 % depth).

        Args:
            texture: a kind from :attr:`background_kinds` (``"pink"``, ``"brown"``, ``"babble"``,
                ``"hum"``); a scene index, whose preference draws a mix of two kinds; or an explicit
                mix ``[(kind, weight), ...]`` (weights are shares of power).
            rng: draws the texture (and the mix, for a scene index).
            duration: seconds.
            channels: 1 or 2; stereo noise channels are partly correlated (a diffuse field), hum is
                the same in both, babble talkers stand at different places.

        Returns:
            ``(channels, samples)`` float32 with RMS :data:`REFERENCE_RMS`.

        Raises:
            UnknownNameError: an unknown kind. ValueError: a scene index out of range, bad channels.
        """
        rng = _check_rng(rng)
        if isinstance(texture, str):
            mix: Sequence[tuple[str, float]] = ((texture, 1.0),)
        elif isinstance(texture, (int, np.integer)) and not isinstance(texture, bool):
            mix = self.scenes[check_index(texture, len(self.scenes), "scene")].draw_background(rng)
        else:
            mix = tuple(texture)
        for kind, _ in mix:
            if kind not in BACKGROUND_KINDS:
                raise UnknownNameError("background kind", str(kind), BACKGROUND_KINDS)
        channels = _check_channels(channels)
        n_samples = self.clip_samples(duration)
        background = np.zeros((channels, n_samples), dtype=np.float32)
        for kind, weight in mix:
            texture_audio = render_texture(kind, rng, n_samples, channels, self.sample_rate)
            background += np.float32(np.sqrt(weight)) * texture_audio
        depth = rng.uniform(0.1, 0.4)
        background *= signals.slow_modulation(rng, n_samples, self.sample_rate, (0.05, 0.4), depth)
        return signals.remove_dc(signals.normalise_rms(background, REFERENCE_RMS))

    # ------------------------------------------------------------------------------------ scenes

    def render_scene(
        self,
        events: Sequence[SceneEvent],
        background: np.ndarray | None,
        duration: Seconds,
        channels: int = 1,
    ) -> np.ndarray:
        """Mix events over a background; linear, so adding a :class:`SceneEvent` adds exactly its sound.

        Args:
            events: the events; each renders from its own stream (see :class:`SceneEvent`) at
                ``REFERENCE_RMS * 10 ** (gain_db / 20)`` over its duration, cut at the clip's end.
            background: ``(samples,)``, ``(1, samples)`` or ``(channels, samples)`` audio to mix in
                (e.g. from :meth:`render_background`), or None for silence.
            duration: seconds.
            channels: 1, or 2 for stereo: each event gets constant-power pan gains (times sqrt 2,
                so a centred event keeps its mono level in each channel) and the far channel is
                delayed by up to :data:`MAX_INTERAURAL_DELAY` for a fully panned event.

        Returns:
            ``(channels, samples)`` float32, DC-free.

        Raises:
            ValueError: a background of the wrong shape, an event outside the clip or of an unknown class.
        """
        channels = _check_channels(channels)
        n_samples = self.clip_samples(duration)
        mix = np.zeros((channels, n_samples), dtype=np.float32)
        if background is not None:
            background = np.asarray(background, dtype=np.float32)
            if background.ndim == 1:
                background = background[None]
            if background.ndim != 2 or background.shape[-1] != n_samples or background.shape[0] not in (1, channels):
                raise ValueError(
                    f"background of shape {background.shape} does not fit a {channels}-channel clip of "
                    f"{n_samples} samples ({duration} s at {self.sample_rate} Hz)"
                )
            mix += background
        for event in events:
            start = self.n_samples(event.onset)
            if not 0 <= start < n_samples:
                raise ValueError(f"event onset {event.onset} s is outside the {duration} s scene: {event}")
            rng = self.event_rng(check_index(event.class_index, len(self.events), "class_index"), event.variation)
            sound = self.render_event(event.class_index, rng, event.duration, span=(0.0, event.duration))
            sound *= np.float32(10 ** (event.gain_db / 20))
            if channels == 1:
                mix[0, start : start + len(sound)] += sound[: n_samples - start]
                continue
            gains = np.sqrt(2) * np.array(signals.pan_gains(event.pan), dtype=np.float32)
            delay = int(round(abs(event.pan) * MAX_INTERAURAL_DELAY * self.sample_rate))
            far = 0 if event.pan > 0 else 1  # the channel farther from the source hears it later
            for channel in (0, 1):
                begin = start + (delay if channel == far else 0)
                end = min(n_samples, begin + len(sound))
                if end > begin:
                    mix[channel, begin:end] += gains[channel] * sound[: end - begin]
        return signals.remove_dc(mix)

    def draw_scene_plan(self, scene: int, rng: np.random.Generator, duration: Seconds) -> ScenePlan:
        """Draw a scene clip's events and background (no audio yet).

        The number of events is Poisson with the scene's rate (at least one, at most
        :data:`MAX_SCENE_EVENTS`); each event's class follows the scene's event distribution, with a
        length of 0.3-1.5 s inside the clip, a gain of -6..0 dB and a pan in [-0.7, 0.7]. The
        background mix follows the scene's preference (:meth:`SceneClass.draw_background`), at a
        level drawn from :data:`SCENE_BACKGROUND_DB` whatever the scene.
        """
        scene_class = self.scenes[check_index(scene, len(self.scenes), "scene")]
        rng = _check_rng(rng)
        self.clip_samples(duration)
        count = int(np.clip(rng.poisson(scene_class.events_per_second * duration), 1, MAX_SCENE_EVENTS))
        classes = rng.choice(len(self.events), size=count, p=np.asarray(scene_class.event_weights))
        lengths = np.minimum(rng.uniform(0.3, 1.5, count), duration)
        onsets = rng.random(count) * (duration - lengths)
        gains = rng.uniform(-6, 0, count)
        pans = rng.uniform(-0.7, 0.7, count)
        variations = rng.integers(0, 2**31, count)
        events = [
            SceneEvent(int(c), round(float(o), 4), round(float(g), 2), round(float(p), 3), round(float(d), 4), int(v))
            for c, o, g, p, d, v in zip(classes, onsets, gains, pans, lengths, variations)
        ]
        return ScenePlan(
            scene=int(scene),
            events=tuple(sorted(events, key=lambda event: event.onset)),
            duration=float(duration),
            background=scene_class.draw_background(rng),
            background_db=round(float(rng.uniform(*SCENE_BACKGROUND_DB)), 2),
            background_variation=int(rng.integers(0, 2**31)),
        )

    def render_plan(self, plan: ScenePlan, channels: int = 1) -> np.ndarray:
        """The audio of a :class:`ScenePlan`: its background mix at ``background_db`` plus its events.

        The background comes from the stream ``[seed, SCENE_BACKGROUND, plan.background_variation]``.

        Returns:
            ``(channels, samples)`` float32.
        """
        rng = np.random.default_rng([self.seed, Stream.SCENE_BACKGROUND, plan.background_variation])
        background = self.render_background(plan.background, rng, plan.duration, channels)
        background *= np.float32(10 ** (plan.background_db / 20))
        return self.render_scene(plan.events, background, plan.duration, channels)
