"""Dataset views of the synthetic world, registered (by :mod:`.registration`) as ``"synthetic"``,
``"synthetic-scenes"``, ``"synthetic-separation"`` and ``"synthetic-backgrounds"``.

Every clip is rendered lazily from ``np.random.default_rng([seed, stream, index])``, so ``dataset[i]``
is the same audio in any order, in any process and with any number of data-loader workers. How
clips get their labels and folds is in :mod:`.assignment`, the views' shared base.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

import numpy as np
import torch

from workbench.data.synthetic import signals
# Re-exported: split_of_fold and crop_with_overlap are imported from here.
from workbench.data.synthetic.assignment import SyntheticView, split_of_fold  # noqa: F401
from workbench.data.synthetic.crops import crop_with_overlap  # noqa: F401
from workbench.data.synthetic.world import (
    OCTAVES,
    REFERENCE_RMS,
    ScenePlan,
    Stream,
    SyntheticWorld,
    check_index,
)
from workbench.errors import UnknownNameError
from workbench.typing import SampleRate, Seconds

TASKS = ("event", "speaker", "word", "pitch")
SCENE_TARGETS = ("scene", "tags")
NOISE_FLOOR_SNR_DB = (5.0, 30.0)
"""Signal-to-noise range of the noise floor (white to brown) under event, voice and tone clips."""
EVENT_GAIN_DB = (-6.0, 3.0)
"""Range of the per-clip gain of event clips."""
MAX_PEAK = 0.9
"""No view returns a sample larger than this in absolute value."""


class SyntheticDataset(SyntheticView):
    """Short clips of events, voices or tones with a class target; the ``"synthetic"`` dataset.

    The four tasks come from one generator (for probing one encoder's layers on several tasks):

    - ``"event"``: a sound event of one of ``n_event_classes`` classes at a gain of -6..+3 dB;
    - ``"speaker"`` and ``"word"``: the same voice clips (a speaker saying a pseudo-word),
      labelled by speaker or by word;
    - ``"pitch"``: a harmonic tone of random timbre, labelled by pitch class (12), octaves 3-6.

    Every clip has a noise floor (white to brown, SNR 5-30 dB against the reference level).

    Args:
        seed: the world's seed.
        task: one of :data:`TASKS`.
        n_clips: number of clips (balanced over the classes and folds).
        duration: seconds per clip.
        sample_rate: Hz.
        n_folds: folds for cross-validation and the train/valid/test split (module docstring).
        n_event_classes: size of the event vocabulary.
        world: an existing world with the same seed and sample rate (saves drawing it again; its
            own sizes then stand instead of ``n_event_classes``).

    Items:
        ``(waveform (1, samples) float32, class index, meta)``; meta keys ``id``, ``fold``, ``split``,
        ``task``, ``event``, ``speaker``, ``word``, ``pitch``, ``octave`` (-1 for factors the clip
        does not have).
    """

    def __init__(
        self,
        seed: int = 0,
        task: Literal["event", "speaker", "word", "pitch"] = "event",
        n_clips: int = 600,
        duration: Seconds = 1.0,
        sample_rate: SampleRate = 16000,
        n_folds: int = 5,
        n_event_classes: int = 10,
        world: SyntheticWorld | None = None,
    ):
        if task not in TASKS:
            raise UnknownNameError("task of dataset 'synthetic'", str(task), TASKS)
        self.task = task
        # The speaker and word tasks share the stream and the assignment: they label the same clips.
        self._stream = {"event": Stream.EVENT_VIEW, "pitch": Stream.TONE_VIEW}.get(task, Stream.VOICE_VIEW)
        self._assignment_stream = self._stream
        super().__init__(seed, n_clips, duration, sample_rate, n_folds, world, n_event_classes)
        world = self.world
        self.classes = {
            "event": tuple(event_class.name for event_class in world.events),
            "speaker": tuple(speaker.name for speaker in world.speakers),
            "word": tuple(word.name for word in world.words),
            "pitch": world.pitch_classes,
        }[task]

    def _id_prefix(self) -> str:
        return f"synthetic-{self.task}"

    def _n_combinations(self) -> int:
        if self.task == "event":
            return len(self.world.events)
        if self.task == "pitch":
            return 12 * len(OCTAVES)
        return len(self.world.speakers) * len(self.world.words)

    def _factor_indices(self, combination: int) -> tuple[int, ...]:
        """Combination ``k`` as factor indices: (event,), (pitch class, octave index) or (speaker, word).

        The second factor walks diagonally, so that even a few clips span its values.
        """
        if self.task == "event":
            return (combination,)
        first_count, second_count = (
            (12, len(OCTAVES)) if self.task == "pitch" else (len(self.world.speakers), len(self.world.words))
        )
        first = combination % first_count
        return first, (combination // first_count + first) % second_count

    def _fold_offset(self, combination: int) -> int:
        return sum(self._factor_indices(combination))

    def factors(self, index: int) -> dict[str, int]:
        """The clip's factors without rendering it: event, speaker, word, pitch, octave (-1 where absent)."""
        indices = self._factor_indices(self._combination(index))
        factors = {"event": -1, "speaker": -1, "word": -1, "pitch": -1, "octave": -1}
        if self.task == "event":
            factors["event"] = indices[0]
        elif self.task == "pitch":
            factors["pitch"], factors["octave"] = indices[0], OCTAVES[indices[1]]
        else:
            factors["speaker"], factors["word"] = indices
        return factors

    def targets(self) -> list[int]:
        return [self.factors(index)[self.task] for index in range(self.n_clips)]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int, dict[str, Any]]:
        index = self._index(index)
        factors = self.factors(index)
        rng = self._rng(index)
        world = self.world
        if self.task == "event":
            clip = world.render_event(factors["event"], rng, self.duration)
            clip *= np.float32(10 ** (rng.uniform(*EVENT_GAIN_DB) / 20))
        elif self.task == "pitch":
            clip = world.render_tone(factors["pitch"], rng, self.duration, octave=factors["octave"])
        else:
            clip = world.render_voice(factors["speaker"], factors["word"], rng, self.duration)
        clip = self._with_noise_floor(clip, rng)
        meta = {**self._base_meta(index), "task": self.task, **factors}
        return torch.from_numpy(clip[None]), factors[self.task], meta

    def _with_noise_floor(self, clip: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Add coloured noise at a random SNR: no digital silence, and a nuisance as in any recording."""
        snr_db = rng.uniform(*NOISE_FLOOR_SNR_DB)
        noise = signals.band_noise(rng, clip.shape[-1], self.sample_rate, exponent=rng.uniform(0, 2))[0]
        clip = clip + np.float32(REFERENCE_RMS * 10 ** (-snr_db / 20)) * noise
        return signals.remove_dc(signals.limit_peak(clip, MAX_PEAK))


class SceneDataset(SyntheticView):
    """Acoustic scenes: several events over a background texture; the ``"synthetic-scenes"`` dataset.

    The scene label sets the event distribution (most of the scene information), the event rate
    and the preferred background (a little information); see :meth:`SyntheticWorld.draw_scene_plan`.

    Args:
        target: ``"scene"`` (class index) or ``"tags"`` (multi-hot float tensor over the event
            classes, ``target_kind == "multilabel"``).
        channels: 1, or 2 for stereo (per-event panning and interaural delay, partly correlated
            background channels).
        (the others as :class:`SyntheticDataset`)

    Items:
        ``(waveform (channels, samples), target, meta)``; meta has ``id``, ``fold``, ``split``,
        ``scene``, ``scene_name``, ``tags`` (multi-hot list of floats), ``events`` (list of dicts:
        the :class:`SceneEvent` fields plus ``name``), ``background`` (kinds of the texture mix)
        and ``background_db``.
    """

    _stream = Stream.SCENE_VIEW
    _assignment_stream = Stream.SCENE_VIEW

    def __init__(
        self,
        seed: int = 0,
        n_clips: int = 400,
        duration: Seconds = 4.0,
        sample_rate: SampleRate = 16000,
        channels: int = 1,
        n_folds: int = 5,
        target: Literal["scene", "tags"] = "scene",
        n_event_classes: int = 10,
        world: SyntheticWorld | None = None,
    ):
        if target not in SCENE_TARGETS:
            raise UnknownNameError("target of dataset 'synthetic-scenes'", str(target), SCENE_TARGETS)
        if channels not in (1, 2):
            raise ValueError(f"channels must be 1 (mono) or 2 (stereo), got {channels!r}")
        super().__init__(seed, n_clips, duration, sample_rate, n_folds, world, n_event_classes)
        self.channels = int(channels)
        self.target = target
        self.target_kind = "class" if target == "scene" else "multilabel"
        names = self.world.scenes if target == "scene" else self.world.events
        self.classes = tuple(definition.name for definition in names)

    def _id_prefix(self) -> str:
        return "synthetic-scenes"

    def _n_combinations(self) -> int:
        return len(self.world.scenes)

    def scene_of(self, index: int) -> int:
        return self._combination(index)

    def plan(self, index: int) -> ScenePlan:
        """The clip's events and background without audio; edit it and render with ``world.render_plan``."""
        return self.world.draw_scene_plan(self.scene_of(index), self._rng(index), self.duration)

    def _target(self, plan: ScenePlan) -> int | torch.Tensor:
        if self.target == "scene":
            return plan.scene
        return torch.from_numpy(plan.tags(len(self.world.events)))

    def targets(self) -> list[int | torch.Tensor]:
        if self.target == "scene":
            return [self.scene_of(index) for index in range(self.n_clips)]
        return [self._target(self.plan(index)) for index in range(self.n_clips)]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int | torch.Tensor, dict[str, Any]]:
        index = self._index(index)
        plan = self.plan(index)
        audio = signals.limit_peak(self.world.render_plan(plan, self.channels), MAX_PEAK)
        events = [
            {**dataclasses.asdict(event), "name": self.world.events[event.class_index].name} for event in plan.events
        ]
        meta = {
            **self._base_meta(index),
            "scene": plan.scene,
            "scene_name": self.world.scenes[plan.scene].name,
            "tags": plan.tags(len(self.world.events)).tolist(),
            "events": events,
            "background": [kind for kind, _ in plan.background],
            "background_db": plan.background_db,
        }
        return torch.from_numpy(audio), self._target(plan), meta


