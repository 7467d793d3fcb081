"""BgKnown: sound events over a known background, the difference-aware evaluation of Takeuchi et al.

"Towards Learning a Difference-Aware General-Purpose Audio Representation" evaluates whether a
representation ``f`` can remove a background it is given: a labelled clip is mixed with a crop of a
long background recording at a random SNR in [0, 3] dB, and a reference crop of the same background is
known. The difference ``y_diff = f(mixture) - f(reference)`` should carry the foreground's class,
better the more the reference overlaps the crop in the mixture: the same crop (100 %), a crop shifted
by half its length (50 %), or the next, non-overlapping stretch (0 %: only the background's kind is
known). Table 1 of the paper scores a linear classifier on ``y_diff`` for the three references, and
on ``y_mix = f(mixture)``.

:class:`BgKnownBuilder` makes the items from any labelled dataset and any dataset of long backgrounds
(ESC-50 and recorded ambiences, or the synthetic world's events and ``"synthetic-backgrounds"``):
item ``i`` draws its background, crop position and SNR from ``numpy.random.default_rng([seed, i])``,
so it is the same audio in any order. :meth:`BgKnownBuilder.view` exposes the mixtures, references and
foregrounds as datasets (ids, targets and folds of the labelled clips) for any tool that takes one;
:func:`bgknown_embeddings` embeds every item's parts in one pass and returns the ``y_mix`` and
``y_diff`` tables ready for :func:`~workbench.evaluation.linear.linear_evaluation`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from workbench.audio.io import resample
from workbench.data.records import AudioDataset
from workbench.data.synthetic.views import crop_with_overlap
from workbench.errors import AudioError, UnknownNameError
from workbench.evaluation.embeddings import Embeddings
from workbench.models.base import Encoder

OVERLAPS: tuple[float, ...] = (1.0, 0.5, 0.0)
"""Shares of the mixture's background crop that the three references repeat (Table 1's columns)."""
SNR_RANGE_DB: tuple[float, float] = (0.0, 3.0)
"""Foreground-to-background ratio of the mixtures, drawn uniformly per item."""


def overlap_name(overlap: float) -> str:
    """``"diff-100"`` for overlap 1.0, ``"diff-50"`` for 0.5, ``"diff-0"`` for 0.0: the table's column keys."""
    return f"diff-{round(100 * overlap)}"


def _mono(waveform: torch.Tensor) -> torch.Tensor:
    waveform = torch.as_tensor(waveform, dtype=torch.float32)
    return waveform.mean(dim=0) if waveform.ndim == 2 else waveform


@dataclass(frozen=True)
class BgKnownItem:
    """One BgKnown example.

    Attributes:
        mixture: foreground plus the scaled background crop, ``(samples,)``.
        foreground: the labelled clip as mixed, ``(samples,)``.
        background: the scaled background crop inside the mixture, ``(samples,)``.
        references: overlap -> the scaled reference crop ``(samples,)`` (same gain as in the mixture).
        label: the foreground's class.
        snr_db: foreground-to-background power ratio of the mixture.
        background_index: which clip of the background dataset.
        start: first sample of the crop in that background.
        id: ``"bgknown-<foreground id>"``.
    """

    mixture: torch.Tensor
    foreground: torch.Tensor
    background: torch.Tensor
    references: dict[float, torch.Tensor]
    label: int
    snr_db: float
    background_index: int
    start: int
    id: str


