"""Which channels a concept is made of, and which concepts a channel serves: the
weights of the dictionary's directions (each of unit length), largest magnitude first,
signed (an SAE's directions have negative weights too)."""

from __future__ import annotations

import numpy as np

from atlas.manifest_types import Loading
from atlas.models.concept_reads import concept_layer

CHANNELS_PER_CONCEPT = 8
CONCEPTS_PER_CHANNEL = 5


def _largest(weights: np.ndarray, layer: str, count: int) -> list[Loading]:
    order = np.argsort(-np.abs(weights), kind="stable")[:count]
    return [{"layer": layer, "unit": int(i), "weight": round(float(weights[i]), 4)}
            for i in order if weights[i] != 0]


def loadings(directions: np.ndarray, layer: str) -> dict[tuple[str, int], list[Loading]]:
    """(layer or concept layer, unit) -> its loadings, for every concept and channel of
    `layer`'s dictionary `directions` (count, channels)."""
    unit = directions / np.maximum(np.linalg.norm(directions, axis=1, keepdims=True), 1e-12)
    concepts = concept_layer(layer)
    found = {(concepts, k): _largest(unit[k], layer, CHANNELS_PER_CONCEPT)
             for k in range(len(unit))}
    found.update({(layer, c): _largest(unit[:, c], concepts, CONCEPTS_PER_CHANNEL)
                  for c in range(unit.shape[1])})
    return found
