"""The SVM back-end on fixed codes: equivalence with scikit-learn, kernels that matter, errors."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from workbench.errors import UnknownNameError
from workbench.evaluation.svm import SVMConfig, fit_svm, svm_backend


def rings(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Three concentric rings in 2-D (class = ring), offset and scaled unevenly: no line separates them."""
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % 3
    angles = rng.uniform(0, 2 * np.pi, count)
    radii = 1.0 + labels + rng.normal(0, 0.1, count)
    codes = np.stack([radii * np.cos(angles), radii * np.sin(angles)], axis=1) * [1.0, 30.0] + [5.0, -100.0]
    return codes.astype(np.float32), labels


def test_matches_scikit_learn_with_training_statistics():
    train_codes, train_labels = rings(300, 0)
    test_codes, test_labels = rings(120, 1)
    result = svm_backend(train_codes, train_labels, test_codes, test_labels, SVMConfig(C=2.0), classes=("a", "b", "c"))
    scaler = StandardScaler().fit(train_codes)
    reference = SVC(kernel="rbf", C=2.0, gamma="scale").fit(scaler.transform(train_codes), train_labels)
    expected = reference.predict(scaler.transform(test_codes))
    np.testing.assert_array_equal(result.predictions, expected)
    assert result.accuracy == pytest.approx((expected == test_labels).mean())
    assert result.accuracy > 0.95  # the RBF kernel separates the rings
    assert result.classes == ("a", "b", "c") and result.scalars() == {"accuracy": result.accuracy, "kernel": "rbf",
                                                                      "n_test": 120}  # fmt: skip


def test_standardisation_matters_for_unevenly_scaled_codes():
    train_codes, train_labels = rings(300, 0)
    test_codes, test_labels = rings(120, 1)
    raw = svm_backend(train_codes, train_labels, test_codes, test_labels, SVMConfig(standardize=False, gamma=1.0))
    scaled = svm_backend(train_codes, train_labels, test_codes, test_labels, SVMConfig(gamma=1.0))
    assert scaled.accuracy > 0.95 and raw.accuracy < 0.85


def test_sigmoid_kernel_on_linearly_separable_codes():
    rng = np.random.default_rng(0)
    centres = np.array([[3.0, 0.0, 0.0], [0.0, 3.0, 0.0], [0.0, 0.0, 3.0]])
    labels = np.arange(240) % 3
    codes = centres[labels] + rng.normal(0, 0.5, (240, 3))
    result = svm_backend(codes[:180], labels[:180], codes[180:], labels[180:], SVMConfig(kernel="sigmoid", gamma=0.1))
    assert result.kernel == "sigmoid" and result.accuracy > 0.9
    model = fit_svm(codes[:180], labels[:180], SVMConfig(kernel="sigmoid", gamma=0.1, coef0=0.5))
    assert model[-1].kernel == "sigmoid" and model[-1].coef0 == 0.5


def test_errors_say_what_is_wrong():
    codes, labels = rings(30, 0)
    with pytest.raises(UnknownNameError, match="unknown SVM kernel 'linear'; valid: rbf, sigmoid"):
        SVMConfig(kernel="linear")
    with pytest.raises(ValueError, match="SVMConfig.C must be positive"):
        SVMConfig(C=0)
    with pytest.raises(ValueError, match="SVMConfig.gamma must be a positive number, 'scale' or 'auto'"):
        SVMConfig(gamma="big")
    with pytest.raises(ValueError, match=r"SVM training set: expected codes \(N, dim\) and labels \(N,\) of the same"):
        fit_svm(codes, labels[:-1])
    with pytest.raises(ValueError, match="needs at least two classes in training, got \\[0\\]"):
        fit_svm(codes, np.zeros(30))
    with pytest.raises(ValueError, match="SVM test set: the codes hold NaN or Inf"):
        svm_backend(codes, labels, np.full((2, 2), np.nan), labels[:2])
    with pytest.raises(ValueError, match="training codes have 2 dimensions, test codes 3"):
        svm_backend(codes, labels, np.zeros((2, 3)), labels[:2])
