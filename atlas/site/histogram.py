"""A unit's activation histogram over the dataset as inline-SVG geometry,
with marks for the threshold, the data maximum and the positive view's value.
All arithmetic is here; the template only places the strings."""

from __future__ import annotations

import math
from typing import Any, Optional, Sequence

from atlas.site.curve import _num
from atlas.site.formatting import sig3

WIDTH = 480
HEIGHT = 150
LEFT = 12
RIGHT = 12
TOP = 26  # room for the mark labels
BOTTOM = 24  # room for the axis labels


def histogram_chart(edges: Sequence[float], counts: Sequence[int],
                    marks: Sequence[tuple[str, str, Optional[float]]]) -> Optional[dict[str, Any]]:
    """Bars for `counts` between `edges`, and vertical lines for `marks`
    (css class, label, value); a mark outside the range is drawn at the edge
    with an arrow in its label. None when there is nothing to draw."""
    if len(edges) != len(counts) + 1 or not counts or max(counts) <= 0:
        return None
    low, high = float(edges[0]), float(edges[-1])
    values = [v for _, _, v in marks if isinstance(v, (int, float)) and math.isfinite(v)]
    span_low, span_high = min([low, *values]), max([high, *values])
    span = span_high - span_low or 1.0
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    tallest = max(counts)

    def x(value: float) -> float:
        return LEFT + plot_w * (value - span_low) / span

    bars = []
    for i, count in enumerate(counts):
        if count <= 0:
            continue
        height = plot_h * count / tallest
        left, right = x(float(edges[i])), x(float(edges[i + 1]))
        bars.append({"x": _num(left), "y": _num(TOP + plot_h - height),
                     "width": _num(max(right - left - 0.5, 0.5)), "height": _num(height),
                     "title": f"{sig3(edges[i])} to {sig3(edges[i + 1])}: {count} images"})
    lines = []
    for row, (css, label, value) in enumerate(marks):
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            continue
        lines.append({"class": css, "x": _num(x(value)), "y0": _num(TOP - 2),
                      "y1": _num(TOP + plot_h), "label_y": _num(10 + 9 * (row % 2)),
                      "anchor": "end" if x(value) > WIDTH / 2 else "start",
                      "text": f"{label} {sig3(value)}"})
    return {
        "view_box": f"0 0 {WIDTH} {HEIGHT}", "width": str(WIDTH), "height": str(HEIGHT),
        "bars": bars, "marks": lines,
        "base": {"x0": _num(LEFT), "x1": _num(WIDTH - RIGHT), "y": _num(TOP + plot_h)},
        "x_min": {"text": sig3(span_low), "x": _num(LEFT), "y": _num(HEIGHT - 6)},
        "x_max": {"text": sig3(span_high), "x": _num(WIDTH - RIGHT), "y": _num(HEIGHT - 6)},
        "summary": f"{sum(counts)} images from {sig3(low)} to {sig3(high)}",
    }
