"""A unit's values over the dataset as an inline-SVG histogram, with vertical
marks for the threshold, the data maximum and the positive view's value.

All arithmetic is here; the template only places the strings. The value axis
covers the histogram's edges, stretched to take in a mark that lies outside
them by up to `MAX_STRETCH` of the data's span; a mark farther out is pinned
at the plot's edge with an arrow in its label (a positive view ten times
stronger than any image would otherwise squash the bars into a sliver).
Mark labels sit in rows above the plot, each in the first row where it
overlaps no other, and each mark's line reaches up to its label.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import pairwise
from typing import Any, NamedTuple

from atlas.site.curve import _num
from atlas.site.formatting import sig3

WIDTH = 560
PLOT_HEIGHT = 110
LEFT = 44  # room for the count labels
RIGHT = 16
LABEL_ROW = 14  # height of one row of mark labels above the plot
BOTTOM = 22  # room for the value ticks
CHAR_WIDTH = 6.0  # estimated width of one character of the 11 px labels
LABEL_PAD = 3  # between a mark's line and its label
LABEL_GAP = 8  # the least room between two labels in one row
MAX_STRETCH = 0.5  # how far (in data spans) the axis may reach out to take in a mark
MIN_BAR = 1.5  # the least height of a bar whose count is not zero, so one image shows
TICKS = 5  # about how many value ticks


class Mark(NamedTuple):
    css: str  # names the mark for the stylesheet: class "mark-<css>"
    label: str
    value: float | None  # not drawn when None or not finite


def _finite(value: Any) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


def _valid(edges: Sequence[float], counts: Sequence[int]) -> bool:
    if not counts or len(edges) != len(counts) + 1:
        return False
    if not all(_finite(e) for e in edges) or any(b <= a for a, b in pairwise(edges)):
        return False
    return all(_finite(c) and c >= 0 for c in counts) and sum(counts) > 0


def nice_step(span: float, count: int = TICKS) -> float:
    """A step of 1, 2 or 5 times a power of ten giving about `count` ticks over `span`."""
    raw = span / max(count - 1, 1)
    power = 10.0 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if factor * power >= raw:
            return factor * power
    return 10 * power  # unreachable: 10 * power >= raw always


def tick_values(low: float, high: float, count: int = TICKS) -> tuple[list[float], int]:
    """Round values from `low` to `high` one nice step apart, and the decimals they need."""
    step = nice_step(high - low, count)
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    first = math.ceil(low / step - 1e-9)
    last = math.floor(high / step + 1e-9)
    return [round(i * step, decimals) for i in range(first, last + 1)], decimals


def _tick_text(value: float, decimals: int) -> str:
    text = f"{value:.{decimals}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def _axis(low: float, high: float, values: list[float]) -> tuple[float, float]:
    """The axis range: the data's, reaching out to marks up to MAX_STRETCH spans away,
    and to the full stretch on a side where a mark lies beyond it (pinned there)."""
    reach = MAX_STRETCH * (high - low)
    start, stop = low, high
    for value in values:
        start = min(start, max(value, low - reach))
        stop = max(stop, min(value, high + reach))
    return start, stop


def _place_labels(spans: list[tuple[float, float]]) -> list[int]:
    """The row of each label span (left, right): the first row where it overlaps none."""
    rows: list[list[tuple[float, float]]] = []
    placed = []
    for left, right in spans:
        for row, taken in enumerate(rows):
            if all(right + LABEL_GAP <= a or left >= b + LABEL_GAP for a, b in taken):
                taken.append((left, right))
                placed.append(row)
                break
        else:
            rows.append([(left, right)])
            placed.append(len(rows) - 1)
    return placed


def histogram_chart(edges: Sequence[float], counts: Sequence[int],
                    marks: Sequence[Mark]) -> dict[str, Any] | None:
    """Chart geometry for `counts` between `edges`, with vertical `marks`;
    None when there is nothing to draw (no counts, edges that are not
    increasing and finite, or one more than the counts)."""
    if not _valid(edges, counts):
        return None
    low, high = float(edges[0]), float(edges[-1])
    shown = [m for m in marks if _finite(m.value)]
    start, stop = _axis(low, high, [float(m.value) for m in shown])  # type: ignore[arg-type]
    plot_w = WIDTH - LEFT - RIGHT

    def x(value: float) -> float:
        return LEFT + plot_w * (min(max(value, start), stop) - start) / (stop - start)

    lines, spans = [], []
    for mark in shown:
        value = float(mark.value)  # type: ignore[arg-type]
        text = f"{mark.label} {sig3(value)}"
        at = x(value)
        if value > stop:
            text, anchor = f"{text} →", "end"
        elif value < start:
            text, anchor = f"← {text}", "start"
        else:
            fits_right = at + LABEL_PAD + CHAR_WIDTH * len(text) <= WIDTH
            anchor = "start" if fits_right else "end"
        width = CHAR_WIDTH * len(text)
        label_x = at + LABEL_PAD if anchor == "start" else at - LABEL_PAD
        spans.append((label_x, label_x + width) if anchor == "start" else (label_x - width,
                                                                             label_x))
        lines.append({"class": mark.css, "x": _num(at), "label_x": _num(label_x),
                      "anchor": anchor, "text": text, "clipped": not start <= value <= stop})
    rows = _place_labels(spans)
    top = LABEL_ROW * (max(rows) + 1) + 4 if rows else 8
    base = top + PLOT_HEIGHT
    for line, row in zip(lines, rows):
        label_y = LABEL_ROW * (row + 1)
        line.update(label_y=_num(label_y), y0=_num(label_y + 3), y1=_num(base))

    tallest = max(counts)
    bars = []
    for i, count in enumerate(counts):
        if count <= 0:
            continue
        height = max(PLOT_HEIGHT * count / tallest, MIN_BAR)
        left, right = x(float(edges[i])), x(float(edges[i + 1]))
        bars.append({"x": _num(left), "y": _num(base - height),
                     "width": _num(max(right - left - 1, 0.5)), "height": _num(height),
                     "title": f"{sig3(edges[i])} to {sig3(edges[i + 1])}: "
                              f"{count:,} image{'s' if count != 1 else ''}"})
    values, decimals = tick_values(start, stop)
    total = sum(counts)
    return {
        "view_box": f"0 0 {WIDTH} {_num(base + BOTTOM)}",
        "width": str(WIDTH), "height": _num(base + BOTTOM),
        "bars": bars, "marks": lines,
        "base": {"x0": _num(LEFT), "x1": _num(WIDTH - RIGHT), "y": _num(base)},
        "ticks": [{"x": _num(x(v)), "y0": _num(base), "y1": _num(base + 4),
                   "label_y": _num(base + 16), "text": _tick_text(v, decimals)}
                  for v in values],
        "counts": {"x": _num(LEFT - 6), "top": _num(top + 4), "base": _num(base),
                   "tallest": f"{tallest:,}"},
        "summary": f"{total:,} image{'s' if total != 1 else ''} from {sig3(low)} to "
                   f"{sig3(high)} in {len(counts)} bin{'s' if len(counts) != 1 else ''}, "
                   f"at most {tallest:,} in one",
    }
