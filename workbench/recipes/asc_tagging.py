"""Acoustic scene classification with audio tagging (Jung et al., Interspeech 2020, arXiv:2003.09164).

A raw-waveform scene classifier (the paper's Table 1, :mod:`workbench.models.asc_raw`) is trained
alone (the baseline) and with the **tag vector** of a frozen audio tagger fused in, in each of the
paper's ways (:mod:`workbench.models.tag_fusion`): (a) Codecat, (b) concatenation then FC layers,
(c) transformed tags concatenated, (d) multi-head attention over the filters (Eq. 1-2), (e) (d) with
one of (a)-(c). Every model is scored on the test clips through its own softmax head and through an
SVM back-end on its codes (:mod:`workbench.evaluation.svm`), for several training seeds. The SVM
accuracy is the headline, as in the paper ("all performance reported in this paper is of the systems
using SVM as the back-end", Sec. 2.1); the softmax head's is shown beside it. A grid of fusion settings
reproduces each of the paper's ablations (:data:`PAPER_GRIDS`): layers before the concatenation
(Table 2), heads x attention transform layers (Table 3), concatenation and attention together with
separate transforms (Table 4: heads x concat/attention layers) or one shared transform (Table 5: heads x
shared layers). The defaults of each fusion are its best configuration in the paper: concatenation with
3 transform layers before it (Table 2), attention with 2 heads and 1 layer (Table 3), both combined with
4 heads and 3 shared layers (Table 5). Mixup (``asc_mixup_alpha``) trains the ASC network as it trains
the tagger (Sec. 4.2). The claims compare each fusion with the baseline over paired seeds
(:func:`~workbench.evaluation.stats.compare_paired`) on the SVM accuracy.

The tagger is a ResNet on 128-bin log-mel trained with BCE, SpecAugment and mixup
(:mod:`workbench.models.tagger`) on tagging data (``tagger_dataset``; FSDKaggle2019's curated and
noisy clips with ``tagger_subset="train"``, the noisy ones down-weighted by ``tagger_noisy_weight``; the
paper's ~44M-parameter size with ``tagger_width=128, tagger_stages=4, tagger_blocks=2``), or any pretrained tagger
(``tagger="efficientat-mn04"``, AudioSet's 527 tags), or on the synthetic world the true event tags
(``tagger="oracle"``, an upper bound).

Defaults run in about two minutes on 2 CPU cores on the synthetic scenes, whose labels depend mostly
on which events occur: short clips, a 16-filter network, a briefly trained small tagger on a disjoint
set of synthetic clips. The presets in ``notebooks/params/03_asc_tagging/`` give the paper's settings
on DCASE 2019 task 1a with a tagger trained on FSDKaggle2019 (for a GPU machine).

Training runs on a fixed number of torch threads (``threads``, one by default): floating-point sums
then happen in the same order on any machine, so the numbers do not depend on its core count, and a
single thread does not stall when other processes keep the cores busy (two threads did, by a factor
of several, on a loaded 2-core machine).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, TensorDataset
from tqdm.auto import tqdm

from workbench import data
from workbench.audio.augment import mixup_targets, mixup_waveforms, sample_mixup_lambda
from workbench.audio.io import resample
from workbench.data import dcase2019, fsdkaggle2019  # noqa: F401  (register the real datasets)
from workbench.data.records import AudioDataset
from workbench.evaluation.metrics import mean_average_precision
from workbench.evaluation.protocols import PROTOCOLS, plan_protocol
from workbench.evaluation.stats import compare_paired, mean_confidence_interval
from workbench.evaluation.svm import KERNELS, SVMConfig, svm_backend
from workbench.models.asc_raw import RawASCConfig
from workbench.models.registry import load_pretrained
from workbench.models.tag_fusion import PAPER_LETTER, VARIANTS, FusionConfig, TagFusionASC
from workbench.losses.classification import soft_cross_entropy
from workbench.models.tagger import ResNetTagger, TaggerConfig, TaggingStep, count_parameters, predict_tags
from workbench.recipes import base
from workbench.train.loop import Trainer, TrainConfig
from workbench.train.rundir import RunDir
from workbench.train.seed import make_generator, seed_everything

NAME = "asc_tagging"
NOTEBOOK = "03_asc_tagging.ipynb"

TAGGERS = ("trained", "oracle", "efficientat-mn04")
GRIDS = ("none", "concat", "attention", "separate", "shared")
GRID_AXES = {
    "concat": ("FC layers on the tag vector before concatenation (0: variant b)", "FC layers after concatenation"),
    "attention": ("attention heads", "attention transform layers"),
    "separate": ("attention heads", "concat/attention transform layers as two digits (34: 3 and 4)"),
    "shared": ("attention heads", "shared transform layers"),
}
"""Row and column meaning of each grid."""
PAPER_GRIDS = {
    "concat": ((0, 1, 2, 3, 4, 5), (1,)),
    "attention": ((2, 4, 8, 16, 32), (0, 1, 2, 3)),
    "separate": ((2, 4), (33, 34, 43, 44)),
    "shared": ((2, 4, 8, 16, 32), (0, 1, 2, 3)),
}
"""Each grid's rows and columns in the paper: Table 2 (concatenation: no transform, then 1-5 layers before
it, one after), Table 3 (attention), Table 4 (both, separate transforms), Table 5 (both, shared transform)."""
PAPER_TABLE = {"concat": "Table 2", "attention": "Table 3", "separate": "Table 4", "shared": "Table 5"}
PAPER_ACCURACY = {"baseline": 73.63, "concatenation": 75.66, "attention": 76.58, "combined": 76.75}
"""The paper's DCASE 2019 task 1a fold-1 SVM accuracies (%): baseline (Table 2), best concatenation (Table 2:
3 layers before), attention (abstract and Table 3: 2 heads, 1 layer), both combined (Table 5: 4 heads, 3
shared layers)."""
PAPER_SOURCE = {"baseline": "Table 2", "concatenation": "Table 2, 3 layers before", "attention":
                "abstract, Table 3, 2 heads 1 layer", "combined": "Table 5, 4 heads 3 shared layers"}  # fmt: skip
HELD_OUT_TAGGING_FRACTION = 0.1
"""Share of the tagging clips kept out of the tagger's training to report its mAP."""


