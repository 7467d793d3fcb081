"""What each parameter of a recipe means: one line per ``Params`` field (what it sets, its unit, the
paper's value and section where there is one), with its type, default and allowed values.

The meanings live beside each recipe, in a ``FIELD_HELP`` mapping of field name -> one line: in
``workbench/recipes/<name>/help.py`` for a recipe package, or in the recipe module itself (a
single-module recipe such as ``linear_eval``). :func:`field_help` finds it from the ``Params`` class;
the allowed values are read from the field's type (``Literal``, ``bool``, integers >= 0 by default) and
its ``checks`` (ranges, registries), so a meaning never restates, and can never contradict, a check.
``workbench params RECIPE --explain`` and ``workbench run RECIPE --help`` print :func:`explain_text`.
"""

from __future__ import annotations

import dataclasses
import importlib
import sys
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from workbench.recipes.base.checks import NON_NEGATIVE, Bound, Check, Device, EncoderName, NonEmpty, OneOf

SHOWN_NAMES = 8
"""Names of a fixed list shown in full; a registry's names are listed by ``workbench datasets`` etc."""


@dataclass(frozen=True)
class FieldExplanation:
    """One parameter as ``--explain`` shows it."""

    name: str
    type: str
    default: Any
    meaning: str
    allowed: str


def field_help(params_class: type) -> Mapping[str, str]:
    """The recipe's ``FIELD_HELP`` (field name -> meaning): from the module that defines
    ``params_class``, else from the ``help`` module of its package; empty when there is none."""
    module = sys.modules.get(params_class.__module__)
    found = getattr(module, "FIELD_HELP", None)
    if found is not None:
        return found
    package = params_class.__module__.rpartition(".")[0]
    try:
        helper = importlib.import_module(f"{package}.help")
    except ModuleNotFoundError as error:
        if error.name != f"{package}.help":
            raise
        return {}
    return getattr(helper, "FIELD_HELP", {})


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return "choice"
    if origin in (tuple, list):
        (item, *_) = typing.get_args(annotation) or (Any,)
        return f"list of {_type_name(item)}"
    if origin is not None:  # a Union such as float | None
        options = typing.get_args(annotation)
        return " or ".join("null" if option is type(None) else _type_name(option) for option in options)
    return getattr(annotation, "__name__", str(annotation))


def _check_text(check: Check) -> str:
    if isinstance(check, Bound):
        return check.describe()
    if isinstance(check, OneOf):
        if callable(check.names):
            return f"a registered {check.kind} name"
        names = [str(name) for name in check.names]
        shown = " | ".join(names[:SHOWN_NAMES]) + (" | ..." if len(names) > SHOWN_NAMES else "")
        return f"one of {shown}"
    if isinstance(check, NonEmpty):
        return "at least one value" + (", each once" if check.distinct else "")
    if isinstance(check, Device):
        return "auto | cpu | cuda | cuda:<index>"
    if isinstance(check, EncoderName):
        return "a registered encoder name, or hear:<module>[@<weights file>]"
    return type(check).__name__


def _allowed(params_class: type, name: str, annotation: Any) -> str:
    from workbench.recipes.base.params import _is_number_type

    parts = []
    if typing.get_origin(annotation) is typing.Literal:
        options = typing.get_args(annotation)
        parts.append(" | ".join(repr(option) if option == "" else str(option) for option in options))
    if annotation is bool:
        parts.append("true | false")
    declared = params_class.checks.get(name, ())
    declared = (declared,) if isinstance(declared, Check) else tuple(declared)
    if _is_number_type(annotation, int) and not any(isinstance(check, Bound) for check in declared):
        declared = (NON_NEGATIVE, *declared)
    parts += [_check_text(check) for check in declared]
    return "; ".join(part for part in parts if part)


