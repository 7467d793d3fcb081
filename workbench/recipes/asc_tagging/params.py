"""The recipe's parameters (:class:`Params` and their checks) and the paper's tables: the ablation grids,
the taggers, and the accuracies and sources the claims quote."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from workbench.evaluation.protocols import PROTOCOLS
from workbench.evaluation.svm import KERNELS
from workbench.models.tag_fusion import VARIANTS
from workbench.recipes import base

NAME = "asc_tagging"
CODE_VERSION = 1
"""The version of this recipe's computation; it enters every run id and cache key of the recipe, its sub-runs
included. Bump it (one line) when a change of code changes what a run computes from the same parameters and
data, so that finished runs are computed again instead of read back (README, "When to bump a code version")."""
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


@dataclass(frozen=True)
class Params(base.Params):
    recipe: ClassVar[str] = NAME

    dataset: str = "synthetic-scenes"  # scene data: synthetic-scenes | dcase2019_task1a
    data_root: str = ""  # data root for real datasets ("" = the default, see data/README.md; "{shared}/data")
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
    tagger_weights: str = ""  # pretrained tagger's checkpoint ("" = the registry's; "{shared}/..." allowed)
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
