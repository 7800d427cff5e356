"""View models for the index page and the layer pages.

A view model is a plain dict holding exactly what one template shows: URLs
already relative to that page, numbers already strings. The unit page lives in
`unit_view.py`, the summary and joint pages in `summary_view.py`.
"""

from __future__ import annotations

from typing import Any

from atlas.site import formatting as fmt
from atlas.site.frame import first_image, frame, href, image, layer_pages, link
from atlas.site.links import relative_link

THUMBNAILS = 16
"""How many units of each layer the index page previews."""

ACCURACY_LABELS = {
    "biased_test": "Biased test set (colour follows the class, as in training)",
    "unbiased_test": "Unbiased test set (colour independent of the class)",
}


def _unit_cell(
    page: str, layer: dict[str, Any], unit: dict[str, Any], with_kernel: bool = True
) -> dict[str, Any]:
    """One unit as a grid cell: link, positive image, optional kernel, failed mark."""
    label = unit.get("label") or f"{layer['name']}:{unit['index']}"
    positive = first_image(unit, "positive")
    kernel = first_image(unit, "kernel") if with_kernel else None
    return {
        "href": relative_link(page, unit["page"]),
        "label": label,
        "index": str(unit["index"]),
        "image": image(page, positive, f"{label}, positive") if positive else None,
        "kernel": image(page, kernel, f"{label}, kernel") if kernel else None,
        "failed": unit.get("status") == "failed",
    }


def index_view(manifest: dict[str, Any]) -> dict[str, Any]:
    """The home page: the model, its accuracy, the build settings, every layer."""
    page = manifest["pages"]["index"]
    model = manifest.get("model", {})
    by_name = layer_pages(manifest)
    architecture = [
        {
            "name": row.get("name", ""),
            "href": href(page, by_name.get(row.get("name", ""))),
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
            "unit_count": fmt.integer(len(units)),
            "failed_count": fmt.integer(sum(u.get("status") == "failed" for u in units)),
            "any_failed": any(u.get("status") == "failed" for u in units),
            "thumbnails": [
                _unit_cell(page, layer, unit, with_kernel=False) for unit in units[:THUMBNAILS]
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
        },
        "architecture": architecture,
        "accuracy": accuracy,
        "settings": settings_rows(manifest),
        "layers": layers,
        "questions": [
            entry for entry in (
                link(page, pages.get("summary"), "Summary: colour or shape, shortcuts, "
                     "polysemantic units"),
                link(page, pages.get("joint"), "Joint optimizations of several units"),
            ) if entry
        ],
    }


def settings_rows(manifest: dict[str, Any]) -> list[dict[str, str]]:
    """The build settings as label/value rows, in the manifest's order."""
    return [
        {"label": key, "value": fmt.setting(value)}
        for key, value in (manifest.get("settings") or {}).items()
    ]


def layer_view(manifest: dict[str, Any], layer_pos: int) -> dict[str, Any]:
    """One layer: a grid of every unit's positive image (and kernel), with prev/next layer."""
    layers = manifest["layers"]
    layer = layers[layer_pos]
    page = layer["page"]
    units = layer.get("units", [])
    prev_layer = layers[layer_pos - 1] if layer_pos > 0 else None
    next_layer = layers[layer_pos + 1] if layer_pos + 1 < len(layers) else None
    has_kernels = any(first_image(u, "kernel") for u in units)
    failed = sum(u.get("status") == "failed" for u in units)
    return {
        "page": frame(manifest, page, layer["name"]),
        "name": layer["name"],
        "type": layer.get("type") or fmt.MISSING,
        "shape": fmt.shape(layer.get("shape")),
        "unit_count": fmt.integer(len(units)),
        "failed_count": fmt.integer(failed) if failed else None,
        "has_kernels": has_kernels,
        "units": [_unit_cell(page, layer, unit) for unit in units],
        "up": link(page, manifest["pages"]["index"], "Atlas home"),
        "prev": link(page, prev_layer["page"], prev_layer["name"]) if prev_layer else None,
        "next": link(page, next_layer["page"], next_layer["name"]) if next_layer else None,
    }
