"""Embedding geometry against a brute-force computation over pairs."""

import itertools
import math

import numpy as np
import pytest

from workbench.evaluation.geometry import cosine_distances, embedding_geometry


def _brute_force(embeddings, labels, a, b):
    values = []
    for i, j in itertools.product(range(len(labels)), repeat=2):
        if i != j and labels[i] == a and labels[j] == b:
            x, y = embeddings[i], embeddings[j]
            values.append(1 - sum(p * q for p, q in zip(x, y)) / math.sqrt(sum(p * p for p in x) * sum(q * q for q in y)))
    mean = sum(values) / len(values)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
    return mean, std / mean


@pytest.mark.parametrize("seed", [0, 1])
def test_matrices_and_summaries_match_brute_force(seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, size=17)
    labels[:3] = [0, 1, 2]
    labels[3:6] = [0, 1, 2]
    embeddings = rng.normal(size=(17, 5))
    geometry = embedding_geometry(embeddings, labels, ["x", "y", "z"])
    assert geometry.classes == ("x", "y", "z")
    for a, b in itertools.product(range(3), repeat=2):
        mean, cv = _brute_force(embeddings, labels, a, b)
        assert geometry.mean[a, b] == pytest.approx(mean)
        assert geometry.cv[a, b] == pytest.approx(cv)
    diagonal = np.eye(3, dtype=bool)
    assert geometry.intra_clustering == pytest.approx(geometry.mean[diagonal].mean())
    assert geometry.inter_separation == pytest.approx(geometry.mean[~diagonal].mean())
    assert geometry.intra_equidistance == pytest.approx(geometry.cv[diagonal].mean())
    assert geometry.inter_equidistance == pytest.approx(geometry.cv[~diagonal].mean())


def test_tight_separated_classes_read_as_such():
    rng = np.random.default_rng(0)
    centres = np.eye(4)[:3] * 10
    labels = np.repeat(np.arange(3), 10)
    embeddings = centres[labels] + rng.normal(scale=0.1, size=(30, 4))
    geometry = embedding_geometry(embeddings, labels)
    assert geometry.intra_clustering < 0.01 and geometry.inter_separation > 0.9
    # Orthogonal centres: every pair of classes is (nearly) equally far apart.
    assert geometry.inter_equidistance < 0.05


def test_singleton_classes_and_subsets():
    embeddings = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    geometry = embedding_geometry(embeddings, [0, 1, 1], classes=[1, 0])
    assert geometry.classes == ("1", "0")
    assert np.isnan(geometry.mean[1, 1])  # class 0 has one clip: no within-class pair
    assert geometry.intra_clustering == pytest.approx(geometry.mean[0, 0])


def test_errors():
    with pytest.raises(ValueError, match="all-zero row"):
        cosine_distances(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"labels must be \(N,\) with N = 2 rows"):
        embedding_geometry(np.ones((2, 3)), [0])
    with pytest.raises(ValueError, match=r"classes \[5\] have no embeddings"):
        embedding_geometry(np.eye(2), [0, 1], classes=[0, 5])


def test_inter_class_hierarchy_is_the_spread_of_the_per_pair_means():
    rng = np.random.default_rng(3)
    labels = np.repeat(np.arange(4), 5)
    embeddings = rng.normal(size=(20, 6))
    geometry = embedding_geometry(embeddings, labels)
    pair_means = [_brute_force(embeddings, labels, a, b)[0] for a, b in itertools.combinations(range(4), 2)]
    mean = sum(pair_means) / len(pair_means)
    spread = math.sqrt(sum((value - mean) ** 2 for value in pair_means) / len(pair_means))
    assert geometry.inter_hierarchy == pytest.approx(spread / mean)
    assert geometry.summaries()["inter-class hierarchy"] == geometry.inter_hierarchy


def test_a_class_hierarchy_shows_in_the_hierarchy_not_in_the_per_pair_cv():
    """Classes 0 and 1 sit close together, far from 2 and 3: every pair is tight (low per-pair CV), but
    the pairs' mean distances differ (high hierarchy); orthogonal classes have none."""
    rng = np.random.default_rng(4)
    labels = np.repeat(np.arange(4), 6)
    noise = 0.01 * rng.normal(size=(24, 4))
    orthogonal = np.eye(4)[labels] + noise
    close = np.array([[1.0, 0.2, 0, 0], [1.0, -0.2, 0, 0], [0, 0, 1.0, 0], [0, 0, 0, 1.0]])[labels] + noise
    flat, hierarchical = embedding_geometry(orthogonal, labels), embedding_geometry(close, labels)
    assert flat.inter_hierarchy < 0.05
    assert hierarchical.inter_hierarchy > 0.3
    assert hierarchical.inter_equidistance < 0.1
    assert math.isnan(embedding_geometry(orthogonal[labels < 1], labels[labels < 1]).inter_hierarchy)