class BgKnownBuilder:
    """Mixtures of labelled clips with crops of long backgrounds, and their overlapping references.

    Args:
        foregrounds: a dataset with class targets (its folds/splits become the evaluation's).
        backgrounds: a dataset of backgrounds at least twice as long as any foreground clip (the
            0 % reference starts where the mixture's crop ends); resampled to the foregrounds' rate
            and mixed down to mono. Read once, into memory.
        snr_db: ``(low, high)`` range of the SNR in dB.
        overlaps: the references to make, shares in [0, 1].
        seed: seeds every item's draws.

    Raises:
        ValueError: foregrounds without class targets, an empty background dataset, a bad SNR range
            or overlap.
        AudioError: a background shorter than twice a foreground clip (at :meth:`item`), or a silent
            foreground or background (no SNR can be set).
    """

    def __init__(
        self,
        foregrounds: AudioDataset,
        backgrounds: AudioDataset,
        snr_db: tuple[float, float] = SNR_RANGE_DB,
        overlaps: Sequence[float] = OVERLAPS,
        seed: int = 0,
    ):
        if foregrounds.target_kind != "class":
            raise ValueError(
                f"BgKnown needs single-label foregrounds (target_kind 'class'), got {foregrounds.target_kind!r} "
                f"from {type(foregrounds).__name__}"
            )
        if len(backgrounds) == 0:
            raise ValueError(f"the background dataset {backgrounds!r} is empty")
        low, high = (float(value) for value in snr_db)
        if not low <= high:
            raise ValueError(f"snr_db must be (low, high) with low <= high, got {snr_db!r}")
        for overlap in overlaps:
            if not 0.0 <= overlap <= 1.0:
                raise ValueError(f"overlaps must be shares in [0, 1], got {overlap!r}")
        self.foregrounds = foregrounds
        self.sample_rate = foregrounds.sample_rate
        self.snr_db = (low, high)
        self.overlaps = tuple(float(overlap) for overlap in overlaps)
        self.seed = int(seed)
        self.backgrounds_name = repr(backgrounds)
        self.backgrounds = [
            resample(_mono(backgrounds[index][0]), backgrounds.sample_rate, self.sample_rate)
            for index in range(len(backgrounds))
        ]

    @property
    def classes(self) -> Sequence[str]:
        return self.foregrounds.classes

    def __len__(self) -> int:
        return len(self.foregrounds)

    def __repr__(self) -> str:
        return (
            f"BgKnownBuilder(foregrounds={self.foregrounds!r}, backgrounds={self.backgrounds_name}, "
            f"snr_db={self.snr_db}, overlaps={self.overlaps}, seed={self.seed})"
        )

    def item(self, index: int) -> BgKnownItem:
        """The ``index``-th example (deterministic in ``seed`` and ``index``)."""
        waveform, label, meta = self.foregrounds[index]
        foreground = _mono(waveform)
        length = foreground.shape[-1]
        rng = np.random.default_rng([self.seed, int(index)])
        background_index = int(rng.integers(len(self.backgrounds)))
        background = self.backgrounds[background_index]
        room = background.shape[-1] - 2 * length  # the 0 % reference ends one crop length later
        if room < 0:
            raise AudioError(
                f"background {background_index} has {background.shape[-1]} samples; BgKnown needs at least "
                f"{2 * length} (twice the {length}-sample clip {meta.get('id', index)!r}) for the 0 % reference"
            )
        start = int(rng.integers(room + 1))
        snr_db = float(rng.uniform(*self.snr_db))
        crop = background[start : start + length]
        foreground_power, crop_power = float(foreground.pow(2).mean()), float(crop.pow(2).mean())
        if foreground_power <= 0 or crop_power <= 0:
            silent = f"clip {meta.get('id', index)!r}" if foreground_power <= 0 else f"background {background_index}"
            raise AudioError(f"BgKnown cannot set an SNR: {silent} is silent over the crop")
        gain = float(np.sqrt(foreground_power / (crop_power * 10 ** (snr_db / 10))))
        references = {
            overlap: gain * crop_with_overlap(background, start, length, overlap)[1] for overlap in self.overlaps
        }
        return BgKnownItem(
            mixture=foreground + gain * crop,
            foreground=foreground,
            background=gain * crop,
            references=references,
            label=int(label),
            snr_db=snr_db,
            background_index=background_index,
            start=start,
            id=f"bgknown-{meta.get('id', index)}",
        )

    def view(self, part: str) -> BgKnownView:
        """The dataset of one part of every item: ``"mixture"``, ``"foreground"``, ``"background"`` or
        ``overlap_name(overlap)`` (``"diff-100"`` ...) for a reference.

        Raises:
            UnknownNameError: another part.
        """
        return BgKnownView(self, part)

    def parts(self) -> list[str]:
        return ["mixture", "foreground", "background", *(overlap_name(overlap) for overlap in self.overlaps)]


