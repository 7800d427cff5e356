"""The objective-per-step curve as inline-SVG geometry.

All the arithmetic of the chart happens here: values are scaled into a fixed
viewBox and returned as strings (a polyline `points` attribute, label
positions and texts), so the template only places them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

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
    raw = np.fromiter((v if isinstance(v, (int, float)) and not isinstance(v, bool) else np.nan
                       for v in values), dtype=np.float64, count=len(values))
    steps = np.flatnonzero(np.isfinite(raw))
    if len(steps) == 0:
        return None
    low, high = float(raw[steps].min()), float(raw[steps].max())
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

    by_step = dict(zip(steps.tolist(), raw[steps].tolist()))
    # The line's points in tenths of a pixel, as whole numbers (the template scales
    # the polyline by 0.1): finer than any screen shows, and quick to write for
    # the 10,000 curves of a large atlas.
    xs = LEFT + plot_w * steps / last_step
    ys = TOP + plot_h * (high - raw[steps]) / span if high != low else np.full(len(steps),
                                                                                 TOP + plot_h / 2)
    tenths = np.empty(2 * len(steps), dtype=np.int64)
    tenths[0::2], tenths[1::2] = np.rint(xs * 10), np.rint(ys * 10)
    points = " ".join(map(str, tenths.tolist()))
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
        "summary": f"from {sig3(float(raw[steps[0]]))} at step {int(steps[0])} "
        f"to {sig3(float(raw[steps[-1]]))} at step {int(steps[-1])}; "
        f"range {sig3(low)} to {sig3(high)}",
    }
