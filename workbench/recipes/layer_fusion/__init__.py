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
   :mod:`workbench.evaluation.stats`: fused vs the usual embedding and, separately, fused vs the last tapped
   layer, averaged over tasks (stratified) and per task with Table III's per-model figures for the paper's
   closest task; and an early or middle layer vs the last layer on the task that validation picks (layers
   are named early, middle or late by :func:`layer_region`: a model's first layer is never "middle").

Tasks are the synthetic world's ``event``, ``speaker``, ``word`` and ``pitch`` plus the real clips at hand
(``tasks_at_hand``: FSDD digits and speakers, ESC-10, read from ``data_root`` or else
``$WORKBENCH_SHARED/data``; a task whose files are absent is skipped with a note), or any registered dataset
as ``"<dataset>"`` or ``"<dataset>:<task>"`` (``esc50``, ``fsdd:speaker``, ``speech_commands``). Every task's
protocol is planned from its labels, folds and groups before any model runs (the partial ESC-10 copy: folds
grouped by source recording). The default model is EfficientAT mn04 with its AudioSet weights (4 MB, found in
``$WORKBENCH_WEIGHTS``, ``$WORKBENCH_SHARED/weights``, the cache, or downloaded; sha256-checked); the weights
file's sha256 is part of the run id and of provenance.json, so a checkpoint overwritten in place is a new run. Offline
without them, the run uses mn04's architecture with random weights, says so first, and labels every claim
"random weights: says nothing about pre-training" (``if_weights_absent="error"`` refuses instead). To fit
the demo budget the default taps 6 of mn04's 17 blocks (``max_layers``), thins FSDD to 600 clips
(``max_real_clips``) and fixes the probe's learning rate at 1e-3 (``learning_rate=0`` chooses it per task on
validation clips, 4-5x slower); the presets run every block with the chosen rate.

Measured (the default, 3 probe seeds; intervals are paired t over the probe trainings, so they speak for
these clips, not for a population of datasets; 60 s of CPU on one thread, 7 min wall on a machine loaded
10x): M + L chosen on validation = block4 + block17. Per task, fused | usual embedding | last layer block17:

=============  ==========  =====  =====  ==================================  ============================
task           best (val)  fused  embed  fused - embedding                   fused - block17
=============  ==========  =====  =====  ==================================  ============================
event          block14     0.949  0.953  -0.004 [-0.015, +0.006] inconcl.    -0.004 [-0.025, +0.017]
speaker        block4      0.744  0.556  +0.189 [+0.137, +0.241] holds       +0.129 [+0.048, +0.210]
word           block14     0.990  0.976  +0.014 [-0.019, +0.047] inconcl.    -0.004 [-0.015, +0.006]
pitch          block1      0.283  0.115  +0.168 [+0.068, +0.269] holds       +0.175 [+0.050, +0.300]
fsdd:digit     block7      0.817  0.622  +0.194 [+0.171, +0.218] holds       +0.028 [-0.215, +0.270]
fsdd:speaker   block11     0.983  0.944  +0.039 [+0.015, +0.063] holds       +0.022 [-0.041, +0.085]
esc10          block17     0.972  0.944  +0.028 [-0.018, +0.074] inconcl.    +0.000 [-0.030, +0.030]
=============  ==========  =====  =====  ==================================  ============================

On real sound events (ESC-10, folds grouped by source recording) the AudioSet model's late layers are best
and fusion adds nothing over its last block (0.972 vs 0.972); over the usual pooled embedding it is +0.028,
not resolved. This is the paper's own pattern (Table III ESC-50 gains: VGGish +18.2, CNN14 +2.9, AST +0.6
points), and close to the issue's ESC-50 measurement with mn04 (fused 0.862 vs embedding 0.900). On spoken
digits (FSDD, official split by take) fusion beats the usual embedding by +0.19 (paper SPCV2: +39.9 CNN14,
+8.6 AST) but not the last block by a resolved margin. mn04 is not in the paper (Table III covers VGGish,
CNN14 and AST), so no claim has a paper effect size of its own. With every block and the probe's rate chosen
on validation (preset ``mn04-esc10``, 3 seeds, 29 s CPU) ESC-10 reads the same: M + L = block9 + block17, fused
0.968 vs usual embedding 0.952 (+0.016 [-0.046, +0.078], inconclusive) vs block17 0.968 (+0.000 [-0.030, +0.030]).
On all 3000 FSDD recordings (preset ``mn04-fsdd-esc10``: every block, rate chosen on validation, 3 seeds,
4.7 min CPU; M + L = block7 + block17) fusion beats both baselines on digits: 0.961 vs embedding 0.830
(+0.131 [+0.097, +0.166]) and vs block17 0.876 (+0.086 [+0.027, +0.144]); on speakers it beats the embedding
(0.993 vs 0.956, +0.038 [+0.033, +0.043]) but not block17 (0.974, +0.019 [-0.005, +0.043]); ESC-10 again
+0.020 [-0.026, +0.066] over the embedding and +0.004 [-0.042, +0.050] over block17.

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
from workbench.recipes.layer_fusion.choice import (
    EARLY_FRACTION,
    LATE_FRACTION,
    FusionChoice,
    choose_fusion_layers,
    late_region,
    layer_region,
)
from workbench.recipes.layer_fusion.claims import (
    PAPER_FUSION_GAINS,
    PAPER_TASK_GAINS,
    fusion_claims,
    paper_gain,
    paper_task_gain,
    stratified,
)
from workbench.recipes.layer_fusion.data import build_dataset, datasets_at_hand
from workbench.recipes.layer_fusion.evaluate import TaskScores, evaluate_table, probe_config, seeds_of
from workbench.recipes.layer_fusion.params import CODE_VERSION, NAME, NOTEBOOK, REAL_TASKS, Params, parse_task
from workbench.recipes.layer_fusion.result import LayerFusionRun
from workbench.recipes.layer_fusion.run import run
from workbench.recipes.layer_fusion.plan import plan as plan  # the stages of leaves `workbench launch` runs
from workbench.recipes.layer_fusion.systems import (
    RANDOM_WEIGHTS,
    WeightsStatus,
    build_model,
    extract_task_features,
    fused_table,
    layer_tables,
    resolve_weights,
    tapped_layers,
)

__all__ = [
    "CODE_VERSION",
    "EARLY_FRACTION",
    "LATE_FRACTION",
    "PAPER_TASK_GAINS",
    "RANDOM_WEIGHTS",
    "REAL_TASKS",
    "WeightsStatus",
    "datasets_at_hand",
    "layer_region",
    "paper_task_gain",
    "resolve_weights",
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
from workbench.recipes.layer_fusion.smoke import smoke, tiny as smoke_tiny  # noqa: F401  (workbench reproduce --smoke; the suite's tiny smoke)
