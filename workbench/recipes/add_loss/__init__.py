"""Fine-tuning with the Angular Distance Distribution (ADD) loss, its baselines, and the distance analysis.

Almudévar, Serizel, Ortega, "Angular Distance Distribution Loss for Audio Classification", 2024
(arXiv:2411.00153); official code github.com/antonioalmudevar/distance_distribution_loss.

An encoder (AST, BEATs, or any workbench encoder) and a linear head are fine-tuned together with
cross-entropy (soft cross-entropy or BCE on mixup targets) plus an auxiliary loss on the encoder's
embeddings: none (``"ce"``), focal loss instead of CE (``"focal"``), Orthogonal Projection Loss
(``"opl"``) or ADD (``"add"``, its four lambdas weighting the mean and spread of same-class squared
cosine distances and different-class squared cosine similarities). Each test fold gets accuracy and
the test-set embeddings, saved in the run directory, with their geometry
(:func:`workbench.evaluation.geometry.embedding_geometry`: mean and coefficient of variation of cosine
distances per class pair, and the paper's four summaries).

``add_form`` picks the ADD formulation: the paper's Eq. 1-4 (``"paper"``) or the official code's moments
(``"official"``; see :mod:`workbench.losses.add` for where they differ). ``protocol`` picks the train/test
partitions (:func:`plan_partitions`): the dataset's official folds or split, or (``"auto"``, where those
cannot be trained on) grouped or stratified k-fold.

``Params.variants`` names several losses to train side by side on the same folds and seeds
(:func:`compare`), each in its own run directory; the comparison checks the paper's claims that ADD
classifies better (Table 2) and makes clips of a class, and pairs of classes, more equidistant than CE
does (lower intra- and inter-class CV, Fig. 5; a lower spread of the class pairs' mean distances), each
over the paired runs (same test fold, same seed): the paired t over repeats on one split, the corrected
resampled t over the fold x repeat runs of several folds (they share training clips), and, with
``max_seeds``, the anytime-valid confidence sequence over repeats added one at a time until the accuracy
claim is settled (each loss's repeat its own run directory, so a larger budget continues). A pretrained
encoder's weights file enters the run id by its sha256 (:func:`weights_data`), and path parameters take
``{shared}``.

Defaults train a tiny AST from scratch on half-second clips of the synthetic world, in seconds per loss
on a CPU.
The paper's settings (pretrained AST / BEATs on ESC-50, Speech Commands, IEMOCAP) are presets in
``notebooks/params/01_add_loss/``.

The package, one module per concern: :mod:`~.params` (settings, loss variants), :mod:`~.data` (dataset and
partitions), :mod:`~.systems` (encoder, head and criterion per loss), :mod:`~.train` (the step and the
training of one model), :mod:`~.repeats` (a fold's repeats, one after another or together as one vectorised
model, ``seed_parallel``), :mod:`~.evaluate` (test embeddings and their geometry),
:mod:`~.result` (the result types), :mod:`~.claims` (ADD against CE) and :mod:`~.run` (read it first).
"""

from __future__ import annotations

from workbench.recipes.add_loss.claims import CLAIMS, TABLE2_ACCURACY, comparison_claims, paired_values, paper_accuracy
from workbench.recipes.add_loss.data import (
    FixedLengthCollate,
    FoldInputs,
    FoldSplit,
    build_dataset,
    choose_folds,
    clip_ids,
    compute_spectrograms,
    has_spectrogram_path,
    official_splits,
    plan_partitions,
    plan_splits,
    read_clips,
)
from workbench.recipes.add_loss.params import (
    CODE_VERSION,
    DEFAULT_VARIANTS,
    NAME,
    NOTEBOOK,
    VARIANT_FORMS,
    LossName,
    Params,
    Variant,
    WindowType,
    canonical,
    identity,
    loss_label,
    parse_variant,
)
from workbench.recipes.add_loss.result import SUMMARY_NAMES, AddLossResult, FoldResult, LossRun, run_tag
from workbench.recipes.add_loss.run import compare, run
from workbench.recipes.add_loss.plan import plan as plan  # the stages of leaves `workbench launch` runs
from workbench.recipes.add_loss.systems import FineTuner, build_criterion, build_fine_tuned_encoder, weights_data
from workbench.recipes.add_loss.repeats import train_loss, train_repeats
from workbench.recipes.add_loss.train import EpochProgress, make_step, mix_batch, train_config

__all__ = [
    "CODE_VERSION",
    "NAME",
    "NOTEBOOK",
    "Params",
    "run",
    "compare",
    "AddLossResult",
    "build_criterion",
    "build_dataset",
    "build_fine_tuned_encoder",
    "canonical",
    "choose_folds",
    "CLAIMS",
    "clip_ids",
    "comparison_claims",
    "compute_spectrograms",
    "DEFAULT_VARIANTS",
    "EpochProgress",
    "FineTuner",
    "FixedLengthCollate",
    "FoldInputs",
    "FoldResult",
    "FoldSplit",
    "identity",
    "has_spectrogram_path",
    "loss_label",
    "LossName",
    "LossRun",
    "make_step",
    "mix_batch",
    "official_splits",
    "paired_values",
    "paper_accuracy",
    "parse_variant",
    "plan_partitions",
    "plan_splits",
    "read_clips",
    "run_tag",
    "SUMMARY_NAMES",
    "TABLE2_ACCURACY",
    "train_config",
    "train_loss",
    "train_repeats",
    "Variant",
    "VARIANT_FORMS",
    "weights_data",
    "WindowType",
]
from workbench.recipes.add_loss.smoke import smoke, tiny as smoke_tiny  # noqa: F401  (workbench reproduce --smoke; the suite's tiny smoke)
