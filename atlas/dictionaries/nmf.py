"""NMF concepts (CRAFT's): activations ≈ codes · directions, both non-negative, by
scikit-learn's coordinate-descent NMF from a seeded NNDSVDa start."""

from __future__ import annotations

import warnings

import numpy as np

from atlas.dictionaries.dictionary import Dictionary

MAX_ITER = 400
TOLERANCE = 1e-4


def _unit_rows(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    norms = np.linalg.norm(matrix, axis=1)
    return matrix / np.maximum(norms, 1e-12)[:, None], norms


def fit_nmf(values: np.ndarray, count: int, seed: int, max_iter: int = MAX_ITER
            ) -> Dictionary:
    from sklearn.decomposition import NMF
    from sklearn.exceptions import ConvergenceWarning

    model = NMF(n_components=count, init="nndsvda", solver="cd", max_iter=max_iter,
                tol=TOLERANCE, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # max_iter bounds the time
        model.fit(values)
    directions, _ = _unit_rows(model.components_.astype(np.float64))
    return Dictionary("nmf", directions.astype(np.float32), seed,
                      {"max_iter": max_iter, "tol": TOLERANCE, "init": "nndsvda"})


def nmf_codes(dictionary: Dictionary, values: np.ndarray) -> np.ndarray:
    """Non-negative codes on the (unit) directions, which stay fixed."""
    from sklearn.decomposition import non_negative_factorization
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        codes, _, _ = non_negative_factorization(
            values.astype(np.float64), H=dictionary.directions.astype(np.float64),
            n_components=dictionary.count, init="custom", update_H=False, solver="cd",
            max_iter=MAX_ITER, tol=TOLERANCE)
    return codes.astype(np.float32)
