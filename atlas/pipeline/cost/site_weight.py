"""What a build's pages and data files will weigh, before it runs (`atlas plan`, and
the site budget): a few units shaped like the build's (its views and their images,
examples per column, connections, steps, file names; `UnitShape`) are made up,
written and rendered by the real writers, and measured as a built site is
(`site_size`). Two sizes of that small atlas give what each unit adds and what
the site holds whatever its size (index, summary, styles).

The JSON records beside the images are not made by the renderer: each is priced
as its view's entry in the unit files plus what every record carries besides
(its settings, key and versions, RECORD_OVERHEAD, measured on InceptionV1 builds).
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

from atlas.fsio import write_json_atomic
from atlas.pipeline.cost.site_size import measure_site
from atlas.site import render_site
from atlas.synthetic_atlas import UnitShape, synthetic_layer, write_synthetic

RECORD_OVERHEAD = 700  # bytes a record holds besides its view's entry (positive: 731 in all)
DERIVED_VIEWS = ("spectrum",)  # assembled by the manifest from other views: no record
SAMPLE_UNITS = (4, 12)  # units per layer of the two small atlases rendered


@dataclass
class SiteWeight:
    """Bytes by kind (`site_size.KINDS`) for each unit, and for the site as a whole."""

    per_unit: dict[str, float]
    fixed: dict[str, float]

    def total(self, units: int) -> dict[str, float]:
        return {kind: self.fixed.get(kind, 0.0) + units * self.per_unit.get(kind, 0.0)
                for kind in {**self.fixed, **self.per_unit}}


def _rendered(layers: int, units: int, shape: UnitShape) -> dict[str, int]:
    with tempfile.TemporaryDirectory() as folder:
        site = Path(folder)
        index = write_synthetic(layers, units, site, shape)
        render_site(index, site, progress=False, workers=1)
        write_json_atomic(site / "atlas.json", index)
        return measure_site(site).bytes_by_kind


def record_bytes(shape: UnitShape, layers: int) -> float:
    """The records of one unit (the mean over the small atlas's layers)."""
    total = 0
    for number in range(layers):
        unit = synthetic_layer(number, layers, 1, shape)["units"][0]
        for view, entry in unit["views"].items():
            if view in DERIVED_VIEWS:
                continue
            total += RECORD_OVERHEAD + len(json.dumps(entry, separators=(",", ":")))
            if view == "examples":  # the record also lists its distinct images
                total += len(json.dumps(sorted({item["image"] for name in entry
                                                if isinstance(entry[name], list)
                                                for item in entry[name]})))
    return total / layers


def weigh(shape: UnitShape, layers: int) -> SiteWeight:
    """The per-unit and fixed bytes of a site of `layers` layers of `shape` units."""
    layers = max(1, min(layers, 3))  # a first, a middle and a last layer at most
    small, large = (_rendered(layers, units, shape) for units in SAMPLE_UNITS)
    added = (SAMPLE_UNITS[1] - SAMPLE_UNITS[0]) * layers
    per_unit = {kind: (large[kind] - small[kind]) / added for kind in large}
    fixed = {kind: max(0.0, small[kind] - per_unit[kind] * SAMPLE_UNITS[0] * layers)
             for kind in small}
    per_unit["records"] = per_unit.get("records", 0.0) + record_bytes(shape, layers)
    return SiteWeight(per_unit, fixed)
