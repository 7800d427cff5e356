"""A layer page as a table you can work with: tiles with scores, sort keys,
filters, groupings (branches, families) and the image each tile shows.

Everything the layer page's script sorts and filters by is written into the
tiles' data attributes here; static/layer.js only reads them, so the page
works offline and the numbers on a tile are the numbers it sorts by. The
scores, the groupings and the tile images are each declared once below and
iterated by the view model, the template and the script alike.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from atlas.site import formatting as fmt
from atlas.site import status
from atlas.site.branches import branch_anchor, branch_list, branch_of, heading
from atlas.site.frame import first_image, image
from atlas.site.labels import dominant_labels
from atlas.site.links import relative_link
from atlas.site.search_index import unit_row

Unit = dict[str, Any]


def _score(key: str) -> Callable[[Unit], float | None]:
    return lambda unit: (unit.get("scores") or {}).get(key)


def _polysemanticity(unit: Unit) -> float | None:
    scores = unit.get("scores") or {}
    found = scores.get("example_polysemanticity")
    return found if found is not None else scores.get("polysemanticity")


def _data_max(unit: Unit) -> float | None:
    examples = (unit.get("views") or {}).get("examples") or {}
    stats = examples.get("stats") if isinstance(examples, dict) else None
    return stats.get("max") if isinstance(stats, dict) else None


@dataclass(frozen=True)
class TileScore:
    """A number each tile shows and the layer can be sorted by."""

    key: str  # sort key and data attribute (data-s-<key>)
    short: str  # on the tile
    title: str  # in the sort menu and the tile's tooltip
    value: Callable[[Unit], float | None]


TILE_SCORES = (
    TileScore("colour", "col", "Colour score", _score("colour")),
    TileScore("polysemanticity", "poly", "Polysemanticity", _polysemanticity),
    TileScore("faithfulness", "faith", "Faithfulness", _score("faithfulness")),
    TileScore("data_max", "max", "Dataset max", _data_max),
)
"""The scores of the tiles, in the order a tile lists them."""

STATUSES = (("all", "Every unit"), ("ok", "Live and computed"), ("dead", "Dead"),
            ("failed", "Failed"),
            *((flag, words[1]) for flag, words in status.FLAG_WORDS.items()))
"""The status filter's choices: (value, label)."""

TILE_IMAGES = (("positive", "Positive visualization"), ("negative", "Negative visualization"),
               ("example", "Top dataset example"))
"""What a tile can show: (name, label). A layer offers those some unit has."""

NO_FAMILY = "no-family"


def _number(value: float | None) -> str:
    """A score as a data attribute: a plain number the script parses, "" if absent."""
    return "" if value is None else repr(round(float(value), 6))


def _top_example(unit: Unit) -> str | None:
    examples = (unit.get("views") or {}).get("examples") or {}
    top = examples.get("max") if isinstance(examples, dict) else None
    if isinstance(top, list) and top and isinstance(top[0], dict):
        return top[0].get("image") or None
    return None


def _tile_images(unit: Unit) -> dict[str, str | None]:
    return {"positive": first_image(unit, "positive"), "negative": first_image(unit, "negative"),
            "example": _top_example(unit)}


