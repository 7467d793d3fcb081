"""What determines a synthetic scene clip without its audio: the events placed in it and its background.

A :class:`ScenePlan` is drawn by :meth:`~workbench.data.synthetic.world.SyntheticWorld.draw_scene_plan`,
can be edited (one event more or less) and is rendered by
:meth:`~workbench.data.synthetic.world.SyntheticWorld.render_plan`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from workbench.typing import Seconds


@dataclass(frozen=True)
class SceneEvent:
    """One event placed in a scene.

    Its sound comes from the stream ``[seed, SCENE_EVENT, class_index, variation]``, so the same
    ``SceneEvent`` renders the same audio in any scene: two scenes that differ by one ``SceneEvent``
    differ by exactly that sound.
    """

    class_index: int
    onset: Seconds
    gain_db: float = 0.0
    pan: float = 0.0
    """-1 (left) .. 1 (right); used when the scene is rendered in stereo."""
    duration: Seconds = 1.0
    variation: int = 0
    """Which instance of the class (any non-negative integer)."""


@dataclass(frozen=True)
class ScenePlan:
    """Everything that determines a scene clip, without its audio; render with :meth:`SyntheticWorld.render_plan`."""

    scene: int
    events: tuple[SceneEvent, ...]
    duration: Seconds
    background: tuple[tuple[str, float], ...]
    """``(kind, weight)`` texture mix of the background."""
    background_db: float
    """Background level relative to :data:`REFERENCE_RMS`."""
    background_variation: int
    """Which instance of that texture mix (its random stream, see :meth:`SyntheticWorld.render_plan`)."""

    def with_event(self, event: SceneEvent) -> ScenePlan:
        """The same scene with one more event (retrieval with a text modifier: "add a bark-like")."""
        return dataclasses.replace(self, events=tuple(sorted((*self.events, event), key=lambda e: e.onset)))

    def without_event(self, position: int) -> ScenePlan:
        """The same scene without the event at ``position`` of :attr:`events`."""
        if not -len(self.events) <= position < len(self.events):
            raise IndexError(f"the scene has {len(self.events)} events; there is no event at position {position}")
        events = list(self.events)
        del events[position]
        return dataclasses.replace(self, events=tuple(events))

    def tags(self, n_event_classes: int) -> np.ndarray:
        """Multi-hot ``(n_event_classes,)`` float32 vector of the event classes present."""
        tags = np.zeros(n_event_classes, dtype=np.float32)
        tags[[event.class_index for event in self.events]] = 1.0
        return tags
