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
   embedding of ``query_clips`` random clips of source ``j``'s class; loss = waveform MAE - SDR (Sec. 2.1).
   Only CaRE-CLS+SEP adds ``tagging_weight`` x the tagging BCE; CaRE-CLS trains the tagging alone.
   AdamW (0.9, 0.999, eps 1e-8, weight decay 5e-4, Sec. 3.2); the paper's warm-up and step decay
   (``schedule="paper"``) in the paper presets, a constant rate for the few epochs of a CPU run. Each row and seed is a resumable run directory (``runs/care_sep-train``).
4. **Evaluation** on the test pairs (:mod:`workbench.evaluation.separation`): mixture-, clean- and
   silence-SDR per test example, the SDR improvement, the tagging mAP of the query network, and the
   paper's Figure 3: per row, a t-SNE panel of the separation features and one of the query embeddings
   of two classes, with the class-vs-class KL divergence of each panel (and the query-vs-separation KL).

The claims (Sec. 4.1 and 4.3), each paired over the same seeds and the same test mixtures
(:func:`~workbench.evaluation.stats.compare_paired_items` on per-mixture SDR, averaged over seeds):
C vs A (CaRE-SEP vs ST-SED-SEP), G vs A (Swin-UNET vs CNN separator with the same extra classifier), B vs
C (shared encoder), D vs F (Init), E vs D (Grad), C vs CaRE-CLS+SEP, and that CaRE-SEP uses the query
(beats half the mixture). All are measured and reported whichever way they come out.

Measured on the CPU test bed (preset ``ablation``, seeds 0-1, 128 paired test examples), mixture-SDR: A 3.8,
B 4.2, C 3.9, D 3.8, E 3.9, F 2.9, G 3.8, CLS+SEP 4.0 dB (half the mixture: 3.0 dB); C vs A +0.10 dB
[-0.32, +0.54] (inconclusive, MDE 0.62), G vs A +0.05 [-0.31, +0.40], C vs B -0.35 [-0.78, +0.10], D vs F
+0.90 [+0.56, +1.27] (holds), E vs D +0.05 [-0.18, +0.30], C vs CLS+SEP -0.17 [-0.42, +0.09]; C beats the
query-blind half mixture by +0.86 [+0.41, +1.36]. The CaRE classifier's Init reaches 0.92 train accuracy on its
source (ST-SED's 0.68) since the band image is batch-normalised per band as HTS-AT's mel bins are
(:class:`~workbench.models.care_sep.BandNorm`); without that norm it reached 0.12, and C was -0.73 dB
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
)
from workbench.recipes.care_sep.systems import (
    INIT_KINDS,
    QueryModel,
    SeparationSystem,
    SeparatorModel,
    build_system,
    fit_head,
    model_config,
    query_net_config,
    resunet_config,
)
from workbench.recipes.care_sep.init import (
    ClassifierSystem,
    LabelledClips,
    init_cache_path,
    init_classifiers,
    init_settings,
    init_source,
    pretrained_classifier,
)
from workbench.recipes.care_sep.train import Trained, train_row, training_params
from workbench.recipes.care_sep.evaluate import FIGURE_KINDS, RowEvaluation, evaluate, figure_analysis, test_queries
from workbench.recipes.care_sep.claims import COMPARISONS, separation_claims
from workbench.recipes.care_sep.result import CareSepRun
from workbench.recipes.care_sep.run import run  # the names run and evaluate are the functions, as before the split
from workbench.train.loop import Trainer  # noqa: F401  (tests patch care_sep.Trainer's methods)

__all__ = [
    "BASELINE", "CARE_SEP", "COMPARISONS", "CareSepRun", "ClassifierSystem", "FIGURE_KINDS", "INIT_CACHE", "INIT_KINDS",
    "LabelledClips", "METRICS", "METRIC_NAMES", "MODEL_SIZES", "NAME", "NOTEBOOK", "PAPER_WARMUP", "PairSet", "Params",
    "QueryModel", "ROWS", "Row", "RowEvaluation", "SAMPLE_RATE", "SCHEDULES", "SeparationData", "SeparationSystem",
    "SeparatorModel", "TRAIN_NAME", "Trained", "Triplets", "build_system", "data_source", "evaluate", "figure_analysis",
    "fit_head", "init_cache_path", "init_classifiers", "init_settings", "init_source", "loudest_window", "model_config",
    "pretrained_classifier", "query_net_config", "real_data", "resunet_config", "row_label", "run", "separation_claims",
    "separation_data", "synthetic_data", "test_queries", "train_config", "train_row", "training_params",
]  # fmt: skip
from workbench.recipes.care_sep.smoke import smoke  # noqa: F401  (workbench reproduce --smoke)
