"""How a unit, a layer and an atlas show in a notebook (`_repr_html_` of
`atlas.results`): view models made here, placed by the `notebook_*.html`
templates. Images are embedded (data URIs), so the output stands alone in a
saved notebook, wherever the site's folder is."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import TYPE_CHECKING, Any

from atlas.manifest_types import EXAMPLE_COLUMNS
from atlas.site.render import make_environment

if TYPE_CHECKING:
    from atlas.results import Atlas, Layer, Unit

ROW_IMAGES = 3  # images per spectrum column and per view
LAYER_UNITS = 48  # unit thumbnails a layer shows inline
MIME = {".png": "image/png", ".webp": "image/webp", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}
SCORE_NAMES = {"faithfulness": "faithfulness", "super_stimulus": "super-stimulus ratio",
               "example_polysemanticity": "polysemanticity (examples)",
               "polysemanticity": "polysemanticity (seeds)", "colour": "colour share (eta²)",
               "positive_value": "value on its positive image",
               "faithfulness_baseline": "faithfulness of random images",
               "diversity_spread": "polysemanticity (diversity)"}


def embedded(path: Path) -> str:
    """The image at `path` as a data URI ('' where the file is gone)."""
    try:
        data = path.read_bytes()
    except OSError:
        return ""
    return f"data:{MIME.get(path.suffix.lower(), 'image/png')};base64," \
           f"{base64.b64encode(data).decode('ascii')}"


def _number(value: Any) -> str:
    return "" if value is None else f"{value:.3g}" if isinstance(value, float) else str(value)


def _item(root: Path, image: str, value: Any, caption: str = "") -> dict[str, str]:
    return {"src": embedded(root / image), "value": _number(value), "caption": caption}


def _spectrum(unit: Unit) -> list[dict[str, Any]]:
    """The six columns, negative to positive: the spectrum view's, else made of what
    the unit has (its optimized negative and positive, its dataset example columns)."""
    views = unit.record.get("views") or {}
    root = unit.atlas.path
    if views.get("spectrum"):
        return [{"name": column["name"],
                 "items": [_item(root, item["image"], item.get("value"), item.get("source", ""))
                           for item in column["items"][:ROW_IMAGES] if item.get("image")]}
                for column in views["spectrum"].get("columns", [])]
    columns = []
    examples = views.get("examples") or {}
    for name in ("negative", *EXAMPLE_COLUMNS, "positive"):
        if name in ("negative", "positive"):
            entry = views.get(name) or {}
            items = [_item(root, image, value) for image, value in
                     zip(entry.get("images", [])[:1], entry.get("activations") or [None])]
        else:
            items = [_item(root, example["image"], example["value"], example["source"])
                     for example in examples.get(name, [])[:ROW_IMAGES]]
        if items:
            columns.append({"name": name, "items": items})
    return columns if examples else []


def _views(unit: Unit, spectrum: bool) -> list[dict[str, Any]]:
    """Each view's first images; the spectrum, where shown, holds positive and negative."""
    shown = []
    for name, entry in (unit.record.get("views") or {}).items():
        if not isinstance(entry, dict) or not isinstance(entry.get("images"), list):
            continue
        if spectrum and name in ("positive", "negative"):
            continue
        values, images = entry.get("activations") or [], entry["images"]
        shown.append({"name": name, "items": [
            _item(unit.atlas.path, images[i], values[i] if i < len(values) else None)
            for i in spread(len(images), ROW_IMAGES)]})
    return shown


def spread(count: int, most: int) -> list[int]:
    """Up to `most` indices of `count`, evenly apart, the first and the last among them
    (an evolution's start, middle and end)."""
    if count <= most:
        return list(range(count))
    return sorted({round(i * (count - 1) / (most - 1)) for i in range(most)})


def unit_view(unit: Unit) -> dict[str, Any]:
    scores = [(SCORE_NAMES.get(key, key), _number(value))
              for key, value in unit.scores.items() if value is not None]
    labels = [(key, f"{share['value']} ({share['count']} of {share['of']})")
              for key, share in unit.labels.items()]
    spectrum = _spectrum(unit)
    return {"label": unit.label, "page": unit.page.as_uri(), "spectrum": spectrum,
            "views": _views(unit, bool(spectrum)), "scores": scores, "labels": labels,
            "flags": ", ".join(unit.flags), "status": unit.record.get("status", "ok")}


def layer_view(layer: Layer) -> dict[str, Any]:
    tiles = []
    for entry in layer.record["units"][:LAYER_UNITS]:
        images = ((entry.get("views") or {}).get("positive") or {}).get("images") or []
        tiles.append({"index": entry["index"], "label": entry.get("label", ""),
                      "src": embedded(layer.atlas.path / images[0]) if images else ""})
    total = len(layer.record["units"])
    return {"name": layer.name, "page": layer.page.as_uri(), "type": layer.record.get("type"),
            "shape": " × ".join(map(str, layer.record.get("shape", []))), "tiles": tiles,
            "more": total - len(tiles), "total": total}


def atlas_view(atlas: Atlas) -> dict[str, Any]:
    model = atlas.model
    return {"title": model.get("title") or model.get("spec"), "spec": model.get("spec"),
            "index": atlas.page().as_uri(),
            "layers": [{"name": layer["name"], "type": layer.get("type"),
                        "units": layer.get("unit_count", len(layer.get("units", [])))}
                       for layer in atlas.manifest["layers"]]}


def _render(template: str, view: dict[str, Any]) -> str:
    return make_environment().get_template(template).render(view=view)


def unit_html(unit: Unit) -> str:
    return _render("notebook_unit.html", unit_view(unit))


def layer_html(layer: Layer) -> str:
    return _render("notebook_layer.html", layer_view(layer))


def atlas_html(atlas: Atlas) -> str:
    return _render("notebook_atlas.html", atlas_view(atlas))
