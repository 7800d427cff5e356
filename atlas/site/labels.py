"""Labels as the pages show them: an example's own labels, and a unit's
dominant labels among its top examples with their shares. Every page formats
them through here. The text is untrusted (class names come from folder
names); it reaches the pages only through the autoescaping templates."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Share:
    """One dominant label: e.g. class "3", carried by 9 of the 10 top examples."""

    key: str
    value: str
    count: int | None
    of: int | None

    @property
    def fraction(self) -> str:
        """"9/10", or "" where the manifest does not give both numbers."""
        return f"{self.count}/{self.of}" if self.count is not None and self.of is not None else ""


def dominant(labels: Any) -> list[Share]:
    """A unit's `labels` (manifest: key -> {value, count, of}) as shares; entries
    without a value are left out."""
    if not isinstance(labels, dict):
        return []
    found = []
    for key, share in labels.items():
        if not isinstance(share, dict) or share.get("value") in (None, ""):
            continue
        count, of = share.get("count"), share.get("of")
        found.append(Share(str(key), str(share["value"]), count if isinstance(count, int) else None,
                           of if isinstance(of, int) else None))
    return found


def dominant_labels(unit: dict[str, Any]) -> tuple[str, str]:
    """The unit's dominant labels as a tile shows them ("3 · red") and as its
    tooltip says them ("class 3 (9 of 10 top examples), colour red (10 of 10)")."""
    shares = dominant(unit.get("labels"))
    long = [f"{s.key} {s.value}" + (f" ({s.count} of {s.of} top examples)" if s.fraction else "")
            for s in shares]
    return " · ".join(s.value for s in shares), ", ".join(long)


def example_caption(labels: Any) -> str:
    """An example's labels as a short caption: {"class": "3", "colour": "red"} -> "3 · red"."""
    if not isinstance(labels, dict):
        return ""
    return " · ".join(str(value) for value in labels.values() if value not in (None, ""))


def example_title(labels: Any) -> str:
    """The same labels with their keys, for a tooltip: "class 3, colour red"."""
    if not isinstance(labels, dict):
        return ""
    return ", ".join(f"{key} {value}" for key, value in labels.items()
                     if value not in (None, ""))
