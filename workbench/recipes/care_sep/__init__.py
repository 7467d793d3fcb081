"""CaRE-SEP: query-based sound separation with one Swin-UNET encoder for the query and the separation.

Wang et al., "Consistent and Relevant: Rethink the Query Embedding in General Sound Separation"
(ICASSP 2024). A query-based separator extracts from a mixture the source whose class a query embedding
names. ST-SED-SEP (Chen et al., AAAI 2022) takes that embedding from a separate, frozen HTS-AT classifier
on a mel spectrogram and separates with a CNN U-Net; CaRE-SEP argues that such a query does not match
the separator's own features, and makes the query with the separator's Swin-UNET encoder (**Shared**),
initialised from a classification-pretrained encoder (**Init**), with the separation loss flowing into
the query (**Grad**).

What :func:`run` does:

1. **Data**: pairs of sources of different classes, energy-normalised (equal RMS) and summed: the
   synthetic world's separation pairs by default (``"synthetic-separation"``: train/valid folds train,
   the test fold tests; query clips from the world's class anchors, disjoint for training and testing),
   or any class-labelled dataset of the registry (ESC-50, ESC-10), cropped to ``duration`` seconds.
2. **Init** (:func:`pretrained_classifier`): the two classifiers a row may start from, the CaRE-SEP
   encoder's classifier half and ST-SED's HTS-AT-style query network, pretrained for tagging on a
   different and larger source than the pairs: ``init_clips`` single event clips of the synthetic world's
   ``init_classes``-class vocabulary (its own clip stream; the pairs' classes are its first classes).
   Each is trained once and cached under ``$WORKBENCH_CACHE/care_sep-init`` keyed by its settings, and
   every row with Init (and every seed) starts from the same weights, as the paper starts from one
   AudioSet-pretrained HTS-AT (Sec. 2.1, Table 1: 0.467 mAP).
3. **Training** of each row (:data:`ROWS`: the paper's Table 2 rows A-G, and Table 1's CaRE-CLS+SEP and
   CaRE-CLS) on triplets ``(a, a_j, e_j)``: a mixture, its source ``j`` and the query ``e_j``, the mean
   embedding of ``query_clips`` random clips of source ``j``'s class (``train_query="class-mean"``), or the
   embedding of the source clip itself (``"self"``, as the cited zero-shot separation code trains;
   :data:`TRAIN_QUERIES`); loss = waveform MAE - SDR (Sec. 2.1). Only CaRE-CLS+SEP adds ``tagging_weight`` x
   the tagging BCE; CaRE-CLS trains the tagging alone. "w/o Grad" (rows D, F) reads two ways (:data:`WO_GRAD`):
   the query computed without gradient (``"query-branch"``) or the shared encoder frozen (``"frozen-encoder"``).
   Every frozen network (A's and G's query network, a frozen encoder) stays in eval mode. AdamW (0.9, 0.999,
   eps 1e-8, weight decay 5e-4, Sec. 3.2) with the paper's schedule shape (``schedule="paper"``: warm-up
   0.05, 0.1, 0.2 over three epochs, then halved every ``step_epochs``, down to 0.05), scaled to the CPU bed
   by ``step_epochs`` (the paper: 10); the rate and length of the defaults were chosen on validation pairs
   carved from the training side (:func:`validation_data`, ``benchmarks/care_sep_schedule.py``), never on
   the test pairs. The Init pretraining keeps its own constant ``init_learning_rate``. Each row and seed is
   a resumable run directory (``runs/care_sep-train``).
4. **Evaluation** on the test pairs (:mod:`workbench.evaluation.separation`): mixture-, clean- and
   silence-SDR per test example, the SDR improvement, the tagging mAP of the query network, and the
   paper's Figure 3: per row, a t-SNE panel of the separation features and one of the query embeddings
   of two classes, with the class-vs-class KL divergence of each panel (and the query-vs-separation KL).

The claims, read in this order: first, per row, "uses the query": its mixture-SDR beats the query-blind
half mixture (what a separator that ignores the query gets, about +3 dB); a row that does not clear this
floor cannot stand for its row of Table 2. Then the paper's comparisons (Sec. 4.1 and 4.3): C vs A (CaRE-SEP
vs ST-SED-SEP), G vs A (Swin-UNET vs CNN separator with the same extra classifier), B vs C (shared encoder),
D vs F (Init), E vs D (Grad), C vs CaRE-CLS+SEP. Each is a paired t over the training seeds (the unit of
replication) on the same test mixtures; wherever the test set's sampling enters an interval (the crossed
seeds x mixtures interval of a claim's detail, the table's CIs) the unit is the mixture: the two examples cut
from one mixture are averaged first (:func:`per_mixture`). All are reported whichever way they come out.

Measured (issues 29, 24), the notebook default (rows A and C, seeds 0-2, 48 test mixtures, one thread): the scaled
paper schedule (warm-up 0.05, 0.1, 0.2, then halved every 4 epochs), base rate 1e-2 (2e-3 at the 0.2 plateau), batch
8, 8 epochs, Init pretrained 8 epochs. Half the mixture scores 2.99 dB. Both rows use their query: A 3.40 dB, +0.41
[+0.25, +0.57] over three seeds (holds; per seed +0.47, +0.34, +0.42); C 3.70 dB, +0.70 [+0.54, +0.87] (holds). C vs
A: +0.30 [-0.001, +0.596] (inconclusive, MDE 0.39; per seed +0.16, +0.39, +0.34; over seeds and mixtures +0.30 [-0.16,
+0.76]): the paper's +2.59 dB is excluded at this scale, and an effect of about +0.3 dB is at the edge of what three
seeds resolve. With ``max_seeds`` (e.g. 10, preset ``synthetic-seeds``) seeds are added until C vs A is settled.

The rate, batch and length were chosen on validation pairs (a quarter of the training pairs, scored with training
queries; ``python -m benchmarks.care_sep_schedule``), never on the test pairs: floor claims A / C. Issue 24 asks for
three seeds per row within the notebook's 200 s; at 1e-2, batch 8, halved every 4, seeds 0-4: 6 epochs A +0.16
[-0.07, +0.38] (per seed +0.30, +0.18, +0.26, -0.16, +0.20: one seed in five ignores its query) / C +0.80 [+0.71,
+0.90]; 8 epochs A +0.44 [+0.26, +0.62] (per seed +0.44, +0.35, +0.30, +0.67, +0.45) / C +0.99 [+0.82, +1.16], the
default; three seeds of it took 133 s of CPU cold (notebook 04, papermill and kernel; 390 s wall at load 9.5 on 2
cores). A fourth seed (about 33 s more) would fit; it was not added after the test pairs had been scored (adding
seeds after looking is what ``max_seeds`` and its confidence sequence are for). Earlier, over seeds 0-1 at 6 epochs
halved every 4: Init 3 epochs, batch 16: lr 2e-3 -0.19 [-0.54, +0.17] / +0.17 [+0.06, +0.29]; 5e-3 -0.06 [-0.70,
+0.57] / +0.34 [+0.05, +0.64]; 1e-2 -0.13 [-0.96, +0.71] / +0.55 [+0.07, +1.03]. Init 8 epochs: lr 5e-3 batch 16
-0.13 [-0.64, +0.38] / +0.33 [+0.08, +0.59]; batch 8 -0.02 [-0.78, +0.74] / +0.50 [+0.10, +0.90]; batch 4 +0.30
[-0.51, +1.12] / +0.63 [-0.08, +1.35]; lr 2e-3 batch 4 -0.02 [-1.55, +1.51] / +0.31 [-0.25, +0.87]; lr 1e-2 batch 8
+0.24 [-0.50, +0.98] / +0.78 [+0.20, +1.36]; lr 1e-2 batch 4 +0.63 [-0.41, +1.66] / +0.97 [+0.47, +1.47]; lr 2e-2
batch 8 +0.88 [-3.81, +5.56] / +1.21 [+0.97, +1.46]; lr 4e-2 batch 8 +0.37 [-1.32, +2.06] / +0.18 [-5.88, +6.23]
(diverges); 10 epochs halved every 5, lr 5e-3 batch 8: +0.19 [-2.18, +2.57] / +0.85 [+0.81, +0.89]. An earlier
session read the test pairs three times while choosing (6 epochs, batch 8, seeds 0-1: at 5e-3 A +0.04 [-0.43,
+0.50], C +0.38 [+0.31, +0.45]; at 2e-2 C collapsed on one seed, 2.69 dB, tagging mAP 0.13; at 1e-2 A +0.29 [-0.22,
+0.79], C +0.57 [+0.45, +0.69]); the move to 8 epochs and three seeds was decided on the validation pairs above
before the test pairs were scored with it (while timing the old 6-epoch setting, seed 0 was scored on the test pairs
once more: A 3.32, C 3.56 dB, as before).

Measured (the ``ablation`` preset with the paper schedule: every row, seeds 0-2, 320 pairs, 10 epochs halved every 5,
lr 1e-2, batch 8, 64 test mixtures; 574 s of one core, 947 s wall at load 7 on 2 cores), mixture-SDR: A 4.8, B 4.8,
C 4.0, D 3.4, E 3.9, F 3.0, G 3.9, CLS+SEP 4.1 dB (half the mixture 3.0 dB). Uses its query (holds): A +1.78 [+0.64,
+2.91], B +1.82 [+1.28, +2.37], C +0.99 [+0.48, +1.49], E +0.87 [+0.59, +1.15], G +0.94 [+0.60, +1.29], CLS+SEP +1.13
[+0.51, +1.75]; not shown: D +0.36 [-0.80, +1.52] (one seed below the floor), F +0.01 [-0.20, +0.22] (ignores its
query: no Init, no Grad). Comparisons, all inconclusive: C vs A -0.79 [-1.99, +0.42] (A above C on every seed; the
paper's +2.59 excluded), G vs A -0.83 [-2.19, +0.53] (paper -0.21 inside), C vs B -0.84 [-1.89, +0.21] (paper +2.37
excluded), D vs F +0.35 [-1.00, +1.70] (paper +0.95 inside), E vs D +0.51 [-0.45, +1.47] (paper +1.24 inside), C vs
CLS+SEP -0.15 [-0.45, +0.16] (paper +1.66 excluded). On this bed, with longer training and more pairs than the
notebook default, the ResUNet rows with ST-SED's frozen or trained query (A, B) separate best; the CaRE-SEP Swin-UNET's
tagging mAP falls to 0.38 while it trains for separation (A's frozen query network keeps 0.82).

Measured before issue 29 (constant rate 2e-3, every example a unit; preset ``ablation``, seeds 0-1, 128 paired
test examples), mixture-SDR: A 3.8, B 4.2, C 3.9, D 3.8, E 3.9, F 2.9, G 3.8, CLS+SEP 4.0 dB (half the mixture:
3.0 dB); C vs A +0.10 dB [-0.32, +0.54] (inconclusive, MDE 0.62), G vs A +0.05 [-0.31, +0.40], C vs B -0.35
[-0.78, +0.10], D vs F +0.90 [+0.56, +1.27] (holds), E vs D +0.05 [-0.18, +0.30], C vs CLS+SEP -0.17 [-0.42,
+0.09]; C beats the query-blind half mixture by +0.86 [+0.41, +1.36]. The CaRE classifier's Init reaches 0.92
train accuracy on its source (ST-SED's 0.68) since the band image is batch-normalised per band as HTS-AT's mel bins
are (:class:`~workbench.models.care_sep.BandNorm`); without that norm it reached 0.12, and C was -0.73 dB
[-1.10, -0.38] below A.

The package, one module per concern, each importing only those above it:

- :mod:`.params`: :class:`Params` and its checks, the rows (:data:`ROWS`), the optimiser of every training.
- :mod:`.data`: the pairs, their query clips and the training triplets; what a run directory fingerprints.
- :mod:`.systems`: what is built per row (:class:`SeparationSystem`, :func:`build_system`).
- :mod:`.init`: the Init classifiers, pretrained once and cached.
- :mod:`.train`: each row and seed's training and its run identity (:func:`training_params`).
- :mod:`.evaluate`: SDRs, tagging mAP and the Figure-3 analysis of a trained system.
- :mod:`.claims`: what is compared (:data:`COMPARISONS`, :func:`separation_claims`).
- :mod:`.result`: :class:`CareSepRun`.
- :mod:`.run`: :func:`run`, the orchestration (read it first).
"""

