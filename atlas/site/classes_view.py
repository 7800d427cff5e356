"""View models for the class pages: the list of classes (classes.html) and a page per
class (classes/<index>.html) with the channels and concepts that make its margin, each
with its positive image and a link to its page."""

from __future__ import annotations

from typing import Any

from atlas.site import formatting as fmt
from atlas.site.connections_view import Target, linked_unit
from atlas.site.frame import frame, href, link
from atlas.site.links import relative_link

LIST_THUMBS = 4  # units shown per class on the list


def _unit(page: str, unit: dict[str, Any], targets: dict[tuple[str, int], Target]
          ) -> dict[str, Any]:
    return {**linked_unit(page, unit["layer"], unit["unit"], targets),
            "share": fmt.percent(unit.get("share"))}


def _list_cell(page: str, units: list[dict[str, Any]],
               targets: dict[tuple[str, int], Target]) -> dict[str, Any]:
    """A cell of the list: its first units as thumbnails where they have an image,
    named where they have none (a unit whose positive view failed), and the units
    this atlas did not build named apart, so their names never run together."""
    shown = [_unit(page, unit, targets) for unit in units[:LIST_THUMBS]]
    return {"thumbs": [unit for unit in shown if unit["image"]],
            "named": [unit for unit in shown if unit["href"] and not unit["image"]],
            "unbuilt": [unit["label"] for unit in shown if not unit["href"]]}


def _shares_line(row: dict[str, Any]) -> str:
    """What the channels (and the dictionary) carry of the margin in all."""
    carried = fmt.percent(row.get("channels_share"))
    line = (f"All the channels of the layer together carry {carried} of the margin; the rest "
            "comes from the biases after the layer and, in a residual network, from what "
            "goes around it.")
    share = row.get("concepts_share")
    if share is None:
        return line
    bias = row.get("bias_share")
    return (line + f" The dictionary's concepts carry {fmt.percent(share)}"
            + (f" and its input bias {fmt.percent(bias)}" if bias else "")
            + "; their difference from the channels' is what its reconstruction misses.")


def classes_view(manifest: dict[str, Any], targets: dict[tuple[str, int], Target]
                 ) -> dict[str, Any]:
    """classes.html: every measured class with its largest units."""
    entry = manifest["classes"]
    page = entry["page"]
    rows = [{"name": row["name"], "href": relative_link(page, row["page"]),
             "images": fmt.integer(row["images"]), "margin": fmt.sig3(row["margin"]),
             "channels": _list_cell(page, row["channels"], targets),
             "concepts": _list_cell(page, row["concepts"], targets),
             "channels_share": fmt.percent(row.get("channels_share")),
             "dictionary_share": fmt.percent(
                 None if row.get("concepts_share") is None
                 else row["concepts_share"] + (row.get("bias_share") or 0))}
            for row in entry["classes"]]
    return {"page": frame(manifest, page, "Classes", current="classes"),
            "layer": entry["layer"], "logits": entry["logits"], "method": entry["method"],
            "images": fmt.integer(entry["images"]), "rows": rows,
            "has_concepts": bool(entry.get("concepts_layer"))}


def class_view(manifest: dict[str, Any], position: int,
               targets: dict[tuple[str, int], Target]) -> dict[str, Any]:
    """classes/<index>.html: one class's channels and concepts, largest share first."""
    entry = manifest["classes"]
    rows = entry["classes"]
    row = rows[position]
    page = row["page"]
    logit = targets.get((entry["logits"], row["index"]))
    groups: list[dict[str, Any]] = [
        {"id": key, "title": key.title(),
         "units": [_unit(page, unit, targets) for unit in row[key]]}
        for key in ("channels", "concepts") if row[key]]
    unbuilt = any(unit["href"] is None for group in groups for unit in group["units"])
    before = rows[position - 1] if position > 0 else None
    after = rows[position + 1] if position + 1 < len(rows) else None
    return {
        "page": frame(manifest, page, f"Class {row['name']}", kind="class"),
        "name": row["name"],
        "layer": entry["layer"],
        "images": fmt.integer(row["images"]),
        "source": ("by their labels" if entry["labels"] == "dataset"
                   else "by the model's own prediction"),
        "margin": fmt.sig3(row["margin"]),
        "logit": link(page, logit.page, logit.label) if logit else None,
        "logit_image": href(page, logit.image) if logit else None,
        "groups": groups,
        "unbuilt": ("Units without an image are not among the units this atlas built "
                    "(the `channels` setting chose others)." if unbuilt else None),
        "shares_line": _shares_line(row),
        "method": entry["method"],
        "up": link(page, entry["page"], "Classes"),
        "prev": link(page, before["page"], f"class {before['name']}") if before else None,
        "next": link(page, after["page"], f"class {after['name']}") if after else None,
    }
