"""The evaluate-over-seeds-and-folds driver (:func:`linear_evaluation`): plans the probes of every seed,
fold and learning rate, trains them in one engine call, chooses the rate on validation scores and
gathers the test scores into a :class:`LinearEvalResult`."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from workbench.errors import UnknownNameError
from workbench.evaluation.embeddings import Embeddings
from workbench.evaluation.linear.batched import ProbeSpec, train_linear_batched, train_linear_reference
from workbench.evaluation.linear.config import ENGINES, LinearEvalConfig
from workbench.evaluation.linear.result import LinearEvalResult
from workbench.evaluation.linear.single import score_predictions
from workbench.evaluation.linear.splits import EvaluationSplit, _splits_of_plan, plan_for
from workbench.evaluation.protocols import announce
from workbench.evaluation.stats import mean_confidence_interval, weighted_fold_mean

logger = logging.getLogger("workbench.evaluation.linear")  # the package's name, as before the split


def linear_evaluation(
    embeddings: Embeddings | tuple[np.ndarray, np.ndarray, np.ndarray | None],
    *,
    seeds: Sequence[int] = (0, 1, 2),
    config: LinearEvalConfig | None = None,
    protocol: str = "auto",
    n_folds: int = 5,
    engine: str = "batched",
) -> LinearEvalResult:
    """Linear evaluation repeated over ``seeds``: mean score and 95 % confidence interval.

    Every seed runs every partition of the protocol (k-fold partitions reshuffled per seed, the same
    for every feature set given the same data, so two systems scored with the same seeds are paired);
    a seed's score is the folds' scores weighted by their test sizes. With a learning-rate grid
    (``config.learning_rates``) every rate is trained on every (seed, fold) and the rate with the best
    mean validation score is the one whose test scores are reported: the test clips never choose.

    Args:
        embeddings: an :class:`Embeddings` table, or ``(features, targets, partition)`` where
            ``partition`` is an ``(N,)`` int array of folds, an ``(N,)`` str array of split names, or None.
        seeds: one repetition per seed (initial weights, batch order, validation carving, k-fold shuffle).
        config: classifier settings; default :class:`LinearEvalConfig`.
        protocol: one of :data:`~workbench.evaluation.protocols.PROTOCOLS` (earlier names
            ``"folds"``/``"splits"`` read as ``"official"``, ``"holdout"`` as ``"kfold"``).
        n_folds: folds of the k-fold protocols.
        engine: ``"batched"`` (all probes as one model) or ``"reference"`` (one :func:`train_linear`
            per probe; MLP probes always take it).

    Returns:
        :class:`LinearEvalResult`; a fallback from the requested protocol, the classes left unscored
        (``excluded_classes``) and the test clips sharing a source with training are explained in
        ``protocol_note`` and logged, and warned about in one short line (once per cause within
        :func:`~workbench.evaluation.protocols.one_warning_per_cause`) pointing at the caller.

    Raises:
        UnknownNameError: unknown ``protocol`` or ``engine``.
        ValueError: no seeds, or data that cannot support the protocol (naming the fold and classes).
    """
    if not isinstance(embeddings, Embeddings):
        embeddings = _embeddings_from_arrays(*embeddings)
    seeds = tuple(int(seed) for seed in seeds)
    if not seeds:
        raise ValueError("linear_evaluation needs at least one seed")
    if engine not in ENGINES:
        raise UnknownNameError("linear evaluation engine", engine, ENGINES)
    config = config or LinearEvalConfig()
    multilabel = embeddings.target_kind == "multilabel"
    n_classes = embeddings.targets.shape[1] if multilabel else _class_count(embeddings)
    features = np.ascontiguousarray(embeddings.features, dtype=np.float32)
    targets = embeddings.targets

    plans = {seed: plan_for(embeddings, protocol, seed, n_folds) for seed in seeds}
    first = plans[seeds[0]]
    if first.note:
        logger.info(f"linear evaluation: protocol {first.requested!r} -> {first.protocol!r}: {first.note}")
    announce(first)  # short, once per run and cause, at the user's call; the note is the full story
    learning_rates = tuple(config.learning_rates) or (config.lr,)
    probes: list[ProbeSpec] = []
    layout: list[tuple[int, int, str, int]] = []  # (seed position, rate position, fold name, probe index)
    splits_by_seed: dict[int, list[EvaluationSplit]] = {}
    for seed_position, seed in enumerate(seeds):
        splits_by_seed[seed] = _splits_of_plan(embeddings, plans[seed], seed, config)
        for split in splits_by_seed[seed]:
            for rate_position, rate in enumerate(learning_rates):
                layout.append((seed_position, rate_position, split.name, len(probes)))
                probes.append(ProbeSpec(split.train, split.valid, seed, rate, split.test))
    trainer = train_linear_reference if engine == "reference" or config.hidden else train_linear_batched
    outcomes = trainer(features, targets, probes, config, n_classes=None if multilabel else n_classes)

    valid_by_rate = {
        rate: float(np.mean([outcomes[i].valid_score for _, r, _, i in layout if r == position]))
        for position, rate in enumerate(learning_rates)
    }
    valid_loss_by_rate = {
        rate: float(np.mean([outcomes[i].valid_loss for _, r, _, i in layout if r == position]))
        for position, rate in enumerate(learning_rates)
    }
    # Highest mean validation score; ties go to the lower validation loss, then the smaller rate.
    chosen = min(learning_rates, key=lambda rate: (-valid_by_rate[rate], valid_loss_by_rate[rate], rate))
    chosen_position = learning_rates.index(chosen)

    per_fold: dict[str, list[float]] = {}
    per_seed: list[float] = []
    seed_predictions: list[np.ndarray] = []
    test_rows: np.ndarray | None = None
    for seed_position, seed in enumerate(seeds):
        scores, sizes, rows, predictions = [], [], [], []
        for split in splits_by_seed[seed]:
            (index,) = [i for s, r, name, i in layout if s == seed_position and r == chosen_position and name == split.name]
            logits = outcomes[index].test_logits
            score = score_predictions(targets[split.test], logits)
            scores.append(score)
            sizes.append(len(split.test))
            per_fold.setdefault(split.name, []).append(score)
            rows.append(split.test)
            predictions.append(_sigmoid(logits) if multilabel else logits.argmax(axis=1))
        per_seed.append(weighted_fold_mean(scores, sizes))
        seed_rows = np.concatenate(rows)
        order = np.argsort(seed_rows, kind="stable")
        if len(np.unique(seed_rows)) != len(seed_rows):
            raise ValueError("a protocol tested some clip twice in one seed; its partitions overlap")
        if test_rows is None:
            test_rows = seed_rows[order]
        elif not np.array_equal(test_rows, seed_rows[order]):
            raise ValueError("the seeds' protocols test different clips; their predictions cannot be paired")
        seed_predictions.append(np.concatenate(predictions)[order])

    assert test_rows is not None
    mean, half_width = mean_confidence_interval(per_seed)
    first_split = splits_by_seed[seeds[0]][0]
    return LinearEvalResult(
        metric="mAP" if multilabel else "accuracy",
        protocol=first.protocol,
        mean=mean,
        ci95=half_width,
        per_seed=tuple(per_seed),
        per_fold={name: tuple(values) for name, values in per_fold.items()},
        seeds=seeds,
        n_train=len(first_split.train),
        n_valid=len(first_split.valid),
        n_test=len(test_rows),
        test_indices=test_rows,
        test_targets=targets[test_rows],
        predictions=seed_predictions[0],
        classes=embeddings.classes,
        requested_protocol=first.requested,
        protocol_note=first.note,
        fold_sizes={split.name: len(split.test) for split in splits_by_seed[seeds[0]]},
        seed_predictions=np.stack(seed_predictions),
        learning_rate=float(chosen),
        valid_by_learning_rate={repr(rate): score for rate, score in valid_by_rate.items()} if len(learning_rates) > 1 else {},
        valid_score=valid_by_rate[chosen],
        excluded_classes={cls.name: cls.reason for cls in first.excluded},
        scored_line=first.scored_line,
        leaked_test_clips=first.leaked_test_clips,
    )


def _sigmoid(logits: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-logits))


def _class_count(embeddings: Embeddings) -> int:
    observed = int(embeddings.targets.max()) + 1
    if embeddings.classes and len(embeddings.classes) < observed:
        raise ValueError(
            f"targets go up to class {observed - 1} but only {len(embeddings.classes)} classes are named"
        )
    return max(observed, len(embeddings.classes))


def _embeddings_from_arrays(
    features: np.ndarray, targets: np.ndarray, partition: np.ndarray | None = None
) -> Embeddings:
    """Wrap plain arrays; a partition of strings is read as splits, one of integers as folds."""
    features = np.asarray(features)
    folds = splits = None
    if partition is not None:
        partition = np.asarray(partition)
        if partition.dtype.kind in "USO":
            splits = partition.astype(str)
        elif partition.dtype.kind in "iu":
            folds = partition
        else:
            raise ValueError(f"partition must hold fold numbers or split names, got dtype {partition.dtype}")
    return Embeddings(
        features=features,
        targets=targets,
        ids=np.arange(len(features)).astype(str),
        classes=(),
        folds=folds,
        splits=splits,
    )
