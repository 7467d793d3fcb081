"""The sound-event classes of the synthetic world: hand-written templates, and how a seed jitters them.

Event classes start from hand-written templates (the names and the kind of sound) whose numbers
the seed jitters, so every seed makes a different but recognisable world.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from workbench.data.synthetic.definition_streams import DefinitionFamily, definition_rng


@dataclass(frozen=True)
class EventClass:
    """A sound-event class: the generator parameters that every clip of the class shares.

    A clip is ``envelope * amplitude_modulation * pulse_gate * ((1 - noise_mix) * partials + noise_mix
    * band_noise)`` spread over ``bursts``; each clip draws its own pitch, burst timing, partial gains
    and modulation phases within the ranges below (the within-class variation).
    """

    name: str
    description: str
    partial_ratios: tuple[float, ...] = ()
    """Frequency of each partial over the fundamental: integers are harmonic, others inharmonic; () none."""
    partial_gains_db: tuple[float, ...] = ()
    pitch_hz: tuple[float, float] = (100.0, 200.0)
    """Range of the per-clip fundamental, drawn log-uniformly."""
    glide_octaves: tuple[float, float] = (0.0, 0.0)
    """Pitch change over one burst (positive: upward sweep), drawn per burst."""
    vibrato_hz: float = 0.0
    vibrato_semitones: float = 0.0
    am_hz: tuple[float, float] = (0.0, 0.0)
    """Range of the amplitude-modulation rate; (0, 0) for none."""
    am_depth: float = 0.0
    noise_band_hz: tuple[float, float] = (100.0, 4000.0)
    noise_mix: float = 0.0
    """Share of band noise in the source: 0 tonal only, 1 noise only."""
    bursts: tuple[int, int] = (1, 1)
    """Range of the number of repetitions in a clip."""
    burst_seconds: tuple[float, float] | None = None
    """Range of each burst's length; None: a single burst that fills the active span."""
    attack_seconds: float = 0.01
    decay_seconds: float = 0.0
    """Exponential decay time constant within a burst; 0 for a sustained sound."""
    partial_decay_spread: float = 0.0
    """Partial k decays with time constant ``decay_seconds / ratio_k ** spread`` (bells: high partials die first)."""
    pulse_hz: tuple[float, float] = (0.0, 0.0)
    """Range of the rate of a pulse gate (clicks, knocks, raindrops); (0, 0) for none."""
    pulse_decay_seconds: float = 0.005
    pulse_random: bool = False
    """Pulses at Poisson-random times (rain) instead of periodic ones."""
    pulse_floor: float = 0.0
    """Gate level between pulses (0: silence between clicks)."""
    tilt_db_per_octave: float = 0.0
    """Spectral tilt of the partials, before the class's own per-partial offsets."""

    @property
    def summary(self) -> str:
        """The generator in a few words, for the class table."""
        parts = []
        if self.partial_ratios:
            harmonic = all(float(r).is_integer() for r in self.partial_ratios)
            kind = "harmonic" if harmonic else "inharmonic"
            low, high = self.pitch_hz
            parts.append(f"{len(self.partial_ratios)} {kind} partials, f0 {low:.0f}-{high:.0f} Hz")
        if self.noise_mix > 0:
            parts.append(f"noise {self.noise_band_hz[0]:.0f}-{self.noise_band_hz[1]:.0f} Hz ({self.noise_mix:.0%})")
        if any(self.glide_octaves):
            parts.append(f"glide {self.glide_octaves[0]:+.2f}..{self.glide_octaves[1]:+.2f} oct")
        if self.vibrato_semitones:
            parts.append(f"FM {self.vibrato_hz:.1f} Hz x {self.vibrato_semitones:.1f} st")
        if self.am_depth:
            parts.append(f"AM {self.am_hz[0]:.1f}-{self.am_hz[1]:.1f} Hz")
        if self.pulse_hz[1] > 0:
            kind = "random" if self.pulse_random else "periodic"
            parts.append(f"{kind} pulses {self.pulse_hz[0]:.0f}-{self.pulse_hz[1]:.0f}/s")
        if self.burst_seconds is not None:
            shortest, longest = self.burst_seconds
            parts.append(f"{self.bursts[0]}-{self.bursts[1]} bursts of {shortest:.2f}-{longest:.2f} s")
        if self.decay_seconds:
            parts.append(f"decay {self.decay_seconds:.2f} s")
        return "; ".join(parts)


