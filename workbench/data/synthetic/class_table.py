"""The synthetic world's class table: one row per class of every family, for the quickstart notebook."""

from __future__ import annotations

from typing import TYPE_CHECKING

from workbench.data.synthetic.tones import OCTAVES, note_frequency

if TYPE_CHECKING:  # only for annotations: the world re-exports describe
    from workbench.data.synthetic.world import SyntheticWorld

_TEXTURE_DESCRIPTIONS = {
    "pink": "pink noise (1/f); stereo channels partly correlated",
    "brown": "brown noise (1/f^2): a rumble",
    "babble": "four to seven distant talkers saying streams of syllables",
    "hum": "50 or 60 Hz mains hum with harmonics over faint pink noise",
}


def describe(world: SyntheticWorld) -> list[dict[str, object]]:
    """The world's class table, one row per class of every family (for the quickstart notebook).

    Returns:
        Rows ``{"family", "index", "name", "description"}``; family is one of ``"event"``,
        ``"speaker"``, ``"word"``, ``"pitch"``, ``"scene"``, ``"background"``.
    """

    def row(family: str, index: int, name: str, description: str) -> dict[str, object]:
        return {"family": family, "index": index, "name": name, "description": description}

    rows = [row("event", i, c.name, f"{c.description} ({c.summary})") for i, c in enumerate(world.events)]
    rows += [row("speaker", i, s.name, s.summary) for i, s in enumerate(world.speakers)]
    rows += [row("word", i, w.name, w.summary) for i, w in enumerate(world.words)]
    for index, name in enumerate(world.pitch_classes):
        low, high = note_frequency(index, OCTAVES[0]), note_frequency(index, OCTAVES[-1])
        range_text = f"f0 {low:.0f}..{high:.0f} Hz over octaves {OCTAVES[0]}-{OCTAVES[-1]}"
        rows.append(row("pitch", index, name, f"harmonic tone of random timbre, {range_text}"))
    event_names = [event_class.name for event_class in world.events]
    rows += [row("scene", i, s.name, s.summary(event_names)) for i, s in enumerate(world.scenes)]
    for index, kind in enumerate(world.background_kinds):
        rows.append(row("background", index, kind, f"{_TEXTURE_DESCRIPTIONS[kind]}; its level swells slowly"))
    return rows
