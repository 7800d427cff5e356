"""Which units the technique comparison shows, and what each of them needs.

The compare units are the first `compare_units` of each layer's chosen units.
With the channels every layer shares (all of them, or `--channels`), the first
ones carry the same channel indices in every layer, so the depth axis of one
unit is made of the other layers' compare units at the build's settings: runs
the comparison computes anyway. A unit's key holds everything that shapes its
images, `batch_size` included (see `plan_units`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from atlas.config import BuildConfig
from atlas.pipeline.compare.axes import variants
from atlas.pipeline.compare.runs import Context, Layer, Run, Variant
from atlas.store import settings_key

VIEW = "compare"


@dataclass(frozen=True)
class UnitPlan:
    """One compare unit: its variants, and the settings its record's key hashes."""

    layer: str
    unit: int
    variants: tuple[Variant, ...]
    settings: dict[str, Any]

    @property
    def key(self) -> str:
        return settings_key(self.settings)

    @property
    def runs(self) -> list[Run]:
        """The distinct runs its variants show, in first-use order: its images."""
        return list(dict.fromkeys(v.run for v in self.variants if v.run is not None))


def compare_units(chosen: Sequence[tuple[Layer, Sequence[int]]], count: int
                  ) -> list[tuple[Layer, int]]:
    """The first `count` chosen units of every layer, in forward order."""
    return [(layer, unit) for layer, units in chosen for unit in list(units)[:count]]


def plan_units(context: Context, chosen: Sequence[tuple[Layer, Sequence[int]]],
               common: dict[str, Any]) -> list[UnitPlan]:
    """The compare units of the build, each with its variants and settings."""
    plans = []
    for layer, unit in compare_units(chosen, context.config.compare_units):
        found = tuple(variants(context, layer, unit))
        # The batch size cuts the runs into batches, and the kernels' rounding (a linear
        # layer's below about 10 rows, a lone image's convolution, sigmoid's vector tail)
        # changes with a batch's size: the images do too, so it joins the key.
        settings = {**common, "view": VIEW, "layer": layer.name, "unit": unit,
                    "batch_size": context.config.batch_size,
                    "variants": [{"axis": v.axis, "choice": v.choice, "skipped": v.skipped,
                                  "run": v.run.settings() if v.run else None} for v in found]}
        plans.append(UnitPlan(layer.name, unit, found, settings))
    return plans


def compare_plans(config: BuildConfig, chosen: Sequence[tuple[Any, Sequence[int]]],
                  image_size: int, no_logits: str, common: dict[str, Any]) -> list[UnitPlan]:
    """The build's compare units ([] when the view was not asked for). `chosen`:
    (LayerInfo, units) per layer; `config` has its sized defaults and its class
    output (`logits_layer`, None where there is none: `no_logits` says why)."""
    if VIEW not in config.views:
        return []
    layers = [(Layer(info.name, tuple(info.shape)), units) for info, units in chosen]
    context = Context(config, tuple(layer for layer, _ in layers), image_size,
                      config.logits_layer, no_logits)
    return plan_units(context, layers, common)