@dataclass(frozen=True)
class Params(base.Params):
    recipe: ClassVar[str] = NAME

    dataset: str = "synthetic-scenes"  # scene data: synthetic-scenes | dcase2019_task1a
    data_root: str = ""  # data root for real datasets ("" = the default, see data/README.md)
    n_clips: int = 400  # synthetic scenes (train 80 % / test 20 % by the world's folds)
    world_seed: int = 0  # seed of the synthetic world
    clip_seconds: float = 2.0  # length of the synthetic scene and tagging clips
    sample_rate: int = 16000  # rate the ASC network reads (the paper: 48000)
    input_samples: int = 0  # samples the network reads from each clip's start (0: whole clip; paper 479999)
    tagger: str = "trained"  # trained | oracle (true tags, synthetic only) | efficientat-mn04
    tagger_dataset: str = "synthetic-scenes"  # tagging data of the trained tagger: synthetic-scenes | fsdkaggle2019
    tagger_subset: str = "curated"  # fsdkaggle2019 subset: curated | noisy | train
    tagger_clips: int = 400  # synthetic tagging clips, disjoint from the scene clips
    tagger_seconds: float = 2.0  # tagging clips are cropped or padded to this length
    tagger_sample_rate: int = 16000  # rate the trained tagger reads
    tagger_width: int = 16  # channels of the tagger's first stage (doubled per stage)
    tagger_stages: int = 3  # residual stages of the tagger
    tagger_stem_stride: int = 4  # stride of the tagger's first convolution (4: CPU-sized; 1: full resolution)
    tagger_epochs: int = 12  # tagger training epochs
    tagger_lr: float = 3e-3  # tagger AdamW learning rate (warm-up, then cosine)
    mixup_alpha: float = 0.0  # tagger mixup Beta parameter (0: off; the paper's recipe uses it, see the presets)
    tagger_spec_augment: bool = False  # tagger SpecAugment (two frequency and two time masks)
    tagger_dropout: float = 0.0  # dropout before the tagger's output layer
    tagger_weights: str = ""  # checkpoint of a pretrained tagger ("" = the registry's cache/download)
    filters: int = 16  # filters of the ASC network (the paper: 128)
    code_dim: int = 64  # size of the code
    variants: tuple[str, ...] = VARIANTS  # fusion variants: baseline codecat concat transform_concat attention combined
    layers_before: int = 3  # (c) FC layers on the tag vector before concatenation (the paper's best: 3)
    layers_after: int = 1  # (b, c) FC layers from the concatenation to the code
    hidden_dim: int = 64  # width of the hidden FC layers on tags
    heads: int = 2  # (d) attention heads (the paper's best: 2)
    attention_layers: int = 1  # (d) hidden FC layers before the attention projection (the paper's best: 1)
    combined_concat: str = "transform_concat"  # (e) which concatenation joins the attention: codecat | concat | transform_concat
    shared_transform: bool = True  # (e) one tag transform for (c) and (d) (Table 5) or one each (Table 4)
    grid: str = "attention"  # ablation grid: none | concat (Table 2) | attention (Table 3) | separate (Table 4) | shared (Table 5)
    grid_rows: tuple[int, ...] = (2, 4)  # grid rows (see GRID_AXES)
    grid_columns: tuple[int, ...] = (0, 1)  # grid columns (see GRID_AXES)
    epochs: int = 8  # ASC training epochs
    batch_size: int = 16  # clips per training step (ASC networks and tagger)
    learning_rate: float = 3e-3  # ASC AdamW learning rate (cosine schedule)
    weight_decay: float = 1e-4  # AdamW weight decay
    seeds: tuple[int, ...] = (0,)  # training seeds; scores are their mean
    svm_kernel: str = "rbf"  # SVM back-end kernel: rbf | sigmoid
    svm_c: float = 1.0  # SVM regularisation C
    threads: int = 1  # torch threads while training (fixed, so results do not depend on the machine; 0: default)
    num_workers: int = 0  # DataLoader workers reading audio
    cache_audio: bool = True  # hold every clip in memory (False: stream from disk, for DCASE scale)
    combined_heads: int = 4  # (e) attention heads of the combined fusion (the paper's best: 4)
    combined_layers_before: int = 3  # (e) tag transform layers of its concatenation; shared: of both (best: 3)
    combined_attention_layers: int = 3  # (e) its attention's transform layers, separate transforms only
    asc_mixup_alpha: float = 0.0  # ASC network mixup Beta parameter (0: off; the paper mixes both networks, Sec. 4.2)
    tagger_blocks: int = 1  # residual blocks per tagger stage (the paper-size tagger: 2)
    tagger_noisy_weight: float = 0.5  # loss weight of FSDKaggle2019's noisy clips (curated: 1), tagger_subset=train
    protocol: str = "auto"  # scene partitions: auto | official (the dataset's train/test split) | kfold | grouped-kfold

    checks: ClassVar[dict[str, Any]] = {
        "dataset": base.OneOf("dataset", base.dataset_names),
        "tagger_dataset": base.OneOf("dataset", base.dataset_names),
        "tagger_subset": base.OneOf("FSDKaggle2019 subset", ("curated", "noisy", "train")),
        "combined_concat": base.OneOf("concatenation of variant (e)", ("codecat", "concat", "transform_concat")),
        **dict.fromkeys(
            ("n_clips", "sample_rate", "tagger_clips", "tagger_sample_rate", "tagger_width", "tagger_stages",
             "tagger_stem_stride", "tagger_epochs", "filters", "code_dim", "hidden_dim", "heads", "epochs",
             "batch_size"),
            base.AT_LEAST_ONE,
        ),
        **dict.fromkeys(("clip_seconds", "tagger_seconds", "tagger_lr", "learning_rate", "svm_c"), base.POSITIVE),
        **dict.fromkeys(("mixup_alpha", "weight_decay"), base.NON_NEGATIVE),
        "tagger_dropout": base.Bound(0, 1, high_open=True),
        "seeds": base.NonEmpty(distinct=True),
        "tagger": base.OneOf("tagger of recipe 'asc_tagging'", TAGGERS),
        "grid": base.OneOf("grid of recipe 'asc_tagging'", GRIDS),
        "svm_kernel": base.OneOf("SVM kernel", KERNELS),
        "variants": (base.NonEmpty(distinct=True), base.OneOf("tag-fusion variant", VARIANTS)),
        **dict.fromkeys(("combined_heads", "tagger_blocks"), base.AT_LEAST_ONE),
        "asc_mixup_alpha": base.NON_NEGATIVE,
        "tagger_noisy_weight": base.Bound(0, 1),
        "protocol": base.OneOf("evaluation protocol", PROTOCOLS),
    }

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.grid != "none" and not (self.grid_rows and self.grid_columns):
            raise ValueError(f"grid={self.grid!r} needs grid_rows and grid_columns")


