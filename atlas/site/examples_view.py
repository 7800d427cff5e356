"""Sections of real images: the six-column spectrum and the dataset examples
with their histogram."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from atlas.site import formatting as fmt
from atlas.site.frame import image
from atlas.site.histogram import histogram_chart

if TYPE_CHECKING:
    from atlas.site.sections import Section

COLUMN_TITLES = {
    "negative": "Negative optimized",
    "min": "Minimum activation",
    "below": "Slightly negative",
    "above": "Slightly positive",
    "max": "Maximum activation",
    "positive": "Positive optimized",
}
OPTIMIZED_COLUMNS = ("negative", "positive")
EXAMPLE_COLUMNS = ("max", "above", "below", "min")
"""The dataset columns in the order the examples section lists them."""


def label_text(labels: Any) -> str:
    """{"class": "3", "colour": "red"} -> "class 3 · red"... as one caption line."""
    if not isinstance(labels, dict) or not labels:
        return ""
    parts = []
    for key, value in labels.items():
        parts.append(f"{key} {value}")
    return " · ".join(parts)


def _example(page: str, label: str, column: str, item: dict[str, Any], i: int) -> dict[str, Any]:
    where = item.get("position")
    note = label_text(item.get("labels")) or None
    entry = image(page, item["image"], f"{label}, {COLUMN_TITLES.get(column, column)} {i + 1}",
                  caption=f"{fmt.sig3(item.get('value'))}", note=note)
    source = item.get("source")
    entry["title"] = f"{source}" + (f" at ({where[0]}, {where[1]})"
                                    if isinstance(where, list) and len(where) == 2 else "")
    return entry


def spectrum_section(page: str, label: str, section: "Section", data: dict[str, Any],
                     unit: dict[str, Any]) -> dict[str, Any]:
    """Six columns, from most inhibiting to most exciting."""
    columns = []
    for column in data.get("columns") or []:
        name = column.get("name") or ""
        columns.append({
            "name": name,
            "title": COLUMN_TITLES.get(name, name),
            "optimized": name in OPTIMIZED_COLUMNS,
            "images": [_example(page, label, name, item, i)
                       for i, item in enumerate(column.get("items") or []) if item.get("image")],
        })
    return {"kind": "spectrum", "id": "spectrum", "title": section.title,
            "caption": f"Activation spectrum of {label}. {section.about} Threshold "
                       f"{fmt.sig3(data.get('threshold'))}.",
            "columns": columns}


def examples_section(page: str, label: str, section: "Section", data: dict[str, Any],
                     unit: dict[str, Any]) -> dict[str, Any]:
    """Every dataset example, one row per column, and the histogram of values
    marking the threshold, the data maximum and the positive view's value."""
    positive_value = (unit.get("scores") or {}).get("positive_value")
    histogram = data.get("histogram") or {}
    stats = data.get("stats") or {}
    chart = histogram_chart(
        histogram.get("edges") or [], histogram.get("counts") or [],
        [("threshold", "threshold", data.get("threshold")),
         ("data-max", "data max", stats.get("max")),
         ("positive", "positive view", positive_value)])
    rows = [{"name": column, "title": COLUMN_TITLES[column],
             "images": [_example(page, label, column, item, i)
                        for i, item in enumerate(data.get(column) or [])]}
            for column in EXAMPLE_COLUMNS]
    return {"kind": "examples", "id": "examples", "title": section.title,
            "caption": f"{section.title} of {label}. {section.about} Threshold "
                       f"{fmt.sig3(data.get('threshold'))}: 0 where the unit takes both signs "
                       "over the data, otherwise its median.",
            "rows": rows, "histogram": chart,
            "stats": [{"label": key, "value": fmt.sig3(stats.get(key))}
                      for key in ("mean", "min", "max") if key in stats]}
