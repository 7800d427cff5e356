"""Concepts against channels: for each layer with a dictionary, the means of the same
per-unit measures over its channels and over its concepts (the concept layer's units),
so the summary can say whether the dictionary reads the layer more faithfully and less
polysemantically than its channels do."""

from __future__ import annotations

from typing import Any

import numpy as np

from atlas.models.concept_reads import concept_base

CONCEPTS_METHOD = (
    "Each dictionary's concepts against the channels of the layer it reads, means over the "
    "units measured: faithfulness and its random-image baseline as in question 4, "
    "polysemanticity from the labels of the top dataset examples as in question 3 "
    "(1 − the largest share any one label takes: 0 when they all carry one). A concept is "
    "read as the projection of the layer's output on its direction, and every measure "
    "treats it as a unit.")

MEASURES = {"faithfulness": "faithfulness", "baseline": "faithfulness_baseline",
            "polysemanticity": "example_polysemanticity"}
"""The compared means: (row key, the per-unit score they average)."""


def _means(units: dict[str, dict[str, Any]]) -> dict[str, Any]:
    row: dict[str, Any] = {"units": len(units)}
    for key, score in MEASURES.items():
        values = [scores[score] for scores in units.values() if scores.get(score) is not None]
        row[key] = round(float(np.mean(values)), 4) if values else None
        row[f"{key}_units"] = len(values)
    return row


def _compare(higher: float | None, lower: float | None) -> bool | None:
    return None if higher is None or lower is None else higher > lower


def concepts_against_channels(units: dict[str, dict[str, dict[str, Any]]]
                              ) -> dict[str, Any] | None:
    """The comparison per dictionary (None where the build has none)."""
    rows = []
    for name, scores in units.items():
        base = concept_base(name)
        if base is None or base not in units:
            continue
        channels, concepts = _means(units[base]), _means(scores)
        rows.append({"layer": base, "concepts_layer": name, "channels": channels,
                     "concepts": concepts,
                     "more_faithful": _compare(concepts["faithfulness"],
                                               channels["faithfulness"]),
                     "less_polysemantic": _compare(channels["polysemanticity"],
                                                   concepts["polysemanticity"])})
    return {"method": CONCEPTS_METHOD, "layers": rows} if rows else None