# --------------------------------------------------------------------------------------------------
# Results


@dataclass
class ModelScore:
    """Test accuracy of one fusion setting, per training seed (in ``Params.seeds`` order, so two models'
    lists are paired), through both back-ends: the SVM on the codes (the paper's figure, the headline)
    and the network's own softmax head."""

    name: str
    fusion: FusionConfig
    accuracy: list[float] = field(default_factory=list)
    svm_accuracy: list[float] = field(default_factory=list)

    @property
    def mean(self) -> float:
        """Mean softmax-head accuracy over seeds."""
        return float(np.mean(self.accuracy))

    @property
    def svm_mean(self) -> float:
        """Mean SVM back-end accuracy over seeds (the headline)."""
        return float(np.mean(self.svm_accuracy))

    @property
    def label(self) -> str:
        letter = PAPER_LETTER[self.fusion.variant]
        return self.name if letter == "-" or self.name != self.fusion.variant else f"({letter}) {self.name}"

    def scalars(self) -> dict[str, Any]:
        ci95 = mean_confidence_interval(self.accuracy)[1]
        return {"fusion": dataclasses.asdict(self.fusion), "accuracy": self.accuracy,
                "svm_accuracy": self.svm_accuracy, "mean": self.mean, "ci95": ci95,
                "svm_mean": self.svm_mean}  # fmt: skip

    @classmethod
    def from_scalars(cls, name: str, values: dict[str, Any]) -> ModelScore:
        return cls(name, FusionConfig(**values["fusion"]), list(values["accuracy"]), list(values["svm_accuracy"]))


@dataclass
class GridResult:
    """One ablation table: the mean SVM back-end accuracy of the model in each cell (the paper's figure),
    and the softmax head's beside it."""

    kind: str
    rows: list[int]
    columns: list[int]
    names: list[list[str]]
    accuracy: np.ndarray
    """``(rows, columns)`` mean SVM accuracy over seeds."""
    softmax_accuracy: np.ndarray | None = None
    """``(rows, columns)`` mean softmax-head accuracy over seeds."""

    @property
    def axes(self) -> tuple[str, str]:
        return GRID_AXES[self.kind]

    def best(self) -> tuple[str, float]:
        row, column = np.unravel_index(int(np.argmax(self.accuracy)), self.accuracy.shape)
        return self.names[row][column], float(self.accuracy[row, column])

    def scalars(self) -> dict[str, Any]:
        softmax = None if self.softmax_accuracy is None else self.softmax_accuracy.tolist()
        return {"kind": self.kind, "rows": self.rows, "columns": self.columns, "names": self.names,
                "accuracy": self.accuracy.tolist(), "softmax_accuracy": softmax}  # fmt: skip

    @classmethod
    def from_scalars(cls, values: dict[str, Any]) -> GridResult:
        softmax = values.get("softmax_accuracy")
        return cls(values["kind"], list(values["rows"]), list(values["columns"]), values["names"],
                   np.asarray(values["accuracy"], dtype=np.float64),
                   None if softmax is None else np.asarray(softmax, dtype=np.float64))  # fmt: skip


@dataclass
class AscTaggingRun(base.Result):
    """Scores per model, the grid, and what the notebook draws (first seed's test predictions,
    attention maps averaged per scene, the test clips' tag vectors)."""

    scores: dict[str, ModelScore] = field(default_factory=dict)
    variants: list[str] = field(default_factory=list)
    grid: GridResult | None = None
    classes: list[str] = field(default_factory=list)
    tag_names: list[str] = field(default_factory=list)
    tagger_map: float | None = None
    """Tagger mAP on the test scenes' true event tags (synthetic scenes only)."""
    test_indices: np.ndarray | None = None
    """Dataset indices of the test clips, in the order of every test array."""
    test_targets: np.ndarray | None = None
    test_tags: np.ndarray | None = None
    """``(test clips, n_tags)`` tag vectors the models were given."""
    test_true_tags: np.ndarray | None = None
    predictions: dict[str, np.ndarray] = field(default_factory=dict)
    """Model name -> softmax-head predictions on the test clips (first seed)."""
    attention_by_scene: dict[str, np.ndarray] = field(default_factory=dict)
    """Model name -> ``(scenes, heads, filters // heads)`` attention map averaged over each scene's test clips."""
    dataset: AudioDataset | None = None

    def best_fusion(self) -> str | None:
        """The fusion variant of highest mean SVM accuracy (for display: the claims do not choose on it)."""
        fusions = [name for name in self.variants if name != "baseline"]
        return max(fusions, key=lambda name: self.scores[name].svm_mean) if fusions else None

    def summary(self) -> str:
        params = self.params
        tagger = params["tagger"] + (f", mAP {self.tagger_map:.2f} on the test scenes" if self.tagger_map else "")
        note = (self.metrics or {}).get("protocol_note")
        described = (self.metrics or {}).get("tagger_description")
        lines = [f"recipe: asc_tagging on {params['dataset']} (tagger {tagger}; seeds {params['seeds']})"
                 + (f"; {note}" if note else ""), *([f"tagger: {described}"] if described else []),
                 f"test accuracy, SVM {params['svm_kernel']} (the paper's back-end) | softmax head:"]  # fmt: skip
        width = max(len(self.scores[name].label) for name in self.variants)
        for name in self.variants:
            score = self.scores[name]
            lines.append(f"  {score.label:{width}}  {score.svm_mean:.2f} | {score.mean:.2f}")
        if self.grid is not None:
            name, accuracy = self.grid.best()
            lines.append(f"grid {self.grid.kind} ({PAPER_TABLE[self.grid.kind]}): best {name} SVM {accuracy:.2f}")
        best = self.best_fusion()
        if best is not None and "baseline" in self.scores:
            lines.append(f"best fusion: {self.scores[best].label} SVM {self.scores[best].svm_mean:.2f} vs baseline "
                         f"{self.scores['baseline'].svm_mean:.2f}")  # fmt: skip
        lines += [f"claim {claim.line()}" for claim in self.claims]
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------------
# Data


