"""The embedding table (:class:`Embeddings`): one embedding per clip with its target, fold, split,
group and id, and its ``.npz`` file."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from workbench.atomic import atomic_path


@dataclass
class Embeddings:
    """One embedding per clip with everything an evaluation needs about that clip.

    Attributes:
        features: ``(N, D)`` float32 embeddings.
        targets: ``(N,)`` int64 class indices, or ``(N, C)`` float32 multi-hot vectors.
        ids: ``(N,)`` clip ids (``meta["id"]``).
        classes: class names in target order.
        folds: ``(N,)`` int64 official fold of each clip, or None when the dataset has no folds.
        splits: ``(N,)`` official split name of each clip (``"train"``, ``"valid"``, ``"test"``), or None.
        groups: ``(N,)`` source group of each clip (recording, speaker) for grouped k-fold, or None when
            the dataset knows none; a clip without a group is a group of its own.

    Raises:
        ValueError: (on construction) arrays of different lengths or of the wrong rank.
    """

    features: np.ndarray
    targets: np.ndarray
    ids: np.ndarray
    classes: tuple[str, ...]
    folds: np.ndarray | None = None
    splits: np.ndarray | None = None
    groups: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.features = np.asarray(self.features, dtype=np.float32)
        targets = np.asarray(self.targets)
        self.targets = targets.astype(np.int64) if targets.ndim == 1 else targets.astype(np.float32)
        self.ids = np.asarray(self.ids, dtype=str)
        self.classes = tuple(str(name) for name in self.classes)
        if self.folds is not None:
            self.folds = np.asarray(self.folds, dtype=np.int64)
        if self.splits is not None:
            self.splits = np.asarray(self.splits, dtype=str)
        if self.groups is not None:
            self.groups = np.asarray(self.groups, dtype=str)
        if self.features.ndim != 2:
            raise ValueError(f"features must be (clips, dim), got shape {self.features.shape}")
        if self.targets.ndim not in (1, 2):
            raise ValueError(
                f"targets must be (clips,) class indices or (clips, classes) multi-hot, "
                f"got shape {self.targets.shape}"
            )
        count = len(self.features)
        for name in ("targets", "ids", "folds", "splits", "groups"):
            array = getattr(self, name)
            if array is not None and len(array) != count:
                raise ValueError(f"{name} has {len(array)} rows but features has {count}")

    def __len__(self) -> int:
        return len(self.features)

    @property
    def target_kind(self) -> str:
        """``"class"`` for single-label targets, ``"multilabel"`` for multi-hot ones."""
        return "class" if self.targets.ndim == 1 else "multilabel"

    @property
    def dim(self) -> int:
        return self.features.shape[1]

    def subset(self, indices: Sequence[int] | np.ndarray) -> Embeddings:
        """The rows at ``indices`` (in that order), keeping the class names."""
        indices = np.asarray(indices, dtype=np.int64)
        return Embeddings(
            features=self.features[indices],
            targets=self.targets[indices],
            ids=self.ids[indices],
            classes=self.classes,
            folds=None if self.folds is None else self.folds[indices],
            splits=None if self.splits is None else self.splits[indices],
            groups=None if self.groups is None else self.groups[indices],
        )

    def save(self, path: str | Path) -> Path:
        """Write to an ``.npz`` file atomically (no pickled objects, so loading runs no code)."""
        arrays: dict[str, np.ndarray] = {
            "features": self.features,
            "targets": self.targets,
            "ids": self.ids,
            "classes": np.asarray(self.classes, dtype=str),
        }
        if self.folds is not None:
            arrays["folds"] = self.folds
        if self.splits is not None:
            arrays["splits"] = self.splits
        if self.groups is not None:
            arrays["groups"] = self.groups
        with atomic_path(path) as temporary:
            # A file object, not a name: np.savez would append ".npz" to the temporary name.
            with open(temporary, "wb") as stream:
                np.savez(stream, **arrays)
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> Embeddings:
        """Read a file written by :meth:`save`."""
        with np.load(path, allow_pickle=False) as arrays:
            return cls(
                features=arrays["features"],
                targets=arrays["targets"],
                ids=arrays["ids"],
                classes=tuple(arrays["classes"].tolist()),
                folds=arrays["folds"] if "folds" in arrays else None,
                splits=arrays["splits"] if "splits" in arrays else None,
                groups=arrays["groups"] if "groups" in arrays else None,
            )
