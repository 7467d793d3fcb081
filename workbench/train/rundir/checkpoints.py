"""A run's checkpoints: ``checkpoints/step-<n>.pt``, written atomically, the newest few kept, read back
with ``torch.load(weights_only=True)``."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from workbench.atomic import atomic_torch_save
from workbench.errors import CheckpointError, MissingFileError
from workbench.train.rundir.lock import _launch_rank

_CHECKPOINT_NAME = re.compile(r"^step-(\d+)\.pt$")


class RunCheckpoints:
    """The part of :class:`~workbench.train.rundir.RunDir` that saves and loads training state
    (``RunDir`` sets ``path``)."""

    CHECKPOINT_DIR = "checkpoints"

    path: Path

    # --- checkpoints -------------------------------------------------------------------------------

    @property
    def checkpoint_dir(self) -> Path:
        return self.path / self.CHECKPOINT_DIR

    def checkpoints(self) -> list[Path]:
        """Checkpoint files ``step-<n>.pt``, sorted by step."""
        if not self.checkpoint_dir.is_dir():
            return []
        found = [
            (int(match.group(1)), path)
            for path in self.checkpoint_dir.iterdir()
            if (match := _CHECKPOINT_NAME.match(path.name))
        ]
        return [path for _, path in sorted(found)]

    def save_checkpoint(self, state: Mapping[str, Any], step: int, keep_last: int | None = 2) -> Path:
        """Save ``state`` atomically as ``checkpoints/step-<step>.pt``, then keep only the newest ones.

        Args:
            state: tensors, numbers, strings, and lists/tuples/dicts of them (what
                ``torch.load(weights_only=True)`` reads back).
            step: the optimizer step the state was taken after.
            keep_last: how many checkpoints to keep (the one just written always is); None keeps all.

        Returns:
            The checkpoint's path.
        """
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            raise ValueError(f"step must be a non-negative integer, got {step!r}")
        if keep_last is not None and keep_last < 1:
            raise ValueError(f"keep_last must be at least 1 or None, got {keep_last!r}")
        path = atomic_torch_save(self.checkpoint_dir / f"step-{step}.pt", dict(state))
        if keep_last is not None:
            older = [other for other in self.checkpoints() if other != path]
            for stale in older[: max(0, len(older) - (keep_last - 1))]:
                stale.unlink(missing_ok=True)
        return path

    def drop_checkpoints(self) -> None:
        """Remove the checkpoints of a finished training (its resume points). Under a multi-process launch
        only rank 0 does: it alone writes checkpoints, and a rank that finished its last step first would
        otherwise remove the folder while rank 0 still writes its last checkpoint into it."""
        if _launch_rank() == 0:
            shutil.rmtree(self.checkpoint_dir, ignore_errors=True)

    def latest_checkpoint(self) -> Path | None:
        """The checkpoint with the highest step, or None when there is none."""
        found = self.checkpoints()
        return found[-1] if found else None

    def load_checkpoint(self, path: str | os.PathLike | None = None) -> dict[str, Any]:
        """Load a checkpoint onto the CPU with ``torch.load(weights_only=True)`` (no pickled code runs).

        Args:
            path: the file; default :meth:`latest_checkpoint`.

        Raises:
            MissingFileError: there is no checkpoint (or no file at ``path``).
            CheckpointError: the file is corrupt, holds more than weights_only allows, or is not a dict.
        """
        if path is None:
            path = self.latest_checkpoint()
            if path is None:
                raise MissingFileError(
                    f"no checkpoint step-<n>.pt in {self.checkpoint_dir}; train the run first"
                )
        path = Path(path)
        if not path.is_file():
            raise MissingFileError(f"checkpoint {path} does not exist")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:  # torch raises RuntimeError, UnpicklingError, EOFError... by corruption
            reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise CheckpointError(
                f"checkpoint {path} cannot be read ({type(error).__name__}: {reason}); it is corrupt or "
                f"was not written by the workbench: delete it to resume from an earlier checkpoint"
            ) from error
        if not isinstance(state, dict):
            raise CheckpointError(f"checkpoint {path} holds a {type(state).__name__}, expected a dict")
        return state
