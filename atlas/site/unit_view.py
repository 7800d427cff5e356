"""View model for a unit page: every view of one channel, its scores and metadata."""

from __future__ import annotations

from typing import Any

from atlas.site import formatting as fmt
from atlas.site import status
from atlas.site.branches import unit_branch
from atlas.site.connections_view import Target, connection_groups, loading_group, unit_targets
from atlas.site.dataset_notes import NO_DATASET, has_dataset, note
from atlas.site.frame import frame, link
from atlas.site.labels import dominant
from atlas.site.links import relative_link
from atlas.site.pre_activation import pre_activation_fact
from atlas.site.sections import SECTIONS, VIEW_TITLES, build_sections

SCORE_LABELS = {
    "colour": "Colour (eta² share)",
    "polysemanticity": "Polysemanticity (seeds)",
    "diversity_spread": "Spread of the diversity images",
    "example_polysemanticity": "Polysemanticity (dataset examples)",
    "faithfulness": "Faithfulness",
    "faithfulness_baseline": "Faithfulness of random images (baseline)",
    "super_stimulus": "Super-stimulus ratio",
    "positive_value": "Positive view's value",
}

LEAD = ("spectrum",)
"""The view a unit page opens with where the build has it: the first screen."""
LEAD_WITHOUT_DATA = ("positive", "negative", "diversity")
"""What a unit page opens with instead, side by side, without a dataset."""

Neighbour = tuple[int, int]
"""A unit's position in the manifest: (layer position, unit position)."""


def neighbours(
    manifest: dict[str, Any], layer_pos: int, unit_pos: int
) -> tuple[Neighbour | None, Neighbour | None]:
    """The units before and after this one, crossing into adjacent layers at the ends."""
    layers = manifest["layers"]
    prev: Neighbour | None = None
    if unit_pos > 0:
        prev = (layer_pos, unit_pos - 1)
    else:
        for lp in range(layer_pos - 1, -1, -1):
            if layers[lp].get("units"):
                prev = (lp, len(layers[lp]["units"]) - 1)
                break
    nxt: Neighbour | None = None
    if unit_pos + 1 < len(layers[layer_pos]["units"]):
        nxt = (layer_pos, unit_pos + 1)
    else:
        for lp in range(layer_pos + 1, len(layers)):
            if layers[lp].get("units"):
                nxt = (lp, 0)
                break
    return prev, nxt


def _neighbour_link(
    manifest: dict[str, Any], page: str, where: Neighbour | None
) -> dict[str, Any] | None:
    if where is None:
        return None
    layer = manifest["layers"][where[0]]
    unit = layer["units"][where[1]]
    return link(page, unit["page"], unit.get("label") or f"{layer['name']}:{unit['index']}")


def label_parts(labels: Any) -> list[dict[str, str]]:
    """The unit's dominant labels among its top examples, for the line under its
    title: [{"key": "class", "value": "3", "share": "9/10"}, ...]."""
    return [{"key": s.key, "value": s.value, "share": s.fraction} for s in dominant(labels)]


def measures(unit: dict[str, Any]) -> list[dict[str, str]]:
    """The unit's data-based measurements for the line under its title: faithfulness
    beside its random-image baseline, and the super-stimulus ratio beside the two
    values it divides. Unmeasured ones are left out."""
    scores = unit.get("scores") or {}
    found = []
    if scores.get("faithfulness") is not None:
        baseline = scores.get("faithfulness_baseline")
        found.append({"label": "faithfulness", "value": fmt.sig3(scores["faithfulness"]),
                      "detail": f"random images {fmt.sig3(baseline)}"
                      if baseline is not None else ""})
    if scores.get("super_stimulus") is not None:
        stats = ((unit.get("views") or {}).get("examples") or {}).get("stats") or {}
        detail = [f"positive view {fmt.sig3(scores.get('positive_value'))}"
                  if scores.get("positive_value") is not None else "",
                  f"data max {fmt.sig3(stats.get('max'))}" if stats.get("max") is not None
                  else ""]
        found.append({"label": "super-stimulus ratio", "value": fmt.sig3(scores["super_stimulus"]),
                      "detail": " / ".join(d for d in detail if d)})
    return found


