"""What each parameter of the ``layer_fusion`` recipe means (``workbench params layer_fusion --explain``);
the paper's values are from Niizumi et al., "Composing General Audio Representation by Fusing
Multilayer Features of a Pre-trained Model" (Eq. 1-3, Sec. IV)."""

from workbench.recipes.base.explain import common

FIELD_HELP = {
    "weights": "pretrained: the registry's checkpoint (found in $WORKBENCH_WEIGHTS, $WORKBENCH_SHARED/weights, the cache "
    "or downloaded); random: the same architecture from model_seed (claims then say nothing about pre-training)",
    "if_weights_absent": "what to do when the pretrained weights cannot be found offline: random (every claim labelled "
    "'random weights') or error",
    "tasks_at_hand": "real-data tasks (dataset:task, e.g. fsdd:digit, esc10) run where their files are found under "
    "data_root or $WORKBENCH_SHARED/data, else skipped with a note",
    "max_real_clips": "at most this many clips per real-data task, evenly spread over the dataset (0 = all)",
    "max_layers": "at most this many of the tapped layers, evenly spaced, first and last kept (0 = all; the paper "
    "evaluates every layer, Sec. IV-B)",
    **common("weights_path", "world_seed", "protocol", "n_folds", "max_epochs", "patience", "device"),
    "model": "the pre-trained model whose layers are read: an architecture or a pretrained name from `workbench "
    "weights` (the paper: VGGish, CNN14, AST)",
    "model_seed": "initialisation seed of models built from scratch (architecture names)",
    "tasks": 'downstream tasks: synthetic tasks, or "<dataset>[:<task>]" (esc10, fsdd:digit, ...; the paper: '
    "nine, Sec. IV)",
    "n_clips": "clips per synthetic task",
    "data_root": 'folder holding the real datasets ("" = $WORKBENCH_DATA, else ./data; "{shared}/data" = the '
    "shared clips)",
    "layers": 'layers read, one linear evaluation each ("paper" = the paper\'s set, e.g. VGGish ReLU layers '
    '2-22, Table I; "all" = every layer)',
    "layer_view": "how a layer becomes frames: auto (AST: the [CLS] token) | frames (Eq. 1) | cls | cls-dist",
    "n_frames": "T_o of Eq. 1, the frames each layer is max-pooled to (0 = the paper's: VGGish 6, else the "
    "fewest frames)",
    "fuse_layers": 'the middle and late layers M, L fused by Eq. 2 ("auto" = chosen on validation scores, '
    "Sec. III)",
    "n_seeds": "linear-probe seeds; scores are their mean ± 95 % CI, claims pair them (Sec. IV: 3)",
    "learning_rate": "Adam learning rate of the probe (0 = chosen per task and feature set on validation, "
    "between 1e-5 and 1e-2 as Sec. IV)",
    "batch_size": "linear-probe batch size, in clips",
}
