"""Layer-wise evaluation of a pre-trained model and the fusion of its middle and late layers.

Niizumi, Takeuchi, Ohishi, Harada and Kashino, "Composing General Audio Representation by Fusing
Multilayer Features of a Pre-trained Model", EUSIPCO 2022 (arXiv:2205.08138). The paper finds that
the middle layers of supervised audio models (VGGish, PANNs CNN14, AST) serve some tasks better than
the last layer everyone extracts, and composes a general-purpose feature from one middle layer M and
one late layer L: each layer's output is max-pooled in time with channels and frequency flattened
(Eq. 1), M and L are concatenated frame by frame (Eq. 2), and mean + max over time gives one vector per
clip (Eq. 3). The paper reports that the fused feature beats the last-layer embedding on most of its
nine tasks (VGGish on Speech Commands V2: 14.3 % -> 91.4 %).

What :func:`run` does, per task:

1. one forward pass per batch gives every tapped layer's clip vector (Eq. 1 + 3, after the model's
   layer view: AST's blocks give their 768-d [CLS] token; VGGish pools T_o = 6 frames per 0.96-s
   example; see :mod:`workbench.features.views`) together with the model's usual embedding, the
   baseline; the whole table is cached on disk (:func:`~workbench.evaluation.embeddings.extract_embeddings`),
   so the layer-wise sweep and any later fusion never run the model again. The tapped layers default
   to the paper's sets (``layers="paper"``; ``"all"`` taps every layer);
2. every layer is scored with the foundation's linear evaluation (standardised features, one linear
   layer, early stopping, the ``protocol``'s folds, mean ± 95 % CI over seeds); the probe's learning
   rate is chosen per task and per feature set from a small grid on validation clips carved from the
   training folds (the paper tuned it per test between 1e-5 and 1e-2, Sec. IV "Linear evaluation
   details"), unless ``learning_rate`` fixes it;
3. M and L are chosen from the layers' *validation* scores (:func:`choose_fusion_layers`; never from
   the test scores they are then judged by), or pinned with ``fuse_layers`` (the ``paper-*`` presets
   pin the paper's pairs), and the fused feature (Eq. 2 + 3: the concatenation of the two layers'
   cached vectors, :func:`~workbench.features.compose.fuse_pooled`) is scored against the last
   tapped layer and the model's usual embedding;
4. the claims compare paired runs (the same seeds and folds) through
   :mod:`workbench.evaluation.stats`: fused vs the usual embedding, fused vs the last tapped layer, and
   a middle layer vs the last layer on the task that validation picks.

Tasks are the synthetic world's ``event``, ``speaker``, ``word`` and ``pitch`` by default, or any
registered dataset as ``"<dataset>"`` or ``"<dataset>:<task>"`` (``esc50``, ``esc10``, ``fsdd:digit``,
``fsdd:speaker``, ``speech_commands``). The default model is a randomly initialised ``cnn14-tiny``, so
the notebook runs anywhere in about a minute; the presets select the real EfficientAT mn04 weights
(``weights_path``) and the paper's models on GPU machines.

The package, one module per concern: :mod:`~workbench.recipes.layer_fusion.params` (``Params``, task
specs), :mod:`~workbench.recipes.layer_fusion.data` (each task's dataset),
:mod:`~workbench.recipes.layer_fusion.systems` (the model, its tapped layers and their feature tables, the
fusion), :mod:`~workbench.recipes.layer_fusion.choice` (which layers are M and L),
:mod:`~workbench.recipes.layer_fusion.evaluate` (linear evaluation of a feature table, the probe's
settings, the scores kept in the run directory), :mod:`~workbench.recipes.layer_fusion.claims` (the
paper's findings as paired comparisons), :mod:`~workbench.recipes.layer_fusion.result` (the
:class:`LayerFusionRun` it returns) and :mod:`~workbench.recipes.layer_fusion.run` (:func:`run`, read it
first).
"""

from workbench.evaluation.linear import linear_evaluation  # noqa: F401 - the old module's name, which tests read
from workbench.recipes.layer_fusion.choice import LATE_FRACTION, FusionChoice, choose_fusion_layers, late_region
from workbench.recipes.layer_fusion.claims import PAPER_FUSION_GAINS, fusion_claims, paper_gain, stratified
from workbench.recipes.layer_fusion.data import build_dataset
from workbench.recipes.layer_fusion.evaluate import TaskScores, evaluate_table, probe_config, seeds_of
from workbench.recipes.layer_fusion.params import NAME, NOTEBOOK, Params, parse_task
from workbench.recipes.layer_fusion.result import LayerFusionRun
from workbench.recipes.layer_fusion.run import run
from workbench.recipes.layer_fusion.systems import (
    build_model,
    extract_task_features,
    fused_table,
    layer_tables,
    tapped_layers,
)

__all__ = [
    "LATE_FRACTION",
    "NAME",
    "NOTEBOOK",
    "PAPER_FUSION_GAINS",
    "FusionChoice",
    "LayerFusionRun",
    "Params",
    "TaskScores",
    "build_dataset",
    "build_model",
    "choose_fusion_layers",
    "evaluate_table",
    "extract_task_features",
    "fused_table",
    "fusion_claims",
    "late_region",
    "layer_tables",
    "stratified",
    "paper_gain",
    "parse_task",
    "probe_config",
    "run",
    "seeds_of",
    "tapped_layers",
]
from workbench.recipes.layer_fusion.smoke import smoke  # noqa: F401  (workbench reproduce --smoke)
