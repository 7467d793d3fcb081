"""The one tagging mAP, used by the linear evaluation, the ASC tagger and CaRE-SEP's tagging head."""

import numpy as np
import pytest

from workbench.evaluation.metrics import mean_average_precision


def test_mean_average_precision():
    scores = np.array([[0.9, 0.1, 0.0], [0.2, 0.8, 0.0], [0.6, 0.4, 0.0], [0.1, 0.7, 0.0]])
    labels = np.array([0, 1, 1, 0])
    # Class 0: positives ranked 1st and 4th -> AP (1 + 2/4) / 2; class 1: 1st and 3rd -> (1 + 2/3) / 2;
    # class 2 has no positive and is left out.
    assert mean_average_precision(scores, labels) == pytest.approx(((1 + 2 / 4) / 2 + (1 + 2 / 3) / 2) / 2)
    assert mean_average_precision(np.eye(3), np.arange(3)) == pytest.approx(1.0)
    with pytest.raises(ValueError, match=r"class indices must lie in \[0, 3\)"):
        mean_average_precision(scores, np.array([0, 1, 5, 0]))
    with pytest.raises(ValueError, match="no class has a positive clip"):
        mean_average_precision(scores, np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"targets \(4, 2\) do not match scores \(4, 3\)"):
        mean_average_precision(scores, np.ones((4, 2)))
