"""View models for the index page and the layer pages.

A view model is a plain dict holding exactly what one template shows: URLs
already relative to that page, numbers already strings. The unit page lives in
`unit_view.py`, the summary and joint pages in `summary_view.py`.
"""

from __future__ import annotations

from typing import Any

from atlas.site import formatting as fmt
from atlas.site import status
from atlas.site.branches import branch_anchor, branch_list, group_units, heading, split_text
from atlas.site.dataset_notes import dataset_line
from atlas.site.frame import first_image, frame, href, image, layer_pages, link
from atlas.site.labels import dominant
from atlas.site.links import relative_link

THUMBNAILS = 16
"""How many units of each layer the index page previews."""

NO_ACCURACY = "No test accuracy was recorded for this model."
"""Shown instead of the accuracy table when `model.accuracy` is empty."""

ACCURACY_LABELS = {
    "biased_test": "Biased test set (colour follows the class, as in training)",
    "unbiased_test": "Unbiased test set (colour independent of the class)",
}


def top_example(unit: dict[str, Any]) -> str | None:
    """The path of the unit's top dataset example (highest value), or None."""
    examples = (unit.get("views") or {}).get("examples") or {}
    top = examples.get("max") if isinstance(examples, dict) else None
    if isinstance(top, list) and top and isinstance(top[0], dict):
        path = top[0].get("image")
        return path if isinstance(path, str) and path else None
    return None


def dominant_labels(unit: dict[str, Any]) -> tuple[str, str]:
    """The unit's dominant labels as a tile shows them ("3 · red") and as its
    tooltip says them ("class 3 (9 of 10 top examples), colour red (10 of 10)")."""
    shares = dominant(unit.get("labels"))
    long = [f"{s.key} {s.value}" + (f" ({s.count} of {s.of} top examples)" if s.fraction else "")
            for s in shares]
    return " · ".join(s.value for s in shares), ", ".join(long)


def _unit_cell(
    page: str, layer: dict[str, Any], unit: dict[str, Any], with_kernel: bool = True,
    with_data: bool = True,
) -> dict[str, Any]:
    """One unit as a grid cell: link, positive image, optional kernel, failed and
    dead marks, and (`with_data`, the layer pages) its top dataset example and
    dominant labels; the tooltip names the labels with their shares.

    Without a positive image the cell shows a placeholder box instead, whose
    text (`placeholder`) says "failed" for a failed unit; that box is then the
    failed mark, so `failed_badge` is False. A layer page shows either the
    positive images or the top examples (a CSS-only switch); a unit without a
    top example shows a "no example" box there.
    """
    label = unit.get("label") or f"{layer['name']}:{unit['index']}"
    positive = first_image(unit, "positive")
    kernel = first_image(unit, "kernel") if with_kernel else None
    example = top_example(unit) if with_data else None
    failed = status.is_failed(unit)
    short, long = dominant_labels(unit)
    title = status.cell_title(label, unit)
    return {
        "href": relative_link(page, unit["page"]),
        "label": label,
        "title": f"{title}: {long}" if long else title,
        "labels": (short or None) if with_data else None,
        "example": image(page, example, f"{label}, top dataset example") if example else None,
        "index": str(unit["index"]),
        "image": image(page, positive, f"{label}, positive") if positive else None,
        "placeholder": None if positive else ("failed" if failed else "no image"),
        "kernel": image(page, kernel, f"{label}, kernel") if kernel else None,
        "failed": failed,
        "failed_badge": failed and bool(positive),
        "dead": status.is_dead(unit),
        "dead_title": status.DEAD_TITLE,
    }


def index_view(manifest: dict[str, Any]) -> dict[str, Any]:
    """The home page: the model, its accuracy, the build settings, every layer."""
    page = manifest["pages"]["index"]
    model = manifest.get("model", {})
    by_name = layer_pages(manifest)
    architecture = [
        {
            "name": row.get("name") or "",
            "href": href(page, by_name.get(row.get("name") or "")),
            "type": row.get("type") or fmt.MISSING,
            "shape": fmt.shape(row.get("shape")),
            "channels": fmt.integer(row.get("channels")),
        }
        for row in model.get("architecture", [])
    ]
    accuracy = [
        {"label": ACCURACY_LABELS.get(key, fmt.title_case(key)), "value": fmt.percent(value)}
        for key, value in (model.get("accuracy") or {}).items()
    ]
    weights = model.get("weights")
    layers = []
    for layer in manifest.get("layers", []):
        units = layer.get("units", [])
        layers.append({
            "name": layer["name"],
            "href": relative_link(page, layer["page"]),
            "type": layer.get("type") or fmt.MISSING,
            "shape": fmt.shape(layer.get("shape")),
            "branches": split_text(branch_list(layer)),
            "unit_count": fmt.integer(len(units)),
            "status_note": status.counts_note(units),
            "thumbnails": [
                _unit_cell(page, layer, unit, with_kernel=False, with_data=False)
                for unit in units[:THUMBNAILS]
            ],
            "more": len(units) > THUMBNAILS,
        })
    pages = manifest.get("pages", {})
    return {
        "page": frame(manifest, page, model.get("title") or "Atlas", current="index"),
        "model": {
            "title": model.get("title") or model.get("spec") or "Atlas",
            "description": model.get("description") or "",
            "spec": model.get("spec") or fmt.MISSING,
            "input_size": (
                f"{model['input_size']} × {model['input_size']} px"
                if model.get("input_size") else fmt.MISSING
            ),
            "parameters": fmt.integer(model.get("parameters")),
            "weights": weights or "none (random initialisation)",
            "weights_sha256": model.get("weights_sha256") if weights else None,
            "preprocess": _preprocess(model.get("preprocess")),
        },
        "architecture": architecture,
        "accuracy": accuracy,
        "accuracy_note": None if accuracy else NO_ACCURACY,
        "settings": settings_rows(manifest),
        "dataset": dataset_line(manifest),
        "layers": layers,
        "questions": [
            entry for entry in (
                link(page, pages.get("summary"), "Summary: colour or shape, shortcuts, "
                     "polysemantic units, faithfulness"),
                link(page, pages.get("joint"), "Joint optimizations of several units"),
            ) if entry
        ],
    }