def tile(page: str, layer: dict[str, Any], unit: Unit, scores: tuple[TileScore, ...],
         shown: tuple[str, ...], branch_ids: dict[int, str], with_kernel: bool,
         families: dict[int, str]) -> dict[str, Any]:
    """One unit's tile: its images (one per choice in `shown`), index, label,
    scores, marks, and the data attributes the script sorts and filters by.
    `families` names the layer's families by number (`family_names`)."""
    row = unit_row(layer, unit, families)
    label = unit.get("label") or row[0]
    found = _tile_images(unit)
    failed = status.is_failed(unit)
    values = {score.key: score.value(unit) for score in scores}
    images = []
    for name in shown:
        path = found[name]
        images.append({"name": name,
                       "image": image(page, path, f"{label}, {name}") if path else None,
                       "placeholder": None if path else ("failed" if failed else "no image")
                       if name != "example" else "no example"})
    kernel = first_image(unit, "kernel") if with_kernel else None
    branch = branch_of(branch_list(layer), unit)
    title = status.cell_title(label, unit)
    shares = dominant_labels(unit)[1]
    return {
        "href": relative_link(page, unit["page"]),
        "index": str(unit["index"]),
        "label": row[1],
        "title": f"{title}: {shares}" if shares else title,
        "images": images,
        "kernel": image(page, kernel, f"{label}, kernel") if kernel else None,
        "scores": [{"short": s.short, "title": s.title, "value": fmt.sig3(values[s.key])}
                   for s in scores],
        "failed": failed,
        "failed_badge": failed and bool(found["positive"]),
        "dead": status.is_dead(unit),
        "dead_title": status.DEAD_TITLE,
        # A flagged unit's picture misleads: its tile shows the top example first.
        "example_first": bool(status.flags(unit)) and found["example"] is not None,
        "flags": [{"word": status.FLAG_WORDS[flag][0], "title": status.FLAG_WORDS[flag][1]}
                  for flag in status.flags(unit)],
        "data": {
            "index": str(unit["index"]),
            "text": " ".join(row[:3]).lower(),
            "status": status.filter_words(unit),
            "family": str(unit["family"]) if unit.get("family") is not None else NO_FAMILY,
            **({"branch": branch_ids.get(branch, "branch-other") if branch is not None
                else "branch-other"} if branch_ids else {}),
            **{f"s-{s.key}": _number(values[s.key]) for s in scores},
        },
    }


def layer_scores(units: list[Unit]) -> tuple[TileScore, ...]:
    """The tile scores measured for at least one unit of the layer."""
    return tuple(s for s in TILE_SCORES if any(s.value(u) is not None for u in units))


def tile_choices(units: list[Unit]) -> tuple[str, ...]:
    """The tile images some unit of the layer has, positive always first."""
    return tuple(name for name, _ in TILE_IMAGES
                 if name == "positive" or any(_tile_images(u)[name] for u in units))


def branch_groups(layer: dict[str, Any]) -> list[dict[str, Any]]:
    """The layer's branches as groups {id, heading, units (indices)}; [] without branches."""
    branches = branch_list(layer)
    if not branches:
        return []
    members: dict[int | None, list[int]] = {}
    for unit in layer.get("units", []):
        members.setdefault(branch_of(branches, unit), []).append(unit["index"])
    groups = [{"id": branch_anchor(b["label"], pos), "heading": heading(b, len(members[pos])),
               "label": f"{b['label']} branch", "units": members[pos]}
              for pos, b in enumerate(branches) if pos in members]
    if None in members:
        groups.append({"id": "branch-other", "label": "Other units",
                       "heading": f"Other units — in no branch, {len(members[None]):,} shown",
                       "units": members[None]})
    return groups


def family_groups(page: str, layer: dict[str, Any]) -> list[dict[str, Any]]:
    """The layer's families as groups, with their share, correlation and a few
    member thumbnails; units in no family come last as their own group."""
    units = {unit["index"]: unit for unit in layer.get("units", [])}
    groups: list[dict[str, Any]] = []
    familied = set()
    for family in layer.get("families") or []:
        members = [index for index in family.get("units", []) if index in units]
        familied.update(members)
        thumbs = []
        for index in members[:8]:
            path = first_image(units[index], "positive")
            if path:
                thumbs.append({"href": relative_link(page, units[index]["page"]),
                               "image": image(page, path, f"{layer['name']}:{index}")})
        groups.append({
            "id": f"family-{family['number']}", "value": str(family["number"]),
            "label": f"{family['number']}. {family.get('name') or 'family'}",
            "heading": f"Family {family['number']}: {family.get('name')} — "
                       f"{len(members):,} units, {fmt.percent(family.get('share'))} of the layer",
            "count": fmt.integer(len(members)),
            "share": fmt.percent(family.get("share")),
            "correlation": fmt.sig3(family.get("correlation")),
            "thumbs": thumbs,
            "units": members,
        })
    rest = [index for index in units if index not in familied]
    if groups and rest:
        groups.append({"id": "family-none", "value": NO_FAMILY, "label": "In no family",
                       "heading": f"In no family — {len(rest):,} units",
                       "count": fmt.integer(len(rest)),
                       "share": fmt.percent(len(rest) / len(units)), "correlation": None,
                       "thumbs": [], "units": rest})
    return groups
