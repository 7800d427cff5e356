"""Branches of a layer that concatenates several (InceptionV1's mixed layers).

The manifest gives a layer's branches as channel ranges (`start` inclusive,
`stop` exclusive) and each unit's branch label. This module turns them into
what the pages say: "3x3 branch — channels 64–191, 128 units", which branch a
unit's channel comes from, and the units grouped by branch, in order.
"""

from __future__ import annotations

import re
from typing import Any, TypeGuard

Branch = dict[str, Any]
"""A checked branch: {"label": str, "start": int, "stop": int}."""


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def channel_span(start: int, stop: int) -> str:
    """The channels [start, stop) as "channels 64–191" (or "channel 5" for one)."""
    if stop - start == 1:
        return f"channel {start}"
    return f"channels {start}–{stop - 1}"


def branch_list(layer: dict[str, Any]) -> list[Branch]:
    """The layer's well-formed branches in manifest order; [] when it has none.

    A malformed entry (no label, a range that is not two ints with start < stop)
    is left out rather than breaking the page.
    """
    branches = []
    for entry in layer.get("branches") or []:
        if not isinstance(entry, dict):
            continue
        label, start, stop = entry.get("label"), entry.get("start"), entry.get("stop")
        if isinstance(label, str) and label and _is_int(start) and _is_int(stop) and start < stop:
            branches.append({"label": label, "start": start, "stop": stop})
    return branches


def branch_of(branches: list[Branch], unit: dict[str, Any]) -> int | None:
    """Position in `branches` of the branch `unit` belongs to, or None.

    The unit's own `branch` label decides; a unit without one is placed by its
    channel index falling inside a branch's range.
    """
    label = unit.get("branch")
    if isinstance(label, str) and label:
        for pos, branch in enumerate(branches):
            if branch["label"] == label:
                return pos
        return None
    index = unit.get("index")
    if _is_int(index):
        for pos, branch in enumerate(branches):
            if branch["start"] <= index < branch["stop"]:
                return pos
    return None


def branch_anchor(label: str, pos: int) -> str:
    """A safe, unique element id for the heading of the `pos`-th branch."""
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", label).strip("-") or "branch"
    return f"branch-{pos + 1}-{slug}"


def heading(branch: Branch, shown: int) -> str:
    """A branch's sub-heading: "1x1 branch — channels 0–63, 64 units"."""
    width = branch["stop"] - branch["start"]
    text = f"{branch['label']} branch — {channel_span(branch['start'], branch['stop'])}, "
    text += "1 unit" if width == 1 else f"{width:,} units"
    if shown != width:
        text += f", {shown:,} shown"
    return text


def split_text(branches: list[Branch]) -> str | None:
    """The layer's branch split in one sentence, or None without branches."""
    if not branches:
        return None
    parts = [f"{b['label']} ({channel_span(b['start'], b['stop'])})" for b in branches]
    return f"Concatenates {len(branches)} branches: {', '.join(parts)}."


def unit_branch(layer: dict[str, Any], unit: dict[str, Any]) -> dict[str, Any] | None:
    """What a unit page says about its branch, or None for a layer without branches.

    `sentence` goes under the title ("channel 70 of mixed3a, in the 3x3 branch
    (channels 64–191)"); `value` is the metadata row; `anchor` is the id of the
    branch's heading on the layer page.
    """
    branches = branch_list(layer)
    pos = branch_of(branches, unit)
    own = unit.get("branch")
    if pos is None and not (isinstance(own, str) and own):
        return None
    index = unit.get("index")
    where = f"channel {index} of {layer['name']}"
    if pos is None:
        return {"sentence": f"{where}, in the {own} branch", "value": own, "anchor": None}
    branch = branches[pos]
    span = channel_span(branch["start"], branch["stop"])
    return {
        "sentence": f"{where}, in the {branch['label']} branch ({span})",
        "value": f"{branch['label']} ({span})",
        "anchor": branch_anchor(branch["label"], pos),
    }
