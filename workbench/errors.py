"""Exceptions that name the file, key or option at fault and say what to do.

Each one subclasses the builtin a caller would naturally catch (``ValueError``, ``FileNotFoundError``,
``KeyError``), so ``except ValueError`` keeps working for code that does not know this module.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable


class WorkbenchError(Exception):
    """Base class of every error raised on purpose by the workbench."""


class AudioError(WorkbenchError, ValueError):
    """Audio that cannot be used: unreadable, empty, NaN/Inf, too short, wrong sample rate."""


class MissingFileError(WorkbenchError, FileNotFoundError):
    """A file the workbench needs is absent; the message says where to put it or how to get it."""


class DatasetNotFoundError(MissingFileError):
    """A dataset's files are absent from the data root; the message says how to obtain them."""


class CheckpointError(WorkbenchError, ValueError):
    """A checkpoint that is corrupt, of the wrong layout, or fails its checksum."""


class ParameterError(WorkbenchError, ValueError):
    """A parameter value of the wrong type or out of range, or a parameter file that is not a YAML mapping;
    the message names the parameter (or file) as the user typed it."""


class UnknownNameError(WorkbenchError, KeyError):
    """An unknown recipe, preset, dataset, model or parameter; the message lists the valid ones.

    ``parameter`` names the parameter that held the unknown name (``parameter 'dataset': unknown ...``).
    """

    def __init__(self, kind: str, name: str, valid: Iterable[str], parameter: str | None = None):
        self.kind, self.name, self.valid, self.parameter = kind, name, sorted(valid), parameter
        where = f"parameter {parameter!r}: " if parameter else ""
        super().__init__(f"{where}unknown {kind} {name!r}; valid: {', '.join(self.valid) or '(none)'}")

    def __str__(self) -> str:  # KeyError would otherwise print the repr of the message
        return self.args[0]


def user_stacklevel() -> int:
    """The ``stacklevel`` that makes ``warnings.warn``, in the function calling this one, point at the user's
    call: the innermost frame outside the ``workbench`` package (a notebook cell, a script, a test), however
    deep inside the workbench the warning arises; the outermost frame where every frame is inside."""
    frame = sys._getframe(1)  # the function that will call warnings.warn: stacklevel 1
    level = 1
    while frame.f_back is not None and _inside_workbench(frame):
        frame = frame.f_back
        level += 1
    return level


def _inside_workbench(frame) -> bool:
    name = frame.f_globals.get("__name__", "")
    return name == "workbench" or name.startswith("workbench.")
