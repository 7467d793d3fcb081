"""The tag vectors: the trained tagger (its settings, data weights and training), a pretrained or oracle
tagger, and the scene clips read once and tagged once."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, TensorDataset
from workbench.progress import tqdm

from workbench.data.records import AudioDataset
from workbench.errors import MissingFileError
from workbench.evaluation.metrics import mean_average_precision
from workbench.models.asc_raw import RawASCConfig
from workbench.models.digest import weights_fingerprint
from workbench.models.registry import download_weights, load_pretrained
from workbench.models.tagger import ResNetTagger, TaggerConfig, TaggingStep, count_parameters, predict_tags
from workbench.recipes.asc_tagging.params import CODE_VERSION, Params
from workbench.recipes.asc_tagging.scenes import FixedLengthClips, TaggedClips, materialize, tagging_data, true_tags
from workbench.recipes.base import expand_shared
from workbench.train.loop import Trainer, TrainConfig
from workbench.train.rundir import RunDir
from workbench.train.seed import make_generator, seed_everything


HELD_OUT_TAGGING_FRACTION = 0.1
"""Share of the tagging clips kept out of the tagger's training to report its mAP."""


def tagger_config(params: Params, n_tags: int, tag_names: Sequence[str]) -> TaggerConfig:
    """The trained tagger's settings: 128 mel bins, ~40-ms windows, 20-ms hop at ``tagger_sample_rate``.

    The paper trains its tagger with SpecAugment and mixup (the presets do); the short CPU default
    turns both off, with dropout: 12 epochs on 360 synthetic clips underfit, and the augmentation
    cost the tagger mAP there (0.61 without against 0.54 with, measured on 200 test scenes).
    """
    rate = params.tagger_sample_rate
    return TaggerConfig.small(
        sample_rate=rate, n_fft=2 ** math.ceil(math.log2(0.04 * rate)), hop_length=round(0.02 * rate),
        f_max=rate / 2, channels=tuple(params.tagger_width * 2**stage for stage in range(params.tagger_stages)),
        stem_stride=params.tagger_stem_stride, blocks_per_stage=params.tagger_blocks, n_tags=n_tags,
        tag_names=tuple(tag_names),
        dropout=params.tagger_dropout, freq_mask=16 if params.tagger_spec_augment else 0,
        time_mask=10 if params.tagger_spec_augment else 0,
    )  # fmt: skip


def describe_tagger(params: Params, n_tags: int) -> str:
    """Which tagger made the tag vectors, in words (its size and training data for the trained one)."""
    if params.tagger == "oracle":
        return "the true event tags of the synthetic scenes (oracle, an upper bound)"
    if params.tagger != "trained":
        return f"pretrained {params.tagger} ({n_tags} tags)"
    size = count_parameters(ResNetTagger(tagger_config(params, n_tags, ())))
    data_name = params.tagger_dataset
    if params.tagger_dataset == "fsdkaggle2019":
        data_name += f" {params.tagger_subset}"
        if params.tagger_subset == "train":
            data_name += f" (curated + noisy, noisy clips weighted {params.tagger_noisy_weight:g})"
    paper = "; the paper's is ~44M" if size < 40e6 else ""
    return (f"ResNet tagger of {size / 1e6:.2f}M parameters{paper}, trained on {data_name} "
            f"for {params.tagger_epochs} epochs, {n_tags} tags")


def tagging_weights(dataset: AudioDataset, indices: Sequence[int], noisy_weight: float) -> torch.Tensor | None:
    """Per-clip loss weights of the tagger's training clips: 1, and ``noisy_weight`` for clips of a noisy
    subset (FSDKaggle2019's ``split`` "noisy", whose labels were not checked by hand); None when no clip
    is noisy (every weight 1).

    Raises:
        ValueError: ``noisy_weight`` outside [0, 1].
    """
    if not 0.0 <= noisy_weight <= 1.0:
        raise ValueError(f"tagger_noisy_weight must lie in [0, 1] (curated clips weigh 1), got {noisy_weight!r}")
    noisy = np.array([dataset.split_of(int(index)) == "noisy" for index in indices], dtype=bool)
    if not noisy.any():
        return None
    return torch.from_numpy(np.where(noisy, noisy_weight, 1.0).astype(np.float32))


