"""Training one model: the step (mixup, forward, loss terms), the shared Trainer's configuration, the model,
loader and run directory of a test fold and repeat, its training one at a time (:func:`_train_fold`), its
scoring, and reading a finished one back from its saved test arrays."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from workbench.progress import tqdm

from workbench.audio import SpecAugment, mixup_targets, mixup_waveforms
from workbench.data.records import AudioDataset
from workbench.losses import ClassificationLoss
from workbench.recipes.add_loss.data import FoldInputs, FoldSplit, clip_ids, prepare_fold_inputs
from workbench.recipes.add_loss.evaluate import fold_geometry, predict
from workbench.recipes.add_loss.params import Params, loss_label
from workbench.recipes.add_loss.result import FoldResult, run_tag
from workbench.recipes.add_loss.systems import FineTuner, build_criterion, build_fine_tuned_encoder
from workbench.train.distributed import DistributedContext
from workbench.train.loop import Trainer, TrainConfig
from workbench.train.rundir import RunDir
from workbench.train.seed import make_generator, worker_init_fn


def mix_batch(
    waveforms: torch.Tensor, targets: torch.Tensor, probability: float, alpha: float, n_classes: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mixup inside a batch, as the ADD code does per clip: with ``probability`` a clip is mixed with
    a random clip of the batch, ``lam x + (1 - lam) y`` with ``lam ~ Beta(alpha, alpha)``.

    Returns:
        the waveforms and soft targets ``(batch, n_classes)`` (one-hot for clips left unmixed).
    """
    batch = len(waveforms)
    partner = torch.randperm(batch, device=waveforms.device)
    lam = torch.distributions.Beta(float(alpha), float(alpha)).sample((batch,)).to(waveforms.device)
    mixed = torch.rand(batch, device=waveforms.device) < probability
    lam = torch.where(mixed, lam, torch.ones_like(lam))
    return (
        mixup_waveforms(waveforms, waveforms[partner], lam),
        mixup_targets(targets, targets[partner], lam, n_classes=n_classes),
    )