class FixedLengthClips(Dataset):
    """Clips of a dataset at a given rate, channel count and length, with their targets.

    Each clip is resampled to ``sample_rate``, averaged to mono (``channels=1``) or copied to every
    channel (mono source, ``channels > 1``), and cut or zero-padded to ``samples`` from its start.
    Items: ``(waveform (channels, samples), target)``.
    """

    def __init__(self, dataset: AudioDataset, indices: Sequence[int], sample_rate: int, samples: int, channels: int):
        self.dataset, self.indices = dataset, list(indices)
        self.sample_rate, self.samples, self.channels = sample_rate, samples, channels

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, position: int) -> tuple[torch.Tensor, Any]:
        waveform, target, _ = self.dataset[self.indices[position]]
        waveform = resample(waveform, self.dataset.sample_rate, self.sample_rate)
        if self.channels == 1:
            waveform = waveform.mean(dim=0, keepdim=True)
        elif waveform.shape[0] == 1:
            waveform = waveform.expand(self.channels, -1)
        elif waveform.shape[0] != self.channels:
            raise ValueError(
                f"clip {self.indices[position]} has {waveform.shape[0]} channels; the network reads {self.channels}"
            )
        waveform = waveform[:, : self.samples]
        if waveform.shape[-1] < self.samples:
            waveform = torch.nn.functional.pad(waveform, (0, self.samples - waveform.shape[-1]))
        return waveform.contiguous(), target


