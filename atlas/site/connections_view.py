"""A unit's circuits as its page shows them: the units of the layer before that
it reads most, and the units of the layer after that read it most, each with
its positive image, the weight of the connection and its spatial weights as a
small red (positive) and blue (negative) map, linked to its page.

The maps are painted in the browser from a compact attribute (static/atlas.js):
a 10,000-unit atlas has a quarter of a million of them, too many to write as
SVG cells.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from atlas.site import formatting as fmt
from atlas.site.frame import first_image
from atlas.site.links import relative_link

DIRECTIONS = (
    ("in", "Reads from", "The units of {layer} that this unit reads most: the L2 norm of the "
     "expanded weights (the Jacobian of this unit at its centre with respect to {layer}, with "
     "ReLUs as identities and max-pools as averages). Red: positive weights, blue: negative; "
     "each map shows where in {layer}'s grid the unit reads."),
    ("out", "Feeds", "The units of {layer} that read this unit most, by the same expanded "
     "weights, each map drawn on this unit's grid."),
)
"""The two lists of a unit's connections: (manifest key, title, caption)."""


@dataclass(frozen=True)
class Target:
    page: str
    image: str | None
    label: str = ""


def unit_targets(manifest: dict[str, Any]) -> dict[tuple[str, int], Target]:
    """(layer, unit index) -> its page and positive image, for every unit of the
    atlas: made once per render, so linking a connection costs a look-up."""
    return {(layer["name"], unit["index"]): Target(unit["page"], first_image(unit, "positive"),
                                                   unit.get("label") or "")
            for layer in manifest.get("layers", []) for unit in layer.get("units", [])}


def linked_unit(page: str, layer: Any, unit: Any,
                targets: dict[tuple[str, int], Target]) -> dict[str, Any]:
    """A unit another one names (a connection, a loading, a class's unit) as `page`
    shows it: its label, a link to its page and its positive image where the atlas has
    them (a unit it did not build has neither)."""
    target = targets.get((layer, unit))
    label = target.label if target and target.label else f"{layer}:{unit}"
    return {"label": label,
            "href": relative_link(page, target.page) if target else None,
            "image": relative_link(page, target.image) if target and target.image else None,
            "alt": f"{label}, positive"}


def weight_map(rows: Any) -> str | None:
    """A map as the painter reads it: "height width v1 v2 ..." (row by row)."""
    if not isinstance(rows, list) or not rows or not all(isinstance(r, list) for r in rows):
        return None
    width = len(rows[0])
    if width == 0 or any(len(r) != width for r in rows):
        return None
    return f"{len(rows)} {width} " + " ".join(str(int(v)) for r in rows for v in r)


def connection_groups(page: str, unit: dict[str, Any],
                      targets: dict[tuple[str, int], Target]) -> list[dict[str, Any]]:
    """The unit's connection lists as the page shows them; [] without any."""
    groups = []
    stored = unit.get("connections") or {}
    for key, title, caption in DIRECTIONS:
        entries = stored.get(key) or []
        if not entries:
            continue
        layer = str(entries[0].get("layer"))
        items = [{**linked_unit(page, entry.get("layer"), entry.get("unit"), targets),
                  "weight": fmt.sig3(entry.get("weight")), "map": weight_map(entry.get("map"))}
                 for entry in entries]
        groups.append({"id": f"connections-{key}", "title": f"{title} {layer}",
                       "caption": caption.format(layer=layer), "entries": items})
    return groups


LOADINGS = ("loadings", "The channels of {layer} this concept is made of: their weights in its "
            "direction (of unit length), largest magnitude first.",
            "The concepts of {layer} this channel weighs most in: its weight in each "
            "concept's direction (of unit length), largest magnitude first.")
"""A unit's loadings group (id, caption for a concept, caption for a channel)."""


def loading_group(page: str, unit: dict[str, Any], concept: bool,
                  targets: dict[tuple[str, int], Target]) -> list[dict[str, Any]]:
    """The unit's loadings (`UnitEntry.loadings`) as the page shows them; [] without."""
    entries = unit.get("loadings") or []
    if not entries:
        return []
    group_id, made_of, weighs_in = LOADINGS
    layer = str(entries[0].get("layer"))
    items = [{**linked_unit(page, entry.get("layer"), entry.get("unit"), targets),
              "weight": fmt.sig3(entry.get("weight")), "map": None} for entry in entries]
    title = f"Made of {layer}" if concept else "Concepts it weighs in"
    return [{"id": group_id, "title": title,
             "caption": (made_of if concept else weighs_in).format(layer=layer),
             "entries": items}]
