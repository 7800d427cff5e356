"""View models for the index page and the layer pages.

A view model is a plain dict holding exactly what one template shows: URLs
already relative to that page, numbers already strings. The unit page lives in
`unit_view.py`, the summary and joint pages in `summary_view.py`.
"""

from __future__ import annotations

from typing import Any

from atlas.site import formatting as fmt
from atlas.site import status
from atlas.site.branches import branch_list, split_text
from atlas.site.concepts_note import concepts_note, layer_switch
from atlas.site.dataset_notes import dataset_line
from atlas.site.frame import first_image, frame, href, image, layer_pages, link, shown_pages
from atlas.site.layer_table import (
    STATUSES,
    TILE_IMAGES,
    branch_groups,
    family_groups,
    layer_scores,
    tile,
    tile_choices,
)
from atlas.site.links import relative_link
from atlas.site.pre_activation import pre_activation_note
from atlas.site.search_index import family_names

THUMBNAILS = 16
"""How many units of each layer the index page previews."""

NO_ACCURACY = "No test accuracy was recorded for this model."
"""Shown instead of the accuracy table when `model.accuracy` is empty."""

ACCURACY_LABELS = {
    "biased_test": "Biased test set (colour follows the class, as in training)",
    "unbiased_test": "Unbiased test set (colour independent of the class)",
}


