"""Runs' curves as TensorBoard event files, for those who compare runs there.

Each run gets its own folder ``<out>/<recipe>/<run id>/`` (TensorBoard lists each as a run), with one
scalar series per curve of :func:`workbench.train.runs_index.read_curves`, tagged by the curve's name
(``epoch/loss``) at its step, epoch or count. The event files are written by
``torch.utils.tensorboard``, which needs the ``tensorboard`` package: an optional extra
(``pip install -e '.[tensorboard]'``); without it the export stops with an error saying so.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

from workbench.errors import WorkbenchError
from workbench.train.runs_index import RunSummary, read_curves

INSTALL_HINT = "pip install -e '.[tensorboard]' (or pip install tensorboard)"


def _summary_writer():
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as error:  # torch raises ImportError naming tensorboard when it is missing
        raise WorkbenchError(
            f"exporting TensorBoard event files needs the tensorboard package, which is not installed "
            f"({error}); install the optional extra: {INSTALL_HINT}"
        ) from error
    return SummaryWriter


def export_tensorboard(runs: Sequence[RunSummary], out: str | os.PathLike) -> list[Path]:
    """Write every curve of each run in ``runs`` as TensorBoard scalars under ``out``.

    Returns:
        The folder written per run, ``<out>/<recipe>/<run id>``, in the order of ``runs``.

    Raises:
        WorkbenchError: the tensorboard package is not installed (the message says how to install it).
    """
    writer_class = _summary_writer()
    folders = []
    for run in runs:
        folder = Path(out) / run.recipe / run.run_id
        writer = writer_class(log_dir=str(folder))
        try:
            for curve in read_curves(run):
                for x, value in zip(curve.x, curve.values):
                    if math.isfinite(value):
                        writer.add_scalar(curve.name, value, global_step=int(x))
        finally:
            writer.close()
        folders.append(folder)
    return folders
