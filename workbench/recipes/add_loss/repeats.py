"""The repeats of each test fold: trained one after another (the reference), or together as one vectorised
model (``seed_parallel``, :mod:`workbench.train.ensemble`); and one loss over every fold and repeat
(:func:`train_loss`).

Trained together, each repeat is still its own run: its own initial weights, loader, mixup and SpecAugment
draws (made outside ``vmap``, in the repeat's own random stream), its own optimiser state, and its results
written where its sequential run writes them (``test-<fold>-<repeat>`` arrays, ``models/<tag>/`` log and,
kept, a checkpoint in the Trainer's format). The two paths give the same run ids and results within float
tolerance, so either one finds the other's finished repeats.

Where ``vmap`` cannot go: the losses. ``ClassificationLoss`` checks its targets with data-dependent Python
(``targets.min() < 0 or targets.max() >= classes``), which ``vmap`` cannot trace, so each repeat's loss
(CE, focal, OPL, ADD) is computed on its slice of the vectorised outputs, in a loop over the K repeats; the
encoder and head (tiny AST, BEATs: no dropout in training) run vectorised.
"""

from __future__ import annotations

import warnings

import torch
from workbench.progress import tqdm

from workbench.data.records import AudioDataset
from workbench.recipes.add_loss import train
from workbench.recipes.add_loss.data import FoldInputs, FoldSplit, build_dataset, plan_partitions, prepare_fold_inputs
from workbench.recipes.add_loss.params import CODE_VERSION, NAME, Params, canonical, identity, loss_label
from workbench.recipes.add_loss.result import FoldResult, LossRun, run_tag
from workbench.recipes.add_loss.systems import FineTuner, build_criterion, encoder_rate, weights_data
from workbench.recipes.add_loss.train import (
    build_model,
    finish_fold,
    fold_loader,
    load_fold,
    mix_batch,
    model_dir,
    step_terms,
    train_config,
)
from workbench.train.distributed import DistributedContext
from workbench.train.ensemble import EnsembleTrainer, StackedModels, together_is_faster, why_not_together
from workbench.train.rundir import RunDir


def sequential_reason(params: Params, repeats: list[int], run_dir: RunDir, split: FoldSplit) -> str:
    """Why this fold's ``repeats`` train one after another, or ``""`` to try them together (before the probe
    forward of :func:`~workbench.train.ensemble.why_not_together`)."""
    if params.seed_parallel == "off":
        return "seed_parallel='off'"
    if len(repeats) < 2:
        return "fewer than two repeats left to train"
    if any(model_dir(run_dir, split.fold, repeat).latest_checkpoint() is not None for repeat in repeats):
        return "an interrupted repeat resumes from its checkpoint, exactly, one after another"
    device = DistributedContext().device
    if params.seed_parallel == "auto" and not together_is_faster(device):
        return f"seed_parallel='auto' trains seeds together on CUDA only; on {device.type} it is not faster"
    return ""


def train_repeats(
    params: Params,
    dataset: AudioDataset,
    split: FoldSplit,
    repeats: list[int],
    run_dir: RunDir,
    fold_data: FoldInputs | None,
) -> tuple[list[FoldResult], FoldInputs | None]:
    """Train ``repeats`` of one test fold, together where :func:`sequential_reason` and the probe allow,
    else one after another; returns their results (in the order of ``repeats``) and the fold's inputs."""
    reason = sequential_reason(params, repeats, run_dir, split)
    if not reason:
        models = [build_model(params, dataset, params.seed + repeat) for repeat in repeats]
        if fold_data is None:
            fold_data = prepare_fold_inputs(params, dataset, split, models[0].encoder, DistributedContext().device)
        example = _example_inputs(fold_data, models[0])
        reason = why_not_together(models, train_config(params, params.seed), [example], augment=False)
        if not reason:
            return _train_together(params, dataset, split, repeats, run_dir, fold_data, models), fold_data
    if params.seed_parallel == "on" and len(repeats) > 1:
        warnings.warn(f"add_loss: repeats {repeats} of fold {split.fold} train one after another: {reason}", stacklevel=3)
    results = []
    for repeat in repeats:
        # Through the module, so that tests can stand in for one model's training.
        result, fold_data = train._train_fold(params, dataset, split, repeat, run_dir, fold_data)
        results.append(result)
    return results, fold_data


def _example_inputs(fold_data: FoldInputs, model: FineTuner) -> torch.Tensor:
    """Two training items as one batch of inputs, for the probe forward, in the form the vectorised forward
    gets them (spectrograms where SpecAugment masks them first)."""
    items = [fold_data.train[index] for index in range(min(2, len(fold_data.train)))]
    batch = fold_data.collate(items) if fold_data.collate else torch.utils.data.default_collate(items)
    inputs = batch[0].to(DistributedContext().device)
    if model.spec_augment is not None and inputs.ndim == 2:
        with torch.no_grad():
            inputs = model.encoder.spectrogram(inputs)
    return inputs