def make_step(criterion: ClassificationLoss, params: Params, n_classes: int):
    """The trainer's ``step_fn``: mixup (when on), forward, and the loss with its terms as metrics."""

    def step(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        inputs, targets = batch
        if params.mixup > 0:
            inputs, targets = mix_batch(inputs, targets, params.mixup, params.mixup_alpha, n_classes)
        embeddings, logits = model(inputs)
        return step_terms(criterion, logits, targets, embeddings)

    return step


def step_terms(
    criterion: ClassificationLoss, logits: torch.Tensor, targets: torch.Tensor, embeddings: torch.Tensor
) -> tuple[torch.Tensor, dict[str, float]]:
    """One model's loss on one batch, with its terms and the training accuracy as metrics."""
    terms = criterion.terms(logits, targets, embeddings)
    hard = targets if targets.ndim == 1 else targets.argmax(dim=1)
    metrics = {"classification": terms["classification"].item(),
               "train_accuracy": (logits.argmax(dim=1) == hard).float().mean().item()}  # fmt: skip
    if "auxiliary" in terms:
        metrics["auxiliary"] = terms["auxiliary"].item()
    return terms["total"], metrics


def train_config(params: Params, seed: int) -> TrainConfig:
    """The shared Trainer's configuration for one model of ``params`` trained from ``seed``."""
    return TrainConfig(
        epochs=params.epochs,
        optimizer=params.optimizer,
        lr=params.learning_rate,
        betas=(params.beta1, params.beta2),
        weight_decay=params.weight_decay,
        schedule=params.schedule,
        warmup_epochs=params.warmup_epochs,
        step_epochs=params.step_epochs,
        step_gamma=params.step_gamma,
        # A handful of checkpoints per training: enough to resume, cheap for tiny models.
        checkpoint_every=max(1, math.ceil(params.epochs / 5)),
        seed=seed,
    )


class EpochProgress:
    """A trainer hook that advances a progress bar once per epoch and shows the epoch's mean loss."""

    def __init__(self, bar: tqdm):
        self.bar = bar

    def after_epoch(self, model: nn.Module, epoch: int, metrics: dict[str, float]) -> None:
        self.bar.n = epoch + 1  # absolute, so a resumed training shows where it is
        self.bar.set_postfix(loss=f"{metrics['loss']:.3g}")  # refreshes the bar


def build_model(params: Params, dataset: AudioDataset, seed: int) -> FineTuner:
    """The encoder and head of one repeat, initialised from ``seed``."""
    encoder = build_fine_tuned_encoder(params, seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        spec_augment = SpecAugment(params.freq_mask, params.time_mask) if params.freq_mask or params.time_mask else None
        return FineTuner(encoder, dataset.n_classes, spec_augment)


def fold_loader(params: Params, fold_data: FoldInputs, seed: int) -> torch.utils.data.DataLoader:
    """The training loader of one repeat: its own shuffling generator, seeded with ``seed``."""
    # A last batch of one or two clips gives ADD and OPL (nearly) no pairs: drop it when there are full ones.
    return torch.utils.data.DataLoader(
        fold_data.train, batch_size=params.batch_size, shuffle=True,
        drop_last=len(fold_data.train) > params.batch_size, collate_fn=fold_data.collate,
        generator=make_generator(seed), num_workers=params.num_workers if fold_data.collate else 0,
        worker_init_fn=worker_init_fn,
    )  # fmt: skip


def model_dir(run_dir: RunDir, fold: int | None, repeat: int) -> RunDir:
    """Where one model (a test fold and a repeat) trains: its log and checkpoints."""
    return RunDir(run_dir.path / "models" / run_tag(fold, repeat))


def _train_fold(
    params: Params,
    dataset: AudioDataset,
    split: FoldSplit,
    repeat: int,
    run_dir: RunDir,
    fold_data: FoldInputs | None,
) -> tuple[FoldResult, FoldInputs]:
    """Train one model (a test fold and a repeat), save its test arrays, and return its result with the
    split's prepared inputs (reused by the next repeat)."""
    seed = params.seed + repeat
    tag = run_tag(split.fold, repeat)
    model = build_model(params, dataset, seed)
    if fold_data is None:
        fold_data = prepare_fold_inputs(params, dataset, split, model.encoder, DistributedContext().device)
    loader = fold_loader(params, fold_data, seed)
    with tqdm(total=params.epochs, desc=f"{loss_label(params)}, {tag}", unit="epoch", leave=False) as bar:
        trainer = Trainer(
            model, make_step(build_criterion(params), params, dataset.n_classes), train_config(params, seed),
            run_dir=model_dir(run_dir, split.fold, repeat), hooks=[EpochProgress(bar)],
            ddp_options={"find_unused_parameters": True},
            # One bar per model, advanced per epoch; a bar per epoch as well only where epochs are long.
            progress=len(loader) >= 100,
        )  # fmt: skip
        trainer.fit(loader)
    return finish_fold(params, dataset, split, repeat, run_dir, trainer.model, fold_data, trainer.device), fold_data


def finish_fold(
    params: Params,
    dataset: AudioDataset,
    split: FoldSplit,
    repeat: int,
    run_dir: RunDir,
    model: FineTuner,
    fold_data: FoldInputs,
    device: torch.device,
) -> FoldResult:
    """Score one trained model on its test fold, save its test arrays (the result a rerun reads back) and
    drop its checkpoints unless they are kept."""
    tag = run_tag(split.fold, repeat)
    embeddings, logits, targets = predict(model, fold_data.test, fold_data.collate, params, device)
    predictions = logits.argmax(axis=1)
    indices = np.asarray(split.test, dtype=np.int64)
    result = FoldResult(
        fold=split.fold, repeat=repeat, accuracy=float((predictions == targets).mean()), indices=indices,
        ids=np.asarray(clip_ids(dataset, split.test)), targets=targets.astype(np.int64),
        predictions=predictions.astype(np.int64), embeddings=embeddings,
        geometry=fold_geometry(embeddings, targets, dataset, params),
    )  # fmt: skip
    run_dir.save_arrays(f"test-{tag}", **result.arrays())
    run_dir.log("fold_finished", fold=split.fold, repeat=repeat, accuracy=result.accuracy)
    if not params.keep_checkpoints:
        model_dir(run_dir, split.fold, repeat).drop_checkpoints()
    return result


def load_fold(
    run_dir: RunDir, fold: int | None, repeat: int, dataset: AudioDataset, params: Params
) -> FoldResult:
    """The saved test arrays of a trained model, as a :class:`FoldResult`.

    Raises:
        MissingFileError: that model has not finished training.
    """
    arrays = run_dir.load_arrays(f"test-{run_tag(fold, repeat)}")
    predictions, targets = arrays["predictions"], arrays["targets"]
    return FoldResult(
        fold=fold, repeat=repeat, accuracy=float((predictions == targets).mean()), indices=arrays["indices"],
        ids=arrays["ids"], targets=targets, predictions=predictions, embeddings=arrays["embeddings"],
        geometry=fold_geometry(arrays["embeddings"], targets, dataset, params),
    )  # fmt: skip