class WithWeights(Dataset):
    """``(waveform, target, weight)``: a ``(waveform, target)`` dataset with a loss weight per item."""

    def __init__(self, items: Dataset, weights: torch.Tensor):
        self.items, self.weights = items, weights

    def __len__(self) -> int:
        return len(self.weights)

    def __getitem__(self, position: int) -> tuple[Any, Any, torch.Tensor]:
        waveform, target = self.items[position][:2]
        return waveform, target, self.weights[position]


TAGGER_NAME = "asc_tagging-tagger"
"""Runs folder of the trained taggers: each its own run directory, keyed by :func:`tagger_settings`."""

_NOT_TAGGER = ("variants", "grid", "grid_rows", "grid_columns", "svm_kernel", "svm_c", "num_workers", "cache_audio",
               "filters", "code_dim", "layers_before", "layers_after", "hidden_dim", "heads", "attention_layers",
               "combined_concat", "shared_transform", "combined_heads", "combined_layers_before",
               "combined_attention_layers", "epochs", "learning_rate", "asc_mixup_alpha", "protocol", "input_samples",
               "seeds")  # fmt: skip
"""Parameters of the ASC networks and their scoring, which the tagger never reads (``seeds``: only the first)."""


def tagger_settings(params: Params) -> dict[str, Any]:
    """What determines the trained tagger (its run id): every parameter but those of the ASC networks."""
    values = {key: value for key, value in params.to_dict().items() if key not in _NOT_TAGGER}
    return {**values, "seed": params.seeds[0]}


def tagger_run(params: Params) -> RunDir:
    """The trained tagger's run directory, ``runs/asc_tagging-tagger/<id>``: its checkpoints and, once
    trained, metrics.json with its held-out mAP (a launch leaf of its own)."""
    return RunDir.open(TAGGER_NAME, tagger_settings(params), data=tagging_data(params), code=CODE_VERSION)


def train_tagger(params: Params) -> tuple[ResNetTagger, float]:
    """Train the ResNet tagger in its run directory (or read it back); return it and its mAP on
    held-out tagging clips."""
    dataset = tagging_data(params)
    if dataset.target_kind != "multilabel":
        raise ValueError(
            f"the tagger needs multi-label tagging data; {params.tagger_dataset} has {dataset.target_kind} targets"
        )
    first = params.n_clips if params.tagger_dataset == "synthetic-scenes" else 0
    order = np.random.default_rng(params.seeds[0]).permutation(np.arange(first, len(dataset)))
    held_out = max(1, int(round(HELD_OUT_TAGGING_FRACTION * len(order))))
    samples = int(round(params.tagger_seconds * params.tagger_sample_rate))
    config = tagger_config(params, dataset.n_classes, dataset.classes)
    train_clips = FixedLengthClips(dataset, order[held_out:], params.tagger_sample_rate, samples, channels=1)
    held_clips = FixedLengthClips(dataset, order[:held_out], params.tagger_sample_rate, samples, channels=1)
    weights = tagging_weights(dataset, order[held_out:], params.tagger_noisy_weight)
    if params.cache_audio:
        train_set: Dataset = TensorDataset(*materialize(train_clips, params.num_workers, "tagging clips"))
    else:
        train_set = train_clips
    if weights is not None:
        train_set = WithWeights(train_set, weights)
    seed_everything(params.seeds[0])
    tagger = ResNetTagger(config)
    loader = DataLoader(train_set, batch_size=params.batch_size, shuffle=True, drop_last=True,
                        generator=make_generator(params.seeds[0]), num_workers=params.num_workers)  # fmt: skip
    train_config = TrainConfig(epochs=params.tagger_epochs, lr=params.tagger_lr, weight_decay=params.weight_decay,
                               schedule="warmup_cosine", warmup_epochs=min(1.0, params.tagger_epochs / 4),
                               seed=params.seeds[0], log_every=0)  # fmt: skip
    step = TaggingStep(params.mixup_alpha, weighted=weights is not None)
    run_dir = tagger_run(params)
    Trainer(tagger, step, train_config, run_dir=run_dir, progress=False, keep_checkpoints=1).fit(loader)
    held_out_tags, held_out_targets = tags_of_clips(tagger.eval(), held_clips, params, "held-out tagging clips")
    held_out_map = mean_average_precision(held_out_tags.numpy(), held_out_targets.numpy())
    if not run_dir.finished:
        run_dir.write_metrics({"held_out_map": held_out_map})
    return tagger, held_out_map


