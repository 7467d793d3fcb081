"""A support vector machine back-end on fixed codes (scikit-learn's ``SVC``).

Jung et al. ("Acoustic Scene Classification using Audio Tagging", Interspeech 2020) report their
scene classifiers both through the network's own softmax output and through an SVM trained on the
codes (the last hidden layer) of the training clips. This module is that back-end for any embedding:
standardise with the training clips' statistics, fit a one-vs-one multi-class ``SVC`` with an RBF or
sigmoid kernel, score accuracy on the test clips.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from workbench.errors import UnknownNameError

KERNELS: tuple[str, ...] = ("rbf", "sigmoid")


@dataclass(frozen=True)
class SVMConfig:
    """Settings of the SVM back-end.

    Args:
        kernel: ``"rbf"`` (``exp(-gamma |x - y|^2)``) or ``"sigmoid"`` (``tanh(gamma <x, y> + coef0)``).
        C: inverse regularisation strength.
        gamma: kernel coefficient; ``"scale"`` is ``1 / (dim * variance of the training codes)``.
        coef0: the sigmoid kernel's offset.
        standardize: scale each dimension to zero mean and unit variance with training statistics first.

    Raises:
        UnknownNameError: another kernel. ValueError: ``C`` or a numeric ``gamma`` not positive.
    """

    kernel: Literal["rbf", "sigmoid"] = "rbf"
    C: float = 1.0
    gamma: float | Literal["scale", "auto"] = "scale"
    coef0: float = 0.0
    standardize: bool = True

    def __post_init__(self) -> None:
        if self.kernel not in KERNELS:
            raise UnknownNameError("SVM kernel", str(self.kernel), KERNELS)
        if not self.C > 0:
            raise ValueError(f"SVMConfig.C must be positive, got {self.C!r}")
        if isinstance(self.gamma, str):
            if self.gamma not in ("scale", "auto"):
                raise ValueError(f"SVMConfig.gamma must be a positive number, 'scale' or 'auto', got {self.gamma!r}")
        elif not self.gamma > 0:
            raise ValueError(f"SVMConfig.gamma must be positive, got {self.gamma!r}")


@dataclass
class SVMResult:
    """Test accuracy of the SVM back-end and its predictions."""

    accuracy: float
    predictions: np.ndarray
    targets: np.ndarray
    kernel: str
    classes: Sequence[str] = field(default_factory=tuple)

    def scalars(self) -> dict[str, Any]:
        return {"accuracy": self.accuracy, "kernel": self.kernel, "n_test": int(len(self.targets))}


def _check_codes(codes: Any, labels: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    codes = np.asarray(codes, dtype=np.float64)
    labels = np.asarray(labels)
    if codes.ndim != 2 or labels.ndim != 1 or len(codes) != len(labels):
        raise ValueError(
            f"{name}: expected codes (N, dim) and labels (N,) of the same length, got {codes.shape} and {labels.shape}"
        )
    if len(codes) == 0:
        raise ValueError(f"{name}: no clips")
    if not np.isfinite(codes).all():
        raise ValueError(f"{name}: the codes hold NaN or Inf values")
    return codes, labels.astype(np.int64)


def fit_svm(codes: np.ndarray, labels: np.ndarray, config: SVMConfig | None = None) -> Pipeline:
    """Fit the back-end on training codes ``(N, dim)`` with class labels ``(N,)``.

    Returns:
        a scikit-learn pipeline (standardisation, then ``SVC``) with ``predict``.

    Raises:
        ValueError: mismatched or non-finite inputs, or fewer than two classes.
    """
    config = config or SVMConfig()
    codes, labels = _check_codes(codes, labels, "SVM training set")
    if len(np.unique(labels)) < 2:
        raise ValueError(f"the SVM back-end needs at least two classes in training, got {np.unique(labels).tolist()}")
    svc = SVC(kernel=config.kernel, C=config.C, gamma=config.gamma, coef0=config.coef0)
    model = make_pipeline(StandardScaler(), svc) if config.standardize else make_pipeline(svc)
    return model.fit(codes, labels)


def svm_backend(
    train_codes: np.ndarray,
    train_labels: np.ndarray,
    test_codes: np.ndarray,
    test_labels: np.ndarray,
    config: SVMConfig | None = None,
    classes: Sequence[str] = (),
) -> SVMResult:
    """Fit an SVM on the training codes and score it on the test codes.

    Args:
        train_codes, test_codes: ``(N, dim)`` codes (the same dimension).
        train_labels, test_labels: ``(N,)`` class indices.
        config: kernel and regularisation.
        classes: class names, kept in the result for plots.

    Returns:
        :class:`SVMResult` with the test accuracy and predictions.

    Raises:
        ValueError: mismatched shapes, non-finite codes, fewer than two training classes.
    """
    config = config or SVMConfig()
    test_codes, test_labels = _check_codes(test_codes, test_labels, "SVM test set")
    if np.shape(train_codes)[-1] != test_codes.shape[1]:
        raise ValueError(
            f"training codes have {np.shape(train_codes)[-1]} dimensions, test codes {test_codes.shape[1]}"
        )
    model = fit_svm(train_codes, train_labels, config)
    predictions = model.predict(test_codes).astype(np.int64)
    accuracy = float((predictions == test_labels).mean())
    return SVMResult(accuracy, predictions, test_labels, config.kernel, tuple(classes))
