"""Linear probes on fixed random embeddings: batched probes against one probe, equality, and overhead
over a bare PyTorch loop.

    python -m benchmarks.run linear_eval

The embeddings are Gaussian blobs of 10 overlapping classes, 512-d (a probe reaches about 0.6
accuracy), under the ``"kfold"`` protocol (5 stratified folds, validation carved from each training
side). Early stopping is disabled (``patience = max_epochs``) so every probe trains the same number
of epochs and the timings compare like with like. One thread, interleaved rounds. Rows:

- ``per probe, batched 3 seeds x 5 folds vs 1 probe``: :func:`~workbench.evaluation.linear.train_linear_batched`
  on the 15 probes of ``linear_evaluation(seeds=(0, 1, 2), protocol="kfold")``, divided by 15, against
  the first of them trained alone by the single-probe trainer (:func:`~workbench.evaluation.linear.train_linear`
  through ``train_linear_reference``). Goal <= 0.5 (issue 18: >= 2 x faster per probe).
- ``batched == one at a time``: the same 15 probes, batched and one after another, through the public
  ``linear_evaluation(engine=...)``: the share of test predictions that agree (every seed) and the
  largest difference of a seed's score; met when every prediction agrees and the scores differ by
  <= 1e-9. Computed once, not timed.
- ``1 probe vs a bare loop``: one probe of ``train_linear_batched`` against the same training written as
  the shortest PyTorch loop (standardise once, ``nn.Linear``, Adam, cross-entropy, one validation pass
  and one host sync per epoch) on the same rows: the per-step overhead. Goal <= 1.5.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from benchmarks.timing import compared_row, interleaved, row
from workbench.evaluation import LinearEvalConfig, linear_evaluation
from workbench.evaluation.embeddings import Embeddings
from workbench.evaluation.linear import (
    ProbeSpec,
    evaluation_splits,
    train_linear_batched,
    train_linear_reference,
)

DIM = 512
N_CLASSES = 10
SEEDS = (0, 1, 2)
N_FOLDS = 5
PROTOCOL = "kfold"


def _embeddings(count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(N_CLASSES, DIM)) * 0.12
    labels = np.arange(count) % N_CLASSES
    features = centres[labels] + rng.normal(size=(count, DIM))
    return features.astype(np.float32), labels


def probe_specs(features: np.ndarray, labels: np.ndarray, config: LinearEvalConfig) -> list[ProbeSpec]:
    """The probes ``linear_evaluation(seeds=SEEDS, protocol=PROTOCOL)`` trains: one per seed and fold."""
    table = Embeddings(features=features, targets=labels, ids=np.arange(len(labels)).astype(str), classes=())
    return [
        ProbeSpec(split.train, split.valid, seed, config.lr, split.test)
        for seed in SEEDS
        for split in evaluation_splits(table, PROTOCOL, seed, config, n_folds=N_FOLDS)
    ]


def bare_probe(features: np.ndarray, labels: np.ndarray, spec: ProbeSpec, config: LinearEvalConfig) -> float:
    """The same probe as the shortest PyTorch loop: the floor a probe's per-step overhead is measured against."""
    x = torch.from_numpy(features)
    y = torch.from_numpy(labels)
    train, valid, test = (torch.from_numpy(rows) for rows in (spec.train, spec.valid, spec.test))
    mean, std = x[train].mean(0), x[train].std(0) + 1e-8
    x = (x - mean) / std  # standardised once
    torch.manual_seed(spec.seed)
    model = nn.Linear(DIM, N_CLASSES)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.lr)
    train_x, train_y = x[train], y[train]
    best = 0.0
    for _ in range(config.max_epochs):
        permutation = torch.randperm(len(train))
        for start in range(0, len(train), config.batch_size):
            batch = permutation[start : start + config.batch_size]
            loss = nn.functional.cross_entropy(model(train_x[batch]), train_y[batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        with torch.no_grad():
            best = max(best, (model(x[valid]).argmax(1) == y[valid]).float().mean().item())  # one sync per epoch
    with torch.no_grad():
        return (model(x[test]).argmax(1) == y[test]).float().mean().item()


def _equality_row(features: np.ndarray, labels: np.ndarray, config: LinearEvalConfig, setting: str) -> dict:
    """The public linear evaluation, batched and one probe at a time: predictions and scores compared."""
    data = (features, labels, None)
    results = {
        engine: linear_evaluation(data, seeds=SEEDS, config=config, protocol=PROTOCOL, n_folds=N_FOLDS, engine=engine)
        for engine in ("batched", "reference")
    }  # fmt: skip
    batched, reference = results["batched"], results["reference"]
    agreement = 100 * float(np.mean(batched.seed_predictions == reference.seed_predictions))
    score_difference = float(np.max(np.abs(np.subtract(batched.per_seed, reference.per_seed))))
    equal = agreement == 100 and score_difference <= 1e-9
    return row(
        "linear_eval: batched == one at a time", setting, agreement, "% of predictions agree",
        anchor="engine='reference'", met=equal,
        note=None if equal else f"largest per-seed score difference {score_difference:.3g}",
    )  # fmt: skip


def run(quick: bool = False) -> list[dict]:
    count, epochs, rounds = (1000, 5, 5) if quick else (2000, 30, 7)
    config = LinearEvalConfig(max_epochs=epochs, patience=epochs)
    features, labels = _embeddings(count)
    specs = probe_specs(features, labels, config)
    setting = f"{count} x {DIM}-d, {N_CLASSES} classes, {PROTOCOL} ({N_FOLDS} folds), {epochs} epochs, 1 thread"
    batched_setting = setting + f", {len(specs)} probes ({len(SEEDS)} seeds x {N_FOLDS} folds)"
    seconds = interleaved(
        {
            "batched probes": lambda: train_linear_batched(features, labels, specs, config),
            "1 probe alone": lambda: train_linear_reference(features, labels, specs[:1], config),
            "1 batched probe": lambda: train_linear_batched(features, labels, specs[:1], config),
            "bare PyTorch loop": lambda: bare_probe(features, labels, specs[0], config),
        },
        rounds,
    )
    return [
        compared_row(f"linear_eval: per probe, batched {len(SEEDS)} seeds x {N_FOLDS} folds vs 1 probe",
                     batched_setting, seconds, "batched probes", "1 probe alone", goal=0.5, scale=1 / len(specs),
                     note="the batched step's fixed cost is not yet shared by enough probes"),
        _equality_row(features, labels, config, batched_setting),
        compared_row("linear_eval: 1 probe vs a bare loop", setting, seconds, "1 batched probe", "bare PyTorch loop",
                     goal=1.5),
    ]  # fmt: skip


if __name__ == "__main__":
    for entry in run():
        print(entry)
