"""The compare view: a few units of every layer (`compare_units`), each optimized
with one technique changed at a time (see `atlas.pipeline.compare.axes`), shown
side by side on their own page rather than on the unit pages.

Computed by `atlas.pipeline.compare.compute` (one record per compare unit) and
gathered into the manifest's top-level `compare` entry by
`atlas.pipeline.compare.entry`.
"""

from __future__ import annotations

from dataclasses import dataclass

from atlas.views.base import COMPARE, View


@dataclass(frozen=True)
class Compare(View):
    produced_by: str = COMPARE
    per_unit: bool = False  # records per compare unit, gathered into one page


COMPARE_VIEW = Compare("compare")
