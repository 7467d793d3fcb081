"""What is built per row: the separator (CaRE-SEP's Swin-UNET or ST-SED-SEP's CNN), where its query comes
from (its own encoder or ST-SED's separate network), the Init classifier it starts from, and the
:class:`SeparationSystem` that trains them as one module."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from workbench.losses.separation import SeparationLoss
from workbench.models.care_sep import CaReSep, CaReSepConfig, classifier_config, init_from_classifier
from workbench.models.stsed_sep import ResUNetConfig, ResUNetSeparator, StSedConfig, StSedQueryNet
from workbench.recipes.care_sep.data import SeparationData, _synthetic
from workbench.recipes.care_sep.params import ROWS, Params, row_label


def model_config(params: Params, n_classes: int) -> CaReSepConfig:
    """The CaRE-SEP Swin-UNET's config for ``params.model_size``."""
    if params.model_size == "tiny":
        return CaReSepConfig.tiny(n_classes=n_classes)
    if params.model_size == "paper":
        return CaReSepConfig.paper(n_classes=n_classes)
    return CaReSepConfig.paper_large(n_classes=n_classes)


def query_net_config(params: Params, n_classes: int) -> StSedConfig:
    """ST-SED's HTS-AT-style query network: tiny (query 128) on the CPU, else the 2048-d one of Table 1."""
    return StSedConfig.tiny(n_classes=n_classes) if params.model_size == "tiny" else StSedConfig.paper_large(n_classes)


def resunet_config(params: Params) -> ResUNetConfig:
    """ST-SED-SEP's CNN separator: tiny (n_fft 512, 4 to 32 channels) on the CPU, else the official sizes."""
    query_dim = query_net_config(params, 2).query_dim
    if params.model_size == "tiny":
        return ResUNetConfig(n_fft=512, channels=(4, 8, 16, 32), query_dim=query_dim)
    return ResUNetConfig.paper(query_dim=query_dim)


QueryModel = CaReSep | StSedQueryNet
SeparatorModel = CaReSep | ResUNetSeparator

SHARED_ENCODER = ("band_encoder", "band_norm", "patch_embed", "encoder", "merges", "connector", "connector_norm",
                  "tagging_head")  # fmt: skip
"""The modules of a CaRE-SEP network's classifier half, the shared encoder the query is made with (the
query conditioning layers inside its Swin groups, ``.condition.``, belong to the separation and train)."""


def shared_encoder_parameters(separator: CaReSep) -> list[tuple[str, nn.Parameter]]:
    """The shared encoder's parameters (:data:`SHARED_ENCODER` less the query conditioning)."""
    return [
        (name, parameter) for name, parameter in separator.named_parameters()
        if name.split(".")[0] in SHARED_ENCODER and ".condition." not in name
    ]  # fmt: skip


