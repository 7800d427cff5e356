"""What the dataset pass says about each unit, measured.

- Labels: the most common value of each label (class, colour) among a unit's
  top examples, and how many of them carry it.
- Super-stimulus ratio: the unit's value on its positive visualization (its
  extreme over positions, as for dataset images) divided by its largest
  value over the data.
- Faithfulness: whether the network processes the positive visualization the
  way it processes the unit's top examples (compare the "path similarity" of
  Geirhos et al. 2023). Each image is described by its spatial-mean activation
  over every unit of the unit's layer and of the chosen layer before it, each
  unit z-scored over the dataset. Faithfulness is the Spearman rank
  correlation between the visualization's vector and the mean vector of the
  top-k examples; the baseline is the same correlation for random dataset
  images (mean over BASELINE_IMAGES of them, excluding the top examples).
- Example polysemanticity: 1 − the largest share any one label value takes
  among the top examples (0: all top examples share a class or a colour).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from atlas.datasets import Dataset
from atlas.manifest_types import UNIT_FLAGS
from atlas.pipeline.dataset.scan import LayerScan

FAITHFULNESS_METHOD = (
    "Each image is described by its mean activation over positions at every unit of the "
    "unit's layer and of the chosen layer before it, each unit z-scored over the dataset. "
    "Faithfulness is the Spearman rank correlation between the positive visualization's "
    "vector and the mean vector of the unit's top-k dataset examples: 1 when the network "
    "processes the visualization like the images that excite the unit most. The baseline is "
    "the same correlation for random dataset images. The super-stimulus ratio is the unit's "
    "value on its positive visualization (its maximum over positions) divided by its largest "
    "value over the dataset; above 1 the visualization excites the unit more than any real "
    "image does. A unit whose data maximum is below 1% of its layer's largest barely fires on "
    "the data and gets no ratio."
)
EXAMPLES_COLOUR_METHOD = (
    "From the dataset examples: for each unit, the share of its top-k examples that wear its "
    "most common colour and the share that show its most common class; the layer's value is "
    "the mean over its units. A layer whose top examples agree more on colour than on class "
    "sees colour rather than shape."
)
EXAMPLES_POLY_METHOD = (
    "score = 1 − the largest share that any one class or colour takes among the unit's top-k "
    "dataset examples: 0 when they all show one digit or all wear one colour, high when they "
    "mix several of each. Cross-checks: the seeds score (spread of the 5 positive images from "
    "different starts) and the diversity score (spread of the diversity images), both as "
    "fractions of the spread between different units of the layer."
)
BASELINE_IMAGES = 16


@dataclass
class DataEvidence:
    """What the dataset pass gives the analysis."""

    dataset: Dataset
    scans: dict[str, LayerScan]

    def top_indices(self, layer: str, unit: int) -> list[int]:
        scan = self.scans[layer]
        return [int(scan.indices[row]) for row in scan.top["images"][unit]]

    def top_labels(self, layer: str, unit: int) -> list[dict[str, str]]:
        return [self.dataset.labels(index) for index in self.top_indices(layer, unit)]


def label_shares(labels: Sequence[dict[str, str]], keys: Sequence[str]) -> dict[str, dict]:
    """For each label key, the most common value among `labels` and its count
    (ties: the value that sorts first, so the result is deterministic)."""
    shares = {}
    for key in keys:
        values = [item[key] for item in labels if key in item]
        if not values:
            continue
        counts = Counter(values)
        value = min(counts, key=lambda v: (-counts[v], v))
        shares[key] = {"value": value, "count": counts[value], "of": len(labels)}
    return shares


def example_polysemanticity(shares: dict[str, dict]) -> float | None:
    if not shares:
        return None
    return round(1.0 - max(s["count"] / s["of"] for s in shares.values()), 4)


def _ranks(values: np.ndarray) -> np.ndarray:
    """Ordinal ranks along the last axis (ties in index order: deterministic)."""
    order = np.argsort(values, axis=-1, kind="stable")
    return np.argsort(order, axis=-1, kind="stable").astype(np.float64)


def spearman(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rank correlation of each row of `a` with `b` (or row-wise with `b`'s rows)."""
    a = np.atleast_2d(np.asarray(a, dtype=np.float64))
    b = np.broadcast_to(np.atleast_2d(np.asarray(b, dtype=np.float64)), a.shape)
    ra = _ranks(a)
    rb = _ranks(np.ascontiguousarray(b))
    ra -= ra.mean(1, keepdims=True)
    rb -= rb.mean(1, keepdims=True)
    denominator = np.sqrt((ra ** 2).sum(1) * (rb ** 2).sum(1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, (ra * rb).sum(1) / denominator, 0.0)


@dataclass
class Standardizer:
    """Z-scores activation vectors by the dataset's per-unit mean and spread."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def of(cls, means: np.ndarray) -> Standardizer:
        data = np.asarray(means, dtype=np.float64)
        return cls(data.mean(0), np.maximum(data.std(0), 1e-6))

    def __call__(self, vectors: np.ndarray) -> np.ndarray:
        return (np.asarray(vectors, dtype=np.float64) - self.mean) / self.std


def faithfulness(layer_means: Sequence[np.ndarray], standardized: Sequence[Standardizer],
                 positive: Sequence[np.ndarray], top_rows: np.ndarray,
                 baseline_rows: np.ndarray) -> tuple[float, float]:
    """(faithfulness, baseline) of one unit; the baseline is NaN where no image is
    left for it (every image of a tiny dataset is a top example).

    `layer_means`: the (N, C_l) spatial-mean matrices of the layers compared,
    `standardized` their z-scorings; `positive`: the visualization's (C_l,)
    vector at each of them; rows index the matrices."""
    top = np.concatenate([z(np.asarray(m[top_rows], dtype=np.float64)).mean(0)
                          for z, m in zip(standardized, layer_means)])
    image = np.concatenate([z(v) for z, v in zip(standardized, positive)])
    faithful = float(spearman(image, top)[0])
    if not len(baseline_rows):
        return faithful, float("nan")
    randoms = np.concatenate([z(np.asarray(m[baseline_rows], dtype=np.float64))
                              for z, m in zip(standardized, layer_means)], axis=1)
    return faithful, float(spearman(randoms, top).mean())


def baseline_rows(count: int, exclude: Sequence[int] | np.ndarray, seed: int) -> np.ndarray:
    """BASELINE_IMAGES random rows of the pass, none of them a top example."""
    generator = np.random.default_rng(seed)
    allowed = np.setdiff1d(np.arange(count), np.asarray(exclude, dtype=np.int64))
    size = min(BASELINE_IMAGES, len(allowed))
    return np.sort(generator.choice(allowed, size=size, replace=False)) if size else allowed


SILENT_FRACTION = 0.01  # a data maximum below this share of the layer's: no ratio


def ratio(value: float | None, reference: float, layer_scale: float) -> float | None:
    """value / reference, or None where the unit barely fires on the data."""
    if value is None or not np.isfinite(reference) or reference <= 0:
        return None
    if reference < SILENT_FRACTION * layer_scale:
        return None
    return round(value / reference, 4)


def summary_rows(units: dict[str, dict[str, Any]], layer: str) -> dict[str, Any]:
    """The layer's faithfulness row: means over its units that were measured."""
    def mean(key: str) -> float | None:
        values = [scores[key] for scores in units.values() if scores.get(key) is not None]
        return round(float(np.mean(values)), 4) if values else None

    return {"name": layer, "faithfulness": mean("faithfulness"),
            "baseline": mean("faithfulness_baseline"), "super_stimulus": mean("super_stimulus"),
            "units": len(units),
            **{flag: sum(flag in scores.get("flags", []) for scores in units.values())
               for flag in UNIT_FLAGS}}
