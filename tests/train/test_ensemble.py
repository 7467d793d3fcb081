"""K seeds trained together as one vectorised model equal K sequential Trainer runs: weights, optimiser
state, histories, and each seed's own data order and augmentation randomness."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from workbench.train.ensemble import EnsembleTrainer, SeedStreams, StackedModels, why_not_together
from workbench.train.loop import Trainer, TrainConfig
from workbench.train.seed import make_generator

SEEDS = (3, 4, 5)


def make_model(seed: int, dropout: float = 0.0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 16), nn.GELU(), nn.Dropout(dropout), nn.LayerNorm(16), nn.Linear(16, 3))


def make_loader(seed: int) -> torch.utils.data.DataLoader:
    data = torch.utils.data.TensorDataset(torch.linspace(-1, 1, 40 * 6).reshape(40, 6).sin(), torch.arange(40) % 3)
    return torch.utils.data.DataLoader(data, batch_size=8, shuffle=True, generator=make_generator(seed))


def noisy(inputs: torch.Tensor) -> torch.Tensor:
    """The random part of a step: input noise from the global generator (as augmentation draws it)."""
    return inputs + 0.1 * torch.randn_like(inputs)


CONFIG = TrainConfig(epochs=3, optimizer="adamw", lr=1e-2, weight_decay=0.01, schedule="cosine", grad_clip=0.5,
                     log_every=0)  # fmt: skip


def sequential(seed: int) -> tuple[nn.Module, Trainer]:
    def step(model, batch):
        inputs, targets = batch
        return nn.functional.cross_entropy(model(noisy(inputs)), targets), {}

    model = make_model(seed)
    trainer = Trainer(model, step, CONFIG.replace(seed=seed), progress=False)
    trainer.fit(make_loader(seed))
    return model, trainer


def test_seeds_trained_together_equal_their_sequential_runs():
    def prepare(index, batch):
        inputs, targets = batch
        return noisy(inputs), targets

    def step(stacked, batches):
        inputs = torch.stack([batch[0] for batch in batches])
        targets = torch.stack([batch[1] for batch in batches])
        logits = stacked(inputs)  # (K, B, 3)
        losses = nn.functional.cross_entropy(logits.flatten(0, 1), targets.flatten(), reduction="none")
        return losses.view(len(batches), -1).mean(dim=1), [{"first": float(loss)} for loss in losses.detach().view(3, -1)[:, 0]]

    models = [make_model(seed) for seed in SEEDS]
    together = EnsembleTrainer(models, step, CONFIG, SEEDS, prepare=prepare)
    histories = together.fit([make_loader(seed) for seed in SEEDS])
    for index, seed in enumerate(SEEDS):
        reference, trainer = sequential(seed)
        for (name, ours), (_, theirs) in zip(models[index].state_dict().items(), reference.state_dict().items()):
            assert torch.allclose(ours, theirs, atol=1e-5), name
        expected = trainer.optimizer.state_dict()
        state = together.optimizer_state(index)
        assert state["param_groups"][0]["lr"] == expected["param_groups"][0]["lr"]
        for number, entries in expected["state"].items():
            for name, value in entries.items():
                assert torch.allclose(state["state"][number][name], value, atol=1e-6), (number, name)
        assert [record["loss"] for record in histories[index].epochs] == pytest.approx(trainer.history["loss"], abs=1e-5)


def test_streams_keep_each_seed_on_its_own_random_numbers():
    streams = SeedStreams([1, 2])
    with streams.of(0):
        first = torch.rand(3)
    outside = torch.rand(3)
    with streams.of(1):
        other = torch.rand(3)
    with streams.of(0):
        second = torch.rand(3)
    torch.manual_seed(1)
    assert torch.equal(first, torch.rand(3)) and torch.equal(second, torch.rand(3))
    torch.manual_seed(2)
    assert torch.equal(other, torch.rand(3))
    assert not torch.equal(outside, first)


def test_what_cannot_train_together_is_named():
    config = TrainConfig()
    assert why_not_together([make_model(0)], config) == "fewer than two seeds to train"
    assert "fp16" in why_not_together([make_model(0), make_model(1)], config.replace(mixed_precision="fp16"))
    dropped = [make_model(seed, dropout=0.5).train() for seed in (0, 1)]
    reason = why_not_together(dropped, config, [torch.zeros(4, 6)])
    assert reason.startswith("the forward cannot run under vmap") and "random" in reason
    assert why_not_together([make_model(0), make_model(1)], config, [torch.zeros(4, 6)]) == ""
    with pytest.raises(ValueError, match="differ in their parameters"):
        StackedModels([make_model(0), nn.Linear(6, 3)])
    with pytest.raises(ValueError, match="cannot train these seeds together: fewer than two"):
        EnsembleTrainer([make_model(0)], lambda stacked, batches: None, config, [0])
