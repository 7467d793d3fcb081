"""Difference-aware BYOL-A: BYOL-A plus subtraction-consistent learning, and the evaluations that test it.

Takeuchi et al., "Towards Learning a Difference-Aware General-Purpose Audio Representation", on BYOL-A
(Niizumi et al., IJCNN 2021). BYOL-A learns by predicting, from one augmented view of a sound, the
moving-average target's projection of another view. Subtraction-consistent learning adds a branch: each
view ``v`` is mixed with its index-shifted neighbour, ``w = log(gamma exp(s(v)) + (1 - gamma) exp(v))``
with ``gamma ~ U(0.4, 0.6)``, and ``f(w) - gamma s(f(v))`` (what should remain once the neighbour is
subtracted) must predict, through the projector and a second predictor, the target projection of the
view; the loss is ``(1 - lambda) L_byol + lambda L_diff``.

:func:`run` pre-trains one encoder per ``lambda`` in ``difference_weights`` (and per pre-training seed)
on unlabeled audio (the synthetic world's event, word and pitch clips by default; any registered
dataset or a folder otherwise), then scores each with

- **BgKnown** (Table 1): linear evaluation of ``y_diff = f(mixture) - f(reference)`` for references
  overlapping the mixture's background crop by 100, 50 and 0 %, and of ``y_mix = f(mixture)``
  (:mod:`workbench.evaluation.bgknown`). Every item has its own time-varying background; items of folds
  1-3 (training) and 4-5 (test) draw from disjoint pools (disjoint seeds, or real recordings split by
  recording); the probe follows Sec. 5.2 (200 epochs at most, early stopping on the validation loss,
  3 probe seeds), and each λ is compared with λ = 0 on the SAME test items;
- **text-modified retrieval**: recall@1/5/10 of "this scene, plus a <event>" queries through a trained
  adapter on frozen encoders (:mod:`workbench.evaluation.retrieval`);
- **general-purpose linear evaluation** (Table 3): the synthetic world's event, speaker, word and pitch
  tasks, mean ± 95 % CI.

The claims: ``lambda > 0`` raises ``y_diff`` accuracy over ``lambda = 0`` (Table 1) and raises retrieval
recall (Table 2), each decided over the paired pre-training runs (probe and adapter seeds are nested
inside a run) through :mod:`workbench.evaluation.replication`, and reported with effect, interval, MDE and
verdict whichever way they come out. With ``max_seeds`` > 0 the pre-training seeds are added one at a
time until the first lambda's BgKnown claim is settled by an anytime-valid confidence sequence
(:mod:`workbench.recipes.base.seeding`), and every claim uses that sequence over the seeds used.
The defaults are notebook 02's test bed, sized so that three pre-training seeds per lambda (what a paired
t over runs needs to decide anything) fit its 200-s single-thread CPU budget: AudioNTT2020 with 8
channels over 32 mel bins, 32-frame crops, 64 clips per family (6 steps of 32 per epoch), 80 epochs. Each
pre-training's convergence is judged (:func:`workbench.train.convergence.loss_plateau`) on the BYOL loss of
fixed views measured after every epoch (:func:`.train.monitor_views`), which the epoch-mean training loss's
sampling noise (about 8 % per epoch here) would swamp. The learning rate is the paper's 0.001, annealed by a
cosine schedule: at the paper's constant rate the loss did not flatten within the budget (measured on this
bed over the same 80 epochs, seeds 0-2 fell -16.8, +2.4, -5.2 % at lambda 0 and -10.9, -0.4, -7.0 % at
lambda 0.5 over the last 20 epochs: four of six still falling).
Measured on it from a cold cache (185 s CPU, one thread; every pre-training flat, fitted falls -0.4 to
-4.9 %): BgKnown ``y_diff`` lambda 0.5 - 0 -0.011 [-0.179, +0.157] over 3 paired runs (MDE 0.221),
retrieval mean recall -0.046 [-0.156, +0.063] (MDE 0.144): both inconclusive; the paper's +0.029 lies
inside and is about an eighth of the MDE (seed-to-seed sd of the paired effect about 0.07).
Pre-trainings are run directories of their own (``runs/diff_byola-pretrain/<id>``), keyed by the
pre-training parameters only, so changing an evaluation parameter re-uses the trained encoders.

The package, one module per concern (imports run down this list): :mod:`.params` (``Params`` and the
constants), :mod:`.data` (pre-training clips, BgKnown items, general tasks), :mod:`.systems` (encoder and
learner), :mod:`.train` (one pre-training per lambda and seed), :mod:`.evaluate` (the three evaluations of
one encoder), :mod:`.claims` (the comparisons), :mod:`.result` (``DiffBYOLARun``) and :mod:`.run`, the
orchestration to read first.
"""

from workbench.recipes.diff_byola.params import (
    CODE_VERSION,
    BGKNOWN_BACKGROUNDS,
    BGKNOWN_COLUMNS,
    LR_SCHEDULES,
    MIXINGS,
    NAME,
    NOTEBOOK,
    PRETRAIN_BACKGROUND_SEED,
    PRETRAIN_BACKGROUNDS,
    PRETRAIN_FIRST_CLIP,
    PRETRAIN_NAME,
    SCENE_SECONDS,
    SYNTHETIC_TASKS,
    TEXT_ENCODERS,
    Params,
    model_label,
)
from workbench.recipes.diff_byola.data import (
    BackgroundMixtures,
    LogMelCrops,
    RenderedOnce,
    bgknown_builder,
    general_datasets,
    log_mel_clips,
    pretraining_backgrounds,
    pretraining_dataset,
    recipe_frontend,
)
from workbench.recipes.diff_byola.systems import DifferenceAwareBYOLA, encoder_config, make_encoder
from workbench.recipes.diff_byola.train import Pretrained, TargetUpdate, pretrain, pretraining_params
from workbench.recipes.diff_byola.evaluate import (
    Evaluation,
    bgknown_protocol,
    evaluate,
    pooled,
    pooled_tables,
    probe_config,
    text_encoder_factory,
)
from workbench.recipes.diff_byola.claims import PAPER_TABLE1, bgknown_paired, difference_claims, evaluation_claims
from workbench.recipes.diff_byola.result import DiffBYOLARun, mean_over
from workbench.recipes.diff_byola.run import run
from workbench.recipes.diff_byola.plan import plan as plan  # the stages of leaves `workbench launch` runs
from workbench.recipes.diff_byola.smoke import smoke, tiny as smoke_tiny  # noqa: F401  (workbench reproduce --smoke; the suite's tiny smoke)
