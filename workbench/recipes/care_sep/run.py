"""The run, read first: pretrain (or read) the Init classifiers, train every row and seed, evaluate each,
check the claims, and write the run directory; a finished run directory is read back instead."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from workbench.evaluation.separation import query_blind_scores
from workbench.recipes import base
from workbench.recipes.base import resolve_device
from workbench.recipes.base.seeding import SeedingResult, seeds_until_settled
from workbench.recipes.care_sep.claims import COMPARISONS, separation_claims
from workbench.recipes.care_sep.data import data_source, separation_data
from workbench.recipes.care_sep.evaluate import FIGURE_KINDS, RowEvaluation, _pool, evaluate, figure_analysis
from workbench.recipes.care_sep.init import init_cache_path, init_classifiers
from workbench.recipes.care_sep.params import BASELINE, CARE_SEP, CODE_VERSION, NAME, ROWS, Params
from workbench.recipes.care_sep.result import CareSepRun
from workbench.recipes.care_sep.systems import SeparationSystem, labels_with_widths
from workbench.recipes.care_sep.train import train_row
from workbench.train.rundir import RunDir
from workbench.train.seed import seed_everything
from workbench.train.threads import torch_threads


def run(params: Params, progress: bool = True) -> CareSepRun:
    """Pretrain (or read) the Init classifiers, train every row and seed, evaluate, and check the claims.

    A finished run directory with the same parameters is read back (the trained systems are loaded
    from their own run directories for listening; nothing is trained again). Torch runs on
    ``params.cpu_threads`` threads meanwhile; the caller's setting is restored afterwards.

    Raises:
        UnknownNameError: an unknown dataset, row or model size.
        DatasetNotFoundError: a real dataset whose files are absent (the message says how to get them).
        ValueError: parameters that cannot make pairs (too few mixtures, a single class).
    """
    with torch_threads(params.cpu_threads):
        return _run(params, progress)


def _run(params: Params, progress: bool) -> CareSepRun:
    seed_everything(params.world_seed)
    run_dir = RunDir.open(NAME, params.to_dict(), data=data_source(params), code=CODE_VERSION)
    dataset = separation_data(params)
    for label in params.figure_classes:
        if not 0 <= label < dataset.n_classes:
            raise ValueError(f"parameter 'figure_classes': class {label} is not among the {dataset.n_classes} classes")
    device = resolve_device(params.device)
    blind_items = query_blind_scores(dataset.test.sources)
    query_blind = float(blind_items.mean())
    init = init_classifiers(params, progress)
    systems: dict[str, SeparationSystem] = {}
    histories: dict[str, dict[str, list[float]]] = {}
    if run_dir.finished:
        metrics = run_dir.read_metrics()
        # metrics.json sorts its keys: the order of the rows comes from the parameters.
        table = {row: {metric: tuple(value) for metric, value in metrics["table"][row].items()} for row in params.rows}
        histories = {row: metrics["histories"][row] for row in params.rows}
        kl = {row: metrics["kl"][row] for row in params.rows if row in metrics["kl"]}
        arrays = run_dir.load_arrays("figure")
        panels = {
            row: {kind: (arrays[f"points-{row}-{kind}"], arrays[f"classes-{row}-{kind}"])
                  for kind in FIGURE_KINDS if f"points-{row}-{kind}" in arrays}
            for row in params.rows
        }  # fmt: skip
        items = {row: arrays[f"mixture_sdr-{row}"] for row in params.rows if f"mixture_sdr-{row}" in arrays}
        input_sdr = metrics["input_sdr"]
        claims = [base.Claim.from_dict(claim) for claim in metrics["claims"]]
        seeds = metrics.get("seeds", {"seeds": list(params.seeds), "budget": 0})
        for row in params.rows:
            systems[row] = train_row(params, row, seeds["seeds"][0], dataset, init, progress).system
    else:
        run_dir.log("start", params=params.to_dict(), train_pairs=len(dataset.train), test_pairs=len(dataset.test))
        evaluations: dict[str, list[RowEvaluation]] = {row: [] for row in params.rows}

        def one_seed(seed: int) -> dict[str, RowEvaluation]:
            """Train (or read back) every row at ``seed`` and evaluate each on the test pairs."""
            for row in params.rows:
                trained = train_row(params, row, seed, dataset, init, progress)
                trained.system.to(device)
                evaluations[row].append(evaluate(trained.system, dataset, params))
                trained.system.cpu()
                if row not in systems:  # the first seed's: for listening, the loss curves and Figure 3
                    systems[row], histories[row] = trained.system, trained.history
                scores = evaluations[row][-1].scores
                run_dir.log("evaluated", row=row, seed=seed, **(scores.means() if scores is not None else {}),
                            tagging_map=evaluations[row][-1].tagging_map)  # fmt: skip
            return {row: row_evaluations[-1] for row, row_evaluations in evaluations.items()}

        seeding = None
        if params.max_seeds:
            seeding = headline_seeds(params, one_seed, run_dir)
        else:
            for seed in params.seeds:
                one_seed(seed)
        table = {row: _pool(row_evaluations) for row, row_evaluations in evaluations.items()}
        items = {row: np.stack([e.scores.mixture_sdr for e in row_evaluations])
                 for row, row_evaluations in evaluations.items() if row_evaluations[0].scores is not None}  # fmt: skip
        first = next(row for row in params.rows if evaluations[row][0].scores is not None)
        input_sdr = float(np.mean([e.scores.input_sdr.mean() for e in evaluations[first]]))
        panels, kl = {}, {}
        for row in params.rows:
            panels[row], kl[row] = figure_analysis(
                evaluations[row][0].figure, params.figure_classes, dataset.class_names, seed=params.world_seed
            )
        arrays = {f"points-{row}-{kind}": points for row, kinds in panels.items() for kind, (points, _) in kinds.items()}
        arrays.update({f"classes-{row}-{kind}": labels for row, kinds in panels.items()
                       for kind, (_, labels) in kinds.items()})  # fmt: skip
        arrays.update({f"mixture_sdr-{row}": values for row, values in items.items()})
        arrays.update({f"{metric}-{row}": np.stack([getattr(e.scores, metric) for e in evaluations[row]])
                       for row in items for metric in ("clean_sdr", "silence_sdr", "input_sdr")})  # fmt: skip
        arrays["query_blind"] = blind_items
        run_dir.save_arrays("figure", **arrays)
        claims = separation_claims(items, blind_items, labels_with_widths(systems, params.rows), seeding)
        seeds = seeding.to_dict() if seeding is not None else {"seeds": list(params.seeds), "budget": 0}
    metrics = {
        "table": table, "query_blind": query_blind, "input_sdr": input_sdr, "histories": histories, "kl": kl,
        "claims": [dataclasses.asdict(claim) for claim in claims],
        "init": {kind: str(init_cache_path(params, kind)) for kind in init}, "seeds": seeds,
    }  # fmt: skip
    if not run_dir.finished:
        run_dir.write_metrics(metrics)
        run_dir.log("finished")
    return CareSepRun(
        recipe=NAME, params=params.to_dict(), run_dir=run_dir.path, metrics=metrics, claims=claims, table=table,
        items=items, query_blind=query_blind, input_sdr=input_sdr, histories=histories, panels=panels, kl=kl,
        systems=systems, data=dataset, seeding=seeds,
    )  # fmt: skip


def headline_seeds(
    params: Params, one_seed: Callable[[int], dict[str, RowEvaluation]], run_dir: RunDir
) -> SeedingResult:
    """Add paired training seeds one at a time (``seeds`` first, ``max_seeds`` at most) until the headline
    claim, C (CaRE-SEP) against A (ST-SED-SEP) on mixture-SDR, is settled by the anytime-valid confidence
    sequence. Each row and seed is its own content-addressed training run, so a larger ``max_seeds`` later
    reads the finished seeds back and trains only the seeds this call did not reach."""

    def paired_run(seed: int) -> tuple[float, float]:
        evaluated = one_seed(seed)
        return tuple(float(evaluated[row].scores.mixture_sdr.mean()) for row in (CARE_SEP, BASELINE))

    name = next(name for treatment, control, name, _ in COMPARISONS if (treatment, control) == (CARE_SEP, BASELINE))
    seeding = seeds_until_settled(
        paired_run, first_seeds=params.seeds, budget=params.max_seeds,
        paper_effect=ROWS[CARE_SEP].paper_mixture_sdr - ROWS[BASELINE].paper_mixture_sdr,
        claim=f"{CARE_SEP} vs {BASELINE} ({name}, mixture-SDR)",
    )  # fmt: skip
    run_dir.log("seeds", **seeding.to_dict())
    return seeding
