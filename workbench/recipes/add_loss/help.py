"""What each parameter of the ``add_loss`` recipe means (``workbench params add_loss --explain``); the
paper's values are from Almudévar et al., "Angular Distance Distribution Loss for Audio
Classification", Table 1 (AST column first, then BEATs) and Eq. 1-5."""

from workbench.recipes.base.explain import common

FIELD_HELP = {
    "seed_parallel": "train a fold's repeats together as one vectorised model (torch.func): auto (where faster: "
    "CUDA), on, off; results equal the sequential runs' and share their run ids",
    **common("dataset", "task", "data_root", "folder_labels", "world_seed", "protocol", "n_folds"),
    "data_root": 'folder holding the real datasets ("" = $WORKBENCH_DATA, else ./data; "{shared}/data" = the '
    'shared copy); for dataset "folder": the folder of your audio itself ("{shared}/..." allowed)',
    "n_clips": "clips rendered in the synthetic world (synthetic data only)",
    "clip_seconds": "clip length in seconds: every clip is cut or zero-padded to it (ESC-50: 5 s; KS2: 1 s)",
    "folds": 'test folds: "first" (one fold), "all" (cross-validation, the paper\'s 5-fold) or a list "1,3"; '
    "datasets with official splits ignore it",
    "encoder": "the encoder fine-tuned: a name from `workbench weights` or workbench.models.zoo (pretrained "
    "names load their weights; the paper: AST and BEATs)",
    "pretrained_path": 'local checkpoint file for a pretrained encoder name ("" = the cached download; '
    '"{shared}/..." = under $WORKBENCH_SHARED); its sha256 is part of the run id and provenance.json',
    "input_frames": "AST-style encoders: spectrogram frames per clip, 10 ms each (0 = the model's own length)",
    "window_type": 'Kaldi fbank window ("" = the encoder\'s own; Table 1: AST hanning, BEATs povey)',
    "freq_mask": "SpecAugment: widest frequency mask, in mel bins (0 = none; Table 1, AST: 24 ESC / 48 KS2)",
    "time_mask": "SpecAugment: widest time mask, in frames of 10 ms (0 = none; Table 1, AST: 96 ESC / 48 KS2)",
    "mixup": "probability that a training clip is mixed with another of its batch, 0 to 1 (Table 1: 0.5 on "
    "KS2, 0 elsewhere)",
    "mixup_alpha": "mixing weight drawn from Beta(alpha, alpha) (the ADD code: 10)",
    "mixup_criterion": "loss on mixed targets: soft cross-entropy (ce), or binary cross-entropy (bce) as the "
    "ADD code",
    "epochs": "passes over the training clips (Table 1: AST 25, BEATs 30)",
    "batch_size": "clips per optimiser step (Table 1: AST 32, BEATs 16)",
    "optimizer": "adamw (decoupled weight decay, Table 1 AST) or adam (L2 weight decay, Table 1 BEATs)",
    "learning_rate": "peak learning rate (Table 1, AST: 7e-4 ESC and ER, 6e-5 KS2; BEATs: 8e-6 / 1e-4)",
    "beta1": "Adam's first-moment decay (Table 1: AST 0.9, BEATs 0.95)",
    "beta2": "Adam's second-moment decay (Table 1: AST 0.98, BEATs 0.999)",
    "weight_decay": "weight decay per step, scaled by the learning rate (Table 1: AST 1e-2, BEATs 5e-6)",
    "schedule": "learning-rate schedule over the epochs: constant | cosine | warmup_cosine | step",
    "warmup_epochs": "epochs of linear warm-up from 0 to learning_rate (warmup_cosine only)",
    "step_epochs": 'epochs between decays of the "step" schedule',
    "step_gamma": 'factor the learning rate is multiplied by at each decay of the "step" schedule',
    "loss": "training loss: ce | focal | opl | add (OPL and ADD add their term to cross-entropy; Sec. 4.5, Table 2)",
    "lambda_mu_p": "ADD (Eq. 5): weight of mu_p, the mean squared distance of same-class pairs (intra-class "
    "clustering)",
    "lambda_sigma_p": "ADD (Eq. 5): weight of sigma_p, their standard deviation (intra-class equidistance)",
    "lambda_mu_n": "ADD (Eq. 5): weight of mu_n, the mean squared similarity of different-class pairs "
    "(inter-class separation)",
    "lambda_sigma_n": "ADD (Eq. 5): weight of sigma_n, their standard deviation (inter-class equidistance)",
    "focal_gamma": "focal loss focusing exponent gamma (Lin et al.: 2)",
    "opl_gamma": "OPL: weight of its different-class term against its same-class term (Ranasinghe et al.: 0.5)",
    "auxiliary_weight": "weight of the OPL or ADD term added to cross-entropy",
    "variants": 'losses compared in one run, e.g. "ce,focal,opl,add,add-1010" (add-1010: lambda = {1,0,1,0}, '
    'Sec. 4.4; "" = only the loss above)',
    "repeats": "training seeds per test fold; accuracy is their mean ± std (the paper: 3, Table 2); claims over "
    "one split take the paired t over them, over several folds the corrected resampled t (Nadeau & Bengio 2003)",
    "seed": "seed of the first repeat (repeat r uses seed + r)",
    "max_seeds": "0: train exactly `repeats`; N >= 3: add repeats one at a time, up to N, until ADD {1,1,1,1} vs CE "
    "accuracy is settled by an anytime-valid confidence sequence (each repeat its own run: a larger N continues)",
    "geometry_classes": "class indices of the distance analysis of Fig. 5 (empty = every test class)",
    "keep_checkpoints": "keep each fold's trained model in the run folder (hundreds of MB for base-size "
    "encoders)",
    "num_workers": "DataLoader worker processes reading clips (0 = read in the main process)",
    "preload": "read every clip once into memory (turn off for Speech Commands, about 8 GB)",
    "add_form": "ADD as written (paper: Eq. 1-4, squared distances) or as the official code computes its "
    "moments (official)",
    "opl_absolute_negatives": "OPL: |cos| over different-class pairs (the paper and the ADD repository) instead "
    "of cos",
    "opl_weight": "weight of the OPL term (0 = auxiliary_weight; the ADD repository: 0.1)",
}
