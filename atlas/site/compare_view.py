"""The view model of the compare page: one section per axis of the technique
comparison, a row per compare unit, a column per choice, every image captioned
with its activation.

The axes, their order, titles and choices come from the manifest's `compare`
entry (declared once in `atlas.pipeline.compare_axes`); this module only makes
links relative and numbers strings.
"""

from __future__ import annotations

from typing import Any

from atlas.site import formatting as fmt
from atlas.site.frame import frame, image
from atlas.site.links import relative_link

TITLE = "Techniques compared"
REFERENCE = "reference"
"""The note of the image made at the build's own settings."""


def _cell(page: str, unit_label: str, axis: dict[str, Any], label: str,
          cell: dict[str, Any]) -> dict[str, Any]:
    """An image captioned with its activation (notes: reference, the class, k, the
    depth column's unit), or the reason there is none."""
    reference = bool(cell.get("reference"))
    if not cell.get("image"):
        return {"image": None, "reference": reference,
                "skipped": cell.get("skipped") or fmt.MISSING}
    notes = [REFERENCE] * reference + [cell["note"]] * bool(cell.get("note"))
    entry = image(page, cell["image"], f"{unit_label}, {axis['title']}: {label}",
                  caption=f"activation {fmt.sig3(cell.get('activation'))}",
                  note=" · ".join(notes) or None)
    return {"image": entry, "reference": reference, "skipped": None}


def _section(page: str, axis: dict[str, Any], units: list[dict[str, Any]]) -> dict[str, Any]:
    labels = [choice["label"] for choice in axis.get("choices", [])]
    rows = []
    for row in axis.get("rows", []):
        unit = units[row["unit"]]
        rows.append({"label": unit["label"], "href": relative_link(page, unit["page"]),
                     "cells": [_cell(page, unit["label"], axis, label, cell)
                               for label, cell in zip(labels, row["cells"])]})
    return {"id": f"axis-{axis['name']}", "title": axis["title"], "about": axis["about"],
            "columns": labels, "rows": rows,
            "caption": f"{axis['title']}: each row one unit (linked to its page), each column "
                       f"one choice; the reference is the build's own setting."}


def compare_view(manifest: dict[str, Any]) -> dict[str, Any]:
    """The compare page: the method, then one section per axis."""
    page = manifest["pages"]["compare"]
    entry = manifest.get("compare") or {}
    units = entry.get("units", [])
    sections = [_section(page, axis, units) for axis in entry.get("axes", [])]
    return {"page": frame(manifest, page, TITLE, current="compare", kind="compare"),
            "method": entry.get("method") or "",
            "sections": sections}
