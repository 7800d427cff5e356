"""Fitting a dictionary: `fit_dictionary("nmf" | "sae", activations, count, seed)`.

Why not the `overcomplete` library: its NMF and TopK SAE are what atlas needs, but it
pulls OpenCV, matplotlib and scikit-image into every install; an NMF by HALS and a
TopK autoencoder of a few dozen lines each do the same here.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from atlas.dictionaries.dictionary import Dictionary
from atlas.errors import AtlasError

METHODS = ("nmf", "sae")
NEGATIVE_TOLERANCE = 1e-6  # values this far below 0 still count as a non-negative layer


def parse_spec(text: str) -> tuple[str, int]:
    """'nmf:64' -> ("nmf", 64), with one-line errors."""
    method, _, count = str(text).partition(":")
    if method not in METHODS or not count.isdigit() or int(count) < 1:
        raise AtlasError(f"concepts {text!r} must be a method and a count, e.g. nmf:64 or "
                         f"sae:256 (methods: {', '.join(METHODS)})")
    return method, int(count)


def fit_dictionary(method: str, activations: np.ndarray, count: int, seed: int,
                   **settings: Any) -> Dictionary:
    """A dictionary of `count` directions fitted to `activations` (vectors, channels)."""
    values = np.asarray(activations, dtype=np.float32)
    if values.ndim != 2 or len(values) < 2:
        raise AtlasError("a dictionary needs at least two activation vectors")
    if method == "nmf":
        from atlas.dictionaries.nmf import fit_nmf

        if values.min() < -NEGATIVE_TOLERANCE:
            raise AtlasError(f"nmf needs a non-negative layer, and this one reaches "
                             f"{values.min():.3g}; use sae:{count} for it")
        return fit_nmf(np.maximum(values, 0.0), count, seed, **settings)
    if method == "sae":
        from atlas.dictionaries.sae import fit_topk_sae

        return fit_topk_sae(values, count, seed, **settings)
    raise AtlasError(f"unknown dictionary method {method!r}; methods: {', '.join(METHODS)}")


def encode(dictionary: Dictionary, activations: np.ndarray, sweeps: int | None = None
           ) -> np.ndarray:
    """Each vector's code (vectors, count): its coefficient on every concept. `sweeps`:
    an NMF's code sweeps, where fewer than its default do."""
    values = np.asarray(activations, dtype=np.float32)
    if dictionary.method == "nmf":
        from atlas.dictionaries.nmf import CODE_SWEEPS, nmf_codes

        return nmf_codes(dictionary, np.maximum(values, 0.0), sweeps or CODE_SWEEPS)
    from atlas.dictionaries.sae import sae_codes

    return sae_codes(dictionary, values)


def reconstruct(dictionary: Dictionary, codes: np.ndarray) -> np.ndarray:
    """The vectors `codes` stand for: codes · directions (plus the SAE's input bias)."""
    out = codes @ dictionary.directions
    if dictionary.encoder is not None:
        out = out + dictionary.encoder["input_bias"]
    return out.astype(np.float32)
