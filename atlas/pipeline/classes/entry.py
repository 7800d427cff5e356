"""The manifest's `classes` entry and each unit's `classes` list, from the stored record
of the classes phase (pipeline/classes/contributions.py)."""

from __future__ import annotations

from typing import Any, cast

from atlas.manifest_types import ClassesEntry, ClassUnit, UnitClass
from atlas.slugs import slugify

PAGE = "classes.html"
UNIT_CLASSES = 3  # classes a unit lists: those it carries the largest shares of


def class_page(index: int) -> str:
    return f"classes/{index}.html"


def _units(layer: str | None, pairs: list[list[float]]) -> list[ClassUnit]:
    return [{"layer": str(layer), "unit": int(unit), "share": share} for unit, share in pairs]


def classes_entry(record: dict[str, Any]) -> ClassesEntry:
    """The manifest's `classes`: each measured class with its largest channels and
    concepts (pages and images are the units')."""
    rows = []
    for row in record["classes"]:
        entry = {key: row[key] for key in ("index", "name", "images", "margin", "attributed",
                                           "channels_share")}
        entry["slug"] = slugify(row["name"])
        entry["page"] = class_page(row["index"])
        entry["channels"] = _units(record["layer"], row["channels"])
        entry["concepts"] = _units(record["concepts_layer"], row.get("concepts", []))
        entry["concepts_share"] = row.get("concepts_share")
        entry["bias_share"] = row.get("bias_share")
        rows.append(entry)
    return cast(ClassesEntry, {key: record[key] for key in (
        "layer", "concepts_layer", "logits", "labels", "method", "images")}
        | {"page": PAGE, "classes": rows})


def unit_classes(entry: ClassesEntry) -> dict[tuple[str, int], list[UnitClass]]:
    """(layer, unit) -> the classes it carries most of (share, largest first), and for
    each class output unit its own class, for the unit pages."""
    found: dict[tuple[str, int], list[UnitClass]] = {}
    for row in entry["classes"]:
        found.setdefault((entry["logits"], row["index"]), []).append(
            {"index": row["index"], "name": row["name"], "page": row["page"], "share": None})
        for unit in row["channels"] + row["concepts"]:
            found.setdefault((unit["layer"], unit["unit"]), []).append(
                {"index": row["index"], "name": row["name"], "page": row["page"],
                 "share": unit["share"]})
    return {key: sorted(rows, key=lambda row: -(row["share"] or 0))[:UNIT_CLASSES]
            for key, rows in found.items()}
