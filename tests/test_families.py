"""Families: correlation, clustering and naming on small hand-made matrices."""

import numpy as np
import pytest

from atlas.pipeline.analysis.families import (FAMILY_CORRELATION, cluster, correlation, families,
                                     family_name, top_label)


def test_correlation_matches_numpy_and_dead_units_correlate_zero():
    rng = np.random.default_rng(0)
    samples = rng.normal(size=(50, 4))
    samples[:, 3] = 2.0  # a dead unit: constant
    matrix = correlation(samples)
    assert np.allclose(matrix[:3, :3], np.corrcoef(samples[:, :3].T))
    assert matrix[3, 3] == 1.0
    assert np.all(matrix[3, :3] == 0.0) and np.all(matrix[:3, 3] == 0.0)


def test_cluster_joins_correlated_units_and_leaves_loners():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(2, 200))
    noise = lambda: 0.1 * rng.normal(size=200)  # noqa: E731
    samples = np.stack([a + noise(), b + noise(), a + noise(), rng.normal(size=200),
                        b + noise(), a + noise()], axis=1)
    assert cluster(correlation(samples)) == [[0, 2, 5], [1, 4]]


def test_cluster_threshold_is_the_mean_correlation():
    # Two units correlating just above / just below the threshold.
    for r, joined in ((FAMILY_CORRELATION + 0.02, True), (FAMILY_CORRELATION - 0.02, False)):
        matrix = np.array([[1.0, r], [r, 1.0]])
        assert (cluster(matrix) == [[0, 1]]) is joined


def test_families_names_numbers_and_marks_members():
    rng = np.random.default_rng(2)
    a = rng.normal(size=100)
    samples = np.stack([a, a + 0.01 * rng.normal(size=100), rng.normal(size=100)], axis=1)
    labels = lambda v, n: {"class": {"value": v, "count": n, "of": 10}}  # noqa: E731
    scored = {"4": {"labels": labels("7", 9)}, "9": {"labels": labels("7", 6)},
              "12": {"labels": labels("1", 10)}}
    found = families([4, 9, 12], samples, scored)
    assert len(found) == 1
    family = found[0]
    assert family["number"] == 1 and family["units"] == [4, 9]
    assert family["name"] == "class 7 (2 of 2)"
    assert family["share"] == pytest.approx(2 / 3, abs=1e-4)
    assert family["correlation"] > 0.99
    assert scored["4"]["family"] == 1 and scored["9"]["family"] == 1
    assert "family" not in scored["12"]


def test_names_without_labels_and_top_label_choice():
    assert family_name([{}, {"labels": {}}], 3) == "family 3"
    labels = {"class": {"value": "3", "count": 6, "of": 10},
              "colour": {"value": "red", "count": 9, "of": 10}}
    assert top_label(labels) == "colour red"
    assert top_label(None) is None


def test_clusters_are_scikit_learns_average_linkage() -> None:
    """The groups equal AgglomerativeClustering's (average linkage, the distance
    threshold), which atlas no longer imports, on many random correlation sets."""
    from sklearn.cluster import AgglomerativeClustering

    from atlas.pipeline.analysis.families import FAMILY_CORRELATION, MIN_FAMILY, cluster

    rng = np.random.default_rng(0)
    for trial in range(40):
        units, samples = int(rng.integers(2, 40)), int(rng.integers(3, 30))
        base = rng.normal(size=(samples, int(rng.integers(1, 5))))
        values = base @ rng.normal(size=(base.shape[1], units)) + rng.normal(
            scale=rng.uniform(0.1, 2.0), size=(samples, units))
        matrix = np.clip(np.corrcoef(values.T), -1.0, 1.0)
        np.fill_diagonal(matrix, 1.0)
        labels = AgglomerativeClustering(
            n_clusters=None, metric="precomputed", linkage="average",
            distance_threshold=1.0 - FAMILY_CORRELATION + 1e-9,
        ).fit(np.clip(1.0 - matrix, 0.0, 2.0)).labels_
        groups: dict[int, list[int]] = {}
        for position, label in enumerate(labels):
            groups.setdefault(int(label), []).append(position)
        expected = sorted((sorted(g) for g in groups.values() if len(g) >= MIN_FAMILY),
                          key=lambda g: (-len(g), g[0]))
        assert cluster(matrix) == expected, trial
