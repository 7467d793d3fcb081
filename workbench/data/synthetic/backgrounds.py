"""Long synthetic backgrounds that change over time, in disjoint training and test pools.

BgKnown (Takeuchi et al., Sec. 5.2) mixes each labelled clip with a crop of a recorded background of
at least 10 s and gives a reference crop of the SAME recording: subtraction helps only if the
reference says something about this particular background that another background would not. A
stationary texture (pink noise, a steady hum) fails that test: any crop of it resembles any other.
The backgrounds here are sequences of things that happen, so a crop identifies its stretch of the
recording and neighbouring stretches share some of it:

| kind | what happens |
| --- | --- |
| ``events`` | a Poisson sequence (about 1.5 per s) of event sounds from this place's two or three classes of a background world, over a faint floor |
| ``engines`` | vehicles of one or two engine kinds passing by: a harmonic drone whose level rises and falls and whose pitch drops (Doppler) |
| ``babble`` | two to four distinct talkers of a background world, each saying words with pauses of its own |
| ``rain`` | individual drops (a short decaying tone each, pitched by the surface they fall on) at a rate that gusts, a few large splashes, over a hiss |

Each recording also passes through a fixed equaliser of its own (its channel: microphone, room,
distance), so crops of one recording share its colour and sources as crops of a real recording do:
the 0 % reference says which recording the mixture's background came from (the paper's Sec. 5.2
reads its 0 % gains this way), the 50 % and 100 % references add the very sounds in the mixture.

Every clip is rendered from ``numpy.random.default_rng(seed_of(index))`` with
``seed_of(index) = (seed, POOL_STREAMS[pool], index)``: the two pools draw from different streams, so
no seed (and no clip) is in both, and each clip is one "recording" (its own source group). The
background world (whose event classes and talkers the backgrounds use) is drawn from
``seed + BACKGROUND_WORLD_OFFSET``, so backgrounds never reuse the foreground world's exact classes.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import torch

from workbench.data.folder import reject_unknown_options
from workbench.data.records import AudioDataset, DatasetInfo
from workbench.data.registry import register
from workbench.data.synthetic import signals
from workbench.data.synthetic.world import SyntheticWorld
from workbench.errors import UnknownNameError
from workbench.typing import SampleRate, Seconds

LONG_BACKGROUND_KINDS: tuple[str, ...] = ("events", "engines", "babble", "rain")
POOLS: tuple[str, ...] = ("train", "test")
POOL_STREAMS: dict[str, int] = {"train": 1001, "test": 1002}
"""Second element of every clip's random key: the training and the test pool never share a stream."""
BACKGROUND_WORLD_OFFSET = 7919
"""The backgrounds' own world is ``SyntheticWorld(seed + BACKGROUND_WORLD_OFFSET)``."""
MAX_PEAK = 0.9


def _events(world: SyntheticWorld, rng: np.random.Generator, n: int) -> np.ndarray:
    rate = world.sample_rate
    out = np.zeros(n, dtype=np.float32)
    duration = n / rate
    palette = rng.choice(len(world.events), size=int(rng.integers(2, 4)), replace=False)  # this place's sources
    count = max(2, int(rng.poisson(1.5 * duration)))
    for _ in range(count):
        length = float(rng.uniform(0.3, min(1.0, duration)))
        onset = int(rng.integers(0, max(1, n - int(length * rate))))
        sound = world.render_event(int(rng.choice(palette)), rng, length)
        gain = np.float32(10 ** (rng.uniform(-6.0, 3.0) / 20))
        end = min(n, onset + sound.shape[-1])
        out[onset:end] += gain * sound[: end - onset]
    floor = signals.band_noise(rng, n, rate, exponent=1.0)[0]
    return out + np.float32(signals.REFERENCE_RMS * 10 ** (-25 / 20)) * floor


def _engines(world: SyntheticWorld, rng: np.random.Generator, n: int) -> np.ndarray:
    rate = world.sample_rate
    time = np.arange(n, dtype=np.float64) / rate
    duration = n / rate
    out = np.zeros(n, dtype=np.float64)
    vehicles = rng.uniform(40.0, 140.0, size=int(rng.integers(1, 3)))  # the road's traffic: one or two engine kinds
    passes = max(1, int(rng.poisson(0.8 * duration)))
    centres = np.sort(rng.uniform(-0.1, 1.1, passes)) * duration  # may pass just before or after the clip
    for centre in centres:
        tau = rng.uniform(0.3, 1.0)  # how fast it passes
        relative = (time - centre) / tau
        level = 1.0 / (1.0 + relative**2)  # pass-by intensity
        f0 = rng.choice(vehicles) * rng.uniform(0.97, 1.03) * np.exp2(-rng.uniform(0.05, 0.25) * np.tanh(relative))
        phase = 2 * np.pi * np.cumsum(f0) / rate
        harmonics = np.arange(1, 13)
        harmonics = harmonics[harmonics * f0.max() < signals.NYQUIST_FRACTION * rate]
        drone = sum(np.sin(k * phase + rng.uniform(0, 2 * np.pi)) / k ** rng.uniform(0.7, 1.3) for k in harmonics)
        rumble = signals.band_noise(rng, n, rate, (60.0, 2000.0), exponent=1.0)[0]
        firing = 1.0 + 0.4 * np.sin(2 * np.pi * rng.uniform(8, 25) * time)  # cylinder firing AM
        out += level * (drone * firing + 0.5 * rumble)
    return out.astype(np.float32)