class SeparationDataset(SyntheticView):
    """Two-event mixtures with their clean sources; the ``"synthetic-separation"`` dataset.

    Each clip mixes events of two different classes (balanced over ordered class pairs), each
    filling 60-100 % of the clip. Both sources have the same RMS, :data:`REFERENCE_RMS` (both
    scaled down together where their sum would peak above 0.9), and the mixture is exactly their
    sum. :meth:`anchors` renders clean clips of one class from a separate stream, as queries.

    Items:
        ``(mixture (1, samples), sources (2, samples), meta)`` with ``target_kind == "waveform"``;
        meta has ``id``, ``fold``, ``split``, ``classes`` (the two class indices in source order)
        and ``class_names``.
    """

    _stream = Stream.SEPARATION_VIEW
    _assignment_stream = Stream.SEPARATION_VIEW
    target_kind = "waveform"

    def __init__(
        self,
        seed: int = 0,
        n_clips: int = 400,
        duration: Seconds = 2.0,
        sample_rate: SampleRate = 16000,
        n_folds: int = 5,
        n_event_classes: int = 10,
        world: SyntheticWorld | None = None,
    ):
        super().__init__(seed, n_clips, duration, sample_rate, n_folds, world, n_event_classes)
        self.event_classes = tuple(event_class.name for event_class in self.world.events)
        self.classes = ()

    def _id_prefix(self) -> str:
        return "synthetic-separation"

    def _n_combinations(self) -> int:
        n_classes = len(self.world.events)
        return n_classes * (n_classes - 1)

    def pair_of(self, index: int) -> tuple[int, int]:
        """The two (different) event classes of a clip, without rendering it."""
        n_classes = len(self.world.events)
        combination = self._combination(index)
        first = combination % n_classes
        return first, (first + 1 + combination // n_classes) % n_classes

    def _normalised_event(self, class_index: int, rng: np.random.Generator, duration: Seconds) -> np.ndarray:
        length = rng.uniform(0.6, 1.0) * duration
        span = (rng.uniform(0, duration - length), length)
        return signals.normalise_rms(self.world.render_event(class_index, rng, duration, span=span), REFERENCE_RMS)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
        index = self._index(index)
        classes = self.pair_of(index)
        rng = self._rng(index)
        sources = np.stack([self._normalised_event(class_index, rng, self.duration) for class_index in classes])
        peak = float(np.abs(sources.sum(axis=0)).max())
        if peak > MAX_PEAK:  # scale both alike so that they keep equal energy
            sources *= np.float32(MAX_PEAK / peak)
        mixture = sources[0] + sources[1]
        meta = {
            **self._base_meta(index),
            "classes": list(classes),
            "class_names": [self.event_classes[class_index] for class_index in classes],
        }
        return torch.from_numpy(mixture[None]), torch.from_numpy(sources), meta

    def anchors(
        self, class_index: int, n: int, duration: Seconds | None = None, start: int = 0
    ) -> list[torch.Tensor]:
        """``n`` clean clips of one event class (queries), from a stream no mixture uses.

        Args:
            class_index: the event class.
            n: how many.
            duration: seconds per clip; default the dataset's duration.
            start: number of the first anchor (anchors ``start .. start + n - 1`` of the class), so
                disjoint sets of queries can be drawn.

        Returns:
            ``n`` tensors ``(1, samples)`` with RMS :data:`REFERENCE_RMS` (lower only where that
            would peak above 0.9).
        """
        duration = self.duration if duration is None else duration
        class_index = check_index(class_index, len(self.world.events), "class_index")
        clips = []
        for number in range(start, start + int(n)):
            rng = np.random.default_rng([self.seed, Stream.ANCHOR, class_index, number])
            clip = signals.normalise_rms(self.world.render_event(class_index, rng, duration), REFERENCE_RMS)
            clips.append(torch.from_numpy(signals.limit_peak(clip, MAX_PEAK)[None]))
        return clips


class BackgroundDataset(SyntheticView):
    """Long background textures; the ``"synthetic-backgrounds"`` dataset.

    Target: the texture kind, balanced over :data:`~workbench.data.synthetic.classes.BACKGROUND_KINDS`.
    Cut "mixture + reference background" crops with :func:`crop_with_overlap`.

    Items:
        ``(waveform (1, samples), kind index, meta)``; meta has ``id``, ``fold``, ``split``, ``kind``.
    """

    _stream = Stream.BACKGROUND_VIEW
    _assignment_stream = Stream.BACKGROUND_VIEW

    def __init__(
        self,
        seed: int = 0,
        n_clips: int = 50,
        duration: Seconds = 10.0,
        sample_rate: SampleRate = 16000,
        n_folds: int = 5,
        world: SyntheticWorld | None = None,
    ):
        super().__init__(seed, n_clips, duration, sample_rate, n_folds, world)
        self.classes = self.world.background_kinds

    def _id_prefix(self) -> str:
        return "synthetic-backgrounds"

    def _n_combinations(self) -> int:
        return len(self.world.background_kinds)

    def kind_of(self, index: int) -> int:
        return self._combination(index)

    def targets(self) -> list[int]:
        return [self.kind_of(index) for index in range(self.n_clips)]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int, dict[str, Any]]:
        index = self._index(index)
        kind = self.kind_of(index)
        audio = self.world.render_background(self.world.background_kinds[kind], self._rng(index), self.duration)
        meta = {**self._base_meta(index), "kind": self.world.background_kinds[kind]}
        return torch.from_numpy(signals.limit_peak(audio, MAX_PEAK)), kind, meta