def unit_view(manifest: dict[str, Any], layer_pos: int, unit_pos: int,
              targets: dict[tuple[str, int], Target] | None = None) -> dict[str, Any]:
    """A unit page: its views in page order, labels, scores, metadata, prev/next/up links."""
    layer = manifest["layers"][layer_pos]
    unit = layer["units"][unit_pos]
    page = unit["page"]
    label = unit.get("label") or f"{layer['name']}:{unit['index']}"
    labels = [{"label": f"Top examples: {share.key}",
               "value": share.value + (f" · {share.fraction}" if share.fraction else "")}
              for share in dominant(unit.get("labels"))]
    scores = [
        {"label": SCORE_LABELS.get(key, fmt.title_case(key)), "value": fmt.sig3(value)}
        for key, value in (unit.get("scores") or {}).items()
        if value is not None
    ]
    prev, nxt = neighbours(manifest, layer_pos, unit_pos)
    metadata = [
        {"label": "Layer", "value": fmt.layer_title(layer),
         "href": relative_link(page, layer["page"])},
        {"label": "Unit", "value": str(unit["index"]), "href": None},
    ]
    branch = unit_branch(layer, unit)
    if branch is not None:
        anchor = f"#{branch['anchor']}" if branch["anchor"] else ""
        metadata.append({"label": "Branch", "value": branch["value"],
                         "href": relative_link(page, layer["page"]) + anchor})
    metadata += [
        {"label": "Layer type", "value": layer.get("type") or fmt.MISSING, "href": None},
        {"label": "Layer output shape", "value": fmt.shape(layer.get("shape")), "href": None},
        {"label": "Status", "value": status.status_text(unit), "href": None},
    ]
    if layer.get("pre_activation"):
        metadata.insert(-1, {"label": "Values", "value": "pre-activation", "href": None})
    views = build_sections(page, label, unit, manifest.get("views"))
    lead_names = LEAD if any(v["id"] in LEAD for v in views) else LEAD_WITHOUT_DATA
    targets = targets if targets is not None else unit_targets(manifest)
    connections = (connection_groups(page, unit, targets)
                   + loading_group(page, unit, bool(layer.get("concepts_of")), targets))
    toc = [{"id": v["id"], "title": v["title"]} for v in views]
    classes = [{"label": f"Class {entry['name']}", "href": relative_link(page, entry["page"]),
                "value": ("its class page" if entry["share"] is None
                          else f"{fmt.percent(entry['share'])} of its margin")}
               for entry in unit.get("classes") or []]
    toc += [{"id": anchor, "title": title} for anchor, title, present in (
        ("connections", "Connections", bool(connections)),
        ("classes", "Classes", bool(classes)),
        ("labels", "Labels", bool(labels)), ("scores", "Scores", bool(scores)),
        ("about", "About", True)) if present]
    return {
        "page": frame(manifest, page, label, kind="unit"),
        "label": label,
        "layer": layer["name"],
        "branch": branch["sentence"] if branch else None,
        "pre_activation": pre_activation_fact(layer),
        "failed": status.is_failed(unit),
        "dead": status.is_dead(unit),
        "dead_title": status.DEAD_TITLE,
        "notices": status.notices(unit, VIEW_TITLES, list(SECTIONS)),
        "views": views,
        "lead": [v for v in views if v["id"] in lead_names],
        "rest": [v for v in views if v["id"] not in lead_names],
        "toc": toc,
        "connections": connections,
        "classes": classes,
        "classes_caption": (
            "The class this unit is the logit of: its page lists the units that make it."
            if any(entry["share"] is None for entry in unit.get("classes") or [])
            else "The classes whose margin this unit carries the largest share of (gradient "
                 "× activation over the class's images), each linked to its class page."),
        "labels": labels,
        "label_parts": label_parts(unit.get("labels")),
        "measures": measures(unit),
        "dataset_note": None if has_dataset(manifest) else note(NO_DATASET),
        "scores": scores,
        "metadata": metadata,
        # The settings are the atlas's, listed once on the home page, not on every unit.
        "settings_href": relative_link(page, manifest["pages"]["index"]) + "#settings",
        "up": link(page, layer["page"], fmt.layer_title(layer)),
        "prev": _neighbour_link(manifest, page, prev),
        "next": _neighbour_link(manifest, page, nxt),
    }
