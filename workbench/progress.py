"""Progress bars for every layer: ``tqdm.auto``, except that in a notebook a finished transient bar is hidden
rather than closed, and bars redraw every few seconds rather than ten times a second.

``tqdm.notebook`` ends a ``leave=False`` bar by closing its ipywidgets model. The output cell still holds a
view of that model, so JupyterLab, when the page is reloaded with the kernel alive, asks the kernel for a
model it no longer has and logs "widget model not found" for every finished bar. Here such a bar keeps
its model and is hidden (``layout.display = "none"``): after a reload it is restored, still hidden, and
nothing is left dangling. Terminals and papermill's logs get the plain ``tqdm.auto`` bar.
"""

from __future__ import annotations

from tqdm.auto import tqdm as _auto_tqdm
from tqdm.notebook import tqdm_notebook

__all__ = ["IN_NOTEBOOK", "NOTEBOOK_EPOCH_BARS", "NOTEBOOK_MININTERVAL", "HidingNotebookBar", "epoch_bars_shown", "tqdm"]


NOTEBOOK_MININTERVAL = 3.0
"""Seconds between a notebook bar's redraws (tqdm's 0.1 s otherwise). Each redraw is three widget messages on
the kernel's IOPub channel; a client that reads IOPub only after a long cell (nbval) holds at most 1000 queued
messages (ZeroMQ's high-water mark) and the rest, the cell's final "idle" status among them, are dropped: a
three-minute training cell with nested bars at 0.1 s overflowed it and nbval timed out waiting for output."""


class HidingNotebookBar(tqdm_notebook):
    """A notebook bar whose ``leave=False`` end hides the widget instead of closing its model, and which
    redraws at most every :data:`NOTEBOOK_MININTERVAL` seconds unless told otherwise."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("mininterval", NOTEBOOK_MININTERVAL)
        super().__init__(*args, **kwargs)

    def display(self, msg=None, pos=None, close=False, bar_style=None, check_delay=True):
        if not close:
            return super().display(msg, pos, close=False, bar_style=bar_style, check_delay=check_delay)
        if self.container.children[1].bar_style != "danger":  # a failed bar stays in view, as in tqdm
            self.container.layout.display = "none"
        return None


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

    class tqdm(HidingNotebookBar, _auto_tqdm):  # noqa: N801  (tqdm's own name)
        """``tqdm.auto``'s notebook bar (with its asyncio support), hidden rather than closed when done."""

else:
    tqdm = _auto_tqdm
