"""What is built per loss: the encoder to fine-tune (pretrained or from scratch, its front-end adapted),
the encoder with its linear head (:class:`FineTuner`), and the criterion (CE or focal plus OPL / ADD)."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from workbench.audio import SpecAugment
from workbench.audio.frontends import KaldiFbank
from workbench.errors import MissingFileError, UnknownNameError
from workbench.losses import ADDLoss, ClassificationLoss, FocalLoss, OrthogonalProjectionLoss
from workbench.models import registry
from workbench.models.base import Encoder
from workbench.models.digest import weights_fingerprint
from workbench.models.zoo import build_encoder, encoder_names
from workbench.recipes.add_loss.data import has_spectrogram_path
from workbench.recipes.add_loss.params import Params
from workbench.recipes.base import expand_shared


def build_fine_tuned_encoder(params: Params, seed: int) -> Encoder:
    """The encoder to fine-tune, in training mode with every parameter trainable.

    A pretrained name loads its weights (``pretrained_path``, ``"{shared}/..."`` allowed, or the cache); an
    architecture name is
    initialised from ``seed``. ``input_frames`` and ``window_type`` then adapt its front-end.

    Raises:
        UnknownNameError: an unknown encoder name.
        ValueError: ``pretrained_path`` with an architecture name, ``input_frames`` for an encoder
            without ``set_input_frames``, or ``window_type`` for one without a Kaldi fbank.
    """
    if params.encoder in registry.names():
        encoder = registry.load_pretrained(params.encoder, path=expand_shared(params.pretrained_path) or None)
    elif params.pretrained_path:
        raise ValueError(
            f"pretrained_path is for pretrained encoder names ({', '.join(registry.names())}); "
            f"{params.encoder!r} is built from scratch"
        )
    elif params.encoder in encoder_names():
        encoder = build_encoder(params.encoder, seed=seed)
    else:
        raise UnknownNameError("encoder", params.encoder, encoder_names())
    if params.input_frames:
        if not hasattr(encoder, "set_input_frames"):
            raise ValueError(f"input_frames applies to AST-style encoders; {type(encoder).__name__} takes any length")
        encoder.set_input_frames(params.input_frames)
    if params.window_type:
        fbanks = [module for module in encoder.modules() if isinstance(module, KaldiFbank)]
        if not fbanks:
            raise ValueError(f"window_type applies to Kaldi fbank front-ends; {type(encoder).__name__} has none")
        for fbank in fbanks:
            fbank.window_type = params.window_type
    for parameter in encoder.parameters():
        parameter.requires_grad_(True)
    return encoder.train()


def weights_data(params: Params) -> list[dict]:
    """The fingerprint of the weights file a pretrained encoder name reads (``pretrained_path``, else the
    registry's verified cached download), for a run's ``data``: its sha256 enters the run id and, with the
    file's path, provenance.json, so a checkpoint overwritten in place is a new run. Empty for an
    architecture trained from scratch. The sha256 is hashed once per file version
    (:func:`workbench.models.digest.file_sha256`).

    Raises:
        MissingFileError: ``pretrained_path`` names no file, or the cached weights are absent and cannot be
            downloaded.
    """
    if params.encoder not in registry.names():
        return []
    if params.pretrained_path:
        file = Path(expand_shared(params.pretrained_path)).expanduser()
        if not file.is_file():
            raise MissingFileError(
                f"parameter 'pretrained_path': checkpoint file not found: {file}. Pass the path of a checkpoint "
                f"of {params.encoder!r} (\"{{shared}}/...\" reads under $WORKBENCH_SHARED), or \"\" for the cached download."
            )
    else:
        file = registry.download_weights(params.encoder)
    return [weights_fingerprint(file, name=params.encoder)]


def encoder_rate(params: Params) -> int:
    """The encoder's sample rate, from an untrained instance (no weights are read).

    Raises:
        UnknownNameError: an unknown encoder name.
    """
    if params.encoder in registry.names():
        return registry.spec(params.encoder).build().sample_rate
    return build_encoder(params.encoder).sample_rate  # raises for unknown names, listing the valid ones


class FineTuner(nn.Module):
    """An encoder and a linear head, with SpecAugment on the encoder's spectrogram while training.

    ``forward`` takes waveforms ``(batch, samples)`` or, for encoders with a spectrogram path,
    precomputed spectrograms (3-D, in the encoder's layout); SpecAugment (identity in eval mode) is
    applied in ``(batch, bins, frames)`` layout, transposing for time-first encoders (BEATs). Masked
    cells are set to 0, the mean of the normalised features.

    Args:
        encoder: any :class:`Encoder`; SpecAugment needs its spectrogram path.
        n_classes: outputs of the head.
        spec_augment: the masking module, or None.

    Returns:
        ``forward``: ``(embeddings (batch, dim), logits (batch, n_classes))``.

    Raises:
        ValueError: SpecAugment with an encoder that does not expose its spectrogram.
    """

    def __init__(self, encoder: Encoder, n_classes: int, spec_augment: SpecAugment | None = None):
        super().__init__()
        if spec_augment is not None and not has_spectrogram_path(encoder):
            raise ValueError(
                f"SpecAugment needs the encoder's spectrogram, and {type(encoder).__name__} does not expose one; "
                f"set freq_mask=0 and time_mask=0, or use a spectrogram encoder (AST, BEATs, AudioNTT2020)"
            )
        self.encoder = encoder
        self.head = nn.Linear(encoder.embedding_dim, n_classes)
        self.spec_augment = spec_augment

    def augment(self, spectrogram: torch.Tensor) -> torch.Tensor:
        if self.spec_augment is None:
            return spectrogram
        if self.encoder.spectrogram_time_first:
            return self.spec_augment(spectrogram.transpose(1, 2)).transpose(1, 2)
        return self.spec_augment(spectrogram)

    def forward(self, inputs: torch.Tensor, augment: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """``augment=False`` leaves SpecAugment out: for inputs augmented already (seeds trained together
        draw their masks outside ``vmap``, see :mod:`workbench.recipes.add_loss.repeats`)."""
        masks = self.augment if augment else _unchanged
        if inputs.ndim == 3:
            embeddings = self.encoder.forward_spectrogram(masks(inputs))
        elif self.spec_augment is not None:
            embeddings = self.encoder.forward_spectrogram(masks(self.encoder.spectrogram(inputs)))
        else:
            embeddings = self.encoder(inputs)
        return embeddings, self.head(embeddings)


def _unchanged(spectrogram: torch.Tensor) -> torch.Tensor:
    return spectrogram


def build_criterion(params: Params) -> ClassificationLoss:
    """Cross-entropy (soft CE or BCE under mixup) or focal loss, plus the OPL / ADD term.

    Raises:
        ValueError: ADD under mixup with ``lambda_mu_p != lambda_mu_n`` (the soft-label ADD has one
            lambda for its mean term).
    """
    classification: str | nn.Module = params.mixup_criterion if params.mixup > 0 else "ce"
    if params.loss == "focal":
        return ClassificationLoss(FocalLoss(gamma=params.focal_gamma))
    if params.loss == "opl":
        opl = OrthogonalProjectionLoss(gamma=params.opl_gamma, absolute_negatives=params.opl_absolute_negatives)
        return ClassificationLoss(classification, opl, params.opl_weight or params.auxiliary_weight)
    if params.loss == "add":
        if params.mixup > 0 and params.lambda_mu_p != params.lambda_mu_n:
            raise ValueError(
                f"ADD with mixup (soft labels) weights its mean term with one lambda, but lambda_mu_p="
                f"{params.lambda_mu_p} and lambda_mu_n={params.lambda_mu_n} differ; make them equal or set mixup=0"
            )
        # Under mixup every batch is read as soft labels (Sec. 3.4), also one whose clips all stayed unmixed.
        add = ADDLoss(params.lambda_mu_p, params.lambda_sigma_p, params.lambda_mu_n, params.lambda_sigma_n,
                      form=params.add_form, labels="soft" if params.mixup > 0 else "auto")  # fmt: skip
        return ClassificationLoss(classification, add, params.auxiliary_weight)
    return ClassificationLoss(classification)
