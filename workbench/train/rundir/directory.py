"""The :class:`RunDir` class: opening (creating or finding, locking, resuming, retrying a failed run) a run's
directory, and its params.yaml and provenance.json; metrics and log, checkpoints, arrays and status come
from its mixins."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import yaml

from workbench.atomic import atomic_write_json, atomic_write_text, remove_stale_temporaries
from workbench.errors import CheckpointError, MissingFileError, WorkbenchError
from workbench.paths import runs_root
from workbench.train.rundir.arrays import RunArrays
from workbench.train.rundir.checkpoints import _CHECKPOINT_NAME, RunCheckpoints
from workbench.train.rundir.ids import _canonical, params_dict, run_id
from workbench.train.rundir.lock import _launch_rank, _launch_world, _RunLock
from workbench.train.rundir.provenance import _code_provenance, provenance
from workbench.train.rundir.records import RunRecords
from workbench.train.rundir.status import RunStatus


class RunDir(RunRecords, RunCheckpoints, RunArrays, RunStatus):
    """One run's directory. Make one with :meth:`open`; wrap an existing directory with ``RunDir(path)``.

    Args:
        path: the run's directory, ``<root>/<recipe>/<run-id>``.
    """

    PARAMS_FILE = "params.yaml"
    PROVENANCE_FILE = "provenance.json"
    LOCK_FILE = ".lock"

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._lock: _RunLock | None = None

    @classmethod
    def open(
        cls,
        recipe: str,
        params: Any,
        root: str | os.PathLike | None = None,
        *,
        data: Any = None,
        wait: float | None = None,
        code: int | str | None = None,
    ) -> RunDir:
        """Create (or find) the directory of ``recipe`` run with ``params`` on ``data``, lock it, and
        write its params.yaml and provenance.json.

        Opening an existing, unfinished run that no RunDir of this process holds (an interrupted run
        being resumed) logs a ``resumed`` row with its latest checkpoint's step; one marked failed
        (:mod:`~workbench.train.rundir.status`) logs a ``retried`` row instead and loses its mark. Inside
        :func:`~workbench.train.rundir.status.failures_marked` the run is marked failed if an error
        ends the block before it finishes.

        Args:
            recipe: the recipe's name.
            params: a mapping or dataclass of parameters (see :func:`run_id`).
            root: the runs root; default :func:`workbench.paths.runs_root`.
            data: what the run reads (datasets or their fingerprint, see :func:`run_id`); changed
                data gives another run id.
            wait: seconds to wait for another process running the same run; None waits until it
                finishes, 0 refuses at once.
            code: the recipe's code version (see :func:`run_id`); a bumped version is another run id.

        Returns:
            The :class:`RunDir` at ``<root>/<recipe>/<run-id>``, holding the run's lock until it (and
            every other RunDir of the run in this process) is closed or garbage-collected.

        Raises:
            CheckpointError: the directory already holds a params.yaml with different parameters (a
                run-id collision or a hand-edited file) or one that cannot be read.
            RunLockedError: another process runs the same run (with ``wait`` 0, or still after
                ``wait`` seconds).
            WorkbenchError: the runs folder cannot be written (read-only, no permission), naming it.
        """
        identifier = run_id(recipe, params, data, code)
        values = params_dict(params)
        run = cls(Path(root if root is not None else runs_root()) / recipe / identifier)
        try:
            run.path.mkdir(parents=True, exist_ok=True)
            if _launch_rank() != 0:
                # Another rank of a distributed launch: rank 0 holds the lock and writes every file.
                return run
            run._lock, held_already = _RunLock.acquire(run.path / cls.LOCK_FILE, wait)
        except OSError as error:
            raise WorkbenchError(
                f"cannot write the run directory {run.path} ({error.strerror or error}); make its folder "
                f"writable or set WORKBENCH_RUNS to a writable folder"
            ) from error
        world, local = _launch_world()
        if not held_already and world == 1:
            # We hold the lock: no other process writes here, so every temporary file is a killed write's.
            remove_stale_temporaries(run.path, recursive=True, every=True)
        elif not held_already and world == local:
            # The other ranks of this launch take no lock and may be writing here right now (their metrics,
            # their log): only the temporary files of processes that no longer run are a killed write's.
            remove_stale_temporaries(run.path, recursive=True, every=False)
        # Ranks on other machines: their process ids mean nothing here, so nothing is removed.
        params_path = run.path / cls.PARAMS_FILE
        if params_path.exists():
            existing = run.params
            if _canonical(existing) != _canonical(values):
                differing = sorted(
                    key
                    for key in set(existing) | set(values)
                    if _canonical(existing.get(key)) != _canonical(values.get(key))
                )
                raise CheckpointError(
                    f"{params_path} holds different parameters (differing: {', '.join(differing)}) from "
                    f"those of run id {identifier}; it was edited by hand or is a run-id collision: move "
                    f"{run.path} away or use another runs root"
                )
            retried = not held_already and run._retry_if_failed()
            if not held_already and not retried and not run.finished and run.log_path.is_file():  # interrupted
                latest = run.latest_checkpoint()
                run.log(
                    "resumed",
                    checkpoint_step=None if latest is None else int(_CHECKPOINT_NAME.match(latest.name).group(1)),
                    pid=os.getpid(),
                    git_commit=_code_provenance()["git_commit"],
                )
        else:
            header = f"# parameters of {recipe} run {identifier}\n"
            atomic_write_text(params_path, header + yaml.safe_dump(values, sort_keys=True))
        if not (run.path / cls.PROVENANCE_FILE).is_file():
            atomic_write_json(run.path / cls.PROVENANCE_FILE, provenance(data))
        run._track()
        return run

    def close(self) -> None:
        """Release this RunDir's hold on the run's lock (the lock goes when no RunDir of the run in this
        process holds it); the RunDir can still read and write files."""
        lock, self._lock = self._lock, None
        if lock is not None:
            del lock  # the lock object goes when its last holder drops it

    def __enter__(self) -> RunDir:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, *_: Any) -> None:
        if isinstance(error, Exception):  # an interrupt is not a failure: the run resumes
            self.mark_failed(error)
        self.close()

    @property
    def provenance(self) -> dict[str, Any]:
        """provenance.json as written when the run was created.

        Raises:
            MissingFileError: the run has no provenance.json (made by an older workbench).
        """
        path = self.path / self.PROVENANCE_FILE
        if not path.is_file():
            raise MissingFileError(f"{path} does not exist; the run was made before runs recorded provenance")
        return json.loads(path.read_text(encoding="utf-8"))

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    @property
    def run_id(self) -> str:
        return self.path.name

    @property
    def params(self) -> dict[str, Any]:
        """The parameters stored in params.yaml.

        Raises:
            MissingFileError: there is no params.yaml.
            CheckpointError: params.yaml is not a YAML mapping.
        """
        path = self.path / self.PARAMS_FILE
        if not path.is_file():
            raise MissingFileError(f"{path} does not exist; create the run with RunDir.open(recipe, params)")
        try:
            values = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as error:
            raise CheckpointError(f"{path} is not valid YAML ({error}); delete the run directory") from error
        if not isinstance(values, dict):
            raise CheckpointError(f"{path} must hold a mapping of parameter: value; delete the run directory")
        return values
