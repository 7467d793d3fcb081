"""The run, read it first: find the encoders whose weights are here and the tasks whose clips are here, plan every
task's protocol, open one run directory per (encoder, task) cell, read back the finished ones, estimate and compute
the missing ones (one encoder built at a time), and gather the table."""

from __future__ import annotations

import time

from tqdm.auto import tqdm

from workbench.evaluation.protocols import one_warning_per_cause, plan_dataset_protocol
from workbench.paths import runs_root
from workbench.recipes.layer_fusion.data import datasets_at_hand
from workbench.recipes.layer_fusion.evaluate import seeds_of
from workbench.recipes.leaderboard.cells import (
    CellScores,
    build,
    compute_cell,
    finished_history,
    open_cell,
    read_cell,
    resolve_encoders,
    seconds_per_clip,
)
from workbench.recipes.leaderboard.params import NAME, Params
from workbench.recipes.leaderboard.result import LeaderboardRun
from workbench.train.rundir import failures_marked

FALLBACK_SECONDS_PER_CLIP = 0.008
"""CPU seconds per clip and cell (one thread) assumed for an encoder with no finished cell yet: the default grid's
mean, measured (21 cells, 6,729 clip-cells, 51 s: log-mel statistics 0.003, mn04 with six tapped layers 0.01-0.06,
longer clips costing more); once an encoder has finished cells, their median is used instead."""


def run(params: Params) -> LeaderboardRun:
    """Score every encoder of ``params`` on every task at hand with linear evaluation, reusing finished cells.

    First, before any encoder runs: the pretrained encoders of ``encoders_at_hand`` whose weights are in a mirror
    or the cache are kept (the others are skipped with a note), the tasks' datasets are listed (a task of
    ``tasks_at_hand`` whose files are absent is skipped) and every task's protocol is planned. Then every cell's
    run directory is opened: a finished one is read back, and the missing ones are estimated from the finished
    cells' measured cost, printed, and computed under a progress bar.

    Raises:
        UnknownNameError: an unknown encoder, dataset or task.
        DatasetNotFoundError: a dataset of ``tasks`` whose files are absent.
        MissingFileError, CheckpointError: a pretrained name of ``encoders`` whose weights cannot be had.
        ValueError: a protocol the data cannot support.
    """
    with one_warning_per_cause(), failures_marked():
        return _run(params)


def _run(params: Params) -> LeaderboardRun:
    encoders, skipped = resolve_encoders(params)
    datasets, skipped_tasks = datasets_at_hand(params)
    skipped.update(skipped_tasks)
    for dataset in datasets.values():  # seconds, from the metadata: before minutes of extraction
        plan_dataset_protocol(dataset, params.protocol, n_folds=params.n_folds, seeds=seeds_of(params.to_dict()))
    cells: dict[tuple[str, str], CellScores] = {}
    missing = []
    for encoder in encoders:
        for task, dataset in datasets.items():
            run_dir = open_cell(params, encoder, task, dataset)
            if run_dir.finished:
                cells[(encoder.name, task)] = read_cell(run_dir, encoder.name, task)
                run_dir.close()
            else:
                missing.append((encoder, task, run_dir))
    estimate = estimate_seconds(missing, datasets)
    start = time.process_time()
    if missing:
        print(f"{NAME}: {len(cells)} of {len(cells) + len(missing)} cells finished earlier (read back); computing "
              f"{len(missing)}: about {estimate:.0f} s of CPU", flush=True)  # fmt: skip
    built_name, built = None, None
    for encoder, task, run_dir in tqdm(missing, desc="leaderboard cells", unit="cell", disable=not missing):
        if encoder.name != built_name:  # one encoder in memory at a time; the cells are grouped by encoder
            built_name, built = encoder.name, build(encoder, params)
        with run_dir:
            cells[(encoder.name, task)] = compute_cell(run_dir, built, encoder, task, datasets[task], params)
    return LeaderboardRun(
        recipe=NAME, params=params.to_dict(), run_dir=None, settings=params, encoders=encoders, tasks=list(datasets),
        datasets=datasets, cells=cells, skipped=skipped, estimate_seconds=estimate,
        compute_seconds=time.process_time() - start,
    )  # fmt: skip


def estimate_seconds(missing, datasets) -> float:
    """CPU seconds the missing cells should take: each encoder's median seconds per clip over its finished cells
    (any leaderboard's, under the runs root), else :data:`FALLBACK_SECONDS_PER_CLIP`, times the task's clips."""
    if not missing:
        return 0.0
    history = finished_history(runs_root())
    total = 0.0
    for encoder, task, _ in missing:
        rate = seconds_per_clip(history, encoder.name)
        total += (FALLBACK_SECONDS_PER_CLIP if rate is None else rate) * len(datasets[task])
    return total
