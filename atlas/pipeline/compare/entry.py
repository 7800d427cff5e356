"""The manifest's `compare` entry: the stored records of the compare units
gathered into one table per axis, for the compare page."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from atlas.manifest_types import CompareAxis, CompareCell, CompareEntry, CompareRow, CompareUnit
from atlas.pipeline.compare.axes import AXES

METHOD = (
    "Each row is a unit, each column one choice on one axis; everything the axis does not "
    "change stays at this build's own settings, and the choice that is the build's own is "
    "marked as the reference. Every image of a unit starts from the seed of its positive view "
    "and runs the build's steps. The caption is the unit's channel mean on the final image, "
    "without transforms, the same measure as the positive view's (on the depth axis, the "
    "channel of that column's layer), so every image of a row is compared on one scale.")
"""How the compare page's images are made and measured (the page shows it)."""

MISSING = "not computed"


def compare_entry(units: Sequence[CompareUnit],
                  records: Sequence[dict[str, Any]]) -> CompareEntry | None:
    """atlas.json's `compare` entry from the stored records of `units` (same
    order); None without any. Axes in declaration order, columns in the order
    the records list their choices, one row per unit."""
    if not units:
        return None
    axes: list[CompareAxis] = []
    for axis in AXES:
        cells = [{v["choice"]: v for v in record["variants"] if v["axis"] == axis.name}
                 for record in records]
        choices = {name: v["label"] for row in cells for name, v in row.items()}
        if not choices:
            continue
        rows: list[CompareRow] = [
            {"unit": i, "cells": [_cell(row.get(name), record) for name in choices]}
            for i, (row, record) in enumerate(zip(cells, records))]
        axes.append({"name": axis.name, "title": axis.title, "about": axis.about,
                     "choices": [{"name": name, "label": label}
                                 for name, label in choices.items()],
                     "rows": rows})
    return {"method": METHOD, "units": list(units), "axes": axes}


def _cell(variant: dict[str, Any] | None, record: dict[str, Any]) -> CompareCell:
    if variant is None:
        return {"image": None, "activation": None, "reference": False, "target": None,
                "note": None, "skipped": MISSING}
    index = variant.get("image")
    return {"image": record["images"][index] if index is not None else None,
            "activation": variant.get("activation"), "reference": variant["reference"],
            "target": variant.get("target"), "note": variant.get("note"),
            "skipped": variant.get("skipped")}