class SeparationSystem(nn.Module):
    """A separator and where its query comes from, trained as one module (one row).

    Args:
        separator: CaRE-SEP's Swin-UNET or ST-SED-SEP's CNN; None for CaRE-CLS (tagging only).
        query_network: a separate network for the queries (ST-SED's), or None to make them with the
            separator's own encoder (shared).
        grad: whether the loss trains the query path; without it the queries are computed under
            ``no_grad`` (and a separate query network is frozen).
        tagging_weight: weight of the tagging BCE on the query clips (0: separation only, as CaRE-SEP).
        mae_weight: weight of the waveform MAE in :class:`SeparationLoss`.
        frozen_encoder: (a shared row without grad, ``wo_grad="frozen-encoder"``) the shared encoder is
            frozen: no gradient reaches its parameters from either pass, and it stays in eval mode.

    ``forward(batch) -> (loss, metrics)`` for :class:`~workbench.train.loop.Trainer`, batch as
    :class:`Triplets` makes it.
    """

    def __init__(
        self, separator: SeparatorModel | None, query_network: QueryModel | None, grad: bool,
        tagging_weight: float = 0.0, mae_weight: float = 1.0, frozen_encoder: bool = False,
    ):  # fmt: skip
        super().__init__()
        if separator is None and query_network is None:
            raise ValueError("a system needs a separator or a query network")
        self.separator = separator
        self.query_network = query_network
        self.grad = bool(grad)
        self.tagging_weight = float(tagging_weight)
        self.loss = SeparationLoss(mae_weight)
        if query_network is not None and not grad:
            query_network.requires_grad_(False)
            query_network.eval()
        if frozen_encoder and (grad or query_network is not None or not isinstance(separator, CaReSep)):
            raise ValueError("frozen_encoder applies to a shared CaRE-SEP encoder without grad (rows D, F)")
        self.frozen_encoder = bool(frozen_encoder)
        if self.frozen_encoder:
            for _, parameter in shared_encoder_parameters(separator):
                parameter.requires_grad_(False)
            self.train(self.training)

    @property
    def frozen_query_network(self) -> bool:
        """Rows A and G: a separate query network that never trains (the paper's frozen ST-SED)."""
        return self.query_network is not None and self.separator is not None and not self.grad

    def train(self, mode: bool = True) -> SeparationSystem:
        """Train mode for what trains; a frozen query network stays in eval mode, as the official code
        keeps its pretrained query model (``eval()``), so its BatchNorm running statistics never move
        and its queries are those of the pretrained network, not of batch statistics."""
        super().train(mode)
        if self.frozen_query_network:
            self.query_network.eval()
        if self.frozen_encoder:
            for name in SHARED_ENCODER:
                module = getattr(self.separator, name)
                if module is not None:
                    module.eval()
        return self

    @property
    def query_model(self) -> QueryModel:
        return self.separator if self.query_network is None else self.query_network

    def queries_and_tags(self, clips: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Queries ``(batch, dim)``, the mean over each row's clips ``(batch, k, samples)``, and the tagging
        logits of every clip ``(batch * k, classes)``."""
        batch, count, samples = clips.shape
        with torch.set_grad_enabled(self.grad and torch.is_grad_enabled()):
            embeddings, logits = self.query_model.query_and_tags(clips.reshape(batch * count, samples))
        return embeddings.reshape(batch, count, -1).mean(dim=1), logits

    @torch.no_grad()
    def class_query(self, clips: torch.Tensor, batch_size: int = 32) -> torch.Tensor:
        """The query of a class: the mean embedding of its clips ``(clips, samples)`` -> ``(dim,)``."""
        model = self.query_model
        device = next(model.parameters()).device
        embeddings = [model.embed_query(part.to(device)) for part in clips.split(batch_size)]
        return torch.cat(embeddings).mean(dim=0)

    def forward(self, batch: Sequence[torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        mixture, target, query_clips, labels = batch
        query, logits = self.queries_and_tags(query_clips)
        metrics: dict[str, float] = {}
        loss = logits.new_zeros(())
        if self.separator is not None:
            estimate = self.separator.separate(mixture, query)
            loss, sdr_values = self.loss(estimate, target)
            metrics["train_sdr"] = float(sdr_values.mean())
        if self.grad and self.tagging_weight > 0:
            count = query_clips.shape[1]
            targets = nn.functional.one_hot(labels.repeat_interleave(count), logits.shape[-1]).to(logits.dtype)
            tagging = nn.functional.binary_cross_entropy_with_logits(logits, targets)
            loss = loss + self.tagging_weight * tagging
            metrics["tagging_bce"] = float(tagging.detach())
        return loss, metrics


def _device_of(module: nn.Module) -> torch.device:
    return next(module.parameters()).device


# --------------------------------------------------------------------------------------------------
# Which Init classifier a row starts from, and how its weights fit the row's network

INIT_KINDS = ("care", "stsed")
"""The two Init classifiers: CaRE-SEP's classifier half (shared rows) and ST-SED's query network (A, B, G)."""


def _init_kinds(row: str) -> tuple[str, ...]:
    flags = ROWS[row]
    if not flags.init:
        return ()
    return ("care",) if flags.shared else ("stsed",)


def _new_classifier(params: Params, kind: str, n_classes: int, class_names: Sequence[str], seed: int) -> QueryModel:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if kind == "care":
            return CaReSep(classifier_config(model_config(params, n_classes)), tuple(class_names))
        return StSedQueryNet(query_net_config(params, n_classes), tuple(class_names))


_HEAD_KEYS = ("tagging_head.conv.weight", "tagging_head.conv.bias", "tagging_head.weight", "tagging_head.bias")


def fit_head(state: Mapping[str, torch.Tensor], n_classes: int, same_vocabulary: bool) -> dict[str, torch.Tensor]:
    """The Init weights for a network with ``n_classes`` tagging classes: the head's first ``n_classes``
    rows where the pairs' classes are the first classes of the Init vocabulary (the synthetic world), else
    no head (another vocabulary: the head starts fresh)."""
    fitted = dict(state)
    for key in _HEAD_KEYS:
        if key in fitted:
            if same_vocabulary and fitted[key].shape[0] >= n_classes:
                fitted[key] = fitted[key][:n_classes].clone()
            else:
                del fitted[key]
    return fitted


def build_system(
    params: Params, row: str, seed: int, dataset: SeparationData, init: Mapping[str, Mapping[str, torch.Tensor]]
) -> SeparationSystem:
    """The untrained system of one row: a fresh separator (Swin-UNET or CNN), the query from its own
    encoder or from ST-SED's network, initialised from the Init classifier ``init[kind]`` where the row's
    Init flag says so."""
    flags = ROWS[row]
    n_classes, names = dataset.n_classes, dataset.class_names
    same_vocabulary = _synthetic(params) and n_classes <= params.init_classes
    missing = [kind for kind in _init_kinds(row) if kind not in init]
    if missing:
        raise ValueError(f"row {row} starts from the Init classifier {missing[0]!r}; pass it in init")
    query_network: QueryModel | None = None
    if flags.shared:
        config = model_config(params, n_classes)
        if flags.separator == "none":
            config = classifier_config(config)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            separator: SeparatorModel | None = CaReSep(config, names)
        if flags.init:
            init_from_classifier(separator, fit_head(init["care"], n_classes, same_vocabulary))
        if flags.separator == "none":
            query_network, separator = separator, None
    else:
        query_network = _new_classifier(params, "stsed", n_classes, names, seed + 1)
        if flags.init:
            query_network.load_state_dict(fit_head(init["stsed"], n_classes, same_vocabulary), strict=False)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            if flags.separator == "resunet":
                separator = ResUNetSeparator(resunet_config(params))
            else:
                separator = CaReSep(model_config(params, n_classes).replace(condition_dim=query_network.embedding_dim),
                                    names)  # fmt: skip
    tagging = params.tagging_weight if flags.tagging else 0.0
    return SeparationSystem(separator, query_network, grad=flags.grad, tagging_weight=tagging,
                            mae_weight=params.mae_weight, frozen_encoder=frozen_encoder(params, row))  # fmt: skip


def frozen_encoder(params: Params, row: str) -> bool:
    """Whether ``row`` trains with its shared encoder frozen: a shared separating row without Grad
    (D, F) under ``wo_grad="frozen-encoder"``."""
    flags = ROWS[row]
    return params.wo_grad == "frozen-encoder" and flags.shared and not flags.grad and flags.separator != "none"


def labels_with_widths(systems: Mapping[str, SeparationSystem], rows: Sequence[str]) -> dict[str, str]:
    """row -> its display label with the query width its trained system really has (``"A 128-d ST-SED-SEP"``
    at the tiny size, where the paper's name says 2048-d); the paper's name for a row without a system."""
    return {row: row_label(row, systems[row].query_model.embedding_dim if row in systems else None) for row in rows}
