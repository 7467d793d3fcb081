"""What every recipe shares: validated ``Params``, the ``Result`` with its ``claims``, and presets.

A recipe module defines ``NAME``, ``NOTEBOOK`` (the notebook file that runs it), a ``Params``
dataclass subclassing :class:`Params`, a ``Result`` subclassing :class:`Result`, and
``run(params) -> Result``.

The modules, one per concern:

- :mod:`~workbench.recipes.base.params`: :class:`Params`: type coercion and the checks of every value.
- :mod:`~workbench.recipes.base.checks`: the range and name checks a recipe's ``Params`` declares.
- :mod:`~workbench.recipes.base.explain`: what each parameter means (``FIELD_HELP`` beside each recipe).
- :mod:`~workbench.recipes.base.result`: :class:`Result` and :class:`Claim`, a paper's claim as data.
- :mod:`~workbench.recipes.base.presets`: preset and parameter files (YAML mappings).
- :mod:`~workbench.recipes.base.namespace`: a notebook's parameters cell read as ``Params``.
- :mod:`~workbench.recipes.base.runtime`: the shared folder in path parameters, and the torch device.
"""

from workbench.recipes.base.checks import (
    ANY_NUMBER,
    AT_LEAST_ONE,
    NON_NEGATIVE,
    POSITIVE,
    PROBABILITY,
    Bound,
    Check,
    Device,
    EncoderName,
    NonEmpty,
    OneOf,
    at_least,
    check_task,
    dataset_names,
    dataset_tasks,
    encoder_names,
    pretrained_names,
)
from workbench.recipes.base.explain import explain, explain_text, field_help, missing_help
from workbench.recipes.base.namespace import params_from_namespace
from workbench.recipes.base.params import P, Params
from workbench.recipes.base.presets import (
    load_parameter_file,
    load_preset,
    parse_yaml_mapping,
    preset_dir,
    preset_names,
)
from workbench.recipes.base.result import Claim, Result
from workbench.recipes.base.seeding import SeedingResult, seed_order, seeds_until_settled  # noqa: F401
from workbench.recipes.base.runtime import SHARED_PLACEHOLDER, expand_shared, resolve_device

__all__ = [
    "ANY_NUMBER",
    "AT_LEAST_ONE",
    "NON_NEGATIVE",
    "POSITIVE",
    "PROBABILITY",
    "SHARED_PLACEHOLDER",
    "Bound",
    "Check",
    "Claim",
    "Device",
    "EncoderName",
    "NonEmpty",
    "OneOf",
    "Params",
    "Result",
    "at_least",
    "check_task",
    "dataset_names",
    "dataset_tasks",
    "encoder_names",
    "expand_shared",
    "explain",
    "explain_text",
    "field_help",
    "load_parameter_file",
    "load_preset",
    "missing_help",
    "params_from_namespace",
    "parse_yaml_mapping",
    "preset_dir",
    "preset_names",
    "pretrained_names",
    "resolve_device",
]
