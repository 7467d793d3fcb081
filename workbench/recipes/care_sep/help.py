"""What each parameter of the ``care_sep`` recipe means (``workbench params care_sep --explain``); the
paper's values are from Wang et al., "Consistent and Relevant: Rethink the Query Embedding in General
Sound Separation" (Sec. 3.2, 4.1-4.3, Table 1-2, Fig. 3)."""

from workbench.recipes.base.explain import common

FIELD_HELP = {
    "step_epochs": "paper schedule: epochs between halvings of the rate after warm-up (Sec. 3.2: 10; the CPU bed "
    "scales it down)",
    "init_learning_rate": "constant AdamW rate of the Init classifiers' pretraining (the rows train at learning_rate)",
    "wo_grad": "what 'w/o Grad' (rows D, F) stops: query-branch (the gradient through the query only) or "
    "frozen-encoder (the shared encoder frozen; Table 2: 'Grad refers to the gradient backpropagation during the "
    "training (not freezing)')",
    "train_query": "training queries: class-mean (mean embedding of other clips of the target's class) or self (each "
    "source queried by its own clip, as the cited zero-shot separation code; Sec. 2.1)",
    "max_seeds": "0: train exactly seeds; N >= 3: add paired training seeds one at a time, up to N, until C vs A "
    "(the headline claim) is settled by an anytime-valid confidence sequence (finished seeds are read back)",
    **common("world_seed", "device", "cpu_threads"),
    "dataset": "synthetic (the world's separation pairs) | a class dataset to mix pairs from: esc10, esc50, ... "
    "(the paper: AudioSet)",
    "data_root": 'folder holding the real datasets ("" = $WORKBENCH_DATA, else ./data; "{shared}/data" = the '
    "shared clips)",
    "n_mixtures": "synthetic two-source mixtures (the train and valid folds train, the test fold tests)",
    "n_event_classes": "synthetic event classes (beyond 10, template siblings that overlap in spectrum)",
    "duration": "seconds per clip (real clips: their loudest window of this length)",
    "test_fraction": "real data: share of each class's clips held out for testing, 0 to 1",
    "pairs_per_clip": "real data: training mixtures per clip, each with a random clip of another class",
    "n_anchors": "synthetic: query clips per class (as many more, disjoint, for testing)",
    "query_clips": "clips averaged into one training query embedding",
    "model_size": "separator size: tiny (CPU) | paper (D=96, query 768) | paper-large (D=256, query 2048) "
    "(Sec. 3.2)",
    "rows": "systems trained: rows A-G of Table 2 and CLS+SEP, CLS of Table 1 (A: ST-SED-SEP baseline, C: "
    "CaRE-SEP)",
    "seeds": "training seeds: one training per row and seed; claims pair rows over seeds and test mixtures",
    "pretrain_epochs": "epochs of the Init classifiers' pretraining (Table 2 'Init'; cached once)",
    "epochs": "separation training epochs per row",
    "batch_size": "mixtures per step in every training (Sec. 3.2: 96)",
    "learning_rate": "AdamW base learning rate (the schedule's factors multiply it)",
    "tagging_weight": "weight of the tagging BCE of row CLS+SEP (no other row has one)",
    "mae_weight": "weight of the waveform MAE next to the negative SDR in the separation loss (Sec. 2.1)",
    "figure_classes": "the two class indices of the Figure-3 analysis (t-SNE, KL divergence)",
    "n_figure_points": "clips per class and kind in the Figure-3 analysis (Sec. 4.2: 70)",
    "schedule": "learning-rate factors: constant (CPU scale) | paper (warm-up 0.05, 0.1, 0.2, then halved every "
    "10 epochs down to 0.05; Sec. 3.2)",
    "weight_decay": "AdamW weight decay (Sec. 3.2: 5e-4)",
    "init_classes": "Init: event classes of the pretraining source (the pairs' classes come first)",
    "init_clips": "Init: single event clips of the pretraining source (the pairs have 2 x 192 sources)",
}
