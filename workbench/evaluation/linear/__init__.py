"""Linear evaluation of frozen embeddings, the protocol of BYOL-A and EVAR.

A single linear layer (optionally a small MLP) is trained on standardised embeddings of the training
clips with Adam and early stopping on a validation set, then scored on the test clips: accuracy for
single-label tasks, mean average precision (mAP) for multi-label ones. The protocol follows
Niizumi et al., "BYOL for Audio" (IJCNN 2021) and the EVAR suite (``nttcslab/eval-audio-repr``,
``TorchMLPClassifier2``): standardisation fitted on the training clips only, Adam, at most 200 epochs,
early stopping after 20 epochs without improvement of the validation metric, the best epoch's weights
restored. Repeating it over seeds gives a mean and a 95 % confidence interval.

Which clips train and which test is one ``protocol`` (:mod:`workbench.evaluation.protocols`):
``"official"`` folds or splits, stratified ``"kfold"``, ``"grouped-kfold"`` by source recording, or
``"auto"``, which leaves official folds that cannot be trained on and says so (a warning, and the
result's ``protocol_note``). Fold scores are averaged weighted by their test sizes. Validation clips
(early stopping, and the choice of the learning rate from ``LinearEvalConfig.learning_rates``) are
carved from the training side only, never from the test clips.

Every (seed, fold, learning rate) probe of one evaluation trains together as one batched linear model
(:func:`train_linear_batched`: a leading probe axis, ``torch.baddbmm``, features standardised once per
split, early stopping per probe, one host synchronisation per epoch); :func:`train_linear` is the
one-probe reference it is tested against (``engine="reference"``). Everything runs on the CPU and is
deterministic per seed.

The modules, in the order they import one another: :mod:`.config` (:class:`LinearEvalConfig` and the
names it accepts), :mod:`.single` (the one-probe engine), :mod:`.batched` (the batched engine and the
probes' spec and outcome), :mod:`.result` (:class:`LinearEvalResult`), :mod:`.splits` (protocol plans
and validation carving) and :mod:`.evaluate` (:func:`linear_evaluation`, the driver a reader opens first).
"""

from workbench.evaluation.linear.batched import (
    MEMORY_BUDGET_BYTES,
    ProbeOutcome,
    ProbeSpec,
    train_linear_batched,
    train_linear_reference,
)
from workbench.evaluation.linear.config import (
    ENGINES,
    LEARNING_RATE_GRID,
    LEGACY_PROTOCOLS,
    MONITORS,
    VALID_SPLIT_NAMES,
    LinearEvalConfig,
    Protocol,
)
from workbench.evaluation.linear.evaluate import linear_evaluation
from workbench.evaluation.linear.result import LinearEvalResult
from workbench.evaluation.linear.single import LinearClassifier, score_predictions, train_linear
from workbench.evaluation.linear.splits import EvaluationSplit, evaluation_splits, plan_for, resolve_protocol_name
from workbench.evaluation.protocols import PROTOCOLS

__all__ = [
    "ENGINES",
    "EvaluationSplit",
    "LEARNING_RATE_GRID",
    "LEGACY_PROTOCOLS",
    "LinearClassifier",
    "LinearEvalConfig",
    "LinearEvalResult",
    "MEMORY_BUDGET_BYTES",
    "MONITORS",
    "PROTOCOLS",
    "ProbeOutcome",
    "ProbeSpec",
    "Protocol",
    "VALID_SPLIT_NAMES",
    "evaluation_splits",
    "linear_evaluation",
    "plan_for",
    "resolve_protocol_name",
    "score_predictions",
    "train_linear",
    "train_linear_batched",
    "train_linear_reference",
]
