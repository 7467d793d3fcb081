"""What each parameter of the ``asc_tagging`` recipe means (``workbench params asc_tagging --explain``); the
paper's values are from Jung et al., "Acoustic Scene Classification using Audio Tagging" (Table 1-5,
Sec. 4.2); variants (a)-(e) are its Figure 2."""

from workbench.recipes.base.explain import common

FIELD_HELP = {
    **common("world_seed"),
    "dataset": "scene data: synthetic-scenes | dcase2019_task1a (the paper: DCASE 2019 task 1a, fold 1)",
    "data_root": 'folder holding the real datasets ("" = $WORKBENCH_DATA, else ./data; "{shared}/data" = under '
    "$WORKBENCH_SHARED; see data/README.md)",
    "n_clips": "synthetic scenes (train 80 % / test 20 % by the world's folds)",
    "clip_seconds": "length of the synthetic scene and tagging clips, in seconds (DCASE: 10)",
    "sample_rate": "sample rate the ASC network reads, in Hz (the paper: 48000)",
    "input_samples": "samples the ASC network reads from each clip's start (0 = the whole clip; Sec. 4.2: "
    "479999)",
    "tagger": "where tag vectors come from: trained (here, on tagger_dataset) | oracle (true tags, synthetic "
    "only) | efficientat-mn04 (pretrained AudioSet tagger)",
    "tagger_dataset": "tagging data of the trained tagger: synthetic-scenes | fsdkaggle2019 (the paper's "
    "tagger: DCASE 2019 task 2)",
    "tagger_subset": "FSDKaggle2019 subset: curated | noisy | train (both)",
    "tagger_clips": "synthetic tagging clips, disjoint from the scene clips",
    "tagger_seconds": "tagging clips are cropped or zero-padded to this length, in seconds",
    "tagger_sample_rate": "sample rate the trained tagger reads, in Hz",
    "tagger_width": "channels of the tagger's first stage (doubled per stage)",
    "tagger_stages": "residual stages of the tagger",
    "tagger_stem_stride": "stride of the tagger's first convolution (4: CPU-sized; 1: full resolution)",
    "tagger_epochs": "tagger training epochs",
    "tagger_lr": "tagger AdamW peak learning rate (warm-up, then cosine)",
    "mixup_alpha": "tagger mixup Beta(alpha, alpha) parameter (0 = off; Sec. 4.2 mixes both networks, see "
    "the presets)",
    "tagger_spec_augment": "tagger SpecAugment: two frequency and two time masks (Sec. 4.2)",
    "tagger_dropout": "dropout probability before the tagger's output layer, 0 to 1",
    "tagger_weights": 'local checkpoint of a pretrained tagger ("" = the registry\'s mirror, cache or download; '
    '"{shared}/..." = under $WORKBENCH_SHARED); its sha256 is part of the run id and of each network\'s',
    "filters": "filters of the ASC network's convolutions (Table 1: 128)",
    "code_dim": "size of the ASC code (Sec. 4.2: 64)",
    "variants": "fusion variants trained: baseline codecat concat transform_concat attention combined "
    "(Figure 2 (a)-(e))",
    "layers_before": "(c) FC layers on the tag vector before concatenation (Table 2's best: 3)",
    "layers_after": "(b, c) FC layers from the concatenation to the code",
    "hidden_dim": "width of the hidden FC layers on tags",
    "heads": "(d) attention heads (Table 3's best: 2)",
    "attention_layers": "(d) hidden FC layers before the attention projection (Table 3's best: 1)",
    "combined_concat": "(e) the concatenation joined with the attention: codecat | concat | transform_concat",
    "shared_transform": "(e) one tag transform for (c) and (d) (Table 5) or one each (Table 4)",
    "grid": "ablation grid: none | concat (Table 2) | attention (Table 3) | separate (Table 4) | shared (Table 5)",
    "grid_rows": "values of the grid's row axis (asc_tagging.GRID_AXES names it per grid)",
    "grid_columns": "values of the grid's column axis (asc_tagging.GRID_AXES names it per grid)",
    "epochs": "ASC training epochs",
    "batch_size": "clips per training step (ASC networks and tagger)",
    "learning_rate": "ASC AdamW peak learning rate (cosine schedule)",
    "weight_decay": "AdamW weight decay, scaled by the learning rate",
    "seeds": "training seeds; scores are their mean, claims pair variants over them",
    "svm_kernel": "SVM back-end kernel: rbf | sigmoid (Sec. 2.1)",
    "svm_c": "SVM regularisation C (larger: less regularised)",
    "threads": "torch threads while training (fixed, so results do not depend on the machine; 0 = torch's "
    "default)",
    "num_workers": "DataLoader worker processes reading audio (0 = read in the main process)",
    "cache_audio": "hold every clip in memory (false: stream from disk, for DCASE scale)",
    "combined_heads": "(e) attention heads of the combined fusion (Table 4-5's best: 4)",
    "combined_layers_before": "(e) tag transform layers of its concatenation; shared: of both (best: 3)",
    "combined_attention_layers": "(e) its attention's transform layers, separate transforms only",
    "asc_mixup_alpha": "ASC network mixup Beta(alpha, alpha) parameter (0 = off; Sec. 4.2 mixes both networks)",
    "tagger_blocks": "residual blocks per tagger stage (the paper-size tagger: 2)",
    "tagger_noisy_weight": "loss weight of FSDKaggle2019's noisy clips against curated ones (1), with "
    "tagger_subset=train",
    "protocol": "scene partitions: auto | official (the dataset's train/test split) | kfold | grouped-kfold",
}
