"""Registers the four synthetic views under their dataset names (``"synthetic"``, ``"synthetic-scenes"``,
``"synthetic-separation"``, ``"synthetic-backgrounds"``); importing :mod:`workbench.data.synthetic` does it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from workbench.data.files import reject_unknown_options
from workbench.data.records import DatasetInfo
from workbench.data.registry import register
from workbench.data.synthetic.assignment import SyntheticView
from workbench.data.synthetic.views import BackgroundDataset, SceneDataset, SeparationDataset, SyntheticDataset


def _factory(name: str, dataset_class: type[SyntheticView], options: tuple[str, ...]):
    def build(root: Path, **kwargs: Any) -> SyntheticView:
        # ``root`` is ignored: the synthetic world needs no files.
        reject_unknown_options(name, kwargs, options)
        return dataset_class(**kwargs)

    build.__name__ = f"build_{name.replace('-', '_')}"
    build.__doc__ = f"Build the {name!r} dataset (``root`` is ignored); options: {', '.join(options)}."
    return build


_WORLD_OPTIONS = ("seed", "n_clips", "duration", "sample_rate", "n_folds")
_VIEWS = (
    ("synthetic", SyntheticDataset, "class",
     "Synthetic world: 1-s event, voice (speaker/word) or tone (pitch class) clips from a seed.",
     (*_WORLD_OPTIONS, "task", "n_event_classes")),
    ("synthetic-scenes", SceneDataset, "class",
     "Synthetic acoustic scenes: events over background textures, with scene label and event tags.",
     (*_WORLD_OPTIONS, "channels", "target", "n_event_classes")),
    ("synthetic-separation", SeparationDataset, "waveform",
     "Synthetic two-event mixtures with their clean, energy-normalised sources, plus class anchors.",
     (*_WORLD_OPTIONS, "n_event_classes")),
    ("synthetic-backgrounds", BackgroundDataset, "class",
     "Synthetic 10-s background textures (pink, brown, babble, hum) for overlapping crops.",
     _WORLD_OPTIONS),
)  # fmt: skip
_GENERATED = "nothing to obtain: generated on the fly from a seed (workbench.data.synthetic)"

for _name, _class, _target_kind, _description, _options in _VIEWS:
    _info = DatasetInfo(
        name=_name,
        description=_description,
        sample_rate=16000,
        target_kind=_target_kind,
        licence="generated (no licence restrictions)",
        obtain=_GENERATED,
    )
    register(_info)(_factory(_name, _class, _options))