def _babble(world: SyntheticWorld, rng: np.random.Generator, n: int) -> np.ndarray:
    rate = world.sample_rate
    out = np.zeros(n, dtype=np.float32)
    talkers = rng.choice(len(world.speakers), size=int(rng.integers(2, 5)), replace=False)
    for talker in talkers:
        gain = np.float32(10 ** (rng.uniform(-8.0, 0.0) / 20))
        position = int(rng.uniform(-0.5, 1.0) * rate)
        while position < n:
            length = float(rng.uniform(0.5, 0.9))
            word = world.render_voice(int(talker), int(rng.integers(len(world.words))), rng, length)
            start, end = max(0, position), min(n, position + word.shape[-1])
            if end > start:
                out[start:end] += gain * word[start - position : end - position]
            position += word.shape[-1] + int(rng.uniform(0.2, 1.5) * rate)
    return out


def _rain(world: SyntheticWorld, rng: np.random.Generator, n: int) -> np.ndarray:
    rate = world.sample_rate
    duration = n / rate
    surface = rng.uniform(1500.0, 5500.0)  # what the drops fall on sets their pitch, for the whole recording
    out = signals.band_noise(rng, n, rate, (0.5 * surface, min(2.0 * surface, 7000.0)), exponent=0.5)[0]
    out *= np.float32(0.05)
    base = rng.uniform(15.0, 60.0)
    gust_rate, gust_phase = rng.uniform(0.15, 0.6), rng.uniform(0, 2 * np.pi)
    candidates = np.sort(rng.uniform(0, duration, int(rng.poisson(2 * base * duration))))
    intensity = 0.5 * (1 + np.sin(2 * np.pi * gust_rate * candidates + gust_phase))  # gusts: 0..1
    drops = candidates[rng.random(len(candidates)) < 0.15 + 0.85 * intensity]  # thinning to the gusting rate
    length = int(0.02 * rate)
    t = np.arange(length) / rate
    for onset in drops:
        large = rng.random() < 0.05
        frequency = rng.uniform(400, 1200) if large else surface * rng.uniform(0.8, 1.25)
        decay = rng.uniform(60, 200) if large else rng.uniform(150, 500)
        amplitude = (3.0 if large else 1.0) * rng.lognormal(0.0, 0.5)
        drop = amplitude * np.exp(-decay * t) * np.sin(2 * np.pi * frequency * (1 + 2 * t) * t)
        start = int(onset * rate)
        end = min(n, start + length)
        out[start:end] += drop[: end - start].astype(np.float32)
    return out


_RENDERERS = {"events": _events, "engines": _engines, "babble": _babble, "rain": _rain}


def _recording_colour(audio: np.ndarray, rng: np.random.Generator, sample_rate: int) -> np.ndarray:
    """A fixed, smooth equaliser for the whole recording (microphone, room, distance): gains of +-8 dB at
    six log-spaced frequencies, interpolated on a log-frequency axis. Every crop of a recording shares it,
    as crops of one real recording share its channel, so even a non-overlapping crop says which it is."""
    spectrum = np.fft.rfft(audio.astype(np.float64))
    frequencies = np.fft.rfftfreq(len(audio), 1.0 / sample_rate)
    anchors = np.geomspace(50.0, sample_rate / 2, 6)
    gains_db = rng.uniform(-8.0, 8.0, len(anchors))
    gains = 10 ** (np.interp(np.log(np.maximum(frequencies, 1.0)), np.log(anchors), gains_db) / 20)
    return np.fft.irfft(spectrum * gains, n=len(audio)).astype(np.float32)


