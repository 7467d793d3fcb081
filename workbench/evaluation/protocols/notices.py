"""Telling the user what a protocol plan did that they did not ask for: one short warning per run and
cause, pointing at the user's own call; the full explanation stays in the plan's note (and so in the
result and the run's log)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from workbench.errors import user_stacklevel
from workbench.evaluation.protocols.plan import ProtocolPlan

_WARNED: ContextVar[set[tuple] | None] = ContextVar("workbench_protocol_warnings", default=None)
SHOWN_NAMES = 3


class ProtocolWarning(UserWarning):
    """A protocol other than the official folds, classes left unscored, or test clips sharing a source
    recording with training clips."""


@contextmanager
def one_warning_per_cause() -> Iterator[None]:
    """Within this block (a recipe's run), each cause is warned about once, however many encoders,
    layers or tasks are evaluated; nested blocks share the outermost one's memory."""
    if _WARNED.get() is not None:
        yield
        return
    token = _WARNED.set(set())
    try:
        yield
    finally:
        _WARNED.reset(token)


def warning_text(plan: ProtocolPlan) -> str:
    """The short warning a plan calls for, or "" when it did what was asked without leaving anything out."""
    parts = []
    if plan.left_official:
        parts.append(f"protocol 'auto' used {plan.protocol}: official folds not usable "
                     "(not every fold can be trained on)")  # fmt: skip
    if plan.excluded:
        names = ", ".join(cls.name for cls in plan.excluded[:SHOWN_NAMES])
        more = "..." if len(plan.excluded) > SHOWN_NAMES else ""
        parts.append(f"{plan.n_classes - len(plan.excluded)} of {plan.n_classes} classes scored "
                     f"({names}{more} left out)")  # fmt: skip
    if plan.leak_line:
        parts.append(f"protocol 'kfold' ignores source groups: {plan.leak_line}")
    return "; ".join(parts) + " (the result's protocol_note explains)" if parts else ""


def announce(plan: ProtocolPlan) -> None:
    """Warn about ``plan`` (:func:`warning_text`) unless this cause was warned about in this run."""
    text = warning_text(plan)
    if not text:
        return
    cause = (plan.requested, plan.protocol, tuple(cls.index for cls in plan.excluded), bool(plan.leaked_test_clips))
    warned = _WARNED.get()
    if warned is not None:
        if cause in warned:
            return
        warned.add(cause)
    warnings.warn(text, ProtocolWarning, stacklevel=user_stacklevel())
