"""The recipe's parameters and the paper's rows: :class:`Params` and its checks, the rows of Tables 1
and 2 (:data:`ROWS`), and the optimiser and schedule of every training of the recipe (:func:`train_config`)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from workbench.errors import ParameterError
from workbench.recipes import base
from workbench.train.loop import TrainConfig

NAME = "care_sep"
CODE_VERSION = 1
"""The version of this recipe's computation; it enters every run id and cache key of the recipe, its sub-runs
included. Bump it (one line) when a change of code changes what a run computes from the same parameters and
data, so that finished runs are computed again instead of read back (README, "When to bump a code version")."""
NOTEBOOK = "04_care_sep.ipynb"
TRAIN_NAME = f"{NAME}-train"
INIT_CACHE = f"{NAME}-init"
SAMPLE_RATE = 16000
MODEL_SIZES = ("tiny", "paper", "paper-large")
SCHEDULES = ("paper", "constant")
WO_GRAD = ("query-branch", "frozen-encoder")
"""The two readings of "w/o Grad" (rows D and F, a shared encoder without gradient). The paper (Sec. 4.3):
"*Grad* refers to the gradient backpropagation during the training (not freezing)."

- ``"query-branch"``: the query is computed under ``no_grad``, so the separation loss reaches the shared
  encoder only through the separation pass (the encoder still trains as the separator's encoder);
- ``"frozen-encoder"``: "not freezing" read literally: without Grad the shared encoder (band encoder,
  patch embedding, Swin groups, connector, everything the query is made with) is frozen, its parameters
  never receive a gradient and its BatchNorm stays in eval mode; only the decoder and the query
  conditioning train. Rows with a separate query network (A, G) are frozen in either reading."""
TRAIN_QUERIES = ("class-mean", "self")
"""Where a training triplet's query ``e_j`` comes from. The paper (Sec. 2.1): "we use anchor audios to
obtain fixed-dimensional query embeddings e_1, e_2 ... we send two training triplets (a, a_1, e_1),
(a, a_2, e_2) into the CaRE-SEP model".

- ``"class-mean"``: the mean embedding of ``query_clips`` other clips of source ``j``'s class (anchor
  audios, never the source itself), as at test time;
- ``"self"``: the embedding of the source clip ``a_j`` itself, as the code of the cited zero-shot
  separation system ([4], ST-SED-SEP, Chen et al., AAAI 2022) queries each source in training.

Test queries are the class means of the test anchors in both."""
METRICS = ("mixture_sdr", "clean_sdr", "silence_sdr", "sdri")
METRIC_NAMES = {"mixture_sdr": "mixture-SDR", "clean_sdr": "clean-SDR", "silence_sdr": "silence-SDR",
                "sdri": "SDRi", "map": "tagging mAP"}  # fmt: skip
PAPER_WARMUP = (0.05, 0.1, 0.2)
"""Learning-rate factors of the first three epochs; then halved every ten epochs down to 0.05 (Sec. 3.2)."""


@dataclass(frozen=True)
class Row:
    """One row of the paper's tables: which separator, where its query comes from, what it trains for.

    Attributes:
        name: the paper's name of the row.
        grad: the separation loss trains the query path (else the query is computed without gradient; a
            separate query network is then frozen).
        init: the query encoder starts from the Init classifier.
        shared: the query comes from the separator's own encoder (else from ST-SED's separate network).
        separator: ``"swin-unet"`` (CaRE-SEP's) or ``"resunet"`` (ST-SED-SEP's CNN), or ``"none"`` (CLS).
        tagging: the tagging BCE is trained too (CLS+SEP; CLS trains nothing else).
        paper_mixture_sdr: the paper's mixture-SDR of the row (Table 2 / Table 1, dB), None for CLS.
    """

    name: str
    grad: bool
    init: bool
    shared: bool
    separator: str = "swin-unet"
    tagging: bool = False
    paper_mixture_sdr: float | None = None

    def flags(self) -> str:
        mark = {True: "✓", False: "✗"}
        return f"Grad {mark[self.grad]} Init {mark[self.init]} Shared {mark[self.shared]}"


ROWS: dict[str, Row] = {
    "A": Row("2048-d ST-SED-SEP", grad=False, init=True, shared=False, separator="resunet", paper_mixture_sdr=10.55),
    "B": Row("w/ Grad", grad=True, init=True, shared=False, separator="resunet", paper_mixture_sdr=10.77),
    "C": Row("768-d CaRE-SEP", grad=True, init=True, shared=True, paper_mixture_sdr=13.14),
    "D": Row("w/o Grad", grad=False, init=True, shared=True, paper_mixture_sdr=10.09),
    "E": Row("w/o Init", grad=True, init=False, shared=True, paper_mixture_sdr=11.33),
    "F": Row("w/o Grad&Init", grad=False, init=False, shared=True, paper_mixture_sdr=9.14),
    "G": Row("w/o Grad&Shared", grad=False, init=True, shared=False, paper_mixture_sdr=10.34),
    "CLS+SEP": Row("768-d CaRE-CLS+SEP", grad=True, init=True, shared=True, tagging=True, paper_mixture_sdr=11.48),
    "CLS": Row("768-d CaRE-CLS", grad=True, init=True, shared=True, separator="none", tagging=True),
}
"""The paper's Table 2 rows A-G with its letters, names and flags (Grad, Init, Shared encoder), and
Table 1's joint CaRE-CLS+SEP and tagging-only CaRE-CLS. A, B and G take the query from ST-SED's separate
HTS-AT-style classifier (:class:`~workbench.models.stsed_sep.StSedQueryNet`); A and B separate with the
CNN (:class:`~workbench.models.stsed_sep.ResUNetSeparator`), G with CaRE-SEP's Swin-UNET ("the Swin-UNET
with an extra classifier", Sec. 4.3). C is CaRE-SEP, trained for separation only."""
BASELINE, CARE_SEP = "A", "C"


