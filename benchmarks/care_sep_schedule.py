"""CaRE-SEP's CPU schedule chosen on validation data: does each row clear the query-blind floor?

    python -m benchmarks.care_sep_schedule 2e-3:6:4 5e-3:6:4:8 ...   (learning_rate:epochs:step_epochs[:pretrain_epochs[:batch_size]])
    CARE_SEP_SEEDS=0,1,2,3 python -m benchmarks.care_sep_schedule 1e-2:6:4     (training seeds; default 0,1,2)

For each setting, rows A (ST-SED-SEP) and C (CaRE-SEP) of the notebook default (``Params()``, which the
notebook's parameters equal) train on three quarters of the TRAINING pairs and are scored on the other
quarter (:func:`~workbench.recipes.care_sep.validation_data`; the test pairs are never read), with the paper's
schedule shape (warm-up 0.05, 0.1, 0.2, then halved every ``step_epochs``). Printed per row: the floor claim
(mixture-SDR minus the half mixture's, paired t over the training seeds, validation mixtures as units) and
the seconds the setting took. Trainings go to a temporary ``WORKBENCH_RUNS`` so that they never stand in
for the real ones; the Init classifiers come from the usual cache. One thread.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time

import numpy as np
import torch

from workbench.evaluation.separation import query_blind_scores
from workbench.recipes import care_sep


def validate(learning_rate: float, epochs: int, step_epochs: int, seeds: tuple[int, ...] = (0, 1, 2),
             rows: tuple[str, ...] = ("A", "C"), **changes) -> list[str]:  # fmt: skip
    """The floor claims of ``rows`` trained with one setting, on the validation mixtures, and each
    row's per-seed effect (mixture-SDR minus the half mixture's)."""
    params = care_sep.Params(**changes).replace(
        learning_rate=learning_rate, epochs=epochs, step_epochs=step_epochs, schedule="paper", rows=rows, seeds=seeds
    )  # fmt: skip
    dataset = care_sep.validation_data(care_sep.separation_data(params))
    init = care_sep.init_classifiers(params, progress=False)
    start = time.perf_counter()
    items: dict[str, list[np.ndarray]] = {row: [] for row in rows}
    for seed in seeds:
        for row in rows:
            trained = care_sep.train_row(params, row, seed, dataset, init, progress=False)
            items[row].append(care_sep.evaluate(trained.system, dataset, params).scores.mixture_sdr)
    claims = care_sep.floor_claims({row: np.stack(values) for row, values in items.items()},
                                   query_blind_scores(dataset.test.sources))  # fmt: skip
    setting = (f"lr {learning_rate:g}, {epochs} epochs, halved every {step_epochs}, batch {params.batch_size}, "
               f"Init {params.pretrain_epochs} epochs")
    seconds = time.perf_counter() - start
    blind = float(query_blind_scores(dataset.test.sources).mean())
    per_seed = {row: ", ".join(f"{float(values.mean()) - blind:+.2f}" for values in items[row]) for row in rows}
    return [f"{setting}, seeds {list(seeds)} ({seconds:.0f} s): {claim.name.split(':')[0]}: {claim.effect:+.2f} dB "
            f"[{claim.ci_low:+.2f}, {claim.ci_high:+.2f}] -> {claim.verdict} (per seed {per_seed[row]})"
            for row, claim in zip(rows, claims)]  # fmt: skip


def main(arguments: list[str]) -> None:
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as runs:
        os.environ["WORKBENCH_RUNS"] = runs
        for argument in arguments:
            learning_rate, epochs, step_epochs, *more = argument.split(":")
            changes = {key: int(value) for key, value in zip(("pretrain_epochs", "batch_size"), more)}
            seeds = tuple(int(seed) for seed in os.environ.get("CARE_SEP_SEEDS", "0,1,2").split(","))
            for line in validate(float(learning_rate), int(epochs), int(step_epochs), seeds, **changes):
                print(line, flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
