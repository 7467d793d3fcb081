"""BYOL-A's networks: online encoder-projector-predictor, the moving-average target, and the official
pretrained AudioNTT2020 encoders.

Niizumi et al., "BYOL for Audio: Self-Supervised Learning for General-Purpose Audio Representation",
IJCNN 2021 (``nttcslab/byol-a``), on BYOL (Grill et al., NeurIPS 2020) as ``lucidrains/byol-pytorch``
implements it: projector and predictor are ``Linear -> BatchNorm1d -> ReLU -> Linear`` MLPs (256-d
output, 4096 hidden), the target encoder and projector are copies of the online ones updated as an
exponential moving average (decay 0.99) and never by gradients. The difference-aware extension
(Takeuchi et al., "Towards Learning a Difference-Aware General-Purpose Audio Representation") adds a
second predictor for the difference branch (:attr:`BYOLNetworks.difference_predictor`).

Registered pretrained encoders (``workbench.models.load_pretrained(name)``), the files in the official
repository's ``pretrained_weights/`` folder:

| name | file | dim |
| --- | --- | --- |
| ``byola-d512`` | ``AudioNTT2020-BYOLA-64x96d512.pth`` | 512 |
| ``byola-d1024`` | ``AudioNTT2020-BYOLA-64x96d1024.pth`` | 1024 |
| ``byola-d2048`` | ``AudioNTT2020-BYOLA-64x96d2048.pth`` | 2048 |

``byola-d512`` is checked against the sha256 and size of the file published in nttcslab/byol-a
(``workbench.models.registry.PUBLISHED_CHECKSUMS``); no sha256 could be found for the d1024 and d2048
files, which load "unverified" (a warning; the sha256 computed on loading is kept in
``encoder.weights_record``). Their ``embed``
normalises the log-mel with the statistics the official README publishes with these weights,
:data:`PUBLISHED_MEAN` and :data:`PUBLISHED_STD`; BYOL-A's ``evaluate.py`` instead computes them on
each downstream dataset, which :func:`set_normalization` does (e.g. with
:func:`workbench.audio.cached_statistics` over ``encoder.frontend``). The weights are under NTT's
evaluation-only software licence (see the repository's LICENSE).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from workbench.audio.normalize import Normalizer
from workbench.data.download import RemoteFile
from workbench.models.audiontt import AudioNTT2020, AudioNTTConfig
from workbench.models.registry import PretrainedSpec, register_pretrained, unwrap

PUBLISHED_MEAN = -5.4919195
"""Mean of the log-mel input published in the official README with the pretrained weights."""
PUBLISHED_STD = 5.0389895
"""Standard deviation published beside :data:`PUBLISHED_MEAN`."""
WEIGHTS_URL = "https://github.com/nttcslab/byol-a/raw/master/pretrained_weights/"
PRETRAINED_DIMS = (512, 1024, 2048)


@dataclass(frozen=True)
class BYOLConfig:
    """Sizes and the moving-average decay of BYOL's heads.

    Args:
        projection_dim: output of the projector and predictors (BYOL-A: 256).
        hidden_dim: hidden width of every MLP head (BYOL-A: 4096).
        ema_decay: the target's moving-average decay ``tau``: ``target <- tau * target + (1 - tau) * online``.
        difference_predictor: add the second predictor of the difference branch.
    """

    projection_dim: int = 256
    hidden_dim: int = 4096
    ema_decay: float = 0.99
    difference_predictor: bool = False

    def __post_init__(self) -> None:
        for name in ("projection_dim", "hidden_dim"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"BYOLConfig.{name} must be a positive integer, got {value!r}")
        if not 0.0 <= self.ema_decay <= 1.0:
            raise ValueError(f"BYOLConfig.ema_decay must lie in [0, 1], got {self.ema_decay!r}")

    @classmethod
    def tiny(cls, **overrides: Any) -> BYOLConfig:
        """Heads sized for the tiny encoder (64-d projections, 256 hidden): seconds per epoch on a CPU."""
        return cls(**{"projection_dim": 64, "hidden_dim": 256, **overrides})


class MLPHead(nn.Module):
    """BYOL's projector and predictor: ``Linear -> BatchNorm1d -> ReLU -> Linear``.

    Shape:
        ``(batch, in_dim)`` -> ``(batch, out_dim)``.
    """

    def __init__(self, in_dim: int, hidden_dim: int, out_dim: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(in_dim, hidden_dim), nn.BatchNorm1d(hidden_dim), nn.ReLU(inplace=True),
            nn.Linear(hidden_dim, out_dim),
        )  # fmt: skip

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.net(features)


@dataclass
class OnlineOutput:
    """What the online branch computes for one batch of log-mels.

    Attributes:
        embedding: the encoder's representation ``f(x)``, ``(batch, embedding_dim)``.
        projection: ``g(f(x))``, ``(batch, projection_dim)``.
        prediction: ``q(g(f(x)))``, ``(batch, projection_dim)``.
    """

    embedding: torch.Tensor
    projection: torch.Tensor
    prediction: torch.Tensor


class BYOLNetworks(nn.Module):
    """Online encoder, projector and predictor(s), and their moving-average target.

    The target encoder and projector start as copies of the online ones, take no gradients
    (``requires_grad=False``) and follow them through :meth:`update_target`. Their batch-norm layers keep
    their own running statistics, as in ``byol-pytorch``.

    Args:
        encoder: the online encoder; its :meth:`~workbench.models.audiontt.AudioNTT2020.forward_log_mel`
            maps log-mels to embeddings.
        config: head sizes, decay and whether the difference predictor exists.

    Shape:
        log_mel: ``(batch, n_mels, frames)``, normalised; batches of at least 2 in training mode
        (batch norm).
    """

    def __init__(self, encoder: AudioNTT2020, config: BYOLConfig | None = None):
        super().__init__()
        self.config = config = config or BYOLConfig()
        dim = encoder.embedding_dim
        self.online_encoder = encoder
        self.online_projector = MLPHead(dim, config.hidden_dim, config.projection_dim)
        self.online_predictor = MLPHead(config.projection_dim, config.hidden_dim, config.projection_dim)
        self.difference_predictor = (
            MLPHead(config.projection_dim, config.hidden_dim, config.projection_dim)
            if config.difference_predictor
            else None
        )
        self.target_encoder = copy.deepcopy(encoder)
        self.target_projector = copy.deepcopy(self.online_projector)
        for parameter in (*self.target_encoder.parameters(), *self.target_projector.parameters()):
            parameter.requires_grad_(False)

    def online(self, log_mel: torch.Tensor) -> OnlineOutput:
        """The online branch on log-mels ``(batch, n_mels, frames)``."""
        embedding = self.online_encoder.forward_log_mel(log_mel)  # (B, D)
        projection = self.online_projector(embedding)  # (B, P)
        return OnlineOutput(embedding, projection, self.online_predictor(projection))

    def target(self, log_mel: torch.Tensor) -> torch.Tensor:
        """The target projection ``z_xi`` ``(batch, projection_dim)``, without gradients."""
        with torch.no_grad():
            return self.target_projector(self.target_encoder.forward_log_mel(log_mel))

    def difference_head(self, difference: torch.Tensor) -> torch.Tensor:
        """Projector then difference predictor: ``(batch, embedding_dim)`` -> ``(batch, projection_dim)``.

        Raises:
            RuntimeError: the networks were built without the difference predictor.
        """
        if self.difference_predictor is None:
            raise RuntimeError(
                "these BYOL networks have no difference predictor; build them with "
                "BYOLConfig(difference_predictor=True) to train the difference branch"
            )
        return self.difference_predictor(self.online_projector(difference))

    @torch.no_grad()
    def update_target(self, decay: float | None = None) -> None:
        """``target <- decay * target + (1 - decay) * online`` for every parameter of encoder and projector.

        Buffers (batch-norm statistics) are not averaged: each network keeps its own.
        """
        decay = self.config.ema_decay if decay is None else float(decay)
        pairs = ((self.online_encoder, self.target_encoder), (self.online_projector, self.target_projector))
        for online, target in pairs:
            for online_parameter, target_parameter in zip(online.parameters(), target.parameters(), strict=True):
                target_parameter.lerp_(online_parameter, 1.0 - decay)


# --------------------------------------------------------------------------------------------------
# Normalisation and the official pretrained encoders


def set_normalization(
    encoder: AudioNTT2020, mean: float | torch.Tensor, std: float | torch.Tensor
) -> AudioNTT2020:
    """Make ``encoder`` normalise its log-mel with ``mean`` and ``std`` (e.g. a dataset's statistics).

    Args:
        encoder: an AudioNTT2020 (pretrained or not); changed in place.
        mean, std: scalars as BYOL-A uses, or ``(n_mels,)`` per-bin statistics.

    Returns:
        the same encoder.

    Raises:
        ValueError: statistics that are not finite or a std that is not positive.
    """
    encoder.normalizer = Normalizer(mean, std).to(encoder.normalizer.mean.device)
    return encoder


_OFFICIAL_KEY = re.compile(r"(^fc\.|\.fc\.|^features\.|\.features\.)")


def convert_official(checkpoint: Any, mean: float = PUBLISHED_MEAN, std: float = PUBLISHED_STD) -> dict[str, Any]:
    """An official BYOL-A checkpoint -> our AudioNTT2020 state_dict, with the normalisation statistics.

    As the official ``load_weight``: unwrap ``checkpoint["state_dict"]`` when present, keep the tensors
    whose name contains ``features.`` or ``fc.`` from that point on (dropping prefixes such as
    ``learner.net.`` of training checkpoints), then add ``normalizer.mean`` and ``normalizer.std``.

    Raises:
        TypeError: the checkpoint is not a mapping of tensor names.
        KeyError: no ``features.*`` / ``fc.*`` tensors in it.
    """
    state = unwrap("state_dict")(checkpoint)
    if not isinstance(state, Mapping):
        raise TypeError(f"expected a state_dict (a mapping of tensor names), got a {type(state).__name__}")
    converted: dict[str, Any] = {}
    for key, value in state.items():
        match = _OFFICIAL_KEY.search(key)
        if match is not None:
            converted[key[match.start() :].lstrip(".")] = value
    if not converted:
        raise KeyError(f"no 'features.*' or 'fc.*' tensors among {len(state)} entries; not a BYOL-A encoder")
    converted["normalizer.mean"] = torch.tensor(float(mean))
    converted["normalizer.std"] = torch.tensor(float(std))
    return converted


def pretrained_config(dim: int) -> AudioNTTConfig:
    """The configuration of the official ``AudioNTT2020-BYOLA-64x96d{dim}.pth``, published statistics in."""
    return AudioNTTConfig(embedding_dim=dim, norm_mean=PUBLISHED_MEAN, norm_std=PUBLISHED_STD)


def _register_official() -> None:
    for dim in PRETRAINED_DIMS:
        filename = f"AudioNTT2020-BYOLA-64x96d{dim}.pth"
        register_pretrained(
            PretrainedSpec(
                name=f"byola-d{dim}",
                description=f"BYOL-A AudioNTT2020, {dim}-d, pre-trained on AudioSet; Niizumi et al., IJCNN 2021",
                # register_pretrained fills in the sha256 and size where registry.PUBLISHED_CHECKSUMS has
                # them (d512); the others load unverified (see the module docstring).
                remote=RemoteFile(url=WEIGHTS_URL + filename, sha256=None, filename=filename),
                build=lambda dim=dim: AudioNTT2020(pretrained_config(dim)),
                convert=convert_official,
                frontend=(
                    "16 kHz; STFT 1024 points, Hann 1024, hop 160, centred (reflect); power; 64 HTK mel "
                    f"bands 60-7800 Hz; log(x + eps); (x - ({PUBLISHED_MEAN})) / {PUBLISHED_STD}"
                ),
                licence="NTT software licence for evaluation (nttcslab/byol-a LICENSE)",
            )
        )


_register_official()

__all__ = [
    "BYOLConfig",
    "BYOLNetworks",
    "MLPHead",
    "OnlineOutput",
    "PUBLISHED_MEAN",
    "PUBLISHED_STD",
    "convert_official",
    "pretrained_config",
    "set_normalization",
]
