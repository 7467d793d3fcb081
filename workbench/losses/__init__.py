"""Losses, one family per file.

- :class:`ADDLoss` (:mod:`~workbench.losses.add`): Angular Distance Distribution loss;
- :class:`FocalLoss` (:mod:`~workbench.losses.focal`);
- :class:`OrthogonalProjectionLoss` (:mod:`~workbench.losses.opl`);
- :class:`BYOLLoss` and :class:`DifferenceLoss` (:mod:`~workbench.losses.byol`): BYOL's 2 - 2 cos and the
  subtraction-consistent difference term of difference-aware BYOL-A;
- :func:`soft_cross_entropy` and :class:`ClassificationLoss` (:mod:`~workbench.losses.classification`):
  CE / soft CE / BCE plus an optional weighted auxiliary embedding loss;
- :class:`SeparationLoss` and :func:`signal_to_distortion_ratio` (:mod:`~workbench.losses.separation`):
  CaRE-SEP's waveform MAE minus SDR.
"""

from workbench.losses.add import ADDLoss
from workbench.losses.byol import BYOLLoss, DifferenceLoss
from workbench.losses.classification import ClassificationLoss, soft_cross_entropy
from workbench.losses.focal import FocalLoss
from workbench.losses.opl import OrthogonalProjectionLoss
from workbench.losses.separation import SeparationLoss, signal_to_distortion_ratio

__all__ = [
    "ADDLoss",
    "BYOLLoss",
    "DifferenceLoss",
    "ClassificationLoss",
    "FocalLoss",
    "OrthogonalProjectionLoss",
    "SeparationLoss",
    "signal_to_distortion_ratio",
    "soft_cross_entropy",
]