def explain(params_class: type, values: Any = None) -> list[FieldExplanation]:
    """Every field of ``params_class`` in declaration order; ``values`` (a Params) gives the value
    shown as default (a preset's, say), else the class default."""
    hints = typing.get_type_hints(params_class)
    meanings = field_help(params_class)
    rows = []
    for item in dataclasses.fields(params_class):
        if values is not None:
            default = getattr(values, item.name)
        elif item.default is not dataclasses.MISSING:
            default = item.default
        else:
            default = item.default_factory() if item.default_factory is not dataclasses.MISSING else None
        rows.append(FieldExplanation(
            name=item.name,
            type=_type_name(hints[item.name]),
            default=list(default) if isinstance(default, tuple) else default,
            meaning=meanings.get(item.name, ""),
            allowed=_allowed(params_class, item.name, hints[item.name]),
        ))  # fmt: skip
    return rows


def missing_help(params_class: type) -> list[str]:
    """Fields of ``params_class`` without a meaning in its ``FIELD_HELP``, and names in ``FIELD_HELP``
    that are no field (a renamed or removed parameter)."""
    fields = {item.name for item in dataclasses.fields(params_class)}
    meanings = field_help(params_class)
    absent = [name for name in sorted(fields) if not str(meanings.get(name, "")).strip()]
    stale = [f"{name} (not a parameter)" for name in sorted(set(meanings) - fields)]
    return absent + stale


def explain_text(params_class: type, values: Any = None) -> str:
    """The parameters as text, two lines each: ``name = default  (type; allowed)`` then the meaning."""
    lines = []
    for row in explain(params_class, values):
        allowed = f"; {row.allowed}" if row.allowed else ""
        default = '""' if row.default == "" else row.default
        lines.append(f"{row.name} = {default}  ({row.type}{allowed})")
        lines.append(f"    {row.meaning or '(no description yet)'}")
    return "\n".join(lines)


COMMON_HELP: dict[str, str] = {
    "dataset": "the data evaluated: a name from `workbench datasets` (synthetic needs no download; "
    '"folder" is your own audio, see data/README.md)',
    "task": 'the dataset\'s task ("" = its own default; synthetic: event | speaker | word | pitch; '
    "fsdd: digit | speaker; nsynth: instrument | pitch ...)",
    "data_root": 'folder holding the real datasets ("" = $WORKBENCH_DATA, else ./data); for dataset "folder": '
    "the folder of your audio itself",
    "folder_labels": 'dataset "folder" only: CSV filename,label[,fold][,split][,group] ("" = one subfolder per '
    "class); group names each clip's source recording, kept on one side of every split",
    "world_seed": "seed of the synthetic world: its classes and clips (synthetic data only)",
    "weights_path": 'checkpoint file of the pretrained model named ("" = the registry\'s cached download; '
    '"{shared}/..." = under $WORKBENCH_SHARED); its sha256 is part of the run id',
    "protocol": "train/test partition: auto (official folds when each can be trained on, else grouped k-fold, "
    "else k-fold) | official | kfold | grouped-kfold (workbench.evaluation.protocols)",
    "n_folds": "folds of the kfold and grouped-kfold protocols (and of auto's fallback to them)",
    "max_epochs": "linear-probe epochs at most, in passes over the training clips; early stopping on the "
    "validation split decides (BYOL-A / EVAR: 200)",
    "patience": "linear-probe epochs without a better validation score before stopping (the layer-fusion "
    "paper's linear evaluation: 20)",
    "device": "where torch runs: auto (CUDA when available, else the CPU) | cpu | cuda | cuda:<index>",
    "cpu_threads": "torch CPU threads (1: the same numbers on any machine, and the fastest on a shared one)",
}
"""Meanings of the parameters several recipes share, under the same name and with the same meaning;
a recipe's ``FIELD_HELP`` takes them with :func:`common`."""


def common(*names: str) -> dict[str, str]:
    """The :data:`COMMON_HELP` meanings of ``names`` (a KeyError names one that has none)."""
    return {name: COMMON_HELP[name] for name in names}
