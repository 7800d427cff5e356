"""Views of real images: `examples` (chosen by the dataset pass, see
`atlas.pipeline.dataset.examples`) and `spectrum` (the six-column row of the Distill
appendix, assembled from the negative, examples and positive views)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from atlas.manifest_types import EXAMPLE_COLUMNS
from atlas.views.base import ACCENTUATE, COMPOSED, DATASET, EXAGGERATE, View, Where

# How many examples of each dataset column the compact spectrum row repeats.
SPECTRUM_EXAMPLES = 4


@dataclass(frozen=True)
class Examples(View):
    produced_by: str = DATASET

    def applies(self, where: Where) -> bool:
        return where.dataset

    def manifest_entry(self, record: dict[str, Any] | None, views: Mapping[str, dict]) -> dict:
        assert record is not None  # a stored view: the manifest passes its record
        entry = {column: record["columns"][column] for column in EXAMPLE_COLUMNS}
        entry.update(threshold=record["threshold"], histogram=record["histogram"],
                     stats=record["stats"])
        return entry


def _optimized_item(entry: dict | None) -> list[dict]:
    if not entry or not entry.get("images"):
        return []
    return [{"image": entry["images"][0], "value": entry["activations"][0]}]


@dataclass(frozen=True)
class Spectrum(View):
    produced_by: str = COMPOSED

    def applies(self, where: Where) -> bool:
        return where.dataset

    def manifest_entry(self, record: dict | None, views: Mapping[str, dict]) -> dict | None:
        """Six columns: negative optimized, minimum, slightly negative, slightly
        positive, maximum, positive optimized; None without dataset examples."""
        examples = views.get("examples")
        if examples is None:
            return None
        columns = [{"name": "negative", "items": _optimized_item(views.get("negative"))}]
        columns += [{"name": column, "items": examples[column][:SPECTRUM_EXAMPLES]}
                    for column in EXAMPLE_COLUMNS]
        columns.append({"name": "positive", "items": _optimized_item(views.get("positive"))})
        return {"columns": columns, "threshold": examples["threshold"]}


@dataclass(frozen=True)
class FromDatasetImages(View):
    """Images optimized from dataset images: a unit's accentuated top examples
    (pipeline/dataset/accent.py), a layer's caricatures (pipeline/dataset/caricature.py)."""

    produced_by: str = ACCENTUATE
    default: bool = False  # more optimized images per unit or layer: asked for by name

    def applies(self, where: Where) -> bool:
        return where.dataset


EXAMPLES = Examples("examples")
ACCENT = FromDatasetImages("accent", manifest_fields={
    "before": "before", "distance": "distance", "sources": "sources", "originals": "originals"},
    needs=("examples",))
SPECTRUM = Spectrum("spectrum", needs=("negative", "examples", "positive"))
CARICATURE = FromDatasetImages("caricature", produced_by=EXAGGERATE, per_unit=False)
