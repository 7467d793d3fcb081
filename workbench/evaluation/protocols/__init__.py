"""Evaluation protocols: which clips train and which test, chosen to fit the data actually present.

Every recipe that scores embeddings or models takes one ``protocol`` parameter (and ``n_folds``):

- ``"official"``: the dataset's own folds (leave one fold out) or its train/test splits;
- ``"kfold"``: stratified k-fold over all clips; on data with source groups the plan counts the test
  clips that share a source recording with training clips, and a warning says how many;
- ``"grouped-kfold"``: stratified k-fold that keeps every source group (an ESC-50 ``src_file``, an FSDD
  speaker for digit tasks, an UrbanSound8K ``fsID``, a folder dataset's ``group`` column) inside one fold,
  so clips cut from one recording never sit in training and test at once;
- ``"auto"``: ``"official"`` only when every official fold can be trained on (every test class present
  in training, every test fold holding each of its classes at least once... see :func:`official_problems`),
  otherwise ``"grouped-kfold"`` where groups exist, else ``"kfold"``; the plan says why in ``note``.

The grouped protocols (and ``auto``'s k-fold) score what the data allow under one stated rule: a
single-label class whose clips all come from one source recording (or, without groups, a single clip)
can never be both trained and tested, so its clips leave training and test and the plan names it
(``"49 of 50 classes scored; washing_machine: one source recording"``), never a silent drop. A protocol
that cannot work raises a ``ValueError`` naming the fold and the classes missing and the alternatives
that would work here (each tried first); never a silent degenerate split. :func:`plan_dataset_protocol`
makes the plan from a dataset's metadata, before any embedding or training. Model selection uses
validation clips carved from the training side by :func:`carve_validation`, never the test scores.

Modules: :mod:`.plan` (the choice), :mod:`.kfold` (k-fold partitions, exclusions, leaks),
:mod:`.validation`, :mod:`.notices` (one short warning per run and cause) and :mod:`.dataset`
(planning from a dataset's metadata).
"""

from workbench.evaluation.protocols.dataset import ProtocolInputs, plan_dataset_protocol, protocol_inputs
from workbench.evaluation.protocols.kfold import DEFAULT_FOLDS, ExcludedClass, Fold
from workbench.evaluation.protocols.notices import ProtocolWarning, announce, one_warning_per_cause, warning_text
from workbench.evaluation.protocols.plan import (
    MIN_FOLD_SHARE,
    PROTOCOLS,
    Problem,
    ProtocolPlan,
    official_partitions,
    official_problems,
    plan_protocol,
)
from workbench.evaluation.protocols.validation import carve_validation

__all__ = [
    "DEFAULT_FOLDS",
    "ExcludedClass",
    "Fold",
    "MIN_FOLD_SHARE",
    "PROTOCOLS",
    "Problem",
    "ProtocolInputs",
    "ProtocolPlan",
    "ProtocolWarning",
    "announce",
    "carve_validation",
    "official_partitions",
    "official_problems",
    "one_warning_per_cause",
    "plan_dataset_protocol",
    "plan_protocol",
    "protocol_inputs",
    "warning_text",
]
