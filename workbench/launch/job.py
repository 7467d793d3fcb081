"""What a submitit job runs: one leaf, as a ``Checkpointable`` so that Slurm's timeout or preemption
signal requeues it; the requeued job calls the leaf again, which resumes from its run directory's
latest checkpoint (run ids are content addressed, so it finds the same directory).

This module imports submitit at its top: only the launcher imports it, when it launches.
"""

from __future__ import annotations

import socket

import submitit

from workbench.atomic import atomic_write_json
from workbench.launch.plan import Leaf
from workbench.launch.versions import code_version, record_path
from workbench.train.rundir.provenance import _utc_now


class LeafJob(submitit.helpers.Checkpointable):
    """Runs one :class:`Leaf` and records which code finished it; requeued as is on timeout/preemption."""

    def __call__(self, leaf: Leaf) -> str:
        leaf()  # its own result (models, arrays) stays in its run directory: nothing heavy is pickled back
        if not leaf.finished():
            raise RuntimeError(f"leaf {leaf.id} ({leaf.function}) returned but left {leaf.path} unfinished")
        try:
            job_id = submitit.JobEnvironment().job_id
        except RuntimeError:  # called outside a submitit job (a test, or by hand)
            job_id = None
        atomic_write_json(record_path(leaf), {
            "leaf": leaf.id, "function": leaf.function, "code": code_version(), "host": socket.gethostname(),
            "job_id": job_id, "time": _utc_now(),
        })  # fmt: skip
        return leaf.id