@dataclass(frozen=True)
class Params(base.Params):
    recipe: ClassVar[str] = NAME

    dataset: str = "synthetic"  # synthetic (the world's separation pairs) | a class dataset: esc10, esc50, ...
    data_root: str = ""  # data root of a real dataset ("" = the default; "{shared}/data" = the shared clips)
    world_seed: int = 0  # seed of the synthetic world (classes, clips, anchors) and of the real-data pairing
    n_mixtures: int = 240  # synthetic pairs (train + valid folds train, the test fold tests)
    n_event_classes: int = 16  # synthetic event classes (beyond 10, template siblings that overlap in spectrum)
    duration: float = 0.5  # seconds per clip (real clips: the loudest window of this length)
    test_fraction: float = 0.25  # real data: share of each class's clips held out for testing
    pairs_per_clip: int = 2  # real data: training mixtures per clip (each with a random other-class clip)
    n_anchors: int = 8  # synthetic: query clips per class (as many more, disjoint, for testing)
    query_clips: int = 2  # clips averaged into one training query
    model_size: str = "tiny"  # tiny | paper (D=96, query 768) | paper-large (D=256, query 2048)
    rows: tuple[str, ...] = ("A", "C")  # rows of Table 2 (A-G) and Table 1 (CLS+SEP, CLS); A ST-SED-SEP, C CaRE-SEP
    seeds: tuple[int, ...] = (0, 1, 2)  # one training per row and seed; claims pair rows over seeds and test mixtures
    pretrain_epochs: int = 8  # epochs of the Init classifiers' pretraining (cached once)
    epochs: int = 8  # separation training epochs per row (chosen on validation pairs, with the rate and batch)
    batch_size: int = 8  # batch size of all trainings (the paper: 96)
    learning_rate: float = 1e-2  # AdamW base rate, chosen on validation pairs (the schedule's factors multiply it)
    tagging_weight: float = 1.0  # weight of the tagging BCE of row CLS+SEP (no other row has one)
    mae_weight: float = 1.0  # weight of the waveform MAE next to the negative SDR
    figure_classes: tuple[int, ...] = (0, 1)  # the two classes of the Figure-3 analysis (t-SNE, KL)
    n_figure_points: int = 24  # clips per class and kind in the Figure-3 analysis (the paper: 70)
    device: str = "auto"  # auto (cuda when available) | cpu | cuda
    cpu_threads: int = 1  # torch CPU threads (1: the same numbers on any machine, fastest on a busy one)
    schedule: str = "paper"  # paper (warm-up 0.05, 0.1, 0.2, then halved every step_epochs to 0.05) | constant
    step_epochs: int = 4  # paper schedule: epochs between halvings, counted from the start (Sec. 3.2: 10)
    weight_decay: float = 5e-4  # AdamW weight decay (Sec. 3.2)
    init_classes: int = 24  # Init: event classes of the pretraining source (the pairs' classes come first)
    init_clips: int = 480  # Init: single event clips of the pretraining source (the pairs have 2 x 192 sources)
    init_learning_rate: float = 2e-3  # Init pretraining: AdamW at this constant rate (the rows: learning_rate)
    wo_grad: str = "query-branch"  # what "w/o Grad" (rows D, F) stops: query-branch | frozen-encoder
    train_query: str = "class-mean"  # training queries: class-mean (of query_clips other clips) | self (own clip)
    max_seeds: int = 0  # 0: exactly seeds; N >= 3: add paired seeds one at a time until C vs A is settled, N at most

    checks: ClassVar[dict[str, Any]] = {
        "dataset": base.OneOf("dataset", base.dataset_names),
        **dict.fromkeys(("learning_rate", "init_learning_rate"), base.POSITIVE),
        "device": base.Device(),
        **dict.fromkeys(("tagging_weight", "mae_weight"), base.NON_NEGATIVE),
        "seeds": base.NonEmpty(distinct=True),
        "model_size": base.OneOf("model_size of recipe 'care_sep'", MODEL_SIZES),
        "rows": (base.NonEmpty(distinct=True), base.OneOf("ablation row of recipe 'care_sep'", tuple(ROWS))),
        "test_fraction": base.Bound(0, 1, low_open=True, high_open=True),
        **dict.fromkeys(
            ("n_mixtures", "n_anchors", "query_clips", "pretrain_epochs", "epochs", "batch_size", "pairs_per_clip",
             "cpu_threads", "n_figure_points"),
            base.AT_LEAST_ONE,
        ),
        "n_event_classes": base.at_least(2),
        "schedule": base.OneOf("schedule of recipe 'care_sep'", SCHEDULES),
        "init_classes": base.at_least(2),
        "init_clips": base.AT_LEAST_ONE,
        "weight_decay": base.NON_NEGATIVE,
        "step_epochs": base.AT_LEAST_ONE,
        "wo_grad": base.OneOf("wo_grad of recipe 'care_sep'", WO_GRAD),
        "train_query": base.OneOf("train_query of recipe 'care_sep'", TRAIN_QUERIES),
    }

    def __post_init__(self) -> None:
        super().__post_init__()
        if all(ROWS[row].separator == "none" for row in self.rows):
            raise ParameterError("parameter 'rows' needs at least one separating row besides CLS, e.g. A,C,CLS")
        minimum = (1024 // 2 + 1) / SAMPLE_RATE
        if not self.duration >= minimum:
            raise ParameterError(
                f"parameter 'duration' must be at least {minimum:.3f} s (one STFT window at {SAMPLE_RATE} Hz), "
                f"got {self.duration}"
            )
        if self.max_seeds:
            self._check_seed_budget()
        if len(self.figure_classes) != 2 or self.figure_classes[0] == self.figure_classes[1]:
            raise ParameterError(
                f"parameter 'figure_classes' must name two different classes, got {self.figure_classes}"
            )

    def _check_seed_budget(self) -> None:
        """``max_seeds`` decides the headline claim (C vs A) sequentially: it needs both rows and the seeds
        the confidence sequence needs before its first look."""
        if self.max_seeds < base.seeding.MIN_SEEDS:
            raise ParameterError(
                f"parameter 'max_seeds' must be 0 (train exactly seeds) or at least {base.seeding.MIN_SEEDS} "
                f"(the seeds the confidence sequence needs before its first look), got {self.max_seeds}"
            )  # fmt: skip
        if BASELINE not in self.rows or CARE_SEP not in self.rows:
            raise ParameterError(
                f"parameter 'max_seeds' adds seeds until the claim '{CARE_SEP} vs {BASELINE}' is settled: rows must "
                f"hold {BASELINE} and {CARE_SEP}, got {','.join(self.rows)} (or set max_seeds: 0)"
            )  # fmt: skip


_PAPER_WIDTH = re.compile(r"\b\d+-d\b")
"""The query width in a row's paper name ("2048-d ST-SED-SEP", "768-d CaRE-SEP")."""


def row_label(row: str, width: int | None = None) -> str:
    """How tables name a row: the paper's ``"A 2048-d ST-SED-SEP"``, ``"C 768-d CaRE-SEP"``, or with
    ``width`` (the query width the row's system really has) that width in place of the paper's:
    ``"A 128-d ST-SED-SEP"`` at the tiny size."""
    name = ROWS[row].name if width is None else _PAPER_WIDTH.sub(f"{int(width)}-d", ROWS[row].name, count=1)
    return f"{row} {name}"


# --------------------------------------------------------------------------------------------------
# The optimiser and schedule of every training (the Init pretraining and each row)

_OPTIMISER_KEYS = ("batch_size", "learning_rate", "schedule", "step_epochs", "weight_decay")


def _keys(params: Params, keys: Sequence[str]) -> dict[str, Any]:
    values = params.to_dict()
    return {key: values[key] for key in keys}


def train_config(epochs: int, params: Params, seed: int) -> TrainConfig:
    """AdamW (0.9, 0.999, eps 1e-8) with ``params.weight_decay``; ``schedule="paper"``: warm-up factors 0.05,
    0.1, 0.2 over the first three epochs, then halved every ``params.step_epochs`` epochs (the paper: ten)
    down to 0.05 (Sec. 3.2)."""
    schedule: dict[str, Any] = {"schedule": "constant"}
    if params.schedule == "paper":
        schedule = dict(schedule="warmup_step", warmup_factors=PAPER_WARMUP, step_epochs=params.step_epochs, step_gamma=0.5,
                        min_factor=0.05)  # fmt: skip
    return TrainConfig(
        epochs=epochs, optimizer="adamw", lr=params.learning_rate, betas=(0.9, 0.999),
        weight_decay=params.weight_decay, seed=seed, grad_clip=5.0, checkpoint_every=max(1, epochs // 2),
        log_every=0, **schedule,
    )  # fmt: skip
