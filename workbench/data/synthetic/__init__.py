"""The embedded default data: a deterministic, seeded world of sounds with known structure.

Every notebook default and most tests run on it, so the workbench does its main job with no
download. One :class:`SyntheticWorld` (a seed and a sample rate) draws frozen class definitions;
renderers turn a class and a random stream into audio (numpy, vectorised); four dataset views
render clips lazily from ``np.random.default_rng([seed, view, index])``, so ``dataset[i]`` is the
same audio in any order, in any process, with any number of workers.

Modules: :mod:`.classes` (the frozen definitions and how a seed draws them; the event family in
:mod:`.event_classes`, their random streams in :mod:`.definition_streams`), :mod:`.signals`
(vectorised DSP), :mod:`.events`, :mod:`.voices`, :mod:`.tones`, :mod:`.textures` (renderers),
:mod:`.world` (:class:`SyntheticWorld`; scene records in :mod:`.scene_plans`, :func:`describe` in
:mod:`.class_table`), :mod:`.views` (the datasets; their shared base and fold assignment in
:mod:`.assignment`, :func:`crop_with_overlap` in :mod:`.crops`), :mod:`.registration` (their
registry entries).

    >>> import numpy as np
    >>> from workbench.data import synthetic
    >>> world = synthetic.SyntheticWorld(seed=0)
    >>> clip = world.render_event(2, np.random.default_rng(1), duration=1.0)      # a bell, (16000,)
    >>> data = synthetic.SyntheticDataset(seed=0, task="event")                    # or get("synthetic")
    >>> waveform, target, meta = data[0]                                           # (1, 16000), int, dict

Event classes (the first ``n_event_classes`` rows; the seed jitters every number, and classes past
the sixteenth reuse a template in another register, named e.g. ``"bell 2"``). The default ten
hold deliberately close pairs, so the event task is learnable but not trivial:

| # | name | generator | close to |
| --- | --- | --- | --- |
| 0 | low hum | 8 harmonics, f0 55-130 Hz, noise 20 %, slow AM 0.5-3 Hz | engine |
| 1 | engine | the same drone with a fast AM, 10-30 Hz | low hum |
| 2 | bell | 5 sparse inharmonic partials (1, 2.76, 5.40, ...), f0 220-800 Hz, 1-2 strikes, decay | gong |
| 3 | gong | 7 dense inharmonic partials, f0 150-550 Hz, noisy strike, decay | bell |
| 4 | click train | periodic broadband noise clicks, 6-25 /s | knock |
| 5 | knock | periodic damped resonances (250-700 Hz) plus noise, 6-25 /s | click train |
| 6 | chirp | 2-5 short upward sweeps (0.4-1 octave) of a 1.8-3.5 kHz tone | |
| 7 | siren | 5 harmonics, f0 550-1000 Hz, slow FM (2 Hz, 5 semitones) | |
| 8 | rain | random drops (40-120 /s) of 1.5-5.6 kHz noise over a hiss | |
| 9 | bark-like | 1-3 short harmonic barks, f0 320-650 Hz, falling pitch, noise | |
| 10 | wind | low band noise with slow gusts (AM 0.3-1.2 Hz) | |
| 11 | whistle | near-pure 0.9-2.2 kHz tone, vibrato, slight glide | chirp, siren |
| 12 | beep | 1-4 flat bursts of a square-ish tone | |
| 13 | buzz | bright harmonic buzz with a wing-beat AM | engine |
| 14 | croak | low creaky bursts: a harmonic tone gated by pulses | |
| 15 | drip | 1-4 very short tones with a fast upward glide | chirp |

Within-class variation per clip: pitch within the class range, burst count/length/onset, glide
and modulation rates and phases, partial gains (+-2 dB), a recording tilt (+-3 dB/octave), the
tonal/noise balance, the noise band edges, and the gain and noise floor added by the views.

Other families:

- **speaker** (``n_speakers``, ``"speaker A"``, ...): band-limited glottal pulses with a median f0
  of 85-260 Hz, a formant scale tied to it (shorter tract, higher voice), a source roll-off,
  breathiness and formant bandwidths. Per clip: f0 +-1 semitone, formants +-3 %.
- **word** (``n_words`` pseudo-words such as ``"ka-mi-ka"``): two or three syllables from a pool of
  three shared by all words (a consonant burst or nasal, a vowel's formants), with relative lengths
  and a pitch contour per syllable (flat, rise, fall, high, low). Per clip: tempo 0.8-1.25, contour
  depth 0.6-1.4, onset.
- **pitch** (12 pitch classes C..B, octaves 3-6): harmonic tones. Per clip: the timbre (4-12
  partials, tilt, odd/even balance, stiffness, plucked or bowed envelope, vibrato), +-15 cents.
- **scene** (``n_scenes``: street, park, kitchen, office, workshop, ...): Poisson events (0.7-1.5 per
  second) drawn from a sparse scene-specific distribution over the event classes, over a background
  mix whose main texture is the scene's favourite with probability 0.5, at a level of -15..-5 dB
  whatever the scene.
- **background** (pink, brown, babble, hum): coloured noise; four to seven distant talkers; 50 or
  60 Hz mains harmonics over pink noise; each with a slow swell of its level.

Levels: a rendered sound has RMS 0.05 (-26 dBFS) over its active span and a peak of at most 0.4;
no view returns a sample above 0.9; every clip is DC-free float32.

Views (registered in :mod:`workbench.data.registry`; ``root`` is ignored):

| name | class | item |
| --- | --- | --- |
| ``"synthetic"`` | :class:`SyntheticDataset` | ``(1, samples)``, class, every factor in meta |
| ``"synthetic-scenes"`` | :class:`SceneDataset` | ``(channels, samples)``, scene or tags, events |
| ``"synthetic-separation"`` | :class:`SeparationDataset` | mixture ``(1, samples)``, sources ``(2, samples)`` |
| ``"synthetic-backgrounds"`` | :class:`BackgroundDataset` | a 10-s texture and its kind |

The ``"synthetic"`` view has the tasks ``event``, ``speaker``, ``word`` and ``pitch``;
:meth:`SeparationDataset.anchors` gives query clips of a class; :func:`crop_with_overlap` cuts a
background crop and a reference crop sharing 100, 50 or 0 % of their samples.

Measured on the defaults (600 clips, five-fold cross-validation, logistic regression on the mean
and standard deviation over time of a 64-band log-mel spectrogram; seeds 0-2): event 87-89 %
(chance 10 %), speaker 68-93 % (17 %), word 98-99 % (17 %), pitch 94-95 % (8 %). Scenes (400
clips, seeds 0-1): 73 % from the true tags alone, 32-34 % from the background alone, 53-57 % from
the audio (chance 20 %). Rendering on one core: about 1000 event, 650 voice and 780 tone clips
of 1 s per second, 100 mono scenes of 4 s (``python -m benchmarks.run synthetic``).
"""