def _unit_cell(page: str, layer: dict[str, Any], unit: dict[str, Any]) -> dict[str, Any]:
    """One unit as a thumbnail of the index page: link, positive image (or a
    placeholder box saying "failed" or "no image"), index, failed and dead marks."""
    label = unit.get("label") or f"{layer['name']}:{unit['index']}"
    positive = first_image(unit, "positive")
    failed = status.is_failed(unit)
    return {
        "href": relative_link(page, unit["page"]),
        "label": label,
        "title": status.cell_title(label, unit),
        "index": str(unit["index"]),
        "image": image(page, positive, f"{label}, positive") if positive else None,
        "placeholder": None if positive else ("failed" if failed else "no image"),
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
            "name": fmt.layer_title(layer),
            "href": relative_link(page, layer["page"]),
            "type": layer.get("type") or fmt.MISSING,
            "shape": fmt.shape(layer.get("shape")),
            "branches": split_text(branch_list(layer)),
            "unit_count": fmt.integer(len(units)),
            "status_note": status.counts_note(units),
            "thumbnails": [
                _unit_cell(page, layer, unit)
                for unit in units[:THUMBNAILS]
            ],
            "more": len(units) > THUMBNAILS,
        })
    pages = shown_pages(manifest)
    return {
        "page": frame(manifest, page, model.get("title") or "Atlas", current="index",
                      kind="index"),
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


def _grid_caption(about: str, has_kernels: bool, choices: tuple[str, ...]) -> str:
    """The caption of a unit grid showing `about` ("every unit of conv1")."""
    kernels = "; beside each, the unit's filter weights" if has_kernels else ""
    shows = " or ".join(label.lower() for name, label in TILE_IMAGES if name in choices)
    return (f"{shows[:1].upper()}{shows[1:]} (switch above the grid) of {about}, labelled with "
            f"the unit index, the most common labels of its top examples where the build "
            f"scanned a dataset, and its scores{kernels}.")


LAYER_SCRIPT = "static/layer.js"
"""Site-root path of the layer pages' script: sort, filter, group."""

LARGE_LAYER = 200
"""Units from which a layer page lets the browser skip the tiles off screen."""

GROUPINGS = (("none", "No grouping"), ("branch", "Branch"), ("family", "Family"))
"""How a layer page can group its tiles: (value, label). A layer offers those it has."""


CARICATURE_ABOUT = (
    "Each dataset image, then an image optimized from noise to amplify this layer's whole "
    "activation pattern on it: what the layer as a whole picks out of the image, exaggerated. "
    "Each caricature's score is its pattern's projection on the real image's, times their "
    "cosine: 1 is the real image itself.")


def _caricature(page: str, layer: dict[str, Any]) -> dict[str, Any] | None:
    """The layer's caricatures as captioned images, each after its real image."""
    found = layer.get("caricature")
    if not isinstance(found, dict) or not found.get("images"):
        return None
    name, entries = layer["name"], []
    for i, path in enumerate(found["images"]):
        originals, sources = found.get("originals") or [], found.get("sources") or []
        if i < len(originals):
            entries.append(image(page, originals[i], f"{name}, dataset image {i + 1}",
                                 caption="real", note=str(sources[i]) if i < len(sources)
                                 else None))
        scores = found.get("activations") or []
        entries.append(image(page, path, f"{name}, caricature {i + 1}",
                             caption=f"score {fmt.sig3(scores[i] if i < len(scores) else None)}"))
    return {"images": entries, "caption": f"Caricatures of {name}. {CARICATURE_ABOUT}"}


def layer_view(manifest: dict[str, Any], layer_pos: int) -> dict[str, Any]:
    """One layer as a table you can work with: a tile per unit (images, index,
    label, scores), controls to sort, filter, group and switch what the tiles
    show, the layer's families, and prev/next layer.

    The tiles come in index order, under their branches' headings where the
    layer has branches (the page without its script reads the same); the
    families' headings follow, hidden until the script groups by family.
    """
    layers = manifest["layers"]
    layer = layers[layer_pos]
    page = layer["page"]
    units = layer.get("units", [])
    prev_layer = layers[layer_pos - 1] if layer_pos > 0 else None
    next_layer = layers[layer_pos + 1] if layer_pos + 1 < len(layers) else None
    has_kernels = any(first_image(u, "kernel") for u in units)
    scores = layer_scores(units)
    choices = tile_choices(units)
    branches = branch_groups(layer)
    families = family_groups(page, layer)
    branch_ids = {pos: group["id"] for pos, group in enumerate(branches)}
    names = family_names(layer)
    tiles = {unit["index"]: tile(page, layer, unit, scores, choices, branch_ids, has_kernels,
                                 names)
             for unit in units}
    sections: list[dict[str, Any]]
    if branches:
        sections = [{"group": group, "tiles": [tiles[i] for i in group["units"]]}
                    for group in branches]
    else:
        sections = [{"group": None, "tiles": list(tiles.values())}]
    groupings = [{"value": value, "label": label} for value, label in GROUPINGS
                 if value == "none" or (value == "branch" and branches)
                 or (value == "family" and families)]
    return {
        "page": frame(manifest, page, fmt.layer_title(layer), kind="layer",
                      scripts=(LAYER_SCRIPT,)),
        "name": fmt.layer_title(layer),
        "heading": (f"Concepts of {layer['concepts_of']}" if layer.get("concepts_of")
                    else f"Layer {layer['name']}"),
        "type": layer.get("type") or fmt.MISSING,
        "shape": fmt.shape(layer.get("shape")),
        "unit_count": fmt.integer(len(units)),
        "status_note": status.layer_note(units),
        "pre_activation": pre_activation_note(layer),
        "concepts": concepts_note(layer),
        "switch": layer_switch(manifest, layer),
        "caricature": _caricature(page, layer),
        "has_kernels": has_kernels,
        "large": len(units) >= LARGE_LAYER,
        "branches": split_text(branch_list(layer)),
        "branch_groups": branches,
        "families": families,
        "families_method": manifest.get("families_method"),
        "sections": sections,
        "sorts": [{"value": "index", "label": "Unit index"}]
        + [{"value": s.key, "label": s.title} for s in scores],
        "statuses": [{"value": value, "label": label} for value, label in STATUSES],
        "groupings": groupings,
        "grouping": "branch" if branches else "none",
        "choices": [{"value": name, "label": label} for name, label in TILE_IMAGES
                    if name in choices],
        "caption": _grid_caption(f"every unit of {fmt.layer_title(layer)}", has_kernels, choices),
        "up": link(page, manifest["pages"]["index"], "Atlas home"),
        "prev": link(page, prev_layer["page"], fmt.layer_title(prev_layer)) if prev_layer else None,
        "next": link(page, next_layer["page"], fmt.layer_title(next_layer)) if next_layer else None,
    }