from workbench.recipes.care_sep.params import (
    CODE_VERSION,
    BASELINE,
    CARE_SEP,
    INIT_CACHE,
    METRIC_NAMES,
    METRICS,
    MODEL_SIZES,
    NAME,
    NOTEBOOK,
    PAPER_WARMUP,
    ROWS,
    SAMPLE_RATE,
    SCHEDULES,
    TRAIN_NAME,
    TRAIN_QUERIES,
    WO_GRAD,
    Params,
    Row,
    row_label,
    train_config,
)
from workbench.recipes.care_sep.data import (
    PairSet,
    SeparationData,
    Triplets,
    data_source,
    loudest_window,
    real_data,
    separation_data,
    synthetic_data,
    validation_data,
)
from workbench.recipes.care_sep.systems import (
    INIT_KINDS,
    SHARED_ENCODER,
    QueryModel,
    SeparationSystem,
    SeparatorModel,
    build_system,
    fit_head,
    frozen_encoder,
    model_config,
    query_net_config,
    resunet_config,
    shared_encoder_parameters,
)
from workbench.recipes.care_sep.init import (
    ClassifierSystem,
    LabelledClips,
    init_cache_path,
    init_classifiers,
    init_optimiser,
    init_settings,
    init_source,
    pretrained_classifier,
)
from workbench.recipes.care_sep.train import Trained, train_row, training_params
from workbench.recipes.care_sep.evaluate import FIGURE_KINDS, RowEvaluation, evaluate, figure_analysis, test_queries
from workbench.recipes.care_sep.claims import COMPARISONS, floor_claims, per_mixture, separation_claims
from workbench.recipes.care_sep.result import CareSepRun
from workbench.recipes.care_sep.run import run  # the names run and evaluate are the functions, as before the split
from workbench.recipes.care_sep.plan import plan as plan  # the stages of leaves `workbench launch` runs
from workbench.train.loop import Trainer  # noqa: F401  (tests patch care_sep.Trainer's methods)

