"""The data plan: the dataset, its train/test partitions (official folds or split, or k-fold), and each
partition's clips (or precomputed spectrograms) as the data loaders read them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from workbench.progress import tqdm

from workbench import data
from workbench.data import iemocap as _iemocap  # noqa: F401 - registers "iemocap" with the dataset registry
from workbench.data.records import AudioDataset, Subset
from workbench.evaluation.protocols import official_problems, plan_protocol
from workbench.models.base import Encoder
from workbench.recipes.add_loss.params import Params
from workbench.recipes.base import expand_shared


def build_dataset(params: Params, sample_rate: int) -> AudioDataset:
    """The dataset ``params`` names, at ``sample_rate`` (the encoder's).

    Raises:
        UnknownNameError: an unknown dataset or option.
        DatasetNotFoundError: a real dataset whose files are absent (the message says how to get them).
        ValueError: a dataset whose targets are not single class indices.
    """
    options: dict[str, Any] = {"sample_rate": sample_rate}
    if params.task:
        options["task"] = params.task
    if params.dataset.startswith("synthetic"):
        options.update(n_clips=params.n_clips, seed=params.world_seed, duration=params.clip_seconds)
    root = expand_shared(params.data_root) or None  # "{shared}/data": the shared copy, on any checkout
    if params.dataset == "folder":  # its data_root is the folder of audio itself
        options.update(path=root, labels=expand_shared(params.folder_labels) or None)
        root = None
    dataset = data.get(params.dataset, root=root, **options)
    if dataset.target_kind != "class":
        raise ValueError(
            f"add_loss fine-tunes single-label classifiers; dataset {params.dataset!r} has "
            f"{dataset.target_kind!r} targets"
        )
    return dataset


@dataclass(frozen=True)
class FoldSplit:
    """Training and test clips of one test fold (``fold`` None: the dataset's official split)."""

    fold: int | None
    train: list[int]
    test: list[int]


def official_splits(dataset: AudioDataset, folds: str) -> list[FoldSplit]:
    """The dataset's official train/test partitions to run.

    Datasets with folds (ESC-50, IEMOCAP sessions, the synthetic world) leave one fold out: ``folds``
    is ``"first"`` (the lowest fold), ``"all"`` (cross-validation) or comma-separated fold numbers.
    Datasets with an official split (Speech Commands) train on ``"train"`` and test on ``"test"``.

    Raises:
        ValueError: a fold the dataset does not have, a malformed ``folds``, an empty partition, or a
            dataset with neither folds nor splits.
    """
    count = len(dataset)
    clip_folds = [dataset.fold_of(index) for index in range(count)]
    if all(fold is not None for fold in clip_folds) and count:
        present = sorted(set(clip_folds))
        if folds == "first":
            chosen = present[:1]
        elif folds == "all":
            chosen = present
        else:
            try:
                chosen = [int(part) for part in folds.split(",") if part.strip()]
            except ValueError:
                raise ValueError(f"folds must be 'first', 'all' or fold numbers like '1,3', got {folds!r}") from None
            if absent := sorted(set(chosen) - set(present)):
                raise ValueError(f"folds {absent} are not in the dataset, which has folds {present}")
        splits = [
            FoldSplit(fold, [i for i, other in enumerate(clip_folds) if other != fold],
                      [i for i, other in enumerate(clip_folds) if other == fold])
            for fold in chosen
        ]  # fmt: skip
    else:
        clip_splits = [dataset.split_of(index) for index in range(count)]
        if not any(split is not None for split in clip_splits):
            raise ValueError(f"{type(dataset).__name__} has neither folds nor a train/test split to evaluate on")
        splits = [FoldSplit(None, [i for i, s in enumerate(clip_splits) if s == "train"],
                            [i for i, s in enumerate(clip_splits) if s == "test"])]  # fmt: skip
    for split in splits:
        if not split.train or not split.test:
            where = "the official split" if split.fold is None else f"test fold {split.fold}"
            raise ValueError(f"{where} leaves {len(split.train)} training and {len(split.test)} test clips")
    return splits


def choose_folds(splits: list[FoldSplit], folds: str) -> list[FoldSplit]:
    """The k-fold partitions ``folds`` names: ``"first"``, ``"all"`` or fold numbers ``"1,3"`` (1-based).

    Raises:
        ValueError: a malformed ``folds`` or a fold number past the last fold.
    """
    if folds == "first":
        return splits[:1]
    if folds == "all":
        return splits
    try:
        chosen = [int(part) for part in folds.split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"folds must be 'first', 'all' or fold numbers like '1,3', got {folds!r}") from None
    present = [split.fold for split in splits]
    if absent := sorted(set(chosen) - set(present)):
        raise ValueError(f"folds {absent} are not in the plan, which has folds {present}")
    return [split for split in splits if split.fold in chosen]


def _dataset_targets(dataset: AudioDataset) -> np.ndarray:
    try:
        return np.asarray(dataset.targets(), dtype=np.int64)
    except NotImplementedError:  # a dataset that must read each clip for its label
        return np.asarray([int(dataset[index][1]) for index in range(len(dataset))], dtype=np.int64)


def plan_partitions(
    dataset: AudioDataset, folds: str, protocol: str = "auto", n_folds: int = 5, seed: int = 0
) -> tuple[list[FoldSplit], str]:
    """The train/test partitions of ``protocol`` (:func:`workbench.evaluation.protocols.plan_protocol`),
    and a note saying which protocol ran and why (empty when it is the one asked for).

    ``"official"`` is the dataset's folds (leave one out) or its train/test split; ``"auto"`` uses them
    only where every fold can be trained on, else grouped k-fold (by source recording) where the
    dataset knows groups, else stratified k-fold; ``"kfold"`` and ``"grouped-kfold"`` ask for those.
    K-fold partitions are numbered from 1, and ``folds`` picks among them as among official folds. The
    same ``seed`` gives the same partitions, so every loss (and every repeat) sees the same folds.

    Raises:
        UnknownNameError: an unknown protocol.
        ValueError: a protocol the data cannot support (naming the fold and the classes missing), or
            a fold the plan does not have.
    """
    count = len(dataset)
    if protocol == "official":
        splits = official_splits(dataset, folds)
        try:
            targets = np.asarray(dataset.targets(), dtype=np.int64)
        except NotImplementedError:  # no cheap labels: the folds are checked for emptiness only
            return splits, ""
        rows = np.arange(count)
        partitions = [(f"fold {split.fold}" if split.fold is not None else "the official split",
                       rows[split.train], rows[split.test]) for split in splits]  # fmt: skip
        problems = official_problems(targets, partitions, dataset.classes)
        if fatal := [problem.text for problem in problems if problem.fatal]:
            raise ValueError(
                "protocol 'official' cannot be trained on this data: " + "; ".join(fatal)
                + ". Use protocol 'auto', 'grouped-kfold' or 'kfold', or complete the dataset."
            )
        return splits, "; ".join(problem.text for problem in problems)
    targets = _dataset_targets(dataset)
    clip_folds = [dataset.fold_of(index) for index in range(count)]
    clip_splits = [dataset.split_of(index) for index in range(count)]
    clip_groups = [dataset.group_of(index) for index in range(count)]
    plan = plan_protocol(
        targets, protocol=protocol,
        folds=np.asarray(clip_folds) if count and all(f is not None for f in clip_folds) else None,
        splits=np.asarray(clip_splits, dtype=object) if any(s is not None for s in clip_splits) else None,
        groups=np.asarray(clip_groups, dtype=object) if count and all(g is not None for g in clip_groups) else None,
        classes=dataset.classes, n_folds=n_folds, seed=seed,
    )  # fmt: skip
    note = f"protocol {plan.protocol}" + (f" ({plan.note})" if plan.note else "")
    if plan.protocol == "official":
        return official_splits(dataset, folds), note if plan.note else ""
    splits = [FoldSplit(position, fold.train.tolist(), fold.test.tolist())
              for position, fold in enumerate(plan.folds, start=1)]  # fmt: skip
    return choose_folds(splits, folds), note


def plan_splits(
    dataset: AudioDataset, folds: str, protocol: str = "official", n_folds: int = 5, seed: int = 0
) -> list[FoldSplit]:
    """:func:`plan_partitions` without its note."""
    return plan_partitions(dataset, folds, protocol, n_folds, seed)[0]


class FixedLengthCollate:
    """Collate ``(waveform, target, meta)`` items into ``(waveforms (B, samples), targets (B,))``.

    Channels are averaged; each clip is cut to its first ``samples`` or zero-padded at the end.
    """

    def __init__(self, samples: int):
        self.samples = samples

    def __call__(self, items: Sequence[tuple[torch.Tensor, Any, dict[str, Any]]]) -> tuple[torch.Tensor, torch.Tensor]:
        waveforms = torch.zeros(len(items), self.samples)
        for row, (waveform, _, _) in enumerate(items):
            mono = torch.as_tensor(waveform, dtype=torch.float32).reshape(-1, waveform.shape[-1]).mean(dim=0)
            kept = mono[: self.samples]
            waveforms[row, : len(kept)] = kept
        return waveforms, torch.as_tensor([int(item[1]) for item in items], dtype=torch.long)


def read_clips(
    dataset: AudioDataset, indices: Sequence[int], samples: int, num_workers: int = 0, desc: str = "reading clips"
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(waveforms (N, samples), targets (N,))`` of the clips at ``indices``, in that order."""
    loader = torch.utils.data.DataLoader(
        Subset(dataset, indices), batch_size=64, num_workers=num_workers, collate_fn=FixedLengthCollate(samples)
    )
    batches = list(tqdm(loader, desc=desc, leave=False))
    return torch.cat([waveforms for waveforms, _ in batches]), torch.cat([targets for _, targets in batches])


def has_spectrogram_path(encoder: Encoder) -> bool:
    """Whether the encoder implements :meth:`Encoder.spectrogram` / :meth:`Encoder.forward_spectrogram`."""
    return type(encoder).spectrogram is not Encoder.spectrogram


@torch.no_grad()
def compute_spectrograms(
    encoder: Encoder, waveforms: torch.Tensor, device: torch.device, batch_size: int = 64
) -> torch.Tensor:
    """The encoder's (fixed, untrained) spectrogram of every waveform, computed once on ``device``."""
    parts = [encoder.spectrogram(waveforms[start : start + batch_size].to(device)).cpu()
             for start in range(0, len(waveforms), batch_size)]  # fmt: skip
    return torch.cat(parts)


@dataclass
class FoldInputs:
    """The training and test inputs of one split, as the data loaders read them.

    In memory (``preload``): ``TensorDataset`` s of ``(spectrogram or waveform, target)``, with
    ``collate`` None; streamed: subsets of the dataset, with ``collate`` a :class:`FixedLengthCollate`.
    """

    train: torch.utils.data.Dataset
    test: torch.utils.data.Dataset
    collate: FixedLengthCollate | None


def prepare_fold_inputs(
    params: Params, dataset: AudioDataset, split: FoldSplit, encoder: Encoder, device: torch.device
) -> FoldInputs:
    """Read one split's clips (and, without mixup, compute their spectrograms once) or set up streaming."""
    samples = round(params.clip_seconds * dataset.sample_rate)
    collate = FixedLengthCollate(samples)
    if not params.preload:
        return FoldInputs(Subset(dataset, split.train), Subset(dataset, split.test), collate)
    tensors = {}
    for part, indices in (("train", split.train), ("test", split.test)):
        waveforms, targets = read_clips(dataset, indices, samples, params.num_workers, desc=f"reading {part} clips")
        # Without mixup the spectrogram of a clip never changes: compute it once, not every epoch.
        if params.mixup == 0 and has_spectrogram_path(encoder):
            waveforms = compute_spectrograms(encoder, waveforms, device)
        tensors[part] = torch.utils.data.TensorDataset(waveforms, targets)
    return FoldInputs(tensors["train"], tensors["test"], None)


def clip_ids(dataset: AudioDataset, indices: Iterable[int]) -> list[str]:
    """Ids of the clips at ``indices``: from the records where the dataset lists them (no audio is
    read), else from each clip's meta."""
    records = getattr(dataset, "records", None)
    if records is not None:
        return [str(records[index].id) for index in indices]
    return [str(dataset[index][2]["id"]) for index in indices]