def _harmonics(count: int) -> tuple[float, ...]:
    return tuple(float(k) for k in range(1, count + 1))


# Hand-written templates. The first ten are the default world and hold deliberately close pairs
# (low hum/engine: the same drone, only the AM rate differs; bell/gong; click train/knock) so that
# the event task is not trivial.
EVENT_TEMPLATES: tuple[EventClass, ...] = (
    EventClass("low hum", "steady low harmonic drone with a slow beating",
               partial_ratios=_harmonics(8), tilt_db_per_octave=-7, pitch_hz=(55, 130), am_hz=(0.5, 3.0),
               am_depth=0.5, noise_band_hz=(40, 1500), noise_mix=0.2, attack_seconds=0.1),
    EventClass("engine", "the same kind of drone with a fast firing-rate AM",
               partial_ratios=_harmonics(8), tilt_db_per_octave=-7, pitch_hz=(55, 130), am_hz=(10, 30),
               am_depth=0.5, noise_band_hz=(40, 1500), noise_mix=0.2, attack_seconds=0.1),
    EventClass("bell", "sparse inharmonic partials, sharp strike, decay; high partials die first",
               partial_ratios=(1.0, 2.76, 5.40, 8.93, 13.34), tilt_db_per_octave=-4, pitch_hz=(220, 800),
               bursts=(1, 2), burst_seconds=(0.35, 0.9), attack_seconds=0.002, decay_seconds=0.4,
               partial_decay_spread=0.5),
    EventClass("gong", "dense inharmonic partials, noisy strike, decay",
               partial_ratios=(1.0, 1.47, 2.09, 2.56, 3.14, 3.9, 4.7), tilt_db_per_octave=-4,
               pitch_hz=(150, 550), bursts=(1, 2), burst_seconds=(0.35, 0.9), attack_seconds=0.004,
               decay_seconds=0.4, partial_decay_spread=0.4, noise_band_hz=(200, 3000), noise_mix=0.12),
    EventClass("click train", "periodic broadband clicks",
               noise_band_hz=(500, 6000), noise_mix=1.0, pulse_hz=(6, 25), pulse_decay_seconds=0.004,
               attack_seconds=0.005),
    EventClass("knock", "periodic knocks: damped low resonances plus a noisy click",
               partial_ratios=(1.0, 2.32), tilt_db_per_octave=-6, pitch_hz=(250, 700), noise_band_hz=(300, 5000),
               noise_mix=0.5, pulse_hz=(6, 25), pulse_decay_seconds=0.012, attack_seconds=0.005),
    EventClass("chirp", "repeated short upward sweeps of a whistle-like tone",
               partial_ratios=(1.0, 2.0), tilt_db_per_octave=-15, pitch_hz=(1800, 3500), glide_octaves=(0.4, 1.0),
               bursts=(2, 5), burst_seconds=(0.05, 0.12), attack_seconds=0.005),
    EventClass("siren", "harmonic tone swept slowly up and down",
               partial_ratios=_harmonics(5), tilt_db_per_octave=-8, pitch_hz=(550, 1000), vibrato_hz=2.0,
               vibrato_semitones=5.0, attack_seconds=0.08),
    EventClass("rain", "dense random drops over a hiss",
               noise_band_hz=(1500, 7500), noise_mix=1.0, pulse_hz=(40, 120), pulse_decay_seconds=0.004,
               pulse_random=True, pulse_floor=0.25, attack_seconds=0.15),
    EventClass("bark-like", "one to three short harmonic barks with falling pitch and noise",
               partial_ratios=_harmonics(8), tilt_db_per_octave=-5, pitch_hz=(320, 650), glide_octaves=(-0.5, -0.15),
               bursts=(1, 3), burst_seconds=(0.09, 0.22), noise_band_hz=(500, 4500), noise_mix=0.3,
               attack_seconds=0.01),
    EventClass("wind", "low band noise with slow gusts",
               noise_band_hz=(120, 1200), noise_mix=1.0, am_hz=(0.3, 1.2), am_depth=0.7, attack_seconds=0.25),
    EventClass("whistle", "nearly pure tone with vibrato and a slight glide",
               partial_ratios=(1.0, 2.0), tilt_db_per_octave=-25, pitch_hz=(900, 2200), glide_octaves=(-0.15, 0.2),
               vibrato_hz=5.5, vibrato_semitones=0.4, bursts=(1, 2), burst_seconds=(0.25, 0.6), attack_seconds=0.03),
    EventClass("beep", "repeated flat square-ish tone bursts",
               partial_ratios=(1.0, 3.0, 5.0), tilt_db_per_octave=-9.5, pitch_hz=(600, 1600), bursts=(1, 4),
               burst_seconds=(0.08, 0.25), attack_seconds=0.004),
    EventClass("buzz", "bright harmonic buzz with an insect-like wing-beat AM",
               partial_ratios=_harmonics(12), tilt_db_per_octave=-3, pitch_hz=(140, 320), am_hz=(25, 60),
               am_depth=0.5, attack_seconds=0.05),
    EventClass("croak", "low creaky bursts: a harmonic tone gated by glottal-like pulses",
               partial_ratios=_harmonics(10), tilt_db_per_octave=-4, pitch_hz=(90, 200), bursts=(1, 3),
               burst_seconds=(0.15, 0.35), pulse_hz=(18, 40), pulse_decay_seconds=0.012, attack_seconds=0.01),
    EventClass("drip", "short water-drop tones with a fast upward glide",
               partial_ratios=(1.0,), pitch_hz=(500, 1300), glide_octaves=(0.8, 1.8), bursts=(1, 4),
               burst_seconds=(0.03, 0.07), attack_seconds=0.002, decay_seconds=0.03),
)  # fmt: skip