def _train_together(
    params: Params,
    dataset: AudioDataset,
    split: FoldSplit,
    repeats: list[int],
    run_dir: RunDir,
    fold_data: FoldInputs,
    models: list[FineTuner],
) -> list[FoldResult]:
    seeds = [params.seed + repeat for repeat in repeats]
    criterion = build_criterion(params)
    model_dirs = [model_dir(run_dir, split.fold, repeat) for repeat in repeats]
    tags = [run_tag(split.fold, repeat) for repeat in repeats]

    def prepare(index: int, batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        # The random part of the sequential step, in its order: mixup, then SpecAugment's masks.
        inputs, targets = batch
        if params.mixup > 0:
            inputs, targets = mix_batch(inputs, targets, params.mixup, params.mixup_alpha, dataset.n_classes)
        model = models[index]
        if model.spec_augment is not None:
            inputs = model.augment(inputs if inputs.ndim == 3 else model.encoder.spectrogram(inputs))
        return inputs, targets

    def step(stacked: StackedModels, batches: list) -> tuple[torch.Tensor, list[dict[str, float]]]:
        embeddings, logits = stacked(torch.stack([inputs for inputs, _ in batches]), augment=False)  # (K, B, ...)
        outputs = [step_terms(criterion, logits[index], targets, embeddings[index])
                   for index, (_, targets) in enumerate(batches)]  # fmt: skip
        return torch.stack([loss for loss, _ in outputs]), [metrics for _, metrics in outputs]

    with tqdm(total=params.epochs, desc=f"{loss_label(params)}, {', '.join(tags)} together", unit="epoch",
              leave=False) as bar:  # fmt: skip

        def after_epoch(index: int, record: dict[str, float]) -> None:
            model_dirs[index].log("epoch", **record)
            if index == len(repeats) - 1:
                bar.update(1)

        for directory, tag in zip(model_dirs, tags, strict=True):
            directory.log("fit_start", epoch=0, step=0, resumed_from="", together_with=tags)
        trainer = EnsembleTrainer(models, step, train_config(params, params.seed), seeds, prepare, after_epoch)
        trainer.fit([fold_loader(params, fold_data, seed) for seed in seeds])
    results = []
    for index, repeat in enumerate(repeats):
        model_dirs[index].log("fit_end", epoch=params.epochs, step=trainer.steps)
        if params.keep_checkpoints:
            model_dirs[index].save_checkpoint(trainer.trainer_checkpoint(index), trainer.steps)
        results.append(finish_fold(params, dataset, split, repeat, run_dir, models[index], fold_data, trainer.device))
    return results


def train_loss(
    params: Params,
    dataset: AudioDataset | None = None,
    prepared: dict[int | None, FoldInputs] | None = None,
    repeat: int | None = None,
) -> LossRun:
    """Train the single loss ``params.loss`` on every chosen fold and repeat, in its run directory.

    A finished run is read back; an interrupted one keeps its finished folds and resumes the
    interrupted training from its last checkpoint. ``params.seed_parallel`` picks how a fold's repeats
    train (:func:`train_repeats`); it is not part of the run's identity.

    Args:
        params: the settings (fields the loss ignores do not matter, see :func:`canonical`).
        dataset: the dataset ``params`` names, when the caller has built it already.
        prepared: test fold -> the clips (or spectrograms) read for it, shared by several losses
            trained on the same data with the same front-end; filled as folds are read.
        repeat: train only this repeat (seed ``params.seed + repeat``, every chosen fold), in its own run
            directory (:func:`~workbench.recipes.add_loss.params.identity` with ``repeat``): how ``max_seeds``
            adds repeats one at a time. None: repeats ``0 .. params.repeats - 1`` in one run directory.
    """
    prepared = {} if prepared is None else prepared
    params = canonical(params)
    if dataset is None:
        dataset = build_dataset(params, encoder_rate(params))
    run_dir = RunDir.open(NAME, identity(params, repeat), data=[dataset, *weights_data(params)], code=CODE_VERSION)
    repeats = list(range(params.repeats)) if repeat is None else [repeat]
    splits, note = plan_partitions(dataset, params.folds, params.protocol, params.n_folds, params.seed)
    results: list[FoldResult] = []
    if not run_dir.finished:
        run_dir.log("start", params=identity(params, repeat), protocol_note=note)
    for split in tqdm(splits, desc=f"{loss_label(params)}: folds", leave=False, disable=len(splits) == 1):
        finished: dict[int, FoldResult] = {}
        for index in repeats:
            try:
                finished[index] = load_fold(run_dir, split.fold, index, dataset, params)
            except FileNotFoundError:
                pass
        left = [index for index in repeats if index not in finished]
        if left:
            trained, fold_data = train_repeats(params, dataset, split, left, run_dir, prepared.get(split.fold))
            if fold_data is not None:
                prepared[split.fold] = fold_data
            finished.update(zip(left, trained, strict=True))
        results += [finished[index] for index in repeats]
    loss_run = LossRun(loss_label(params), params, run_dir.path, results)
    if not run_dir.finished:
        run_dir.write_metrics({**loss_run.metrics(), "claims": []})
        run_dir.log("finished")
    return loss_run
