"""The search index: every unit of the atlas as one row the search box matches.

It is written as a script (`search-index.js`, assigning `window.ATLAS_SEARCH`)
rather than JSON, because pages opened from `file://` may load scripts but not
fetch files. Rows are arrays, not objects, to keep a 10,000-unit index small:
[id, label, text, page, thumbnail], paths relative to the site root.
"""

from __future__ import annotations

import json
from typing import Any

from atlas.site.frame import first_image
from atlas.site.labels import dominant

FIELDS = ("id", "label", "text", "page", "thumb")
"""What each row holds, in order (static/atlas.js reads them by position)."""


def unit_row(layer: dict[str, Any], unit: dict[str, Any]) -> list[str]:
    """One unit's row: `layer:index`, its dominant labels ("3 · red"), the words a
    search may match besides (label keys, family, branch), its page and image."""
    unit_id = f"{layer['name']}:{unit['index']}"
    shares = dominant(unit.get("labels"))
    words = [f"{share.key} {share.value}" for share in shares]
    family = _family_name(layer, unit.get("family"))
    if family:
        words.append(f"family {family}")
    if unit.get("branch"):
        words.append(f"branch {unit['branch']}")
    if unit.get("dead"):
        words.append("dead")
    if unit.get("status") == "failed":
        words.append("failed")
    label = unit.get("label") if unit.get("label") not in (None, unit_id) else ""
    short = " · ".join(share.value for share in shares)
    return [unit_id, label or short, ", ".join(words), unit["page"],
            first_image(unit, "positive") or ""]


def _family_name(layer: dict[str, Any], number: Any) -> str | None:
    for family in layer.get("families") or []:
        if family.get("number") == number:
            return str(family.get("name"))
    return None


def search_index(manifest: dict[str, Any]) -> dict[str, Any]:
    """The index as data: the field names and one row per unit, in atlas order."""
    return {"fields": list(FIELDS),
            "units": [unit_row(layer, unit) for layer in manifest.get("layers", [])
                      for unit in layer.get("units", [])]}


def search_script(manifest: dict[str, Any]) -> str:
    """The index as the script the pages load."""
    data = json.dumps(search_index(manifest), ensure_ascii=True, separators=(",", ":"))
    return f"window.ATLAS_SEARCH = {data};\n"
