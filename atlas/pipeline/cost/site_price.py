"""What the published site will weigh for a choice of dataset examples, before they
are cut: `atlas plan` prices the build's own choice, a site budget (`site_budget`)
tries a ladder of them. Optimized images come priced by the caller (calibrated or
measured); pages, records and unit files are weighed on synthetic units shaped
like the build's (`site_weight`); crops are priced on real dataset images
(`example_storage`)."""

from __future__ import annotations

import dataclasses
from typing import Any

from atlas.models.receptive_field import receptive_field
from atlas.pipeline.cost.example_bytes import LayerExamples, forecast_examples
from atlas.pipeline.cost.site_budget import ExampleChoice
from atlas.pipeline.cost.site_weight import SiteWeight, weigh
from atlas.pipeline.dataset.examples import CropFormat
from atlas.pipeline.prepare import Prepared
from atlas.synthetic_atlas import UnitShape

EXAMPLE_SAMPLE_IMAGES = 32  # dataset images the examples' crops are priced on
# Bytes each compare image adds to its unit's compare record and to the compare page,
# measured on the default model (6 units x 13 images: 8.0 KB a record, 36 KB the page).
COMPARE_RECORD_BYTES, COMPARE_PAGE_BYTES = 615, 470


class SitePrice:
    """The published site's bytes by kind for a choice of examples: `optimized`
    bytes of optimized images, the pages and files weighed (`site_weight`) and the
    examples' crops priced on real dataset images (`example_storage`)."""

    def __init__(self, ready: Prepared, optimized: float,
                 concentrations: dict[str, float] | None = None,
                 map_side: int | None = None) -> None:
        self.ready, self.optimized = ready, optimized
        self.concentrations, self.map_side = concentrations or {}, map_side
        self.units = sum(len(units) for _, units in ready.chosen)
        self.fields: dict[str, Any] = {}
        self.weights: dict[ExampleChoice, SiteWeight] = {}
        self.crops: dict[ExampleChoice, list[LayerExamples]] = {}
        dataset = ready.scanned
        self.images = (dataset.load(range(min(EXAMPLE_SAMPLE_IMAGES, len(dataset))))[0]
                       if dataset is not None and len(dataset) else None)

    def _field(self, name: str) -> Any:
        if name not in self.fields:
            loaded, ready = self.ready.loaded, self.ready
            self.fields[name] = receptive_field(loaded.module, loaded.preprocess, name,
                                                ready.image_size, ready.device)
        return self.fields[name]

    def weight(self, choice: ExampleChoice) -> SiteWeight:
        """The pages and data files (once per choice: each weighing renders)."""
        if choice not in self.weights:
            shape = unit_shape(self.ready, choice.count, choice.crops)
            if self.map_side is not None:
                shape = dataclasses.replace(shape, map_side=self.map_side)
            self.weights[choice] = weigh(shape, len(self.ready.chosen))
        return self.weights[choice]

    def examples(self, choice: ExampleChoice) -> list[LayerExamples]:
        """Each layer's crops (once per choice: each pricing encodes crops)."""
        if self.images is None:
            return []
        assert self.ready.scanned is not None  # the images came from it
        if choice not in self.crops:
            self.crops[choice] = forecast_examples(
                [(info.name, tuple(info.shape), len(units))
                 for info, units in self.ready.chosen],
                len(self.ready.scanned), choice.count, self._field, self.images, choice.crops,
                self.concentrations)
        return self.crops[choice]

    def __call__(self, choice: ExampleChoice) -> dict[str, float]:
        storage = self.weight(choice).total(self.units)  # the pages and data files
        compared = len({run for plan in self.ready.compared for run in plan.runs})
        storage["records"] += compared * COMPARE_RECORD_BYTES
        storage["other pages"] += compared * COMPARE_PAGE_BYTES
        storage["optimized images"] = self.optimized
        storage["dataset examples"] = sum(layer.crops * layer.bytes_each
                                          for layer in self.examples(choice))
        return storage



def unit_shape(ready: Prepared, examples: int, crops: CropFormat) -> UnitShape:
    """What each unit of the build holds: images per view (from its jobs; the
    evolution's snapshots), `examples` per column, connections, steps, file names."""
    config = ready.config
    units: dict[str, set[tuple[str | None, int]]] = {}  # (layer, unit): joint jobs left out
    images: dict[str, int] = {}
    for job in (job for jobs in ready.layer_jobs for job in jobs if job.layer is not None):
        images[job.view] = images.get(job.view, 0) + len(job.images)
        units.setdefault(job.view, set()).add((job.layer, job.unit))
        if job.settings.get("snapshot_every"):
            snapshots = len(range(0, config.steps, config.snapshot_every)) + 1
            images["evolution"] = images.get("evolution", 0) + snapshots
            units.setdefault("evolution", set()).add((job.layer, job.unit))
    views = {view: round(count / len(units[view])) for view, count in images.items()}
    source = ready.scanned.source(0) if ready.scanned is not None and len(ready.scanned) else ""
    return UnitShape(views=views, examples=examples if ready.scanned is not None else 0,
                     connections=config.connections if len(ready.chosen) > 1 else 0,
                     steps=config.steps, image_suffix=ready.store.image_format,
                     crops=f"{'f' * 16}{crops.tag()}", crop_suffix=crops.image_format,
                     source=source.replace("{", "{{").replace("}", "}}"),
                     spectrum="spectrum" in config.views)
