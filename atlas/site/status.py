"""What the pages say about a unit's status: failed views, dead units and the
flags the data gave it (`pipeline/flags.py`).

A unit is *failed* (`"status": "failed"`) when one or more of its views could
not be computed; `failed_views` maps each such view to the reason. A unit is
*dead* (`"dead": true`) when its activation stayed constant, so its images
show nothing it responds to. This module turns both into the marks, counts,
notices and table values the pages show; the templates only place them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from atlas.manifest_types import LOST_TO_DATA, NEVER_FIRES

DEAD_TITLE = "constant activation"
"""The tooltip of a dead unit's mark."""

FAILED_INTRO = "Some views of this unit could not be computed:"
FAILED_NO_VIEWS = "No view of this unit could be computed."
NO_REASON = "no reason was recorded"
DEAD_NOTICE = ("This unit is dead: its activation stayed constant whatever the input (e.g. a "
               "ReLU that never fires), so its visualizations show nothing it responds to.")


# What each flag (manifest_types.UNIT_FLAGS) is called: (the mark on a tile, the status
# filter's label, the unit page's notice).
FLAG_WORDS = {
    LOST_TO_DATA: (
        "lost to data", "Optimizer lost to the data",
        "The optimizer lost to the data: some dataset image excites this unit more than its "
        "positive visualization does (super-stimulus ratio below 1), so the visualization is "
        "not what the unit responds to most. Its top dataset examples show it better; layer "
        "tiles show the top example first."),
    NEVER_FIRES: (
        "never fires", "Never fires",
        "This unit never fires: on every dataset image it stays at or below the floor its "
        "layer's clamp puts on it, so its output is that floor everywhere. Its pictures show "
        "what would switch it on, not anything in the data."),
}


def flags(unit: Mapping[str, Any]) -> list[str]:
    """The unit's known flags, in the order the manifest lists them."""
    found = unit.get("flags")
    return [flag for flag in found if flag in FLAG_WORDS] if isinstance(found, list) else []


def is_failed(unit: Mapping[str, Any]) -> bool:
    return unit.get("status") == "failed"


def is_dead(unit: Mapping[str, Any]) -> bool:
    return unit.get("dead") is True


def status_text(unit: Mapping[str, Any]) -> str:
    """The unit's status in a word or two: "ok", "failed", "dead" or "failed, dead"."""
    words = [word for word, flag in (("failed", is_failed(unit)), ("dead", is_dead(unit)))
             if flag]
    return ", ".join(words) or "ok"


def filter_words(unit: Mapping[str, Any]) -> str:
    """The unit's statuses as a layer page filters by them, space-separated: failed,
    dead or ok, then its flags."""
    first = "failed" if is_failed(unit) else "dead" if is_dead(unit) else "ok"
    return " ".join([first, *flags(unit)])


def cell_title(label: str, unit: Mapping[str, Any]) -> str:
    """A grid cell's tooltip: the unit's label, plus its status when it is not ok."""
    notes = []
    if is_failed(unit):
        notes.append("failed")
    if is_dead(unit):
        notes.append(f"dead: {DEAD_TITLE}")
    notes += [FLAG_WORDS[flag][0] for flag in flags(unit)]
    return f"{label} ({'; '.join(notes)})" if notes else label


def counts(units: Iterable[Mapping[str, Any]]) -> tuple[int, int]:
    """How many of `units` are failed, and how many dead."""
    listed = list(units)
    return sum(is_failed(u) for u in listed), sum(is_dead(u) for u in listed)


def flag_counts(units: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """How many of `units` carry each flag."""
    listed = list(units)
    return {flag: sum(flag in flags(u) for u in listed) for flag in FLAG_WORDS}


def counts_note(units: Iterable[Mapping[str, Any]]) -> str | None:
    """ "2 failed, 3 dead" for a layer's units (zero counts left out), or None if none."""
    failed, dead = counts(units)
    parts = [f"{n:,} {word}" for n, word in ((failed, "failed"), (dead, "dead")) if n]
    return ", ".join(parts) or None


def layer_note(units: Iterable[Mapping[str, Any]]) -> str | None:
    """The layer page's clause after the unit count, or None when every unit is ok.

    E.g. "of which 1 failed to optimize and 2 are dead (constant activation)".
    """
    listed = list(units)
    failed, dead = counts(listed)
    parts = []
    if failed:
        parts.append(f"{failed:,} failed to optimize")
    if dead:
        parts.append(f"{dead:,} {'is' if dead == 1 else 'are'} dead ({DEAD_TITLE})")
    parts += [f"{count:,} {FLAG_WORDS[flag][0]}" for flag, count in flag_counts(listed).items()
              if count]
    return f"of which {', '.join(parts[:-1])} and {parts[-1]}" if len(parts) > 1 else (
        f"of which {parts[0]}" if parts else None)


def _reason(value: Any) -> str:
    return value.strip() if isinstance(value, str) and value.strip() else NO_REASON


def failed_view_rows(
    unit: Mapping[str, Any], titles: Mapping[str, str], order: Sequence[str]
) -> list[dict[str, str]]:
    """The unit's failed views as {"view", "reason"} rows, views in `order` first.

    `titles` names known views ("negative" -> "Negative"); an unknown view
    keeps its manifest name. A missing or empty reason reads `NO_REASON`.
    """
    failures = unit.get("failed_views")
    if not isinstance(failures, Mapping):
        return []
    rank = {name: pos for pos, name in enumerate(order)}
    names = sorted((str(name) for name in failures), key=lambda n: (rank.get(n, len(rank)), n))
    return [{"view": titles.get(name, name), "reason": _reason(failures[name])}
            for name in names]


def notices(
    unit: Mapping[str, Any], titles: Mapping[str, str], order: Sequence[str]
) -> list[dict[str, Any]]:
    """The boxes at the top of a unit page: failed views with reasons, and the dead notice.

    Each is {"kind", "label" (its accessible name), "text", "lines"}; lines are
    "view — reason" strings.
    """
    found = []
    if is_failed(unit):
        rows = failed_view_rows(unit, titles, order)
        found.append({
            "kind": "failed",
            "label": "Failed views",
            "text": FAILED_INTRO if rows else FAILED_NO_VIEWS,
            "lines": [f"{row['view']} — {row['reason']}" for row in rows],
        })
    if is_dead(unit):
        found.append({"kind": "dead", "label": "Dead unit", "text": DEAD_NOTICE, "lines": []})
    for flag in flags(unit):
        found.append({"kind": "flag", "label": FLAG_WORDS[flag][1],
                      "text": FLAG_WORDS[flag][2], "lines": []})
    return found
