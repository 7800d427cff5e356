"""Sections of real images: the six-column spectrum at the top of a unit page,
and the dataset examples (every example of the four columns, and the
histogram of the unit's values) further down.

Everything the pages say about one example comes from here: its value, its
labels as a short caption ("3 · red"), and a tooltip naming the source file
and the position of the unit's extreme. Sources and labels are untrusted
text; they reach the page only through the autoescaping templates.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from atlas.manifest_types import EXAMPLE_COLUMNS
from atlas.site import formatting as fmt
from atlas.site.histogram import Mark, histogram_chart
from atlas.site.labels import example_caption, example_title
from atlas.site.links import relative_link

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

COLUMN_NOTES = {
    "min": "lowest values",
    "below": "just below {threshold}",
    "above": "at or just above {threshold}",
    "max": "highest values",
}


def _where(position: Any) -> str:
    if isinstance(position, (list, tuple)) and len(position) == 2:
        return f" at ({position[0]}, {position[1]})"
    return ""


def example_entry(page: str, alt: str, item: dict[str, Any],
                  prefix: str = "") -> dict[str, Any] | None:
    """One example as the pages show it: image, value, labels and a tooltip.

    `prefix` goes before the value ("mean" for an optimized image whose value
    is its mean activation rather than its extreme). None without an image."""
    path = item.get("image")
    if not isinstance(path, str) or not path:
        return None
    value = fmt.sig3(item.get("value"))
    labels = item.get("labels")
    source = item.get("source")
    title = [f"{source}{_where(item.get('position'))}" if source not in (None, "") else "",
             example_title(labels), f"value {value}"]
    return {"src": relative_link(page, path), "alt": alt,
            "value": f"{prefix} {value}" if prefix else value,
            "labels": example_caption(labels), "title": " · ".join(t for t in title if t)}


def _items(data: dict[str, Any], column: str) -> list[dict[str, Any]]:
    items = data.get(column)
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


def _spatial(columns: list[list[dict[str, Any]]]) -> bool:
    """Whether the examples were taken at positions (a conv unit), not whole (linear)."""
    return any(isinstance(item.get("position"), list) for items in columns for item in items)


def _column(page: str, label: str, name: str, items: list[dict[str, Any]], threshold: str,
            prefix: str = "") -> dict[str, Any]:
    """One column of examples (or of an optimized image): title, note, images."""
    title = COLUMN_TITLES.get(name, name)
    entries = [example_entry(page, f"{label}, {title.lower()} {i + 1}", item, prefix)
               for i, item in enumerate(items)]
    return {"name": name, "title": title, "optimized": name in OPTIMIZED_COLUMNS,
            "note": COLUMN_NOTES.get(name, "").format(threshold=threshold) or None,
            "images": [entry for entry in entries if entry is not None]}


def spectrum_section(page: str, label: str, section: Section, data: dict[str, Any],
                     unit: dict[str, Any]) -> dict[str, Any]:
    """Six columns, from most inhibiting to most exciting."""
    raw = [(column.get("name") or "", [item for item in column.get("items") or []
                                       if isinstance(item, dict)])
           for column in data.get("columns") or [] if isinstance(column, dict)]
    spatial = _spatial([items for name, items in raw if name not in OPTIMIZED_COLUMNS])
    threshold = fmt.sig3(data.get("threshold"))
    columns = [_column(page, label, name, items, threshold,
                       prefix="mean" if name in OPTIMIZED_COLUMNS and spatial else "")
               for name, items in raw]
    values = ("The value under a dataset example is the unit's strongest activation over "
              "positions on it; under an optimized image, the mean activation it was "
              "optimized for." if spatial else "Each value is the unit's activation.")
    return {"kind": "spectrum", "id": "spectrum", "title": section.title,
            "caption": f"Activation spectrum of {label}. {section.about} {values} "
                       f"Threshold {threshold}.",
            "columns": columns}


def examples_section(page: str, label: str, section: Section, data: dict[str, Any],
                     unit: dict[str, Any]) -> dict[str, Any]:
    """Every dataset example, one column each for min, below, above and max, and
    the histogram of values marking the threshold, the data maximum and the
    positive view's value."""
    scores = unit.get("scores") or {}
    histogram = data.get("histogram") or {}
    stats = data.get("stats") or {}
    threshold = fmt.sig3(data.get("threshold"))
    chart = histogram_chart(
        histogram.get("edges") or [], histogram.get("counts") or [],
        [Mark("threshold", "threshold", data.get("threshold")),
         Mark("data-max", "data max", stats.get("max")),
         Mark("positive", "positive view", scores.get("positive_value"))])
    columns = [_column(page, label, name, _items(data, name), threshold)
               for name in EXAMPLE_COLUMNS]
    return {"kind": "examples", "id": "examples", "title": section.title,
            "caption": f"{section.title} of {label}. {section.about} Threshold {threshold}: "
                       "0 where the unit takes both signs over the data (at least as many images "
                       "on each side of 0 as a column holds), otherwise its median. "
                       "Hover over an example for its source file.",
            "columns": columns, "histogram": chart,
            "stats": value_stats(stats, scores.get("positive_value"))}


def _quantile(key: Any) -> float | None:
    try:
        q = float(key)
    except (TypeError, ValueError):
        return None
    return q if 0 < q < 1 else None


def _percent(q: float) -> str:
    return "median" if q == 0.5 else f"{100 * q:g}%"


def value_stats(stats: dict[str, Any], positive_value: Any) -> list[dict[str, str]]:
    """The unit's value statistics in increasing order (min, percentiles, max),
    then the mean and the positive view's value; absent entries left out."""
    quantiles = cast(dict[str, Any], stats.get("quantiles")  # a dict: checked here
                     if isinstance(stats.get("quantiles"), dict) else {})
    ranked = sorted((q, value) for q, value in ((_quantile(k), v) for k, v in quantiles.items())
                    if q is not None)
    rows = [("min", stats.get("min"))] + [(_percent(q), v) for q, v in ranked]
    rows += [("max", stats.get("max")), ("mean", stats.get("mean")),
             ("positive view", positive_value)]
    return [{"label": label, "value": fmt.sig3(value)} for label, value in rows
            if value is not None]
