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
(``tagger="efficientat-mn04"``, AudioSet's 527 tags; its weights file, ``tagger_weights`` or the registry's,
enters the run id and every network's by its sha256), or on the synthetic world the true event tags
(``tagger="oracle"``, an upper bound).

Defaults run in about two minutes on 2 CPU cores on the synthetic scenes, whose labels depend mostly
on which events occur: short clips, a 16-filter network, a briefly trained small tagger on a disjoint
set of synthetic clips. The presets in ``notebooks/params/03_asc_tagging/`` give the paper's settings
on DCASE 2019 task 1a with a tagger trained on FSDKaggle2019 (for a GPU machine).

Training runs on a fixed number of torch threads (``threads``, one by default): floating-point sums
then happen in the same order on any machine, so the numbers do not depend on its core count, and a
single thread does not stall when other processes keep the cores busy (two threads did, by a factor
of several, on a loaded 2-core machine).

Where things are: :mod:`.params` (the parameters and the paper's tables), :mod:`.scenes` (the scene and
tagging data, the folds, the clips), :mod:`.systems` (the fusion settings built per variant and grid
cell), :mod:`.tagger` (the tag vectors), :mod:`.train` (training one ASC network), :mod:`.evaluate` (its
softmax and SVM back-end scores), :mod:`.claims` (what is compared), :mod:`.result` (the result types)
and :mod:`.run` (the orchestration; read it first).
"""

from __future__ import annotations

from workbench import data  # noqa: F401  (the dataset registry, as before the split: asc_tagging.data.get)
from workbench.audio.augment import sample_mixup_lambda  # noqa: F401  (the mixup draw MixupSceneStep makes)
from workbench.recipes.asc_tagging.claims import CONCAT_PREFERENCE, claim_representatives, fusion_claims
from workbench.recipes.asc_tagging.evaluate import Scored, attention_by_scene, model_outputs, score_model
from workbench.recipes.asc_tagging.params import (
    CODE_VERSION,
    GRID_AXES,
    GRIDS,
    NAME,
    NOTEBOOK,
    PAPER_ACCURACY,
    PAPER_GRIDS,
    PAPER_SOURCE,
    PAPER_TABLE,
    TAGGERS,
    Params,
)
from workbench.recipes.asc_tagging.result import AscTaggingRun, GridResult, ModelScore, grid_result
from workbench.recipes.asc_tagging.run import run
from workbench.recipes.asc_tagging.plan import plan as plan  # the stages of leaves `workbench launch` runs
from workbench.recipes.asc_tagging.scenes import (
    ClipsWithTags,
    FixedLengthClips,
    SceneClips,
    TaggedClips,
    build_dataset,
    fold_clips,
    input_samples,
    materialize,
    plan_scene_folds,
    split_indices,
    tagging_data,
    true_tags,
)
from workbench.recipes.asc_tagging.systems import fusion_of, grid_cells, models_to_train
from workbench.recipes.asc_tagging.tagger import (
    HELD_OUT_TAGGING_FRACTION,
    WithWeights,
    describe_tagger,
    read_and_tag,
    tag_scene_clips,
    TAGGER_NAME,
    tagger_run,
    tagger_settings,
    tagger_config,
    tagger_weights_file,
    tagger_weights_fingerprint,
    tagging_weights,
    tags_of_clips,
    train_tagger,
)
from workbench.recipes.asc_tagging.train import (
    MODEL_NAME,
    MixupSceneStep,
    model_run,
    model_settings,
    scene_step,
    torch_threads,
    train_model,
)

__all__ = [
    "CODE_VERSION",
    "CONCAT_PREFERENCE", "GRIDS", "GRID_AXES", "HELD_OUT_TAGGING_FRACTION", "NAME", "NOTEBOOK", "PAPER_ACCURACY",
    "PAPER_GRIDS", "PAPER_SOURCE", "PAPER_TABLE", "TAGGERS", "AscTaggingRun", "ClipsWithTags", "FixedLengthClips",
    "GridResult", "MixupSceneStep", "ModelScore", "Params", "SceneClips", "Scored", "TaggedClips", "WithWeights",
    "attention_by_scene", "build_dataset", "claim_representatives", "describe_tagger", "fold_clips", "fusion_claims",
    "fusion_of", "grid_cells", "grid_result", "input_samples", "materialize", "model_outputs", "model_run",
    "model_settings", "MODEL_NAME", "TAGGER_NAME", "tagger_run", "tagger_settings",
    "models_to_train", "plan_scene_folds", "read_and_tag", "run", "scene_step", "score_model", "split_indices",
    "tag_scene_clips", "tagger_config", "tagger_weights_file", "tagger_weights_fingerprint",
    "tagging_data", "tagging_weights", "tags_of_clips",
    "torch_threads", "train_model", "train_tagger", "true_tags",
]  # fmt: skip
from workbench.recipes.asc_tagging.smoke import smoke, tiny as smoke_tiny  # noqa: F401  (workbench reproduce --smoke; the suite's tiny smoke)
