"""The grid's cells: which encoders are here, one run directory per (encoder, task) holding the linear-evaluation
scores of the encoder's usual embedding and of each tapped layer, computed once and read back ever after.

A cell's run id depends on that cell alone (the encoder and its weights file, the task's data, the layers, the
probe), never on the rest of the grid: adding an encoder to a leaderboard opens new cells for it only, and every
finished cell of any earlier leaderboard is read back. Embeddings come from the shared embedding cache
(:func:`~workbench.evaluation.embeddings.extract_embeddings`), so a cell whose run was deleted re-probes cached
features without running its encoder.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from workbench.data.records import AudioDataset
from workbench.errors import MissingFileError, WorkbenchError
from workbench.evaluation.embeddings import Embeddings, extract_embeddings
from workbench.evaluation.linear import LinearEvalResult
from workbench.features.views import EMBEDDING, LayerVectorEncoder
from workbench.models import registry
from workbench.models.base import Encoder
from workbench.models.digest import weights_fingerprint
from workbench.models.zoo import build_encoder
from workbench.recipes.base import resolve_device
from workbench.recipes.layer_fusion.evaluate import evaluate_table, probe_config
from workbench.recipes.layer_fusion.params import parse_task
from workbench.recipes.layer_fusion.systems import layer_tables, tapped_layers
from workbench.recipes.leaderboard.params import CODE_VERSION, NAME, Params
from workbench.train.rundir import RunDir

PROBE_KEYS = ("protocol", "n_folds", "n_seeds", "max_epochs", "patience", "learning_rate", "batch_size")
"""The parameters of the linear probe: every cell's id holds them."""


@dataclass(frozen=True)
class EncoderSpec:
    """One encoder of the grid: its name and, for a pretrained one, the weights file found for it."""

    name: str
    weights_file: str = ""

    @property
    def pretrained(self) -> bool:
        return bool(self.weights_file)


def weights_here(name: str) -> str:
    """The verified weights file of pretrained ``name`` in a weights mirror or the cache, "" when there is none
    (nothing is downloaded: that is what "at hand" means)."""
    try:
        return str(registry.download_weights(name, offline=True, progress=False))
    except MissingFileError:
        return ""


def resolve_encoders(params: Params) -> tuple[list[EncoderSpec], dict[str, str]]:
    """The grid's encoders, and ``{name: why skipped}`` for those of ``encoders_at_hand`` whose weights are not
    here. A pretrained name in ``encoders`` is found as any recipe finds it (a mirror, the cache, a download).

    Raises:
        MissingFileError, CheckpointError: a pretrained name of ``encoders`` whose weights cannot be had or do not
            fit.
    """
    encoders = [
        EncoderSpec(name, str(registry.download_weights(name, progress=False)) if name in registry.names() else "")
        for name in params.encoders
    ]
    skipped = {}
    for name in params.encoders_at_hand:
        found = weights_here(name)
        if found:
            encoders.append(EncoderSpec(name, found))
        else:
            filename = registry.spec(name).remote.filename
            skipped[name] = (f"{name}: skipped, its weights {filename} are in no weights mirror and not in the cache "
                             f"(`workbench download {name}`, or put the file in $WORKBENCH_WEIGHTS)")  # fmt: skip
    return encoders, skipped


def build(encoder: EncoderSpec, params: Params) -> Encoder:
    """The encoder in eval mode on ``params.device``: pretrained weights from its file, else the architecture
    from ``encoder_seed``."""
    if encoder.pretrained:
        built = registry.load_pretrained(encoder.name, path=encoder.weights_file)
    else:
        built = build_encoder(encoder.name, seed=params.encoder_seed)
    return built.to(resolve_device(params.device)).eval()


def cell_settings(params: Params, encoder: EncoderSpec, task: str) -> dict[str, Any]:
    """What a cell's run id holds besides its data: the encoder, the task, the settings that shape the task's
    clips, the layers and the probe; nothing about the rest of the grid."""
    dataset, _ = parse_task(task)
    shape = ({"n_clips": params.n_clips, "world_seed": params.world_seed} if dataset.startswith("synthetic")
             else {"max_real_clips": params.max_real_clips})  # fmt: skip
    layered = params.taps_layers_of(encoder.name)
    return {
        "encoder": encoder.name,
        "weights": "pretrained" if encoder.pretrained else "random",
        **({} if encoder.pretrained else {"encoder_seed": params.encoder_seed}),
        "task": task,
        **shape,
        "layers": list(params.layers) if layered else ["none"],
        **({"max_layers": params.max_layers, "layer_view": params.layer_view} if layered else {}),
        **{key: getattr(params, key) for key in PROBE_KEYS},
    }


def cell_data(encoder: EncoderSpec, dataset: AudioDataset) -> list[Any]:
    """What a cell reads: the task's clips and, for a pretrained encoder, its weights file (by content)."""
    return [dataset, *([weights_fingerprint(encoder.weights_file, encoder.name)] if encoder.pretrained else [])]