def materialize(clips: FixedLengthClips, num_workers: int, what: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Read every clip once into memory: ``(waveforms (N, channels, samples), targets)``."""
    loader = DataLoader(clips, batch_size=32, num_workers=num_workers)
    waveforms, targets = [], []
    for batch_waveforms, batch_targets in tqdm(loader, desc=f"reading {what}", unit="batch", leave=False):
        waveforms.append(batch_waveforms)
        targets.append(batch_targets)
    return torch.cat(waveforms), torch.cat(targets)


class ClipsWithTags(Dataset):
    """``(waveform, tag vector, scene)`` for training and scoring ASC models from streamed clips."""

    def __init__(self, clips: FixedLengthClips, tags: torch.Tensor):
        self.clips, self.tags = clips, tags

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, position: int) -> tuple[torch.Tensor, torch.Tensor, Any]:
        waveform, target = self.clips[position]
        return waveform, self.tags[position], target


def build_dataset(params: Params) -> AudioDataset:
    """The scene dataset: the synthetic scenes (stereo, at ``sample_rate``) or a registered real one."""
    if params.dataset == "synthetic-scenes":
        return data.get("synthetic-scenes", n_clips=params.n_clips, seed=params.world_seed,
                        duration=params.clip_seconds, sample_rate=params.sample_rate, channels=2)  # fmt: skip
    return data.get(params.dataset, root=params.data_root or None)


def split_indices(dataset: AudioDataset) -> tuple[np.ndarray, np.ndarray]:
    """``(training indices, test indices)``: "test" clips are the test set; train and valid(ation) train.

    Raises:
        ValueError: the dataset has no test clips or no training clips.
    """
    splits = [dataset.split_of(index) for index in range(len(dataset))]
    test = np.array([i for i, split in enumerate(splits) if split == "test"], dtype=np.int64)
    train = np.array([i for i, split in enumerate(splits) if split in ("train", "valid", "validation")], dtype=np.int64)
    if not len(test) or not len(train):
        raise ValueError(
            f"{type(dataset).__name__} needs clips marked 'train' and 'test' (got {len(train)} and {len(test)}); "
            f"asc_tagging uses the dataset's official split"
        )
    return train, test


def input_samples(params: Params, dataset: AudioDataset) -> int:
    if params.input_samples:
        return params.input_samples
    if dataset.duration is None:
        raise ValueError(f"{type(dataset).__name__} clips differ in length: set input_samples")
    return int(round(dataset.duration * params.sample_rate))


# --------------------------------------------------------------------------------------------------
# Tag vectors


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


def tagging_data(params: Params) -> AudioDataset:
    """The trained tagger's data: synthetic scenes disjoint from the scene clips, or FSDKaggle2019."""
    if params.tagger_dataset == "synthetic-scenes":
        # The clips past n_clips draw from random streams the scene dataset never uses.
        return data.get("synthetic-scenes", n_clips=params.n_clips + params.tagger_clips, seed=params.world_seed,
                        duration=params.clip_seconds, target="tags")  # fmt: skip
    options = {"subset": params.tagger_subset} if params.tagger_dataset == "fsdkaggle2019" else {}
    return data.get(params.tagger_dataset, root=params.data_root or None, **options)


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


def train_tagger(params: Params, run_dir: RunDir) -> tuple[ResNetTagger, float]:
    """Train the ResNet tagger; return it and its mAP on held-out tagging clips."""
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
    Trainer(tagger, step, train_config, run_dir=RunDir(run_dir.path / "models" / "tagger"), progress=False,
            keep_checkpoints=1).fit(loader)  # fmt: skip
    held_out_tags, held_out_targets = tags_of_clips(tagger.eval(), held_clips, params, "held-out tagging clips")
    return tagger, mean_average_precision(held_out_tags.numpy(), held_out_targets.numpy())


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


def true_tags(dataset: AudioDataset) -> np.ndarray | None:
    """The synthetic scenes' multi-hot event tags ``(clips, events)`` (no audio rendered), or None
    for datasets without known tags."""
    if not hasattr(dataset, "plan"):
        return None
    n_events = len(dataset.world.events)
    return np.stack([dataset.plan(index).tags(n_events) for index in range(len(dataset))]).astype(np.float32)


def tag_scene_clips(
    params: Params, dataset: AudioDataset, clips: torch.Tensor | FixedLengthClips, order: np.ndarray, run_dir: RunDir
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
        tagger, held_out_map = train_tagger(params, run_dir)
    else:
        tagger, held_out_map = load_pretrained(params.tagger, path=params.tagger_weights or None), None
    if isinstance(clips, torch.Tensor):
        tags = predict_tags(tagger, clips, batch_size=params.batch_size, sample_rate=params.sample_rate)
    else:
        tags, _ = tags_of_clips(tagger, clips, params, "scene clips", sample_rate=params.sample_rate)
    return tags, list(tagger.tag_names), held_out_map


# --------------------------------------------------------------------------------------------------
# Models


def fusion_of(params: Params, variant: str, n_tags: int, **changes: Any) -> FusionConfig:
    """The canonical fusion config of ``variant`` with the params' settings (and ``changes``).

    The combined variant (e) takes its own settings (``combined_heads``, ``combined_layers_before`` and,
    with separate transforms, ``combined_attention_layers``), so that each fusion defaults to its best
    configuration in the paper.
    """
    settings = {"variant": variant, "n_tags": 0 if variant == "baseline" else n_tags,
                "layers_before": params.layers_before, "layers_after": params.layers_after,
                "hidden_dim": params.hidden_dim, "heads": params.heads, "attention_layers": params.attention_layers,
                "combined_concat": params.combined_concat, "shared_transform": params.shared_transform}  # fmt: skip
    if variant == "combined":
        shared = params.shared_transform and params.combined_concat == "transform_concat"
        settings.update(heads=params.combined_heads, layers_before=params.combined_layers_before,
                        attention_layers=params.combined_layers_before if shared else params.combined_attention_layers)
    return FusionConfig(**{**settings, **changes}).canonical()


def grid_cells(params: Params, n_tags: int) -> list[tuple[int, int, str, FusionConfig]]:
    """``(row, column, name, fusion)`` for every cell of ``params.grid`` (axes in :data:`GRID_AXES`).

    Raises:
        ValueError: a ``"separate"`` column that is not two digits (concatenation layers, then attention layers).
    """
    cells = []
    for row in params.grid_rows:
        for column in params.grid_columns:
            if params.grid == "concat":  # Table 2: 0 layers before is (b), otherwise (c)
                variant = "concat" if row == 0 else "transform_concat"
                fusion = fusion_of(params, variant, n_tags, layers_before=row, layers_after=column)
                name = f"concat before {row} after {column}"
            elif params.grid == "attention":  # Table 3
                fusion = fusion_of(params, "attention", n_tags, heads=row, attention_layers=column)
                name = f"attention heads {row} layers {column}"
            elif params.grid == "separate":  # Table 4: (c) and (d), each with its own tag transform
                if not 10 <= column <= 99:
                    raise ValueError(
                        f"grid='separate' columns are two digits, concatenation then attention transform layers "
                        f"(e.g. 34 for 3 and 4), got {column}"
                    )
                before, attention = divmod(column, 10)
                fusion = fusion_of(params, "combined", n_tags, combined_concat="transform_concat", heads=row,
                                   shared_transform=False, layers_before=before, attention_layers=attention)
                name = f"separate heads {row} layers {before}/{attention}"
            else:  # Table 5: (c) and (d) through one shared tag transform of `column` layers (0: the raw tags)
                fusion = fusion_of(params, "combined", n_tags, combined_concat="transform_concat", heads=row,
                                   shared_transform=True, layers_before=column, attention_layers=column)
                name = f"shared heads {row} layers {column}"
            cells.append((row, column, name, fusion))
    return cells


def scene_step(model: torch.nn.Module, batch: Sequence[torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
    """Cross-entropy of the scene logits; the batch is ``(waveforms, tag vectors, scene indices)``."""
    waveforms, tags, scenes = batch
    logits = model(waveforms, tags)
    loss = torch.nn.functional.cross_entropy(logits, scenes)
    return loss, {"train_accuracy": float((logits.argmax(dim=1) == scenes).float().mean())}


@dataclass
class MixupSceneStep:
    """:func:`scene_step` with mixup (Sec. 4.2: "Mix-up is applied to both the ASC system and the audio
    tagging system"): each batch is mixed with a shuffled copy of itself, ``lam ~ Beta(alpha, alpha)``,
    waveforms, tag vectors (the tagger's view of the mixture, to first order) and one-hot scenes alike,
    and the loss is the cross-entropy against the mixed scene targets.

    Args:
        alpha: Beta parameter (> 0).
        n_scenes: scene classes.
    """

    alpha: float
    n_scenes: int

    def __call__(self, model: torch.nn.Module, batch: Sequence[torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        waveforms, tags, scenes = batch
        lam = sample_mixup_lambda(self.alpha)
        partner = torch.randperm(len(waveforms)).to(waveforms.device)
        mixed = mixup_waveforms(waveforms, waveforms[partner], lam)
        mixed_tags = lam * tags + (1 - lam) * tags[partner]
        targets = mixup_targets(scenes, scenes[partner], lam, n_classes=self.n_scenes)
        logits = model(mixed, mixed_tags)
        loss = soft_cross_entropy(logits, targets)
        return loss, {"train_accuracy": float((logits.argmax(dim=1) == targets.argmax(dim=1)).float().mean()),
                      "mixup_lambda": lam}  # fmt: skip


@torch.no_grad()
def model_outputs(model: TagFusionASC, loader: DataLoader) -> tuple[np.ndarray, np.ndarray]:
    """``(logits, back-end features)`` of every clip of a ``(waveform, tags, scene)`` loader."""
    model.eval()
    device = next(model.parameters()).device
    logits, features = [], []
    for waveforms, tags, _ in loader:
        backend = model.backend_features(waveforms.to(device), tags.to(device))
        logits.append(model.classifier(backend).float().cpu())
        features.append(backend.float().cpu())
    return torch.cat(logits).numpy(), torch.cat(features).numpy()


@contextlib.contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Run torch on ``count`` intra-op threads (0: leave the setting alone), then restore it."""
    previous = torch.get_num_threads()
    if count > 0:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


# --------------------------------------------------------------------------------------------------
# The run


def run(params: Params) -> AscTaggingRun:
    """Tag the scene clips, train every fusion setting for every seed, score both back-ends, check the claims.

    An identical rerun finds the finished run directory and reads everything back instead of training.
    """
    run_dir = RunDir.open(NAME, params.to_dict(), data=[build_dataset(params), tagging_data(params)])
    dataset = build_dataset(params)
    if run_dir.finished:
        return _read_back(params, run_dir, dataset)
    run_dir.log("start", params=params.to_dict())
    with torch_threads(params.threads):
        result = _train_and_score(params, run_dir, dataset)
    run_dir.write_metrics(result.metrics)
    run_dir.log("finished")
    return result


@dataclass
class SceneClips:
    """The scene clips as the ASC models see them: training then test clips, with their tag vectors."""

    train: Dataset
    """``(waveform, tag vector, scene)`` items of the training clips."""
    test: Dataset
    train_indices: np.ndarray
    test_indices: np.ndarray
    scenes: np.ndarray
    """``(N,)`` scene of every clip, training clips first."""
    tags: torch.Tensor
    """``(N, n_tags)`` tag vectors, training clips first."""
    tag_names: list[str]
    held_out_map: float | None

    @property
    def n_train(self) -> int:
        return len(self.train_indices)


@dataclass
class TaggedClips:
    """Every scene clip a run uses, read (or set up for streaming) once and tagged once, whatever the folds."""

    order: np.ndarray
    """``(N,)`` dataset indices, in the order of the rows below."""
    waveforms: torch.Tensor | None
    """``(N, channels, samples)`` when cached in memory, else None (streamed)."""
    tags: torch.Tensor
    scenes: np.ndarray
    tag_names: list[str]
    held_out_map: float | None


def read_and_tag(
    params: Params, dataset: AudioDataset, asc_config: RawASCConfig, run_dir: RunDir, order: np.ndarray
) -> TaggedClips:
    """Read (or stream) the clips ``order`` at the network's rate and length, and tag them."""
    rate, samples, channels = params.sample_rate, asc_config.input_samples, asc_config.channels
    if params.cache_audio:
        waveforms, scenes = materialize(FixedLengthClips(dataset, order, rate, samples, channels), params.num_workers,
                                        "scene clips")  # fmt: skip
        tags, tag_names, held_out_map = tag_scene_clips(params, dataset, waveforms, order, run_dir)
        return TaggedClips(order, waveforms, tags.float(), scenes.numpy(), tag_names, held_out_map)
    clips = FixedLengthClips(dataset, order, rate, samples, channels)
    tags, tag_names, held_out_map = tag_scene_clips(params, dataset, clips, order, run_dir)
    all_targets = dataset.targets()
    scenes = np.asarray([all_targets[index] for index in order])
    return TaggedClips(order, None, tags.float(), scenes, tag_names, held_out_map)


def fold_clips(
    tagged: TaggedClips, train_indices: np.ndarray, test_indices: np.ndarray, params: Params, dataset: AudioDataset,
    asc_config: RawASCConfig,
) -> SceneClips:
    """One fold's training and test clips out of the tagged clips (training clips first)."""
    row_of = {int(index): row for row, index in enumerate(tagged.order)}
    rows = np.array([row_of[int(index)] for index in np.concatenate([train_indices, test_indices])], dtype=np.int64)
    n_train = len(train_indices)
    tags, scenes = tagged.tags[rows], tagged.scenes[rows]
    if tagged.waveforms is not None:
        waveforms, targets = tagged.waveforms[rows], torch.as_tensor(scenes)
        train: Dataset = TensorDataset(waveforms[:n_train], tags[:n_train], targets[:n_train])
        test: Dataset = TensorDataset(waveforms[n_train:], tags[n_train:], targets[n_train:])
    else:
        rate, samples, channels = params.sample_rate, asc_config.input_samples, asc_config.channels
        train = ClipsWithTags(FixedLengthClips(dataset, train_indices, rate, samples, channels), tags[:n_train])
        test = ClipsWithTags(FixedLengthClips(dataset, test_indices, rate, samples, channels), tags[n_train:])
    return SceneClips(train, test, np.asarray(train_indices), np.asarray(test_indices), scenes, tags,
                      tagged.tag_names, tagged.held_out_map)  # fmt: skip


def plan_scene_folds(params: Params, dataset: AudioDataset) -> tuple[list[tuple[str, np.ndarray, np.ndarray]], str]:
    """The ``(name, training indices, test indices)`` partitions of ``params.protocol`` and a note saying
    which protocol ran and why (empty when it is the one asked for).

    ``"official"`` is the dataset's train/test split (DCASE 2019 task 1a: fold 1's, Sec. 4.1; validation
    clips train); ``"auto"`` keeps it where it can be trained on
    (:func:`~workbench.evaluation.protocols.plan_protocol`), else grouped k-fold (by recording location,
    where the dataset knows it) or stratified k-fold; ``"kfold"`` and ``"grouped-kfold"`` ask for those.

    Raises:
        UnknownNameError: an unknown protocol.
        ValueError: a protocol the data cannot support.
    """
    if params.protocol == "official":
        train, test = split_indices(dataset)
        return [("official split", train, test)], ""
    count = len(dataset)
    targets = np.asarray(dataset.targets(), dtype=np.int64)
    clip_splits = [dataset.split_of(index) for index in range(count)]
    clip_groups = [dataset.group_of(index) for index in range(count)]
    splits = None
    if any(split is not None for split in clip_splits):
        # The train/test split is the official partition here (not the synthetic world's folds).
        splits = np.asarray(["test" if split == "test" else "train" if split is not None else "unused"
                             for split in clip_splits], dtype=object)  # fmt: skip
    plan = plan_protocol(
        targets, protocol=params.protocol, splits=splits,
        groups=np.asarray(clip_groups, dtype=object) if count and all(g is not None for g in clip_groups) else None,
        classes=dataset.classes, seed=params.world_seed,
    )  # fmt: skip
    if plan.protocol == "official":
        train, test = split_indices(dataset)
        return [("official split", train, test)], plan.note
    return [(fold.name, fold.train, fold.test) for fold in plan.folds], f"protocol {plan.protocol} ({plan.note})"


def models_to_train(params: Params, n_tags: int) -> tuple[dict[str, FusionConfig], dict[tuple[int, int], str]]:
    """Every model of the run by name (the variants, then the grid cells), and each grid cell's model
    name; a cell that builds the same network as a variant is that variant."""
    models = {variant: fusion_of(params, variant, n_tags) for variant in params.variants}
    cell_names: dict[tuple[int, int], str] = {}
    for row, column, name, fusion in grid_cells(params, n_tags) if params.grid != "none" else []:
        cell_names[row, column] = next((known for known, config in models.items() if config == fusion), name)
        models.setdefault(cell_names[row, column], fusion)
    return models, cell_names


def train_model(
    params: Params, asc_config: RawASCConfig, fusion: FusionConfig, seed: int, clips: SceneClips, model_dir: RunDir
) -> TagFusionASC:
    """Train one ASC network with the shared trainer (resuming from ``model_dir``'s checkpoint)."""
    seed_everything(seed)
    model = TagFusionASC(asc_config, fusion)
    loader = DataLoader(clips.train, batch_size=params.batch_size, shuffle=True, drop_last=True,
                        generator=make_generator(seed), num_workers=params.num_workers)  # fmt: skip
    config = TrainConfig(epochs=params.epochs, lr=params.learning_rate, weight_decay=params.weight_decay,
                         schedule="cosine", seed=seed, log_every=0)  # fmt: skip
    step = MixupSceneStep(params.asc_mixup_alpha, asc_config.n_scenes) if params.asc_mixup_alpha > 0 else scene_step
    Trainer(model, step, config, run_dir=model_dir, progress=False, keep_checkpoints=1).fit(loader)
    return model


def attention_by_scene(model: TagFusionASC, tags: torch.Tensor, scenes: np.ndarray, n_scenes: int) -> np.ndarray:
    """``(scenes, heads, filters // heads)``: the attention map averaged over each scene's clips
    (zeros for a scene without clips)."""
    with torch.no_grad():
        maps = model.cpu().attention_map(tags).numpy()  # (N, heads, f / heads)
    return np.stack([maps[scenes == scene].mean(axis=0) if (scenes == scene).any() else np.zeros(maps.shape[1:])
                     for scene in range(n_scenes)])  # fmt: skip


def _train_and_score(params: Params, run_dir: RunDir, dataset: AudioDataset) -> AscTaggingRun:
    asc_config = RawASCConfig(sample_rate=params.sample_rate, input_samples=input_samples(params, dataset),
                              filters=params.filters, code_dim=params.code_dim, n_scenes=dataset.n_classes)  # fmt: skip
    folds, protocol_note = plan_scene_folds(params, dataset)
    if protocol_note:
        run_dir.log("protocol", note=protocol_note)
    order = np.unique(np.concatenate([np.concatenate([train, test]) for _, train, test in folds]))
    tagged = read_and_tag(params, dataset, asc_config, run_dir, order)
    run_dir.log("tagged", n_tags=len(tagged.tag_names), held_out_map=tagged.held_out_map)
    # The first fold's test clips are the ones the notebook draws (predictions, tag vectors, attention).
    clips = fold_clips(tagged, folds[0][1], folds[0][2], params, dataset, asc_config)
    test_scenes = clips.scenes[clips.n_train :]
    test_tags = clips.tags[clips.n_train :]
    truth = true_tags(dataset)
    test_true_tags = truth[clips.test_indices] if truth is not None else None
    tagger_map = (mean_average_precision(test_tags.numpy(), test_true_tags)
                  if test_true_tags is not None and params.tagger != "oracle" else None)  # fmt: skip

    models, cell_names = models_to_train(params, clips.tags.shape[1])
    scores = {name: ModelScore(name, fusion) for name, fusion in models.items()}
    predictions: dict[str, np.ndarray] = {}
    attention: dict[str, np.ndarray] = {}
    svm_config = SVMConfig(kernel=params.svm_kernel, C=params.svm_c)
    # Runs in the same (fold, seed) order for every model: their score lists are paired.
    jobs = [(position, name, seed) for position in range(len(folds)) for seed in params.seeds for name in models]
    fold_data: dict[int, tuple[SceneClips, DataLoader, DataLoader]] = {}
    for position, name, seed in tqdm(jobs, desc="training ASC models", unit="model"):
        if position not in fold_data:
            fold_data.clear()  # one fold's clips at a time
            this = clips if position == 0 else fold_clips(tagged, folds[position][1], folds[position][2], params,
                                                          dataset, asc_config)  # fmt: skip
            loaders = [DataLoader(subset, batch_size=params.batch_size, num_workers=params.num_workers)
                       for subset in (this.train, this.test)]  # fmt: skip
            fold_data[position] = (this, *loaders)
        this, train_loader, test_loader = fold_data[position]
        fold_scenes = this.scenes[: this.n_train], this.scenes[this.n_train :]
        fold_tag = "" if len(folds) == 1 else f"fold{position + 1}-"
        model_dir = RunDir(run_dir.path / "models" / f"{fold_tag}{name.replace(' ', '-')}-seed{seed}")
        model = train_model(params, asc_config, models[name], seed, this, model_dir)
        _, train_features = model_outputs(model, train_loader)
        test_logits, test_features = model_outputs(model, test_loader)
        test_predictions = test_logits.argmax(axis=1)
        svm = svm_backend(train_features, fold_scenes[0], test_features, fold_scenes[1], svm_config)
        scores[name].accuracy.append(float((test_predictions == fold_scenes[1]).mean()))
        scores[name].svm_accuracy.append(svm.accuracy)
        run_dir.log("scored", model=name, fold=folds[position][0], seed=seed, accuracy=scores[name].accuracy[-1],
                    svm_accuracy=svm.accuracy)  # fmt: skip
        if position == 0 and seed == params.seeds[0]:
            predictions[name] = test_predictions
            if model.attention is not None:
                attention[name] = attention_by_scene(model, test_tags, test_scenes, dataset.n_classes)

    grid = None
    if params.grid != "none":
        names = [[cell_names[row, column] for column in params.grid_columns] for row in params.grid_rows]
        accuracy = np.array([[scores[name].svm_mean for name in row] for row in names])
        softmax = np.array([[scores[name].mean for name in row] for row in names])
        grid = GridResult(params.grid, list(params.grid_rows), list(params.grid_columns), names, accuracy, softmax)

    result = AscTaggingRun(
        recipe=NAME, params=params.to_dict(), run_dir=run_dir.path, scores=scores, variants=list(params.variants),
        grid=grid, classes=list(dataset.classes), tag_names=clips.tag_names, tagger_map=tagger_map,
        test_indices=clips.test_indices, test_targets=test_scenes, test_tags=test_tags.numpy(),
        test_true_tags=test_true_tags, predictions=predictions, attention_by_scene=attention, dataset=dataset,
    )  # fmt: skip
    result.claims = fusion_claims(result)
    result.metrics = {
        "scores": {name: score.scalars() for name, score in scores.items()},
        "variants": result.variants, "grid": grid.scalars() if grid is not None else None,
        "classes": result.classes, "tag_names": clips.tag_names, "tagger_map": tagger_map,
        "tagger_held_out_map": clips.held_out_map, "attention_models": list(attention),
        "protocol_note": protocol_note, "folds": [name for name, _, _ in folds],
        "tagger_description": describe_tagger(params, len(clips.tag_names)),
        "prediction_models": list(predictions), "claims": [dataclasses.asdict(claim) for claim in result.claims],
    }  # fmt: skip
    arrays = {"indices": clips.test_indices, "targets": test_scenes, "tags": result.test_tags,
              "predictions": np.stack(list(predictions.values()))}  # fmt: skip
    if test_true_tags is not None:
        arrays["true_tags"] = test_true_tags
    run_dir.save_arrays("test", **arrays)
    for index, maps in enumerate(attention.values()):
        run_dir.save_arrays(f"attention-{index}", maps=maps)
    return result


def _read_back(params: Params, run_dir: RunDir, dataset: AudioDataset) -> AscTaggingRun:
    """The result of a finished run from its metrics.json and arrays, without training."""
    metrics = run_dir.read_metrics()
    scores = {name: ModelScore.from_scalars(name, values) for name, values in metrics["scores"].items()}
    test = run_dir.load_arrays("test")
    attention = {name: run_dir.load_arrays(f"attention-{index}")["maps"]
                 for index, name in enumerate(metrics["attention_models"])}  # fmt: skip
    result = AscTaggingRun(
        recipe=NAME, params=params.to_dict(), run_dir=run_dir.path, metrics=metrics,
        claims=[base.Claim.from_dict(claim) for claim in metrics["claims"]], scores=scores, variants=metrics["variants"],
        grid=GridResult.from_scalars(metrics["grid"]) if metrics["grid"] else None, classes=metrics["classes"],
        tag_names=metrics["tag_names"], tagger_map=metrics["tagger_map"], test_indices=test["indices"],
        test_targets=test["targets"], test_tags=test["tags"], test_true_tags=test.get("true_tags"),
        predictions=dict(zip(metrics["prediction_models"], test["predictions"], strict=True)),
        attention_by_scene=attention,
        dataset=dataset,
    )  # fmt: skip
    return result


# --------------------------------------------------------------------------------------------------
# Claims


CONCAT_PREFERENCE = ("transform_concat", "concat", "codecat")
"""Which concatenation variant stands for "concatenation" in the claims: the paper's best first (Table 2)."""


def claim_representatives(variants: Sequence[str]) -> dict[str, str]:
    """The variant that stands for each fusion group in the claims, fixed in advance (the paper's best
    configuration of the group), never chosen on the test scores the claim is judged by."""
    chosen = {}
    concatenation = next((name for name in CONCAT_PREFERENCE if name in variants), None)
    if concatenation is not None:
        chosen["concatenation"] = concatenation
    for group in ("attention", "combined"):
        if group in variants:
            chosen[group] = group
    return chosen


def fusion_claims(result: AscTaggingRun) -> list[base.Claim]:
    """The paper's claims that this run checks, on the SVM back-end's accuracy (the paper's figure), each
    fusion against the baseline and the combination against the stronger single method, paired over the
    training seeds (:func:`~workbench.evaluation.stats.compare_paired`; one seed is always inconclusive).
    The softmax head's means are in each claim's detail."""
    scores = result.scores
    if "baseline" not in result.variants:
        return []
    baseline = scores["baseline"]
    chosen = claim_representatives(result.variants)
    runs = len(baseline.svm_accuracy)

    def claim(name: str, group: str, treated: ModelScore, control: ModelScore, control_group: str) -> base.Claim:
        comparison = compare_paired(treated.svm_accuracy, control.svm_accuracy, direction=+1)
        paper_effect = (PAPER_ACCURACY[group] - PAPER_ACCURACY[control_group]) / 100
        return base.Claim.from_comparison(
            name,
            f"{PAPER_ACCURACY[group]:.2f} % ({PAPER_SOURCE[group]}) vs {PAPER_ACCURACY[control_group]:.2f} % "
            f"({PAPER_SOURCE[control_group]}), SVM back-end",
            comparison,
            measured=(f"SVM {100 * treated.svm_mean:.1f} % ({treated.label}) vs {100 * control.svm_mean:.1f} % "
                      f"({control.label})"),
            paper_effect=paper_effect,
            detail=(f"SVM accuracy per seed {treated.svm_accuracy} vs {control.svm_accuracy}; softmax head "
                    f"{100 * treated.mean:.1f} % vs {100 * control.mean:.1f} %; {runs} paired run(s) (test fold x seed)"),
        )  # fmt: skip

    claims = [claim(f"{group} of tag vectors beats the baseline", group, scores[name], baseline, "baseline")
              for group, name in chosen.items()]  # fmt: skip
    single = "attention" if "attention" in chosen else "concatenation" if "concatenation" in chosen else None
    if "combined" in chosen and single is not None:
        claims.append(claim(f"combining concatenation and attention beats {single} alone", "combined",
                            scores["combined"], scores[chosen[single]], single))  # fmt: skip
    return claims