__all__ = [
    "CODE_VERSION",
    "BASELINE", "CARE_SEP", "COMPARISONS", "SHARED_ENCODER", "TRAIN_QUERIES", "WO_GRAD", "floor_claims",
    "frozen_encoder", "init_optimiser", "per_mixture", "shared_encoder_parameters", "validation_data", "CareSepRun", "ClassifierSystem", "FIGURE_KINDS", "INIT_CACHE", "INIT_KINDS",
    "LabelledClips", "METRICS", "METRIC_NAMES", "MODEL_SIZES", "NAME", "NOTEBOOK", "PAPER_WARMUP", "PairSet", "Params",
    "QueryModel", "ROWS", "Row", "RowEvaluation", "SAMPLE_RATE", "SCHEDULES", "SeparationData", "SeparationSystem",
    "SeparatorModel", "TRAIN_NAME", "Trained", "Triplets", "build_system", "data_source", "evaluate", "figure_analysis",
    "fit_head", "init_cache_path", "init_classifiers", "init_settings", "init_source", "loudest_window", "model_config",
    "pretrained_classifier", "query_net_config", "real_data", "resunet_config", "row_label", "run", "separation_claims",
    "separation_data", "synthetic_data", "test_queries", "train_config", "train_row", "training_params",
]  # fmt: skip
from workbench.recipes.care_sep.smoke import smoke, tiny as smoke_tiny  # noqa: F401  (workbench reproduce --smoke; the suite's tiny smoke)