@dataclass
class CellScores:
    """The scores of one (encoder, task) cell: one linear evaluation per column (the usual embedding, then each
    tapped layer), the run directory that holds them, and what computing them cost."""

    encoder: str
    task: str
    run_dir: Any
    columns: dict[str, LinearEvalResult]
    kind: str
    """"pretrained", "random weights" or "no weights" (a fixed transform such as log-mel statistics)."""
    seconds: float = 0.0
    computed: bool = False
    """True when this call computed the scores, False when they were read back from the finished run."""

    @property
    def embedding(self) -> LinearEvalResult:
        return self.columns[EMBEDDING]


def open_cell(params: Params, encoder: EncoderSpec, task: str, dataset: AudioDataset) -> RunDir:
    return RunDir.open(NAME, cell_settings(params, encoder, task), data=cell_data(encoder, dataset), code=CODE_VERSION)


def read_cell(run_dir: RunDir, encoder: str, task: str) -> CellScores:
    """A finished cell's scores, from its ``metrics.json`` and arrays."""
    stored = run_dir.read_metrics()
    arrays = run_dir.load_arrays("scores")
    columns = {
        column: LinearEvalResult.from_parts(
            stored["scores"][column], {key: arrays[f"{column}//{key}"] for key in LinearEvalResult.ARRAY_FIELDS}
        )
        for column in stored["columns"]  # metrics.json sorts its keys: the column order is stored
    }
    return CellScores(encoder, task, run_dir.path, columns, stored["kind"], float(stored["seconds"]), computed=False)


def encoder_kind(encoder: EncoderSpec, built: Encoder) -> str:
    if encoder.pretrained:
        return "pretrained"
    return "random weights" if any(True for _ in built.parameters()) else "no weights"


def feature_columns(built: Encoder, encoder: EncoderSpec, dataset: AudioDataset, params: Params) -> dict[str, Embeddings]:
    """``{column: table}``: the usual embedding, then (for an encoder in ``layer_encoders`` that taps layers) each
    tapped layer, all from one forward pass per batch and one cache file (no bar of its own: the run's bar counts
    cells)."""
    layer_names = list(getattr(built, "layer_names", []) or [])
    if not params.taps_layers_of(encoder.name) or not layer_names:
        return {EMBEDDING: extract_embeddings(built, dataset, progress=False)}
    stack = LayerVectorEncoder(built, tapped_layers(built, params.layers, params.max_layers), view=params.layer_view)
    tables = layer_tables(stack, extract_embeddings(stack, dataset, progress=False))
    return {EMBEDDING: tables[EMBEDDING], **{name: tables[name] for name in stack.names}}


def compute_cell(
    run_dir: RunDir, built: Encoder, encoder: EncoderSpec, task: str, dataset: AudioDataset, params: Params
) -> CellScores:
    """Embed the task's clips (or read them from the cache), probe every column, and keep the scores."""
    start = time.process_time()
    settings = params.to_dict()
    config = probe_config(settings)
    tables = feature_columns(built, encoder, dataset, params)
    run_dir.log("start", encoder=encoder.name, task=task, columns=list(tables))
    columns = {column: evaluate_table(table, settings, config) for column, table in tables.items()}
    seconds = time.process_time() - start
    kind = encoder_kind(encoder, built)
    arrays: dict[str, np.ndarray] = {}
    for column, result in columns.items():
        arrays.update({f"{column}//{key}": value for key, value in result.arrays().items()})
    run_dir.save_arrays("scores", **arrays)
    run_dir.write_metrics({
        "encoder": encoder.name, "task": task, "kind": kind, "columns": list(columns), "clips": len(dataset),
        "seconds": seconds, "scores": {column: result.scalars() for column, result in columns.items()},
    })  # fmt: skip
    run_dir.log("finished", seconds=seconds)
    return CellScores(encoder.name, task, run_dir.path, columns, kind, seconds, computed=True)


def seconds_per_clip(history: Mapping[str, list[tuple[float, int]]], encoder: str) -> float | None:
    """Median CPU seconds per clip of ``encoder``'s finished cells (None without any)."""
    rates = [seconds / clips for seconds, clips in history.get(encoder, []) if clips > 0]
    return float(np.median(rates)) if rates else None


def finished_history(root: Any) -> dict[str, list[tuple[float, int]]]:
    """``{encoder: [(seconds, clips), ...]}`` of every finished cell under the runs root ``root``: what the
    estimate of the missing cells is made from."""
    history: dict[str, list[tuple[float, int]]] = {}
    for path in sorted((root / NAME).glob("*/metrics.json")):
        try:
            stored = RunDir(path.parent).read_metrics()
            history.setdefault(str(stored["encoder"]), []).append((float(stored["seconds"]), int(stored["clips"])))
        except (OSError, ValueError, KeyError, TypeError, WorkbenchError):
            continue  # an unfinished or foreign run says nothing about cost
    return history