def tags_of_clips(
    tagger: torch.nn.Module, clips: Dataset, params: Params, what: str, sample_rate: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Tag vectors of every clip of a ``(waveform, target, ...)`` dataset, streamed, with the targets."""
    loader = DataLoader(clips, batch_size=params.batch_size, num_workers=params.num_workers)
    tags, targets = [], []
    for batch in tqdm(loader, desc=f"tagging {what}", unit="batch", leave=False):
        tags.append(predict_tags(tagger, batch[0], sample_rate=sample_rate))
        targets.append(batch[-1])
    return torch.cat(tags), torch.cat(targets)


def tag_scene_clips(
    params: Params, dataset: AudioDataset, clips: torch.Tensor | FixedLengthClips, order: np.ndarray
) -> tuple[torch.Tensor, list[str], float | None]:
    """Tag vectors ``(N, n_tags)`` of the scene clips ``order`` (held in ``clips``, in that order),
    the tag names, and the trained tagger's held-out mAP (None for the other taggers).

    Raises:
        ValueError: the oracle tagger on a dataset without known event tags.
    """
    if params.tagger == "oracle":
        truth = true_tags(dataset)
        if truth is None:
            raise ValueError("tagger='oracle' needs the true event tags of the synthetic scenes; use 'trained'")
        return torch.from_numpy(truth[order]), [event.name for event in dataset.world.events], None
    if params.tagger == "trained":
        tagger, held_out_map = train_tagger(params)
    else:
        tagger, held_out_map = load_pretrained(params.tagger, path=tagger_weights_file(params)), None
    if isinstance(clips, torch.Tensor):
        tags = predict_tags(tagger, clips, batch_size=params.batch_size, sample_rate=params.sample_rate)
    else:
        tags, _ = tags_of_clips(tagger, clips, params, "scene clips", sample_rate=params.sample_rate)
    return tags, list(tagger.tag_names), held_out_map


def tagger_weights_file(params: Params) -> str | None:
    """The pretrained tagger's checkpoint: ``tagger_weights`` with ``{shared}`` expanded, or None for the
    registry's file (a weights mirror, the cache or a download)."""
    return expand_shared(params.tagger_weights) or None


def tagger_weights_fingerprint(params: Params) -> list[dict[str, Any]]:
    """``[]`` unless the tagger is a pretrained model; else its weights file's fingerprint (the sha256, hashed
    once per file version, see :mod:`workbench.models.digest`), found before any run directory is opened, so
    that a checkpoint overwritten in place is a new run.

    Raises:
        MissingFileError: ``tagger_weights`` names no file, or the registry's file cannot be had.
        CheckpointError: a mirror or cache file that is not the official one.
    """
    if params.tagger in ("trained", "oracle"):
        return []
    path = tagger_weights_file(params)
    if path is None:
        file = download_weights(params.tagger, progress=False)
    else:
        file = Path(path).expanduser()
        if not file.is_file():  # now, not after the scene clips are read
            raise MissingFileError(f"checkpoint file not found: {file} (parameter 'tagger_weights' of tagger "
                                   f"{params.tagger}; '{{shared}}/...' is the shared folder)")  # fmt: skip
    return [weights_fingerprint(file, params.tagger)]


def read_and_tag(params: Params, dataset: AudioDataset, asc_config: RawASCConfig, order: np.ndarray) -> TaggedClips:
    """Read (or stream) the clips ``order`` at the network's rate and length, and tag them."""
    rate, samples, channels = params.sample_rate, asc_config.input_samples, asc_config.channels
    if params.cache_audio:
        waveforms, scenes = materialize(FixedLengthClips(dataset, order, rate, samples, channels), params.num_workers,
                                        "scene clips")  # fmt: skip
        tags, tag_names, held_out_map = tag_scene_clips(params, dataset, waveforms, order)
        return TaggedClips(order, waveforms, tags.float(), scenes.numpy(), tag_names, held_out_map)
    clips = FixedLengthClips(dataset, order, rate, samples, channels)
    tags, tag_names, held_out_map = tag_scene_clips(params, dataset, clips, order)
    all_targets = dataset.targets()
    scenes = np.asarray([all_targets[index] for index in order])
    return TaggedClips(order, None, tags.float(), scenes, tag_names, held_out_map)
