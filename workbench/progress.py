"""Progress bars for every layer: ``tqdm.auto``, except that in a notebook bars redraw every few seconds rather
than ten times a second, and long trainings show no bar per epoch (:func:`epoch_bars_shown`): a notebook bar is
a set of widgets, and each redraw or new bar is messages on the kernel's IOPub channel. Terminals and
papermill's logs get the plain ``tqdm.auto`` bar.
"""

from __future__ import annotations

from tqdm.auto import tqdm as _auto_tqdm
from tqdm.notebook import tqdm_notebook

__all__ = ["IN_NOTEBOOK", "NOTEBOOK_EPOCH_BARS", "NOTEBOOK_MININTERVAL", "NotebookBar", "epoch_bars_shown", "tqdm"]


NOTEBOOK_MININTERVAL = 3.0
"""Seconds between a notebook bar's redraws (tqdm's 0.1 s otherwise). Each redraw is three widget messages on
the kernel's IOPub channel; a client that reads IOPub only after a long cell (nbval) holds at most 1000 queued
messages (ZeroMQ's high-water mark) and the rest, the cell's final "idle" status among them, are dropped: a
three-minute training cell with nested bars at 0.1 s overflowed it and nbval timed out waiting for output."""


class NotebookBar(tqdm_notebook):
    """A notebook bar which redraws at most every :data:`NOTEBOOK_MININTERVAL` seconds unless told otherwise,
    and which, when a transient bar (``leave=False``) finishes, also empties the output it was shown in.

    tqdm closes a finished transient bar's widgets, but its cell output still names them; a reloaded or
    reopened notebook then shows "Error displaying widget: model not found" there, one per bar. Here the
    bar is shown under a display id, and closing it replaces that output with an empty one. (Hiding finished
    bars and keeping their widgets was tried: a reloaded page then restores every bar's widgets from the
    kernel, which on a loaded machine delayed the figures' views by minutes.)"""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("mininterval", NOTEBOOK_MININTERVAL)
        shown_now = kwargs.pop("display", True)
        self._display_handle = None
        super().__init__(*args, display=False, **kwargs)
        if shown_now and not self.disable and self.delay <= 0:
            self._show()

    def _show(self) -> None:
        from IPython.display import display  # only where bars are widgets, i.e. in a kernel

        self._display_handle = display(self.container, display_id=True)
        self.displayed = True

    def display(self, msg=None, pos=None, close=False, bar_style=None, check_delay=True):
        delayed = check_delay and self.delay > 0 and not self.displayed
        super().display(msg, pos, close=close, bar_style=bar_style, check_delay=False)
        if close and self._display_handle is not None:
            self._display_handle.update({"text/plain": ""}, raw=True)
        elif delayed:
            self._show()


IN_NOTEBOOK = issubclass(_auto_tqdm, tqdm_notebook)
"""Whether bars are notebook widgets here (an IPython kernel with ipywidgets)."""

NOTEBOOK_EPOCH_BARS = 20
"""A training of more epochs shows no per-epoch bar in a notebook: each new bar is about a dozen widget
messages, and a few hundred epochs' worth overflow the queue of a client that reads them after the cell
(nbval then times out waiting for the cell's end). The run's log.jsonl and `workbench reproduce`'s progress
line still follow it."""


def epoch_bars_shown(epochs: int) -> bool:
    """Whether a training of ``epochs`` epochs shows a bar per epoch (always outside a notebook)."""
    return not IN_NOTEBOOK or epochs <= NOTEBOOK_EPOCH_BARS


if IN_NOTEBOOK:

    class tqdm(NotebookBar, _auto_tqdm):  # noqa: N801  (tqdm's own name)
        """``tqdm.auto``'s notebook bar (with its asyncio support), leaving no output behind when transient."""

else:
    tqdm = _auto_tqdm
