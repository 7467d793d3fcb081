"""What each parameter of the ``diff_byola`` recipe means (``workbench params diff_byola --explain``); the
paper's values are from Takeuchi et al., "Towards Learning a Difference-Aware General-Purpose Audio
Representation" (Sec. 4-5), and BYOL-A (Niizumi et al.) where the paper follows it."""

from workbench.recipes.base.explain import common

FIELD_HELP = {
    **common("world_seed", "protocol", "max_epochs", "patience", "cpu_threads"),
    "pretrain_dataset": "unlabelled pre-training audio: a name from `workbench datasets` (the paper: 200,000 "
    "AudioSet files, Sec. 5.1)",
    "data_root": 'data root of a real pre-training dataset ("" = $WORKBENCH_DATA, else ./data), or for '
    'pretrain_dataset "folder" the folder of your audio itself ("{shared}/..." = under $WORKBENCH_SHARED)',
    "pretrain_tasks": "synthetic pre-training: the clip families mixed (event | speaker | word | pitch)",
    "n_pretrain_clips": "pre-training clips (per task for the synthetic world; the paper: 200,000)",
    "channels": "AudioNTT2020 convolution channels (BYOL-A: 64)",
    "embedding_dim": "representation size d (BYOL-A: 512, 1024 or 2048)",
    "projection_dim": "BYOL projection size (BYOL-A: 256)",
    "hidden_dim": "hidden width of the projector and predictors (BYOL-A: 4096)",
    "difference_weights": "lambda of each pre-training, 0 to 1, in (1 - lambda) L_byol + lambda L_diff; 0 is "
    "plain BYOL-A (Sec. 5.1: 0, 0.1, 0.2, 0.5, 0.8)",
    "pretrain_seeds": "seeds of the pre-trainings: one per seed and lambda; claims pair lambdas over seeds",
    "max_seeds": "0: train exactly pretrain_seeds; N >= 3: add paired pre-training seeds one at a time, up to N "
    "in all, until the headline BgKnown claim is settled (anytime-valid confidence sequence)",
    "epochs": "pre-training epochs, passes over the pre-training clips (Sec. 5.1: 100)",
    "batch_size": "pre-training batch size, in clips (BYOL-A: 256)",
    "learning_rate": "Adam learning rate of pre-training (Sec. 5.1: 0.001; BYOL-A: 3e-4)",
    "lr_schedule": "pre-training learning rate over the epochs: constant (BYOL-A, the paper) | cosine "
    "(annealed to 0; the default: at the constant rate the small bed's loss did not flatten within the budget)",
    "ema_decay": "decay of the target network's exponential moving average, per step (BYOL-A: 0.99)",
    "mixing": "how the difference branch mixes two clips: normalized (the paper's formula, Sec. 4; gamma ~ "
    "U(0.4, 0.6), Sec. 5.1) | power (in mel power)",
    "augmentation": "BYOL-A augmentations: v1 (mixup + random resize crop) | v2 (+ random linear fader, Sec. 3)",
    "memory_size": "mixup memory of past log-mel crops (BYOL-A v1: 2048; v2: 512)",
    "unit_frames": "frames per pre-training crop, 10 ms each (BYOL-A: 96 = 0.96 s)",
    "bgknown_dataset": "labelled clips of BgKnown (Table 1): synthetic events, or a class dataset such as esc50",
    "bgknown_root": 'data root of a real BgKnown dataset ("" = the default; "{shared}/..." = under $WORKBENCH_SHARED)',
    "n_bgknown_clips": "labelled clips mixed over backgrounds (synthetic: how many to render)",
    "n_backgrounds": "background textures of 10 s the BgKnown crops come from",
    "n_retrieval_scenes": "scenes of the retrieval task (Table 2 style), one text-modified query each",
    "n_distractors": "gallery distractors per query: the same scene with another event class",
    "text_encoder": "query-modifier text encoder: frozen (small, pretrained once, then frozen as the paper's "
    "DistilBERT) | small (trained) | distilbert",
    "retrieval_epochs": "adapter training steps, full batch (Sec. 5.3: 300 epochs)",
    "general_tasks": "tasks of the general-purpose linear evaluation (Table 3 style): synthetic tasks",
    "n_general_clips": "clips per general task",
    "n_probe_seeds": "seeds of every linear probe; scores pool folds x seeds (Sec. 5.4: 3)",
    "n_adapter_seeds": "seeds of the retrieval adapter; recall is their mean ± 95 % CI (Sec. 5.3: 3)",
    "bgknown_backgrounds": "BgKnown backgrounds: synthetic (long, one per item, disjoint seed pools) | "
    "recorded | folder | textures",
    "background_root": 'recorded: data root holding esc10/ and fsdd/; folder: the folder of your recordings '
    '("{shared}/..." allowed)',
    "background_seconds": "length of each synthetic long background, in seconds (at least twice a clip)",
    "bgknown_max_epochs": "BgKnown probe: epochs at most (Sec. 5.2: 200)",
    "bgknown_patience": "BgKnown probe: epochs without a lower validation loss before stopping",
    "n_bgknown_probe_seeds": "BgKnown probe seeds (Sec. 5.2: three)",
    "n_mels": "log-mel bins of pre-training and embedding, a multiple of 8 (BYOL-A and the paper, Sec. 5.1: 64)",
    "window_ms": "log-mel window, in milliseconds (BYOL-A's code: 64; the paper, Sec. 5.1: 25)",
    "f_min": "log-mel lowest frequency, in Hz (BYOL-A: 60; the paper, Sec. 5.1: 50)",
    "f_max": "log-mel highest frequency, in Hz (BYOL-A: 7800; the paper, Sec. 5.1: 8000)",
    "pretrain_backgrounds": "pre-train on clips mixed over backgrounds: none | synthetic | recorded | both",
    "n_pretrain_backgrounds": "synthetic long backgrounds for pre-training (also added as clips)",
}
