"""The smoke run of a care_sep preset: its exact networks (``model_size``), AdamW and schedule, batch size
and clip length, for a few steps of every stage (each Init classifier, each row, each row's evaluation,
the Figure-3 analysis and the claims) on stand-in data, with the projected cost of the full preset."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch
from torch.utils.data import DataLoader

from workbench import data
from workbench.data.synthetic import SeparationDataset
from workbench.recipes.base import resolve_device
from workbench.recipes.care_sep.claims import separation_claims
from workbench.recipes.care_sep.data import PairSet, SeparationData, Triplets, separation_data
from workbench.recipes.care_sep.evaluate import evaluate, figure_analysis
from workbench.recipes.care_sep.init import ClassifierSystem, LabelledClips, init_source
from workbench.recipes.care_sep.params import NAME, Params, train_config
from workbench.recipes.care_sep.systems import _init_kinds, _new_classifier, build_system
from workbench.smoke import SmokeReport, measure_calls, measure_trainer, measured_batch, standin_root
from workbench.train.loop import Trainer
from workbench.train.seed import make_generator

_EVALUATION_PAIRS = 8  # test pairs each smoke evaluation separates; its time is scaled to the full test set
_STANDIN_CLIPS_PER_CLASS = 2  # one train and one test clip per class: enough pairs for a batch of 96


def _full_sizes(params: Params, n_classes: int) -> tuple[int, int]:
    """Training and test pairs of the full preset: counted from the synthetic world's folds (no audio is
    made), or from the real dataset's documented size (clips per class, ``test_fraction``, ``pairs_per_clip``)."""
    if params.dataset in ("synthetic", "synthetic-separation"):
        world = SeparationDataset(seed=params.world_seed, n_clips=params.n_mixtures, duration=params.duration,
                                  n_event_classes=params.n_event_classes)  # fmt: skip
        test = sum(world.split_of(index) == "test" for index in range(len(world)))
        return len(world) - test, test
    per_class = data.info(params.dataset).expected_clips // n_classes
    n_test = max(1, int(round(params.test_fraction * per_class)))
    return (per_class - n_test) * n_classes * params.pairs_per_clip, n_test * n_classes


def _smoke_data(params: Params, steps: int) -> tuple[Params, SeparationData, str]:
    """The pairs the smoke trains on: the stand-in of a real dataset in its layout, or the synthetic world
    with only as many mixtures as ``steps`` batches need."""
    if params.dataset in ("synthetic", "synthetic-separation"):
        smaller = dataclasses.replace(params, n_mixtures=min(params.n_mixtures, 2 * params.batch_size * steps + 40))
        return smaller, separation_data(smaller), f"synthetic world, {smaller.n_mixtures} of {params.n_mixtures} mixtures"
    root = standin_root(params.dataset, _STANDIN_CLIPS_PER_CLASS)
    standin = dataclasses.replace(params, data_root=str(root))
    return standin, separation_data(standin), f"stand-in {params.dataset} ({_STANDIN_CLIPS_PER_CLASS} clips per class) in {root}"


def _first_pairs(pairs: PairSet, count: int) -> PairSet:
    """The first ``count`` pairs (the evaluation's time is scaled from them to the full test set)."""
    return dataclasses.replace(pairs, sources=pairs.sources[:count], classes=pairs.classes[:count],
                               exclude=pairs.exclude[:count], ids=pairs.ids[:count])  # fmt: skip


def tiny(params: Params) -> Params:
    """``params`` with one-second clips: the preset's networks (``model_size``), rows, optimisers and stages.
    The test suite runs every preset's smoke so, one step at batch 1; the cost table comes from the full-size
    smoke."""
    return dataclasses.replace(params, duration=min(params.duration, 1.0))


def smoke(params: Params, steps: int = 2, preset: str = "", progress: bool = False, batch: int | None = None
          ) -> SmokeReport:
    """Run every stage of ``params`` for ``steps`` steps at full size and project the full preset's cost.

    Raises:
        RuntimeError: the stand-in data has fewer than ``steps`` batches of the preset's batch size.
    """
    device = resolve_device(params.device)
    report = SmokeReport(NAME, preset, str(device) + f" ({torch.get_num_threads()} threads)")
    small, dataset, source = _smoke_data(params, steps)
    full_train, full_test = _full_sizes(params, dataset.n_classes)
    report.notes.append(f"data: {source}; the full preset has {full_train} training and {full_test} test pairs")
    dataset = dataclasses.replace(dataset, test=_first_pairs(dataset.test, _EVALUATION_PAIRS))
    full_batch = params.batch_size
    batch = measured_batch(full_batch, batch)

    def trainer_for(system, epochs, seed):
        return lambda hooks: Trainer(system, lambda model, items: model(items), train_config(epochs, params, seed),
                                     hooks=hooks, progress=progress)  # fmt: skip

    init: dict[str, dict[str, torch.Tensor]] = {}
    kinds = sorted({kind for row in params.rows for kind in _init_kinds(row)})
    if kinds:
        clips, labels, names = init_source(dataclasses.replace(params, init_clips=batch * steps))
        for kind in kinds:
            classifier = _new_classifier(params, kind, params.init_classes, names, seed=0)
            loader = DataLoader(LabelledClips(clips, labels), batch_size=batch, shuffle=True, generator=make_generator(0))
            per_run = math.ceil(params.init_clips / full_batch) * params.pretrain_epochs
            system = ClassifierSystem(classifier)
            report.add(measure_trainer(f"Init {kind}", trainer_for(system, params.pretrain_epochs, 0), loader,
                                                 steps, 1, per_run, device).per_batch(batch, full_batch))  # fmt: skip
            init[kind] = {name: tensor.detach().cpu() for name, tensor in classifier.state_dict().items()}
        report.notes.append("Init: the rows start from the smoke's few-step Init classifiers, not pretrained ones")
    per_row = math.ceil(full_train / full_batch) * params.epochs
    evaluations = {}
    for row in params.rows:
        system = build_system(params, row, params.seeds[0], dataset, init)
        loader = DataLoader(Triplets(dataset.train, params.query_clips), batch_size=batch, shuffle=True,
                            generator=make_generator(params.seeds[0]))  # fmt: skip
        report.add(measure_trainer(f"train row {row}", trainer_for(system, params.epochs, params.seeds[0]),
                                             loader, steps, len(params.seeds), per_row, device
                                             ).per_batch(batch, full_batch))  # fmt: skip
        system.to(device)
        holder = {}
        scale = max(1, math.ceil(full_test / len(dataset.test)))
        report.add(measure_calls(
            f"evaluate row {row}", lambda: holder.update(result=evaluate(system, dataset, small)), 1,
            len(params.seeds), scale, device, note=f"{len(dataset.test)} stand-in test pairs per step",
        ))  # fmt: skip
        evaluations[row] = holder["result"]
        system.cpu()

    def claims() -> None:
        for evaluation in evaluations.values():
            figure_analysis(evaluation.figure, params.figure_classes, dataset.class_names, seed=params.world_seed)
        items = {row: np.stack([e.scores.mixture_sdr] * len(params.seeds))
                 for row, e in evaluations.items() if e.scores is not None}  # fmt: skip
        blind = np.zeros(next(iter(items.values())).shape[1])
        separation_claims(items, blind)

    report.add(measure_calls("Figure 3 and claims", claims, 1, 1, 1, note="t-SNE per row, paired claims"))
    return report
