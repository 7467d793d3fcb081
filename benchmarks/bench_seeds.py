"""Seeds trained together as one vectorised model against the same seeds trained one after another.

    python -m benchmarks.run seeds

A claim about a training method needs several training seeds per condition (the verdicts). For K = 3 and 5
seeds, one interleaved round times one epoch of each seed trained by its own
:class:`~workbench.train.loop.Trainer`, one after another (the anchor, what the recipes do by default),
against the same K seeds trained by one :class:`~workbench.train.ensemble.EnsembleTrainer` (parameters stacked,
``functional_call`` under ``vmap``, one optimiser step for all K). Both train from the same initial weights on
the same batches. The ratio is together / sequential (lower is faster); the goals are the issue's, 0.5 for
K = 3 and 0.4 for K = 5. The value is seeds per minute trained together, for trainings of :data:`TRAINING_STEPS` steps.

Rows, one thread:

- add_loss's tiny AST (``Params()``: batch 32, 0.5-s clips as 100-frame fbanks, ADD loss; the per-seed loss
  runs in a loop over the K slices, see :mod:`workbench.recipes.add_loss.repeats`);
- the ASC baseline network (``TagFusionASC`` baseline at ``RawASCConfig.small()``: 2-s stereo 16 kHz clips,
  16 filters, batch 32, cross-entropy; its BatchNorm statistics are stacked buffers under ``vmap``; its input
  check, data-dependent Python that ``vmap`` cannot trace, runs outside, see :func:`_check_inputs_outside_vmap`).
"""

from __future__ import annotations

import statistics

import torch
from torch import nn

from benchmarks.timing import compared_row, interleaved
from workbench.models.asc_raw import RawASCConfig
from workbench.models.tag_fusion import FusionConfig, TagFusionASC
from workbench.recipes import add_loss
from workbench.train.distributed import DistributedContext
from workbench.train.ensemble import EnsembleTrainer
from workbench.train.loop import Trainer, TrainConfig

GOALS = {3: 0.5, 5: 0.4}
TRAINING_STEPS = 150
"""Steps of one seed's training in the seeds-per-minute value: add_loss's default (30 epochs of 5 batches)."""
NOTES = {
    "add_loss": "compute-bound on one CPU thread at batch 32 (a step is tens of ms of matrix products): vmap "
    "makes them batched products of the same work (attention through the math kernel, as bmm)",
    "asc": "compute-bound on one CPU thread (32 x 2-s stereo clips per step): vmap makes each seed's convolutions "
    "one grouped convolution of the same work, slower than K plain ones on the CPU",
}


def _add_loss_case(steps: int) -> tuple:
    """(model from seed, ``steps`` batches, loss of outputs and targets) for add_loss's default tiny AST with ADD."""
    params = add_loss.Params()
    criterion = add_loss.build_criterion(params)
    n_classes = 10
    encoder = add_loss.build_fine_tuned_encoder(params, 0)
    generator = torch.Generator().manual_seed(0)
    waveforms = 0.1 * torch.randn(steps * params.batch_size, round(params.clip_seconds * 16000), generator=generator)
    with torch.no_grad():
        spectrograms = encoder.spectrogram(waveforms)  # the recipe computes them once, before training
    targets = torch.randint(0, n_classes, (len(waveforms),), generator=generator)
    batches = [(spectrograms[index::steps], targets[index::steps]) for index in range(steps)]

    def model(seed: int) -> nn.Module:
        return add_loss.FineTuner(add_loss.build_fine_tuned_encoder(params, seed), n_classes)

    def loss(outputs, targets):
        embeddings, logits = outputs
        return criterion(logits, targets, embeddings)

    return model, batches, loss


