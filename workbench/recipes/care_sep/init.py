"""Init: the two classifiers a row may start from (CaRE-SEP's classifier half and ST-SED's query network),
pretrained for tagging on the synthetic world's event clips, once, and cached under their settings."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from workbench.atomic import atomic_torch_save
from workbench.data.synthetic.views import SyntheticDataset
from workbench.errors import UnknownNameError
from workbench.models.care_sep import classifier_config
from workbench.models.registry import read_checkpoint
from workbench.paths import cache_dir
from workbench.recipes.care_sep.params import CODE_VERSION, INIT_CACHE, Params, _keys, train_config
from workbench.recipes.care_sep.systems import (
    INIT_KINDS,
    QueryModel,
    _init_kinds,
    _new_classifier,
    model_config,
    query_net_config,
)
from workbench.train.loop import Trainer
from workbench.train.seed import make_generator

_INIT_KEYS = ("world_seed", "duration", "init_classes", "init_clips", "pretrain_epochs", "model_size", "batch_size",
              "weight_decay")  # fmt: skip


def init_optimiser(params: Params) -> Params:
    """The Init pretraining's optimiser settings: AdamW at the constant ``init_learning_rate``, whatever the
    rows' rate and schedule (the paper starts every row from one pretrained HTS-AT, Sec. 2.1)."""
    return params.replace(learning_rate=params.init_learning_rate, schedule="constant")


class LabelledClips(Dataset):
    """Single sources and their classes, for the CLS pretraining."""

    def __init__(self, clips: torch.Tensor, labels: np.ndarray):
        self.clips, self.labels = clips, torch.as_tensor(labels)

    def __len__(self) -> int:
        return int(self.clips.shape[0])

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.clips[index], self.labels[index]


class ClassifierSystem(nn.Module):
    """Init pretraining of a classifier (CaRE-SEP's classifier half, or ST-SED's) on single-label clips.

    Cross-entropy over the tagging head's logits: on one-hot targets over a few dozen classes, the BCE that
    AudioSet's multi-label tags need first only pushes every logit down, and the CaRE classifier stayed at
    chance for three epochs (train accuracy 0.04 of 24 classes); cross-entropy learns the classes at once."""

    def __init__(self, classifier: QueryModel):
        super().__init__()
        self.classifier = classifier

    def forward(self, batch: Sequence[torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        clips, labels = batch
        logits = self.classifier.tag_logits(clips)
        loss = nn.functional.cross_entropy(logits, labels)
        accuracy = float((logits.argmax(dim=-1) == labels).float().mean())
        return loss, {"train_accuracy": accuracy}


def init_settings(params: Params, kind: str) -> dict[str, Any]:
    """What determines one Init classifier (its cache key): the source, the network and the training."""
    if kind not in INIT_KINDS:
        raise UnknownNameError("Init classifier kind", kind, INIT_KINDS)
    config = classifier_config(model_config(params, params.init_classes)) if kind == "care" else \
        query_net_config(params, params.init_classes)  # fmt: skip
    optimiser = init_optimiser(params)
    return {"kind": kind, "config": dataclasses.asdict(config), **_keys(params, _INIT_KEYS), "seed": 0,
            "loss": "cross-entropy", "learning_rate": optimiser.learning_rate, "schedule": optimiser.schedule}


def init_cache_path(params: Params, kind: str) -> Any:
    """``$WORKBENCH_CACHE/care_sep-init/<kind>-<hash of the settings and the code version>.pt``."""
    settings = json.dumps({**init_settings(params, kind), "code": CODE_VERSION}, sort_keys=True, default=str)
    digest = hashlib.sha256(settings.encode()).hexdigest()[:16]
    return cache_dir() / INIT_CACHE / f"{kind}-{digest}.pt"


def init_source(params: Params) -> tuple[torch.Tensor, np.ndarray, tuple[str, ...]]:
    """The Init pretraining source: ``init_clips`` single event clips ``(clips, samples)`` of the synthetic
    world's ``init_classes``-class vocabulary (the event view's own clip stream, not the pairs'), labels
    and class names."""
    source = SyntheticDataset(seed=params.world_seed, task="event", n_clips=params.init_clips,
                              duration=params.duration, n_event_classes=params.init_classes)  # fmt: skip
    clips, labels = [], []
    for index in range(len(source)):
        waveform, label, _ = source[index]
        clips.append(waveform[0])
        labels.append(int(label))
    return torch.stack(clips), np.asarray(labels, dtype=np.int64), tuple(source.classes)


def pretrained_classifier(params: Params, kind: str, progress: bool = True) -> dict[str, torch.Tensor]:
    """The Init classifier's weights (``kind`` "care" or "stsed"): read from the cache, or pretrained now
    (cross-entropy on :func:`init_source`, the recipe's optimiser and schedule) and cached."""
    path = init_cache_path(params, kind)
    if path.is_file():
        return read_checkpoint(path)
    clips, labels, names = init_source(params)
    classifier = _new_classifier(params, kind, params.init_classes, names, seed=0)
    loader = DataLoader(LabelledClips(clips, labels), batch_size=params.batch_size, shuffle=True,
                        generator=make_generator(0))  # fmt: skip
    system = ClassifierSystem(classifier)
    history = Trainer(system, lambda model, batch: model(batch), train_config(params.pretrain_epochs, init_optimiser(params), 0),
                      progress=progress).fit(loader)  # fmt: skip
    state = {name: tensor.detach().cpu() for name, tensor in system.classifier.state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_torch_save(path, state)
    record = {**init_settings(params, kind), "train_accuracy": history["train_accuracy"], "loss": history["loss"]}
    path.with_suffix(".json").write_text(json.dumps(record, indent=1, default=str))
    return state


def init_classifiers(params: Params, progress: bool = True) -> dict[str, dict[str, torch.Tensor]]:
    """The Init classifiers the rows of ``params`` need, from the cache (pretrained once)."""
    kinds = sorted({kind for row in params.rows for kind in _init_kinds(row)})
    return {kind: pretrained_classifier(params, kind, progress) for kind in kinds}