class LongBackgroundDataset(AudioDataset):
    """Long, time-varying synthetic backgrounds of one pool; the ``"synthetic-long-backgrounds"`` dataset.

    Args:
        seed: the pools' seed (and, offset, their world's).
        pool: ``"train"`` or ``"test"``; the two draw every clip from disjoint random streams.
        n_clips: backgrounds in the pool (one per BgKnown item when the builder assigns them per item).
        duration: seconds per background (at least twice a BgKnown clip, for the 0 % reference).
        sample_rate: rate of the audio.
        kinds: which of :data:`LONG_BACKGROUND_KINDS`, used in turn (clip ``i`` is ``kinds[i % len(kinds)]``).

    Items:
        ``(waveform (1, samples), kind index, meta)``; meta has ``id``, ``kind``, ``pool`` and ``seed``
        (the random key). ``split_of(i)`` is the pool; ``group_of(i)`` the clip's id (each clip is its
        own recording).

    Raises:
        UnknownNameError: an unknown pool or kind.
        ValueError: a non-positive ``n_clips`` or ``duration``.
    """

    target_kind = "class"

    def __init__(
        self,
        seed: int = 0,
        pool: str = "train",
        n_clips: int = 40,
        duration: Seconds = 3.0,
        sample_rate: SampleRate = 16000,
        kinds: Sequence[str] = LONG_BACKGROUND_KINDS,
    ):
        if pool not in POOLS:
            raise UnknownNameError("background pool", pool, POOLS)
        kinds = tuple(kinds)
        for kind in kinds:
            if kind not in LONG_BACKGROUND_KINDS:
                raise UnknownNameError("long background kind", kind, LONG_BACKGROUND_KINDS)
        if not kinds:
            raise ValueError("kinds needs at least one of " + ", ".join(LONG_BACKGROUND_KINDS))
        if isinstance(n_clips, bool) or int(n_clips) != n_clips or n_clips < 1:
            raise ValueError(f"n_clips must be a positive integer, got {n_clips!r}")
        if not duration > 0:
            raise ValueError(f"duration must be positive seconds, got {duration!r}")
        self.seed, self.pool, self.n_clips = int(seed), pool, int(n_clips)
        self.sample_rate, self.duration, self.kinds = int(sample_rate), float(duration), kinds
        self.classes = kinds

    @cached_property
    def world(self) -> SyntheticWorld:
        return SyntheticWorld(self.seed + BACKGROUND_WORLD_OFFSET, self.sample_rate, n_event_classes=16,
                              n_speakers=12, n_words=12)  # fmt: skip

    def __len__(self) -> int:
        return self.n_clips

    def __repr__(self) -> str:
        return (f"LongBackgroundDataset(seed={self.seed}, pool={self.pool!r}, n_clips={self.n_clips}, "
                f"duration={self.duration}, kinds={self.kinds})")  # fmt: skip

    def _index(self, index: int) -> int:
        if not -self.n_clips <= index < self.n_clips:
            raise IndexError(f"index {index} out of range for {self.n_clips} backgrounds")
        return int(index) % self.n_clips

    def seed_of(self, index: int) -> tuple[int, int, int]:
        """The random key clip ``index`` is rendered from (unique to its pool)."""
        return (self.seed, POOL_STREAMS[self.pool], self._index(index))

    def kind_of(self, index: int) -> int:
        return self._index(index) % len(self.kinds)

    def targets(self) -> list[int]:
        return [self.kind_of(index) for index in range(self.n_clips)]

    def split_of(self, index: int) -> str:
        return self.pool

    def clip_id(self, index: int) -> str:
        return f"long-bg-{self.pool}-seed{self.seed}-{self._index(index):05d}"

    def group_of(self, index: int) -> str:
        return self.clip_id(index)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int, dict[str, Any]]:
        index = self._index(index)
        kind = self.kind_of(index)
        n_samples = int(round(self.duration * self.sample_rate))
        rng = np.random.default_rng(self.seed_of(index))
        audio = _RENDERERS[self.kinds[kind]](self.world, rng, n_samples)
        # Every recording has a floor (room tone) under what happens, 14-20 dB down, through its channel.
        floor = signals.band_noise(rng, n_samples, self.sample_rate, exponent=1.0)[0]
        level = float(signals.rms(audio)) * 10 ** (-rng.uniform(14.0, 20.0) / 20)
        audio = _recording_colour(audio + np.float32(level) * floor, rng, self.sample_rate)
        audio = signals.remove_dc(signals.normalise_rms(audio.astype(np.float32), signals.REFERENCE_RMS))
        audio = signals.limit_peak(audio, MAX_PEAK)
        meta = {"id": self.clip_id(index), "kind": self.kinds[kind], "pool": self.pool, "seed": self.seed_of(index)}
        return torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))[None], kind, meta


_OPTIONS = ("seed", "pool", "n_clips", "duration", "sample_rate", "kinds")


@register(DatasetInfo(
    name="synthetic-long-backgrounds",
    description="Synthetic long backgrounds that change over time (event sequences, passing engines, "
                "babble of distinct talkers, rain drops) in disjoint train/test pools, for BgKnown.",
    sample_rate=16000, target_kind="class", licence="generated (no licence restrictions)",
    obtain="nothing to obtain: generated on the fly from a seed (workbench.data.synthetic.backgrounds)",
))  # fmt: skip
def build_synthetic_long_backgrounds(root: Path, **kwargs: Any) -> LongBackgroundDataset:
    """Build the ``"synthetic-long-backgrounds"`` dataset (``root`` is ignored)."""
    reject_unknown_options("synthetic-long-backgrounds", kwargs, _OPTIONS)
    return LongBackgroundDataset(**kwargs)