def _asc_case(steps: int) -> tuple:
    """The same for the ASC baseline network at the synthetic default's size."""
    config, batch = RawASCConfig.small(), 32
    generator = torch.Generator().manual_seed(0)
    batches = [(0.1 * torch.randn(batch, config.channels, config.input_samples, generator=generator),
                torch.randint(0, config.n_scenes, (batch,), generator=generator)) for _ in range(steps)]  # fmt: skip

    def model(seed: int) -> nn.Module:
        torch.manual_seed(seed)
        return TagFusionASC(config, FusionConfig("baseline", n_tags=0))

    def loss(logits, targets):
        return nn.functional.cross_entropy(logits, targets)

    return model, batches, loss


def _trainers(case: tuple, seeds: int) -> dict[str, callable]:
    """One epoch of ``seeds`` seeds, sequential and together, as two functions of no arguments."""
    make_model, batches, loss = case
    config = TrainConfig(epochs=1, optimizer="adamw", lr=1e-3, log_every=0, checkpoint_every=1)
    sequential_models = [make_model(seed) for seed in range(seeds)]
    together_models = [make_model(seed) for seed in range(seeds)]

    def sequential() -> None:
        for seed, model in enumerate(sequential_models):
            trainer = Trainer(model, lambda model, batch: (loss(model(batch[0]), batch[1]), {}),
                              config.replace(seed=seed), progress=False)  # fmt: skip
            trainer.fit(batches)

    def step(stacked, seed_batches):
        outputs = stacked(torch.stack([inputs for inputs, _ in seed_batches]))
        first = outputs if isinstance(outputs, torch.Tensor) else outputs[0]
        losses = []
        for index, (_, targets) in enumerate(seed_batches):
            seed_outputs = first[index] if isinstance(outputs, torch.Tensor) else tuple(part[index] for part in outputs)
            losses.append(loss(seed_outputs, targets))
        return torch.stack(losses), [{} for _ in seed_batches]

    def together() -> None:
        trainer = EnsembleTrainer(together_models, step, config, list(range(seeds)))
        _check_inputs_outside_vmap(trainer.stacked.template, together_models[0], batches)
        trainer.fit([batches] * seeds)

    return {"sequential": sequential, "together": together}


def _check_inputs_outside_vmap(template: nn.Module, model: nn.Module, batches: list) -> None:
    """The raw-waveform network checks that its input is finite (``if not torch.isfinite(waveform).all()``),
    Python control flow on data that ``vmap`` cannot trace: run that check once per batch here, outside, and
    let the vectorised template skip it."""
    for module, checked in zip(template.modules(), model.modules(), strict=True):
        if hasattr(type(module), "check_input"):
            for inputs, _ in batches:
                checked.check_input(inputs)
            module.check_input = _unchanged


def _unchanged(inputs: torch.Tensor) -> torch.Tensor:
    return inputs


def run(quick: bool = False) -> list[dict]:
    rows = []
    steps, rounds = (1, 1) if quick else (2, 3)
    device = DistributedContext().device  # where both trainers train: a GPU when there is one
    cases = {
        "add_loss tiny AST, ADD, batch 32": (_add_loss_case(steps), NOTES["add_loss"]),
        "ASC baseline network, 2 s stereo 16 kHz, 16 filters, batch 32": (_asc_case(steps), NOTES["asc"]),
    }
    for name, (case, note) in cases.items():
        for seeds in (3,) if quick else (3, 5):
            seconds = interleaved(_trainers(case, seeds), rounds=rounds, warmup=1)
            per_minute = 60 * seeds / (statistics.median(seconds["together"]) / steps * TRAINING_STEPS)
            rows.append(compared_row(
                "seeds trained together (vmap) vs one after another", f"{name}, K={seeds}, {steps} steps per round, {device.type}",
                seconds, "together", "sequential", goal=GOALS[seeds], note=note, value=per_minute,
                unit=f"seeds/min ({TRAINING_STEPS} steps each)",
            ))  # fmt: skip
    return rows


if __name__ == "__main__":
    for entry in run():
        print(entry)
