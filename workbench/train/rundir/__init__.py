"""Run directories: where one run of a recipe keeps its parameters, metrics, log, checkpoints and arrays.

Layout (``root`` defaults to :func:`workbench.paths.runs_root`, ``$WORKBENCH_RUNS`` or ``./runs``)::

    <root>/<recipe>/<run-id>/
        params.yaml             the parameters, loadable by the recipe's ``Params.from_dict``
        provenance.json         workbench version and git commit, Python and package versions, and
                                the fingerprint of the data the run reads (when it was given)
        metrics.json            {"finished": bool, "metrics": {...}}: strict JSON, NaN/inf as null
        status.json             {"status": "failed", "error": ...} while a run that stopped on an
                                error waits for its retry (:mod:`~workbench.train.rundir.status`)
        log.jsonl               one JSON object per line: {"time": UTC ISO 8601, "event": ..., **fields}
        checkpoints/step-<n>.pt training state after optimizer step n (the last ``keep_last`` kept)
        arrays/<name>.npz       arrays a notebook draws
        artifacts/<name>        anything else (figures, audio, reports)
        .lock                   held (``fcntl.flock``) by the process running the run; on a file system
                                without coherent flock, .lock.held (an O_EXCL lock file, :mod:`.lock`)

The run id is a hash of the recipe name, the parameters and the fingerprint of everything the run reads
(:func:`run_id`; :mod:`workbench.data.fingerprint`: file sizes, modification and status-change times,
synthetic seeds and parameters, and the sha256 of each weights file it loads, from
:mod:`workbench.models.digest`), so running the same parameters on the same data again finds the same
directory: a finished run's metrics are there to read, and an interrupted one resumes from its latest
checkpoint (its log gets a ``resumed`` row). Overwritten data or weights give another id: a new run.

One process runs a run at a time: :meth:`RunDir.open` takes an exclusive lock on ``.lock``, held as long
as any :class:`RunDir` of it opened in that process is alive (or until :meth:`RunDir.close`). A second
process opening the same run waits for it (``wait`` seconds; ``None`` waits as long as it takes, after
saying whom it waits for) or, with ``wait=0``, refuses with :class:`RunLockedError`, naming the holder.
The kernel releases the lock of a process that dies, so a killed run never blocks the next one; once it
holds the lock, ``open`` removes the temporary files a killed atomic write left in the directory.

Every file is written atomically (temporary file + rename, :mod:`workbench.atomic`), so a process killed
mid-write leaves the old file or the new one, never half of one. The one exception is ``log.jsonl``, which
is appended to line by line (rewriting it per event would cost time quadratic in its length): a process
killed mid-line leaves a partial last line, which :meth:`RunDir.read_log` ignores and the next
:meth:`RunDir.log` call removes.

Under ``torchrun`` the trainer writes from rank 0 only, and only rank 0 takes the lock and writes
params.yaml and provenance.json.

The modules, one per concern:

- :mod:`~workbench.train.rundir.ids`: plain values, their canonical form and :func:`run_id`.
- :mod:`~workbench.train.rundir.provenance`: what provenance.json records.
- :mod:`~workbench.train.rundir.lock`: the run lock (:class:`RunLockedError`).
- :mod:`~workbench.train.rundir.status`: finished, failed or unfinished; :func:`failures_marked`.
- :mod:`~workbench.train.rundir.directory`: :class:`RunDir`: opening a run, its params and provenance;
  it mixes in :mod:`~workbench.train.rundir.records` (metrics.json and log.jsonl),
  :mod:`~workbench.train.rundir.checkpoints` and :mod:`~workbench.train.rundir.arrays` (arrays and
  artifacts).
"""

from workbench.train.rundir.directory import RunDir
from workbench.train.rundir.ids import RUN_ID_HEX_DIGITS, params_dict, plain, run_id
from workbench.train.rundir.lock import RunLockedError
from workbench.train.rundir.provenance import provenance
from workbench.train.rundir.status import failures_marked

__all__ = [
    "RUN_ID_HEX_DIGITS", "RunDir", "RunLockedError", "failures_marked", "params_dict", "plain", "provenance", "run_id",
]
