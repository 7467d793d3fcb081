"""The recipe's settings: :class:`Params` with its checks, the loss variants a comparison names, and
:func:`canonical` (which fields a loss ignores, so that runs training the same thing share a run directory) and
:func:`identity` (what a run directory is identified by)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from workbench.errors import ParameterError, UnknownNameError
from workbench.evaluation.protocols import PROTOCOLS
from workbench.recipes import base

NAME = "add_loss"
CODE_VERSION = 1
"""The version of this recipe's computation; it enters every run id and cache key of the recipe, its sub-runs
included. Bump it (one line) when a change of code changes what a run computes from the same parameters and
data, so that finished runs are computed again instead of read back (README, "When to bump a code version")."""
NOTEBOOK = "01_add_loss.ipynb"

LossName = Literal["ce", "focal", "opl", "add"]
WindowType = Literal["", "hanning", "hamming", "povey", "rectangular", "blackman"]


@dataclass(frozen=True)
class Params(base.Params):
    recipe: ClassVar[str] = NAME

    # --- data
    dataset: str = "synthetic"  # synthetic | esc50 | esc10 | speech_commands | iemocap | folder | ...
    task: str = ""  # the dataset's task option ("" = its default; synthetic: event | speaker | word | pitch)
    n_clips: int = 200  # clips in the synthetic world (synthetic only)
    world_seed: int = 0  # seed of the synthetic world (synthetic only)
    data_root: str = ""  # data root of real datasets ("" = default); for "folder": the folder of audio
    folder_labels: str = ""  # "folder" only: CSV filename,label[,fold][,split] ("" = one subfolder per class)
    clip_seconds: float = 0.5  # every clip is cut or zero-padded to this length (synthetic: rendered at it)
    folds: str = "first"  # test folds: "first", "all" (cross-validation) or "1,3"; official splits ignore it
    # --- encoder and front-end
    encoder: str = "ast-tiny"  # a name from workbench.models.zoo.encoder_names() (pretrained names load weights)
    pretrained_path: str = ""  # local checkpoint file for a pretrained encoder name ("" = cache / download)
    input_frames: int = 0  # AST-style encoders: spectrogram frames per clip (0 = the model's own length)
    window_type: WindowType = ""  # Kaldi fbank window ("" = the encoder's own: AST hanning, BEATs povey)
    # --- augmentation
    freq_mask: int = 0  # SpecAugment: widest frequency mask, in bins (0 = none)
    time_mask: int = 0  # SpecAugment: widest time mask, in frames (0 = none)
    mixup: float = 0.0  # probability that a training clip is mixed with another clip of its batch (0 = no mixup)
    mixup_alpha: float = 10.0  # mixing weight ~ Beta(alpha, alpha) (the ADD code: 10)
    mixup_criterion: Literal["ce", "bce"] = "ce"  # on mixup targets: soft cross-entropy, or BCE as the ADD code
    # --- optimisation
    epochs: int = 30  # passes over the training clips
    batch_size: int = 32  # clips per optimiser step
    optimizer: Literal["adamw", "adam"] = "adamw"  # Adam with decoupled (adamw) or L2 (adam) weight decay
    learning_rate: float = 1e-3  # peak learning rate
    beta1: float = 0.9  # Adam beta1
    beta2: float = 0.999  # Adam beta2
    weight_decay: float = 0.0  # weight decay
    schedule: Literal["constant", "cosine", "warmup_cosine", "step"] = "cosine"  # learning-rate schedule
    warmup_epochs: float = 0.0  # linear warm-up (warmup_cosine only)
    step_epochs: int = 1  # epochs between decays of the "step" schedule
    step_gamma: float = 1.0  # decay factor of the "step" schedule
    # --- loss
    loss: LossName = "add"  # ce | focal | opl | add (each but focal adds its term to cross-entropy)
    lambda_mu_p: float = 1.0  # ADD: weight of the mean of same-class squared distances
    lambda_sigma_p: float = 1.0  # ADD: weight of their standard deviation
    lambda_mu_n: float = 1.0  # ADD: weight of the mean of different-class squared similarities
    lambda_sigma_n: float = 1.0  # ADD: weight of their standard deviation
    focal_gamma: float = 2.0  # focal loss focusing parameter
    opl_gamma: float = 0.5  # OPL weight of its different-class term
    auxiliary_weight: float = 1.0  # weight of the OPL / ADD term added to cross-entropy
    variants: tuple[str, ...] = ()  # losses to compare, e.g. "ce,focal,opl,add,add-1010" ("" = the one above)
    # --- repetitions and outputs
    repeats: int = 1  # training seeds per fold; accuracy is reported as mean ± std over them
    seed: int = 0  # seed of the first repeat (repeat r uses seed + r)
    max_seeds: int = 0  # 0: exactly `repeats`; N >= 3: add repeats one at a time until ADD vs CE accuracy is settled, N at most
    geometry_classes: tuple[int, ...] = ()  # classes of the distance analysis (empty = every test class)
    keep_checkpoints: bool = False  # keep each fold's trained model (large for base-size encoders)
    num_workers: int = 0  # data-loader workers reading clips
    preload: bool = True  # read every clip once into memory (turn off for Speech Commands)
    add_form: Literal["paper", "official"] = "paper"  # ADD: Eq. 1-4 (squared distances) or the official code's moments
    opl_absolute_negatives: bool = False  # OPL: |cos| over different-class pairs (the paper and the ADD repository)
    opl_weight: float = 0.0  # weight of the OPL term (0 = auxiliary_weight; the ADD repository: 0.1)
    protocol: str = "auto"  # train/test partitions: auto | official | kfold | grouped-kfold (see evaluation.protocols)
    n_folds: int = 5  # folds of the kfold and grouped-kfold protocols
    seed_parallel: Literal["auto", "on", "off"] = "auto"  # a fold's repeats as one vectorised model: auto | on | off

    checks: ClassVar[dict[str, Any]] = {
        "dataset": base.OneOf("dataset", base.dataset_names),
        "n_clips": base.AT_LEAST_ONE,
        "clip_seconds": base.POSITIVE,
        "encoder": base.OneOf("encoder", base.encoder_names),
        "mixup": base.PROBABILITY,
        "mixup_alpha": base.POSITIVE,
        "epochs": base.AT_LEAST_ONE,
        "batch_size": base.AT_LEAST_ONE,
        "learning_rate": base.POSITIVE,
        "beta1": base.Bound(0, 1, high_open=True),
        "beta2": base.Bound(0, 1, high_open=True),
        "weight_decay": base.NON_NEGATIVE,
        "warmup_epochs": base.NON_NEGATIVE,
        "step_epochs": base.AT_LEAST_ONE,
        "step_gamma": base.POSITIVE,
        **dict.fromkeys(("lambda_mu_p", "lambda_sigma_p", "lambda_mu_n", "lambda_sigma_n"), base.NON_NEGATIVE),
        **dict.fromkeys(("focal_gamma", "opl_gamma", "auxiliary_weight"), base.NON_NEGATIVE),
        "repeats": base.AT_LEAST_ONE,
        "opl_weight": base.NON_NEGATIVE,
        "protocol": base.OneOf("evaluation protocol", PROTOCOLS),
        "n_folds": base.at_least(2),
    }

    def __post_init__(self) -> None:
        super().__post_init__()
        base.check_task(self.dataset, self.task)
        for key in self.variants:
            try:
                parse_variant(key)
            except UnknownNameError as error:
                raise UnknownNameError(error.kind, error.name, error.valid, parameter="variants") from None
        if len(set(self.variants)) != len(self.variants):
            raise ParameterError(f"parameter 'variants' lists a loss twice: {', '.join(self.variants)}")
        if self.max_seeds:
            self._check_seed_budget()
        if self.folds not in ("first", "all"):
            numbers = [part.strip() for part in self.folds.split(",")]
            if not all(part.isdigit() for part in numbers):
                raise ParameterError(
                    f"parameter 'folds' must be 'first', 'all' or fold numbers like '1,3', got {self.folds!r}"
                )


    def _check_seed_budget(self) -> None:
        """``max_seeds`` decides the headline claim (ADD {1,1,1,1} against CE on accuracy) sequentially: it
        needs both losses among the variants and the seeds the confidence sequence needs before its first look."""
        if self.max_seeds < base.seeding.MIN_SEEDS:
            raise ParameterError(
                f"parameter 'max_seeds' must be 0 (train exactly `repeats`) or at least {base.seeding.MIN_SEEDS} "
                f"(the seeds the confidence sequence needs before its first look), got {self.max_seeds}"
            )
        if "ce" not in self.variants or not {"add", "add-1111"} & set(self.variants):
            raise ParameterError(
                "parameter 'max_seeds' adds repeats until the claim 'ADD {1,1,1,1} is more accurate than CE' is "
                f"settled: variants must hold ce and add, got {list(self.variants) or 'none'} (or set max_seeds: 0)"
            )


# --------------------------------------------------------------------------------------------------
# Loss variants


@dataclass(frozen=True)
class Variant:
    """One loss configuration of a comparison: its key in ``Params.variants`` and the params it sets."""

    key: str
    changes: dict[str, Any]

    def label(self, params: Params) -> str:
        """The display name: ``CE``, ``Focal``, ``OPL`` or ``ADD {mu_p,sigma_p,mu_n,sigma_n}``."""
        return loss_label(params.replace(**self.changes))


def loss_label(params: Params) -> str:
    """How tables and figures name the loss ``params`` trains, e.g. ``"ADD {1,0,1,0}"``."""
    if params.loss == "add":
        lambdas = (params.lambda_mu_p, params.lambda_sigma_p, params.lambda_mu_n, params.lambda_sigma_n)
        return "ADD {" + ",".join(f"{value:g}" for value in lambdas) + "}"
    return {"ce": "CE", "focal": "Focal", "opl": "OPL"}[params.loss]


VARIANT_FORMS = ("ce", "focal", "opl", "add", "add-<four 0/1 digits, e.g. 1010>")
DEFAULT_VARIANTS = ("ce", "focal", "opl", "add", "add-1000", "add-0100", "add-0010", "add-0001", "add-1010")
"""The notebook's comparison: the baselines, ADD {1,1,1,1}, each single term, and the two means."""


