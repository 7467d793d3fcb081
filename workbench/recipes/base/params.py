"""The base of every recipe's ``Params``: values coerced to their declared types and checked (finite numbers,
non-negative integers, the recipe's ``checks``) when they are built, from a mapping, a preset or the
constructor."""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import yaml

from workbench.errors import ParameterError, UnknownNameError
from workbench.recipes.base.checks import NON_NEGATIVE, Bound, Check
from workbench.recipes.base.presets import load_preset

P = TypeVar("P", bound="Params")


def _coerce(name: str, value: Any, annotation: Any) -> Any:
    """Convert ``value`` to the field's annotated type, or raise ValueError naming the parameter.

    Strings are parsed against the declared type, never as free YAML: ``"no"`` stays the string "no" for a
    ``str`` field, ``"3"`` becomes 3 for an ``int`` one, and a tuple field takes ``"a,b"`` or ``"[a, b]"``.
    """
    if isinstance(annotation, str):
        annotation = eval(annotation, {"typing": typing})  # noqa: S307 - our own annotations only
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(annotation)
        if type(None) in options and (value is None or (isinstance(value, str) and value in ("null", "~", "None"))):
            return None
        for option in options:
            if option is type(None):
                continue
            try:
                return _coerce(name, value, option)
            except ValueError:
                continue
        raise ParameterError(f"parameter {name!r}: {value!r} fits none of {annotation}")
    if origin is typing.Literal:
        allowed = typing.get_args(annotation)
        if value in allowed and type(value) in {type(option) for option in allowed}:
            return value
        matches = [option for option in allowed if isinstance(value, str) and str(option) == value]
        if matches:
            return matches[0]
        raise ParameterError(f"parameter {name!r} must be one of {list(allowed)}, got {value!r}")
    if origin in (tuple, list):
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):  # a YAML/JSON list, e.g. from ``-p lambdas=[0, 0.5]``
                try:
                    value = yaml.safe_load(text)
                except yaml.YAMLError:
                    raise ParameterError(f"parameter {name!r}: {value!r} is not a valid list like [1, 2]") from None
            else:
                value = [item.strip() for item in text.split(",") if item.strip()]
        if not isinstance(value, (list, tuple)):
            raise ParameterError(f"parameter {name!r} must be a list, got {value!r}")
        (item_type, *rest) = typing.get_args(annotation) or (Any,)
        items = [_coerce(name, item, item_type) for item in value]
        return tuple(items) if origin is tuple else items
    if annotation is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.lower() in ("true", "1", "yes")
        raise ParameterError(f"parameter {name!r} must be true or false, got {value!r}")
    if annotation is int:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ParameterError(f"parameter {name!r} must be an integer, got {value!r}")
        try:
            return int(value)
        except (TypeError, ValueError, OverflowError):
            raise ParameterError(f"parameter {name!r} must be an integer, got {value!r}") from None
    if annotation is float:
        if isinstance(value, bool):
            raise ParameterError(f"parameter {name!r} must be a number, got {value!r}")
        try:
            return float(value)
        except (TypeError, ValueError, OverflowError):
            raise ParameterError(f"parameter {name!r} must be a number, got {value!r}") from None
    if annotation is str:
        if isinstance(value, bool):
            raise ParameterError(
                f"parameter {name!r} must be a string, got {value!r} (YAML reads unquoted yes/no/on/off "
                f"as booleans: quote the value)"
            )
        if not isinstance(value, (str, int, float)):
            raise ParameterError(f"parameter {name!r} must be a string, got {value!r}")
        return str(value)
    return value

_HINTS: dict[type, dict[str, Any]] = {}


def _type_hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def _is_number_type(annotation: Any, number: type) -> bool:
    """``annotation`` is ``number`` or a tuple/list of it."""
    if annotation is number:
        return True
    return typing.get_origin(annotation) in (tuple, list) and typing.get_args(annotation)[:1] == (number,)


@dataclass(frozen=True)
class Params:
    """Base of every recipe's parameters: plain scalars (and tuples of them) with quick-run defaults.

    ``from_dict`` is the one way in from the outside (notebook parameters cell, CLI ``-p key=value``,
    YAML presets): it rejects unknown names, listing the valid ones, and converts types. Building a
    Params (``from_dict`` or the constructor) checks every value: its declared type, finite numbers,
    integers >= 0 unless ``checks`` says otherwise, and the recipe's ``checks`` (ranges, names of
    datasets, encoders, losses). A recipe whose ``__post_init__`` adds cross-field checks calls
    ``super().__post_init__()`` first.
    """

    recipe: ClassVar[str] = ""
    checks: ClassVar[Mapping[str, Check | tuple[Check, ...]]] = {}
    """Field name -> the checks its value must pass; numeric checks apply to each item of a tuple."""

    def __post_init__(self) -> None:
        hints = _type_hints(type(self))
        for item in dataclasses.fields(self):
            name, value = item.name, getattr(self, item.name)
            converted = _coerce(name, value, hints[name])
            if converted is not value:
                object.__setattr__(self, name, converted)
            values = converted if isinstance(converted, (tuple, list)) else (converted,)
            for number in values:
                if isinstance(number, float) and not math.isfinite(number):
                    raise ParameterError(f"parameter {name!r} must be a finite number, got {number!r}")
            declared = self.checks.get(name, ())
            declared = (declared,) if isinstance(declared, Check) else tuple(declared)
            if _is_number_type(hints[name], int) and not any(isinstance(check, Bound) for check in declared):
                declared = (NON_NEGATIVE, *declared)
            for check in declared:
                if check.applies_to_items and isinstance(converted, (tuple, list)):
                    for one in converted:
                        check(name, one)
                else:
                    check(name, converted)

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def from_dict(cls: type[P], values: Mapping[str, Any] | None = None, **overrides: Any) -> P:
        merged = {**(values or {}), **overrides}
        known = {f.name: f for f in dataclasses.fields(cls)}
        for key in merged:
            if key not in known:
                raise UnknownNameError(f"parameter of recipe {cls.recipe!r}", key, known)
        hints = _type_hints(cls)
        converted = {key: _coerce(key, value, hints[key]) for key, value in merged.items()}
        return cls(**converted)

    @classmethod
    def from_preset(cls: type[P], preset: str, **overrides: Any) -> P:
        return cls.from_dict(load_preset(cls.recipe, preset), **overrides)

    def replace(self: P, **changes: Any) -> P:
        return type(self).from_dict(self.to_dict(), **changes)

    def to_dict(self) -> dict[str, Any]:
        return {
            f.name: list(v) if isinstance(v := getattr(self, f.name), tuple) else v
            for f in dataclasses.fields(self)
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    def to_yaml(self) -> str:
        """Every parameter as ``name: value`` YAML lines, in declaration order (``workbench params``)."""
        return yaml.safe_dump(self.to_dict(), sort_keys=False, default_flow_style=None, allow_unicode=True)