class BgKnownView(AudioDataset):
    """One part of every :class:`BgKnownBuilder` item as a dataset: ``(waveform (1, samples), label, meta)``.

    Ids are ``"<item id>-<part>"``; targets, folds and splits are the foregrounds'.
    """

    def __init__(self, builder: BgKnownBuilder, part: str):
        if part not in builder.parts():
            raise UnknownNameError("BgKnown part", part, builder.parts())
        self.builder = builder
        self.part = part
        self.sample_rate = builder.sample_rate
        self.target_kind = "class"
        self.classes = builder.foregrounds.classes
        self.folds = builder.foregrounds.folds
        self._overlap = {overlap_name(overlap): overlap for overlap in builder.overlaps}.get(part)

    def __len__(self) -> int:
        return len(self.builder)

    def __repr__(self) -> str:
        return f"BgKnownView(part={self.part!r}, builder={self.builder!r})"

    def fold_of(self, index: int) -> int | None:
        return self.builder.foregrounds.fold_of(index)

    def split_of(self, index: int) -> str | None:
        return self.builder.foregrounds.split_of(index)

    def targets(self) -> list[Any]:
        return self.builder.foregrounds.targets()

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int, dict[str, Any]]:
        item = self.builder.item(index)
        if self._overlap is not None:
            waveform = item.references[self._overlap]
        else:
            waveform = {"mixture": item.mixture, "foreground": item.foreground, "background": item.background}[self.part]
        meta = {"id": f"{item.id}-{self.part}", "fold": self.fold_of(index), "split": self.split_of(index),
                "snr_db": item.snr_db}  # fmt: skip
        return waveform[None], item.label, meta


def difference(minuend: Embeddings, subtrahend: Embeddings) -> Embeddings:
    """``minuend - subtrahend`` row by row, keeping the minuend's targets, ids, classes, folds and splits.

    Raises:
        ValueError: tables of different lengths or dimensions, or with different targets.
    """
    if minuend.features.shape != subtrahend.features.shape:
        raise ValueError(
            f"cannot subtract embeddings of shape {subtrahend.features.shape} from {minuend.features.shape}"
        )
    if not np.array_equal(minuend.targets, subtrahend.targets):
        raise ValueError("the two embedding tables are not of the same clips: their targets differ")
    return Embeddings(
        features=minuend.features - subtrahend.features,
        targets=minuend.targets,
        ids=minuend.ids,
        classes=minuend.classes,
        folds=minuend.folds,
        splits=minuend.splits,
    )


def bgknown_embeddings(
    encoder: Encoder, builder: BgKnownBuilder, *, batch_size: int = 32, progress: bool = False
) -> dict[str, Embeddings]:
    """The tables Table 1 evaluates: ``"mix"`` (``y_mix``) and ``"diff-100"``, ``"diff-50"``, ``"diff-0"`` (``y_diff``).

    One pass over the items: each is made once, its mixture and references embedded in batches of
    ``batch_size`` (clips of equal length; a new batch starts where the length changes), in eval mode.
    Rows follow the foregrounds' order, with their ids, targets, folds and splits.

    Raises:
        ValueError: the encoder returns embeddings of the wrong shape.
    """
    parts = ["mix", *(overlap_name(overlap) for overlap in builder.overlaps)]
    features: dict[str, list[np.ndarray]] = {part: [] for part in parts}
    pending: dict[str, list[torch.Tensor]] = {part: [] for part in parts}
    ids, labels = [], []

    def flush() -> None:
        if not pending["mix"]:
            return
        for part in parts:
            batch = resample(torch.stack(pending[part]), builder.sample_rate, encoder.sample_rate)
            embedded = encoder.embed(batch)
            if embedded.ndim != 2 or embedded.shape[0] != len(batch):
                raise ValueError(f"{type(encoder).__name__}.embed must return (batch, dim), got {tuple(embedded.shape)}")
            features[part].append(embedded.float().cpu().numpy())
            pending[part].clear()

    was_training = encoder.training
    encoder.eval()
    try:
        with torch.no_grad():
            for index in tqdm(range(len(builder)), desc="BgKnown items", disable=not progress, leave=False):
                item = builder.item(index)
                if pending["mix"] and (
                    len(pending["mix"]) == batch_size or pending["mix"][0].shape != item.mixture.shape
                ):
                    flush()
                pending["mix"].append(item.mixture)
                for overlap in builder.overlaps:
                    pending[overlap_name(overlap)].append(item.references[overlap])
                ids.append(item.id)
                labels.append(item.label)
            flush()
    finally:
        encoder.train(was_training)

    foregrounds = builder.foregrounds
    folds = [foregrounds.fold_of(index) for index in range(len(builder))]
    splits = [foregrounds.split_of(index) for index in range(len(builder))]
    mixture = Embeddings(
        features=np.concatenate(features["mix"]), targets=np.asarray(labels), ids=np.asarray(ids),
        classes=tuple(foregrounds.classes), folds=None if None in folds else np.asarray(folds),
        splits=None if None in splits else np.asarray(splits),
    )  # fmt: skip
    tables = {"mix": mixture}
    for part in parts[1:]:
        reference = Embeddings(**{**vars(mixture), "features": np.concatenate(features[part])})
        tables[part] = difference(mixture, reference)
    return tables
