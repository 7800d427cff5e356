"""What a view is: one declaration that the planner, the executor and the
manifest iterate over, so adding a view never means editing their code.

A view says where its images come from (`produced_by`), which layers it
applies to, and which fields of its stored record the manifest passes on.
Optimized views (`optimized.py`) also say which images to optimize, with
which objective, and which settings join their cache key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# Where a view's images come from.
OPTIMIZE = "optimize"  # images optimized in packed batches
SNAPSHOTS = "snapshots"  # snapshots of another view's optimization
WEIGHTS = "weights"  # drawn from the model's weights
DATASET = "dataset"  # real images chosen by the dataset pass
COMPOSED = "composed"  # assembled in the manifest from other views
ACCENTUATE = "accentuate"  # a unit's top dataset images, optimized toward the unit
EXAGGERATE = "exaggerate"  # dataset images' patterns at a layer, amplified (caricatures)
JOINT = "joint"  # one per joint objective, not per unit
COMPARE = "compare"  # the technique comparison: small batches of its own
# The sources that optimize from dataset images, after the dataset pass.
FROM_DATASET_IMAGES = (ACCENTUATE, EXAGGERATE)


@dataclass(frozen=True)
class Where:
    """What decides whether a view applies to one layer of one build."""

    shape: tuple[int, ...]  # one image's output shape at the layer
    kernel_layer: bool = False  # the first conv layer, reading the RGB image
    dataset: bool = False  # the build scans a dataset


@dataclass(frozen=True)
class View:
    name: str
    produced_by: str
    # Record field -> manifest field, passed on as they are.
    manifest_fields: Mapping[str, str] = field(default_factory=dict)
    per_unit: bool = True
    needs: tuple[str, ...] = ()  # views whose results this one is made from
    default: bool = True  # among the views a build makes when none are named

    def applies(self, where: Where) -> bool:
        return True

    def manifest_entry(self, record: dict[str, Any] | None,
                       views: Mapping[str, dict]) -> dict | None:
        """The unit's `views[name]` entry in atlas.json, from its stored record.
        `views` holds the unit's entries made so far (composed views read them)."""
        assert record is not None  # only a composed view (see Spectrum) is given no record
        entry = {"images": record["images"], "activations": record["activations"]}
        if "transparency" in record:  # MACO's maps, one per image
            entry["transparency"] = record["transparency"]
        for source, target in self.manifest_fields.items():
            if source in record:
                entry[target] = record[source]
        return entry
