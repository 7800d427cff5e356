"""What a dictionary is worth: the share of the activations' variance it reconstructs,
the concepts that never fire, and how much two fits with different seeds agree."""

from __future__ import annotations

import numpy as np


def explained_variance(values: np.ndarray, reconstruction: np.ndarray) -> float:
    """R²: 1 − residual sum of squares / total sum of squares around the mean vector."""
    values = np.asarray(values, dtype=np.float64)
    residual = ((values - reconstruction) ** 2).sum()
    total = ((values - values.mean(0)) ** 2).sum()
    return float(1.0 - residual / total) if total > 0 else 0.0


def dead_concepts(codes: np.ndarray) -> list[int]:
    """The concepts whose code is zero on every vector."""
    return [int(i) for i in np.flatnonzero(~(np.abs(codes) > 0).any(axis=0))]


def stability(first: np.ndarray, second: np.ndarray) -> float:
    """The mean cosine similarity of two dictionaries' directions (rows) matched one to
    one by the Hungarian algorithm, which maximizes the sum of the matched cosines."""
    from scipy.optimize import linear_sum_assignment

    a = first / np.maximum(np.linalg.norm(first, axis=1, keepdims=True), 1e-12)
    b = second / np.maximum(np.linalg.norm(second, axis=1, keepdims=True), 1e-12)
    cosines = a @ b.T
    rows, columns = linear_sum_assignment(-cosines)
    return float(cosines[rows, columns].mean())
