"""What every synthetic view shares: the world, the seeded balanced assignment of clips to labels and
folds, per-clip random streams, clip ids and the fingerprint.

Labels and folds come from a seeded, balanced assignment. A view has ``K`` factor combinations
(event classes; speaker-word pairs; pitch class-octave pairs; scenes; ordered class pairs; kinds)
and a seeded permutation ``order`` of the clip numbers. Clip ``i`` with ``p = order[i]`` gets
combination ``k = p % K`` and fold ``(p // K + offset(k)) % n_folds + 1``, where ``offset(k)`` is
``k``, or the sum of the two factor indices for two-factor views. So the combinations are used
equally often (to within one clip), each one's clips go round the folds starting from different
folds, and even a handful of clips covers many classes and every fold.

Splits from folds: fold ``n_folds`` is ``"test"``, fold ``n_folds - 1`` is ``"valid"`` (when
``n_folds >= 3``), the rest ``"train"``; the default five folds give 60 / 20 / 20 %.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from workbench.data.records import AudioDataset
from workbench.data.synthetic.world import Stream, SyntheticWorld
from workbench.typing import SampleRate, Seconds


def split_of_fold(fold: int, n_folds: int) -> str:
    """``"test"`` for the last fold, ``"valid"`` for the one before (with three or more folds), else ``"train"``."""
    if fold == n_folds:
        return "test"
    if n_folds >= 3 and fold == n_folds - 1:
        return "valid"
    return "train"


def _positive(name: str, value: Any, kind: type = int) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    if kind is int and int(value) != value:
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if not value > 0:
        raise ValueError(f"{name} must be positive, got {value!r}")
    return kind(value)


class SyntheticView(AudioDataset):
    """What every view shares: the world, the balanced assignment, per-clip random streams.

    Subclasses set ``_stream`` (the clips' random stream) and ``_assignment_stream`` (the
    permutation's; views of the very same clips share it) and implement ``_n_combinations``.
    """

    _stream: Stream
    _assignment_stream: Stream

    def __init__(
        self,
        seed: int,
        n_clips: int,
        duration: Seconds,
        sample_rate: SampleRate,
        n_folds: int,
        world: SyntheticWorld | None,
        n_event_classes: int = 10,
    ):
        self.n_clips = _positive("n_clips", n_clips)
        self.duration = _positive("duration", duration, float)
        self.n_folds = _positive("n_folds", n_folds)
        if world is None:
            world = SyntheticWorld(seed, sample_rate, n_event_classes=n_event_classes)
        elif world.seed != seed or world.sample_rate != sample_rate:
            raise ValueError(
                f"the world's seed {world.seed} / sample rate {world.sample_rate} differ from the "
                f"dataset's {seed} / {sample_rate}; pass matching values or leave world=None"
            )
        self.world = world
        self.seed = world.seed
        self.sample_rate = world.sample_rate
        world.clip_samples(self.duration)
        self.folds = tuple(range(1, self.n_folds + 1))
        assignment_rng = np.random.default_rng([self.seed, Stream.ASSIGNMENT, self._assignment_stream])
        self._order = assignment_rng.permutation(self.n_clips)

    def _n_combinations(self) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def __len__(self) -> int:
        return self.n_clips

    def _index(self, index: int) -> int:
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"{type(self).__name__} indices must be integers, got {type(index).__name__}")
        if not -self.n_clips <= index < self.n_clips:
            raise IndexError(f"index {index} out of range for {self.n_clips} clips")
        return int(index) % self.n_clips

    def _combination(self, index: int) -> int:
        """The clip's factor combination ``k`` (see the module docstring)."""
        return int(self._order[self._index(index)]) % self._n_combinations()

    def _fold_offset(self, combination: int) -> int:
        """Where combination ``k`` starts its walk round the folds (views with two factors spread both)."""
        return combination

    def fold_of(self, index: int) -> int:
        number = int(self._order[self._index(index)])
        n_combinations = self._n_combinations()
        offset = self._fold_offset(number % n_combinations)
        return (number // n_combinations + offset) % self.n_folds + 1

    def split_of(self, index: int) -> str:
        return split_of_fold(self.fold_of(index), self.n_folds)

    def _rng(self, index: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, self._stream, self._index(index)])

    def _id_prefix(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def _clip_id(self, index: int) -> str:
        return f"{self._id_prefix()}-seed{self.seed}-{index:06d}"

    def clip_ids(self) -> list[str]:
        """Every clip's id, as ``meta["id"]`` gives it, without rendering a clip."""
        return [self._clip_id(index) for index in range(self.n_clips)]

    def fingerprint(self) -> dict[str, Any]:
        """The view's class, seed and every parameter that shapes its clips (nothing is rendered)."""
        parameters = {
            name: getattr(self, name)
            for name in ("task", "target", "channels")
            if hasattr(self, name)
        }
        return {
            "kind": "synthetic",
            "class": f"{type(self).__module__}.{type(self).__qualname__}",
            "seed": int(self.seed),
            "clips": int(self.n_clips),
            "duration": float(self.duration),
            "sample_rate": int(self.sample_rate),
            "n_folds": int(self.n_folds),
            "n_event_classes": len(self.world.events),
            **parameters,
        }

    def _base_meta(self, index: int) -> dict[str, Any]:
        index = self._index(index)
        return {"id": self._clip_id(index), "fold": self.fold_of(index), "split": self.split_of(index)}