# Importing registration registers the four views.
from workbench.data.synthetic import registration  # noqa: F401
from workbench.data.synthetic.backgrounds import LONG_BACKGROUND_KINDS, LongBackgroundDataset
from workbench.data.synthetic.classes import (
    BACKGROUND_KINDS,
    EVENT_TEMPLATES,
    PITCH_CLASS_NAMES,
    EventClass,
    SceneClass,
    Speaker,
    Syllable,
    Word,
)
from workbench.data.synthetic.views import (
    TASKS,
    BackgroundDataset,
    SceneDataset,
    SeparationDataset,
    SyntheticDataset,
    crop_with_overlap,
    split_of_fold,
)
from workbench.data.synthetic.world import (
    OCTAVES,
    PEAK_LIMIT,
    REFERENCE_RMS,
    SceneEvent,
    ScenePlan,
    Stream,
    SyntheticWorld,
    describe,
)

__all__ = [
    "BACKGROUND_KINDS",
    "LONG_BACKGROUND_KINDS",
    "EVENT_TEMPLATES",
    "OCTAVES",
    "PEAK_LIMIT",
    "PITCH_CLASS_NAMES",
    "REFERENCE_RMS",
    "TASKS",
    "BackgroundDataset",
    "EventClass",
    "LongBackgroundDataset",
    "SceneClass",
    "SceneDataset",
    "SceneEvent",
    "ScenePlan",
    "SeparationDataset",
    "Speaker",
    "Stream",
    "Syllable",
    "SyntheticDataset",
    "SyntheticWorld",
    "Word",
    "crop_with_overlap",
    "describe",
    "split_of_fold",
]
