"""Linear probes on fixed random embeddings: cost per probe, and overhead over a bare PyTorch loop.

    python -m benchmarks.run linear_eval

The embeddings are Gaussian blobs of 10 overlapping classes, 512-d (a probe reaches about 0.6
accuracy), split by the stratified holdout protocol. Early stopping is disabled (``patience =
max_epochs``) so every probe trains the same number of epochs and the timings compare like with
like. Only the public :func:`~workbench.evaluation.linear_evaluation` is called. One thread,
interleaved rounds. Rows:

- ``per probe, 3 seeds vs 1``: ``linear_evaluation(seeds=(0, 1, 2))`` / 3 against ``seeds=(0,)``.
  Probes trained one after another cost the same each (ratio 1); the goal (<= 0.5) is the batched
  probes of issue 18 (several seeds as one model with a probe axis).
- ``1 probe vs a bare loop``: one ``linear_evaluation`` probe against the same training written as
  the shortest PyTorch loop (standardise once, ``nn.Linear``, Adam, cross-entropy, one validation
  pass and one host sync per epoch): the per-step overhead. Goal <= 1.5.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from benchmarks.timing import compared_row, interleaved, row
from workbench.evaluation import LinearEvalConfig, linear_evaluation

DIM = 512
N_CLASSES = 10


def _embeddings(count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(N_CLASSES, DIM)) * 0.12
    labels = np.arange(count) % N_CLASSES
    features = centres[labels] + rng.normal(size=(count, DIM))
    return features.astype(np.float32), labels


def bare_probe(features: np.ndarray, labels: np.ndarray, config: LinearEvalConfig, seed: int = 0) -> float:
    """The same probe as the shortest PyTorch loop: the floor a probe's per-step overhead is measured against."""
    generator = np.random.default_rng(seed)
    order = generator.permutation(len(labels))
    n_test = int(len(labels) * config.test_fraction)
    n_valid = int((len(labels) - n_test) * config.valid_fraction)
    test, valid, train = np.split(order, [n_test, n_test + n_valid])
    x = torch.from_numpy(features)
    y = torch.from_numpy(labels)
    mean, std = x[train].mean(0), x[train].std(0) + 1e-8
    x = (x - mean) / std  # standardised once
    torch.manual_seed(seed)
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


def run(quick: bool = False) -> list[dict]:
    count, epochs, rounds = (1000, 5, 3) if quick else (2000, 30, 5)
    config = LinearEvalConfig(max_epochs=epochs, patience=epochs)
    features, labels = _embeddings(count)
    data = (features, labels, None)
    setting = f"{count} x {DIM}-d, {N_CLASSES} classes, holdout, {epochs} epochs, 1 thread"
    result = {}

    def one_probe() -> None:
        result["one"] = linear_evaluation(data, seeds=(0,), config=config, protocol="holdout")

    seconds = interleaved(
        {
            "1 probe": one_probe,
            "3 probes": lambda: linear_evaluation(data, seeds=(0, 1, 2), config=config, protocol="holdout"),
            "bare PyTorch loop": lambda: bare_probe(features, labels, config),
        },
        rounds,
    )
    return [
        compared_row("linear_eval: per probe, 3 seeds vs 1", setting, seconds, "3 probes", "1 probe", goal=0.5,
                     scale=1 / 3, note="probes run one after another; batched probes (issue 18 item 1) pending"),
        compared_row("linear_eval: 1 probe vs a bare loop", setting, seconds, "1 probe", "bare PyTorch loop",
                     goal=1.5),
        row("linear_eval: test accuracy (sanity)", setting, result["one"].mean, "accuracy"),
    ]  # fmt: skip


if __name__ == "__main__":
    for entry in run():
        print(entry)
