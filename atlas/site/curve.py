"""The objective-per-step curve as inline-SVG geometry.

All the arithmetic of the chart happens here: values are scaled into a fixed
viewBox and returned as strings (a polyline `points` attribute, label
positions and texts), so the template only places them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from atlas.site.formatting import sig3

WIDTH = 480
HEIGHT = 160
LEFT = 56  # room for the y labels
RIGHT = 12
TOP = 12
BOTTOM = 28  # room for the x labels


def _num(value: float) -> str:
    """A coordinate with at most two decimals and no trailing zeros."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def loss_curve(
    values: Sequence[float | None], marks: Sequence[int] = ()
) -> dict[str, Any] | None:
    """Chart geometry for one value per step, or None if there is nothing to draw.

    `marks` are steps (indices into `values`) to highlight, e.g. the steps at
    which evolution snapshots were taken. Non-finite values are left out of the
    line rather than breaking its scale.
    """
    finite = [
        (step, float(v))
        for step, v in enumerate(values)
        if isinstance(v, (int, float)) and math.isfinite(v)
    ]
    if not finite:
        return None
    low = min(v for _, v in finite)
    high = max(v for _, v in finite)
    span = high - low or 1.0
    last_step = max(len(values) - 1, 1)
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM

    def x(step: int) -> float:
        return LEFT + plot_w * step / last_step

    def y(value: float) -> float:
        # Constant curves sit in the middle instead of on an edge.
        if high == low:
            return TOP + plot_h / 2
        return TOP + plot_h * (high - value) / span

    by_step = dict(finite)
    # The line's points: a tenth of a pixel is finer than any screen shows, and one
    # format per point keeps a 10,000-unit atlas quick to render.
    x_scale, y_scale = plot_w / last_step, (plot_h / span if high != low else 0.0)
    y_flat = TOP + plot_h / 2
    points = " ".join(
        "%.1f,%.1f" % (LEFT + x_scale * s, TOP + y_scale * (high - v) if y_scale else y_flat)
        for s, v in finite)
    return {
        "view_box": f"0 0 {WIDTH} {HEIGHT}",
        "width": str(WIDTH),
        "height": str(HEIGHT),
        "points": points,
        "marks": [
            {"cx": _num(x(s)), "cy": _num(y(by_step[s]))} for s in marks if s in by_step
        ],
        "axis": {
            "x0": _num(LEFT), "x1": _num(WIDTH - RIGHT),
            "y0": _num(TOP), "y1": _num(HEIGHT - BOTTOM),
        },
        "y_max": {"text": sig3(high), "x": _num(LEFT - 6), "y": _num(TOP + 4)},
        "y_min": {"text": sig3(low), "x": _num(LEFT - 6), "y": _num(HEIGHT - BOTTOM)},
        "x_min": {"text": "0", "x": _num(LEFT), "y": _num(HEIGHT - BOTTOM + 16)},
        "x_max": {
            "text": str(len(values) - 1), "x": _num(WIDTH - RIGHT), "y": _num(HEIGHT - BOTTOM + 16)
        },
        "x_title": {"text": "step", "x": _num(LEFT + plot_w / 2), "y": _num(HEIGHT - 4)},
        "summary": f"from {sig3(finite[0][1])} at step {finite[0][0]} "
        f"to {sig3(finite[-1][1])} at step {finite[-1][0]}; "
        f"range {sig3(low)} to {sig3(high)}",
    }
