"""A plotly figure as a small anywidget: the one interactive figure every notebook view uses.

Why not plotly's own ``go.FigureWidget``: it is an anywidget whose front-end module is the whole
plotly.js bundle (~5 MB, sent again for every figure), and it opens its model with no traces, sending
them in messages right after. anywidget drops every message to a model whose module has not loaded
within 2 s of opening, so on a busy first Run All in JupyterLab a FigureWidget could stay empty for
good (no traces, no error), and reopening the notebook lost the updates made since.

:class:`PlotlyView` keeps the whole figure, as plotly JSON, in one synced trait that is part of the
model's opening state; its front-end module is a few kilobytes, and plotly.js comes from the kernel
once per page (the installed ``plotly`` package's ``plotly.min.js``, so it works offline) and is
shared by every view. Each render, including the one after a page reload or reopening the notebook
with the kernel still running, draws from the kernel-side figure. Python edits the figure and the
view redraws; clicks come back as ``(trace, point, customdata)``.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anywidget
import plotly
import plotly.graph_objects as go
import traitlets

ClickHandler = Callable[[int, Any, Any], None]
"""``(trace index, point index, customdata of the point or None) -> None``."""

_CSS = """
.workbench-plotly-view { width: 100%; min-width: 0; }
.workbench-plotly-view .workbench-plotly-plot { width: 100%; }
"""


@functools.cache
def plotly_js() -> bytes:
    """The plotly.js bundle of the installed ``plotly`` package (what every view draws with).

    Raises:
        FileNotFoundError: the package has no ``package_data/plotly.min.js`` (a broken install).
    """
    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: reinstall plotly (pip install --force-reinstall plotly)")
    return path.read_bytes()


class PlotlyView(anywidget.AnyWidget):
    """An interactive plotly figure in a notebook, drawn from its kernel-side state on every render.

    Args:
        figure: what to draw (a ``go.Figure``, or anything ``go.Figure`` accepts); empty by default.

    Attributes:
        figure: the kernel-side ``go.Figure``. Edit it inside :meth:`batch_update` (or call
            :meth:`refresh` afterwards) to redraw the view; assign a new figure to replace it.
        layout: the ipywidgets layout of the view (size and flex in a box), as on every widget.
    """

    _esm = (Path(__file__).parent / "plotly_view.js").read_text()
    _css = _CSS
    figure_json = traitlets.Unicode("{}").tag(sync=True)

    def __init__(self, figure: go.Figure | dict | None = None, **kwargs: Any):
        figure = go.Figure(figure) if figure is not None else go.Figure()
        # The figure goes into the opening state, never into a message after it (see the module docstring).
        super().__init__(figure_json=figure.to_json(), **kwargs)
        self._figure = figure
        self._click_handlers: list[ClickHandler] = []
        self.on_msg(self._on_message)

    @property
    def figure(self) -> go.Figure:
        return self._figure

    @figure.setter
    def figure(self, figure: go.Figure | dict) -> None:
        self._figure = go.Figure(figure)
        self.refresh()

    def refresh(self) -> None:
        """Send the kernel-side figure to every view (after editing :attr:`figure` in place)."""
        self.figure_json = self._figure.to_json()

    @contextlib.contextmanager
    def batch_update(self) -> Iterator[go.Figure]:
        """Edit the figure inside the block; the views redraw once when it ends."""
        try:
            yield self._figure
        finally:
            self.refresh()

    def on_click(self, handler: ClickHandler) -> None:
        """Call ``handler(trace, point, customdata)`` when a point of the figure is clicked in a view."""
        self._click_handlers.append(handler)

    def click(self, trace: int, point: Any) -> None:
        """Do what a click on point ``point`` of trace ``trace`` does (for code and tests).

        Raises:
            IndexError: no trace ``trace``.
        """
        if not 0 <= trace < len(self._figure.data):
            raise IndexError(f"the figure has {len(self._figure.data)} traces, not a trace {trace}")
        customdata = self._figure.data[trace].customdata
        value = None
        if customdata is not None and isinstance(point, int) and 0 <= point < len(customdata):
            value = customdata[point]
            value = value.item() if hasattr(value, "item") else value
        self._dispatch_click(trace, point, value)

    def _dispatch_click(self, trace: int, point: Any, customdata: Any) -> None:
        for handler in self._click_handlers:
            handler(trace, point, customdata)

    def _on_message(self, _widget: Any, content: Any, _buffers: list) -> None:
        if not isinstance(content, dict):
            return
        if content.get("type") == "plotly.js?":
            self.send({"type": "plotly.js"}, buffers=[plotly_js()])
        elif content.get("type") == "click":
            trace, point = content.get("trace"), content.get("point")
            if isinstance(trace, int) and 0 <= trace < len(self._figure.data):
                self._dispatch_click(trace, point, content.get("customdata"))
