"""What each parameter of the ``leaderboard`` recipe means (``workbench params leaderboard --explain``)."""

from workbench.recipes.base.explain import common

FIELD_HELP = {
    "encoders": "encoders always evaluated: architectures (random weights from encoder_seed) or pretrained names "
    "(their weights found or downloaded)",
    "encoders_at_hand": "pretrained names evaluated only where their weights are in a weights mirror or the cache "
    "(never downloaded), else skipped with a note",
    "layer_encoders": 'encoders whose tapped layers get rows of their own in the layer view ("all" = every encoder '
    "that taps layers)",
    "layers": 'layers tapped for the layer view ("paper" = the layer-fusion paper\'s set, "all" = every layer, '
    '"none" = no layer rows)',
    "max_layers": "at most this many tapped layers per encoder, evenly spaced, first and last kept (0 = all)",
    "layer_view": "how a layer becomes frames: auto (AST: the [CLS] token) | frames | cls | cls-dist",
    "encoder_seed": "initialisation seed of the encoders built from scratch (architecture names)",
    "tasks": 'tasks always evaluated: synthetic tasks, or "<dataset>[:<task>]" (esc10, fsdd:digit, speech_commands ...)',
    "tasks_at_hand": "real-data tasks evaluated where their files are found under data_root or $WORKBENCH_SHARED/data, "
    "else skipped with a note",
    "n_clips": "clips per synthetic task",
    "max_real_clips": "at most this many clips per real-data task, evenly spread over the dataset (0 = all)",
    "data_root": 'folder holding the real datasets ("" = $WORKBENCH_DATA, else ./data, then $WORKBENCH_SHARED/data)',
    "n_seeds": "linear-probe seeds per cell: the score is their mean ± 95 % CI over probe trainings on a fixed encoder",
    "learning_rate": "Adam learning rate of the probe (0 = chosen per cell and layer from a grid on validation clips)",
    "batch_size": "linear-probe batch size, in clips",
    **common("world_seed", "protocol", "n_folds", "max_epochs", "patience", "device"),
}
