"""Families: units of one layer grouped by how their activations move together.

The Early Vision article groups InceptionV1's units into families by hand
(colour contrast, Gabor filters, curves...). Here the grouping is measured:
two units belong together when their activations correlate over a set of
images, the dataset the build scanned (each image described by every unit's
strongest value over positions) or, without one, the layer's own positive
visualizations. Average-linkage clustering on the correlation distance
1 − r joins units while the mean correlation between two groups stays at
least FAMILY_CORRELATION; groups of fewer than MIN_FAMILY units are left
unfamilied. Each family is named by the most common dominant label of its
units (the top-examples label a unit page shows), else by its number.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

FAMILY_CORRELATION = 0.6  # mean correlation between two groups for them to join
MIN_FAMILY = 2  # smaller groups are no family
FAMILIES_METHOD = (
    "Units are grouped by how their activations correlate over {over}: average-linkage "
    f"clustering on 1 − r, joining groups while their mean correlation is at least "
    f"{FAMILY_CORRELATION}. A family is named by the most common label of its units' top "
    "examples; units in no group of two or more stand alone."
)


def correlation(samples: np.ndarray) -> np.ndarray:
    """Pearson correlation between the columns of `samples` (images × units).
    A constant column (a dead unit) correlates 0 with everything but itself."""
    values = np.asarray(samples, dtype=np.float64)
    centred = values - values.mean(0, keepdims=True)
    norms = np.sqrt((centred ** 2).sum(0))
    live = norms > 1e-12
    unit = np.where(live, centred / np.where(live, norms, 1.0), 0.0)
    matrix = np.clip(unit.T @ unit, -1.0, 1.0)
    np.fill_diagonal(matrix, 1.0)
    return matrix


def cluster(matrix: np.ndarray) -> list[list[int]]:
    """Groups of column positions whose mean linkage correlation stays at least
    FAMILY_CORRELATION, largest first (ties: lowest position first)."""
    count = matrix.shape[0]
    if count < MIN_FAMILY:
        return []
    # Average linkage over the condensed distances, cut where a merge would reach the
    # threshold: what scikit-learn's AgglomerativeClustering(linkage="average",
    # distance_threshold=…) computes (it calls this same scipy function), without
    # importing scikit-learn (a large share of a small build's start-up).
    from scipy.cluster.hierarchy import fcluster, linkage

    distance = np.clip(1.0 - matrix, 0.0, 2.0)
    rows, columns = np.triu_indices(count, k=1)
    tree = linkage(distance[rows, columns], method="average")
    threshold = 1.0 - FAMILY_CORRELATION + 1e-9
    labels = fcluster(tree, np.nextafter(threshold, -np.inf), criterion="distance")
    groups: dict[int, list[int]] = {}
    for position, label in enumerate(labels):
        groups.setdefault(int(label), []).append(position)
    kept = [sorted(group) for group in groups.values() if len(group) >= MIN_FAMILY]
    return sorted(kept, key=lambda group: (-len(group), group[0]))


def top_label(labels: dict[str, Any] | None) -> str | None:
    """A unit's most telling dominant label, "class 3": the key its top examples
    agree on most (ties: the key that sorts first)."""
    if not labels:
        return None
    best = min(labels.items(),
               key=lambda item: (-item[1]["count"] / max(item[1]["of"], 1), item[0]))
    return f"{best[0]} {best[1]['value']}"


def family_name(members: Sequence[dict[str, Any]], number: int) -> str:
    """The most common top label of the members, "class 3 (7 of 9)", else "family N"."""
    names = [name for name in (top_label(m.get("labels")) for m in members) if name]
    if not names:
        return f"family {number}"
    counts = Counter(names)
    name = min(counts, key=lambda n: (-counts[n], n))
    return f"{name} ({counts[name]} of {len(members)})"


def families(units: Sequence[int], samples: np.ndarray,
             scored: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The families of a layer whose `units` are the columns of `samples`.

    `scored` is the analysis's per-unit entries (keyed by str(unit)); each
    member gets its family number under "family". Returns one entry per family:
    number (from 1, largest first), name, units, share of the layer, and the
    mean correlation between its members.
    """
    matrix = correlation(samples)
    found = []
    for number, group in enumerate(cluster(matrix), start=1):
        members = [units[p] for p in group]
        inner = matrix[np.ix_(group, group)]
        mean = (inner.sum() - len(group)) / (len(group) * (len(group) - 1))
        for unit in members:
            scored[str(unit)]["family"] = number
        found.append({
            "number": number,
            "name": family_name([scored[str(u)] for u in members], number),
            "units": members,
            "share": round(len(members) / len(units), 4),
            "correlation": round(float(mean), 4),
        })
    return found