def _scaled(pair: tuple[float, float], factor: float) -> tuple[float, float]:
    return (float(pair[0] * factor), float(pair[1] * factor))


def draw_event_class(seed: int, index: int) -> EventClass:
    """Event class ``index`` of the world ``seed``: its template with seed-drawn numbers.

    Beyond the templates, class ``index`` reuses template ``index % len(EVENT_TEMPLATES)`` in a new
    register (pitch moved by up to an octave) and is named e.g. ``"bell 2"``.
    """
    rng = definition_rng(seed, DefinitionFamily.EVENT, index)
    template = EVENT_TEMPLATES[index % len(EVENT_TEMPLATES)]
    generation = index // len(EVENT_TEMPLATES)
    name = template.name if generation == 0 else f"{template.name} {generation + 1}"

    def jitter(spread: float) -> float:
        return float(rng.uniform(1 - spread, 1 + spread))

    pitch_factor = jitter(0.12) * (2.0 ** rng.uniform(-1, 1) if generation else 1.0)
    ratios = tuple(
        r if float(r).is_integer() else round(r * jitter(0.03), 3) for r in template.partial_ratios
    )
    tilt = template.tilt_db_per_octave + float(rng.uniform(-2, 2))
    gains = tuple(round(tilt * float(np.log2(r)) + float(rng.normal(0, 2.5)), 2) for r in ratios)
    burst_seconds = (
        _scaled(template.burst_seconds, jitter(0.1)) if template.burst_seconds is not None else None
    )
    return dataclasses.replace(
        template,
        name=name,
        partial_ratios=ratios,
        partial_gains_db=gains,
        tilt_db_per_octave=round(tilt, 2),
        pitch_hz=_scaled(template.pitch_hz, pitch_factor),
        glide_octaves=_scaled(template.glide_octaves, jitter(0.15)),
        vibrato_hz=template.vibrato_hz * jitter(0.15),
        vibrato_semitones=template.vibrato_semitones * jitter(0.15),
        am_hz=_scaled(template.am_hz, jitter(0.15)),
        noise_band_hz=_scaled(template.noise_band_hz, jitter(0.1)),
        burst_seconds=burst_seconds,
        decay_seconds=template.decay_seconds * jitter(0.2),
        pulse_hz=_scaled(template.pulse_hz, jitter(0.1)),
    )
