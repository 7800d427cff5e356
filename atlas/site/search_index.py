"""The search index: every unit of the atlas as one row the search box matches.

It is written as a script (`search-index.js`, assigning `window.ATLAS_SEARCH`)
rather than JSON, because pages opened from `file://` may load scripts but not
fetch files. Rows are arrays, not objects, to keep a 10,000-unit index small:
[id, label, text, page, thumbnail], paths relative to the site root.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, cast

from atlas.site.frame import first_image
from atlas.site.labels import dominant

FIELDS = ("id", "label", "text", "page", "thumb")
"""What each row holds, in order (static/atlas.js reads them by position)."""


def family_names(layer: dict[str, Any]) -> dict[int, str]:
    """The layer's families by number: made once per layer, read by every unit."""
    return {family["number"]: str(family.get("name"))
            for family in layer.get("families") or [] if "number" in family}


def unit_row(layer: dict[str, Any], unit: Mapping[str, Any],
             families: dict[int, str]) -> list[str]:
    """One unit's row: `layer:index`, its dominant labels ("3 · red"), the words a
    search may match besides (label keys, family, branch), its page and image.
    `families` is the layer's `family_names`."""
    unit_id = f"{layer['name']}:{unit['index']}"
    shares = dominant(unit.get("labels"))
    words = [f"{share.key} {share.value}" for share in shares]
    family = families.get(cast(int, unit.get("family")))  # None: no family, not a key
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


def search_index(manifest: dict[str, Any]) -> dict[str, Any]:
    """The index as data: the field names and one row per unit, in atlas order."""
    rows = []
    for layer in manifest.get("layers", []):
        names = family_names(layer)
        rows += [unit_row(layer, unit, names) for unit in layer.get("units", [])]
    return {"fields": list(FIELDS), "units": rows}


def search_script(manifest: dict[str, Any]) -> str:
    """The index of a whole manifest as the script the pages load."""
    return _script(search_index(manifest))


def rows_script(rows: list[list[str]]) -> str:
    """The index of these rows (`unit_row`s, in atlas order) as the script the pages load."""
    return _script({"fields": list(FIELDS), "units": rows})


def _script(index: dict[str, Any]) -> str:
    data = json.dumps(index, ensure_ascii=True, separators=(",", ":"))
    return f"window.ATLAS_SEARCH = {data};\n"
