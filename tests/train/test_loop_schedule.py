"""The ``"warmup_step"`` schedule: CaRE-SEP's warm-up factors, then step decay with a floor (Sec. 3.2)."""

from __future__ import annotations

import pytest
import torch

from workbench.train.loop import TrainConfig, Trainer, scheduler_from_config, warmup_step_factor

PAPER = dict(schedule="warmup_step", warmup_factors=(0.05, 0.1, 0.2), step_epochs=10, step_gamma=0.5,
             min_factor=0.05)  # fmt: skip


def test_paper_factors_per_epoch():
    """0.05, 0.1, 0.2 for the first three epochs, then halved every ten epochs until 0.05 (CaRE-SEP Sec. 3.2)."""
    config = TrainConfig(epochs=40, **PAPER)
    factors = [warmup_step_factor(config, epoch) for epoch in range(40)]
    expected = [0.05, 0.1, 0.2] + [0.2] * 7 + [0.1] * 10 + [0.05] * 20
    assert factors == pytest.approx(expected)


def test_scheduler_applies_the_factor_per_step_within_epochs():
    config = TrainConfig(epochs=12, lr=2e-3, **PAPER)
    parameter = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.AdamW([parameter], lr=config.lr)
    scheduler = scheduler_from_config(optimizer, config, steps_per_epoch=3)
    seen = []
    for _ in range(12 * 3):
        seen.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    per_epoch = [seen[3 * epoch : 3 * epoch + 3] for epoch in range(12)]
    assert all(len(set(lrs)) == 1 for lrs in per_epoch)  # constant within an epoch
    assert [lrs[0] / 2e-3 for lrs in per_epoch] == pytest.approx([0.05, 0.1, 0.2] + [0.2] * 7 + [0.1] * 2)


def test_without_warmup_it_is_a_floored_step_decay():
    config = TrainConfig(epochs=50, schedule="warmup_step", step_epochs=5, step_gamma=0.5, min_factor=0.2)
    assert [warmup_step_factor(config, epoch) for epoch in (0, 4, 5, 10, 15, 30)] == pytest.approx(
        [1.0, 1.0, 0.5, 0.25, 0.2, 0.2]
    )


def test_trainer_records_the_warmup_learning_rates():
    torch.manual_seed(0)
    model = torch.nn.Linear(2, 1)
    data = [(torch.randn(4, 2), torch.randn(4, 1)) for _ in range(2)]

    def step(module, batch):
        inputs, targets = batch
        return torch.nn.functional.mse_loss(module(inputs), targets), {}

    config = TrainConfig(epochs=4, lr=0.1, log_every=0, mixed_precision="off", **PAPER)
    history = Trainer(model, step, config, progress=False).fit(data)
    assert history["lr"] == pytest.approx([0.005, 0.01, 0.02, 0.02])


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (dict(warmup_factors=(0.1,)), "warmup_factors=.* only applies to schedule='warmup_step', not 'constant'"),
        (dict(schedule="warmup_step", warmup_factors=(0.0, 0.5)), r"warmup_factors must lie in \(0, 1\]"),
        (dict(schedule="warmup_step", min_factor=1.5), r"min_factor must be in \[0, 1\]"),
    ],
)
def test_bad_schedule_settings_are_named(changes, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**changes)