def parse_variant(key: str) -> Variant:
    """``"ce"``, ``"focal"``, ``"opl"``, ``"add"`` (the Params lambdas) or ``"add-1010"`` (lambdas
    mu_p, sigma_p, mu_n, sigma_n switched on or off).

    Raises:
        UnknownNameError: any other key (the message lists the forms).
    """
    if key in ("ce", "focal", "opl", "add"):
        return Variant(key, {"loss": key})
    digits = key.removeprefix("add-")
    if key.startswith("add-") and len(digits) == 4 and set(digits) <= {"0", "1"}:
        lambdas = dict(zip(("lambda_mu_p", "lambda_sigma_p", "lambda_mu_n", "lambda_sigma_n"), map(float, digits)))
        return Variant(key, {"loss": "add", **lambdas})
    raise UnknownNameError("loss variant", key, VARIANT_FORMS)


def canonical(params: Params) -> Params:
    """``params`` with the fields its loss ignores set to their defaults, so that runs which train the
    same thing (CE with different ADD lambdas, say) share one run directory."""
    defaults = Params()
    unused: list[str] = ["variants", "max_seeds"]  # a loss trains the same whatever the comparison's seed budget
    if params.loss != "add":
        unused += ["lambda_mu_p", "lambda_sigma_p", "lambda_mu_n", "lambda_sigma_n", "add_form"]
    if params.loss != "focal":
        unused.append("focal_gamma")
    if params.loss != "opl":
        unused += ["opl_gamma", "opl_absolute_negatives", "opl_weight"]
    if params.loss not in ("opl", "add"):
        unused.append("auxiliary_weight")
    if params.mixup == 0:
        unused += ["mixup_alpha", "mixup_criterion"]
    if not params.dataset.startswith("synthetic"):
        unused += ["n_clips", "world_seed"]
    return params.replace(**{name: getattr(defaults, name) for name in unused})


NOT_IN_IDENTITY = ("seed_parallel",)
"""Fields that choose how runs are computed, never what they compute: left out of run ids, so that a fold's
repeats trained together and the same repeats trained one after another share their run directory."""


def identity(params: Params, repeat: int | None = None) -> dict[str, Any]:
    """What a run directory of ``params`` is identified by: its fields but :data:`NOT_IN_IDENTITY`; with
    ``repeat``, the run directory of that one repeat (``max_seeds`` adds repeats one at a time, each its own
    content-addressed run, so that a larger budget later reads the finished ones back): ``repeats`` gives way
    to ``repeat``."""
    fields = {name: value for name, value in params.to_dict().items() if name not in NOT_IN_IDENTITY}
    if not params.max_seeds:  # fixed repeats, as before max_seeds existed: the runs of then keep their ids
        del fields["max_seeds"]
    if repeat is None:
        return fields
    return {**{name: value for name, value in fields.items() if name != "repeats"}, "repeat": int(repeat)}