def _preprocess(value: Any) -> str | None:
    """`model.preprocess` as shown, or None where the manifest has none (older formats)."""
    if value is None or value == "":
        return None
    return fmt.setting(value)


def settings_rows(manifest: dict[str, Any]) -> list[dict[str, str]]:
    """The build settings as label/value rows, in the manifest's order."""
    return [
        {"label": key, "value": fmt.setting(value)}
        for key, value in (manifest.get("settings") or {}).items()
    ]


def _grid_caption(about: str, has_kernels: bool, has_examples: bool = False) -> str:
    """The caption of a unit grid showing `about` ("every unit of conv1")."""
    kernels = "; beside each, the unit's filter weights" if has_kernels else ""
    if has_examples:
        return (f"Positive feature visualization or top dataset example (switch above the "
                f"grid) of {about}, labelled with the unit index and the most common labels "
                f"of its top examples{kernels}.")
    return f"Positive feature visualization of {about}, labelled with the unit index{kernels}."


def _branch_groups(page: str, layer: dict[str, Any], has_kernels: bool,
                   has_examples: bool) -> list[dict[str, Any]]:
    """The layer's unit cells grouped by branch, with headings; [] without branches."""
    branches = branch_list(layer)
    if not branches:
        return []
    groups = []
    for pos, units in group_units(layer, branches):
        if pos is None:
            title = f"Other units — in no branch, {fmt.integer(len(units))} shown"
            anchor, label = "branch-other", "Other units"
            about = "units in no branch"
        else:
            branch = branches[pos]
            title = heading(branch, len(units))
            anchor, label = branch_anchor(branch["label"], pos), f"{branch['label']} branch"
            about = f"the {branch['label']} branch"
        groups.append({
            "id": anchor,
            "label": label,
            "heading": title,
            "units": [_unit_cell(page, layer, unit) for unit in units],
            "caption": _grid_caption(f"every unit of {about} of {layer['name']}",
                                     has_kernels, has_examples),
        })
    return groups


def layer_view(manifest: dict[str, Any], layer_pos: int) -> dict[str, Any]:
    """One layer: a grid of every unit's positive image (and kernel), with prev/next layer.

    A layer with branches gets one grid per branch (`groups`), each under a
    heading that gives the branch's channels; without branches `groups` is []
    and `units` is the one grid.
    """
    layers = manifest["layers"]
    layer = layers[layer_pos]
    page = layer["page"]
    units = layer.get("units", [])
    prev_layer = layers[layer_pos - 1] if layer_pos > 0 else None
    next_layer = layers[layer_pos + 1] if layer_pos + 1 < len(layers) else None
    has_kernels = any(first_image(u, "kernel") for u in units)
    has_examples = any(top_example(u) for u in units)
    groups = _branch_groups(page, layer, has_kernels, has_examples)
    return {
        "page": frame(manifest, page, layer["name"]),
        "name": layer["name"],
        "type": layer.get("type") or fmt.MISSING,
        "shape": fmt.shape(layer.get("shape")),
        "unit_count": fmt.integer(len(units)),
        "status_note": status.layer_note(units),
        "has_kernels": has_kernels,
        "switch": has_examples,
        "branches": split_text(branch_list(layer)),
        "groups": groups,
        "units": [] if groups else [_unit_cell(page, layer, unit) for unit in units],
        "caption": _grid_caption(f"every unit of {layer['name']}", has_kernels, has_examples),
        "up": link(page, manifest["pages"]["index"], "Atlas home"),
        "prev": link(page, prev_layer["page"], prev_layer["name"]) if prev_layer else None,
        "next": link(page, next_layer["page"], next_layer["name"]) if next_layer else None,
    }
