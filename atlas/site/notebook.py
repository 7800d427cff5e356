"""How a unit, a layer and an atlas show in a notebook (`_repr_html_` of
`atlas.results`): view models made here, placed by the `notebook_*.html`
templates. Images are embedded (data URIs), so the output stands alone in a
saved notebook, wherever the site's folder is. Only files of the site are embedded
(`Atlas.file`): an image or page the manifest names elsewhere is left out, with a
note on stderr."""

from __future__ import annotations

import base64
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from atlas.errors import AtlasError
from atlas.manifest_io import view_images
from atlas.site import formatting as fmt
from atlas.site.labels import dominant
from atlas.site.render import make_environment
from atlas.site.unit_view import SCORE_LABELS, measures
from atlas.views import VIEWS

if TYPE_CHECKING:
    from atlas.results import Atlas, Layer, Unit

ROW_IMAGES = 3  # images per spectrum column and per view
LAYER_UNITS = 48  # unit thumbnails a layer shows inline
MIME = {".png": "image/png", ".webp": "image/webp", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}


def embedded(path: Path) -> str:
    """The image at `path` as a data URI ('' where the file is gone)."""
    try:
        data = path.read_bytes()
    except OSError:
        return ""
    return f"data:{MIME.get(path.suffix.lower(), 'image/png')};base64," \
           f"{base64.b64encode(data).decode('ascii')}"


def _shown(find: Callable[[], Path], show: Callable[[Path], str]) -> str:
    """`show` of the file `find` finds; '' where it is not a file of the site, said in a
    note (the display is made without it)."""
    try:
        return show(find())
    except AtlasError as error:
        print(f"atlas: left out of the display: {error}", file=sys.stderr)
        return ""


def _image(atlas: Atlas, image: Any, owner: str) -> str:
    """The image the manifest names as one of `owner`'s, embedded."""
    return _shown(lambda: atlas.file(image, f"an image of {owner}"), embedded)


def _item(unit: Unit, image: str, value: Any, caption: str = "") -> dict[str, str]:
    return {"src": _image(unit.atlas, image, unit.label), "value": fmt.sig3(value),
            "caption": caption}


def _spectrum(unit: Unit) -> list[dict[str, Any]]:
    """The six columns, negative to positive: the spectrum view's entry, else the one
    it would compose from what the unit has (Spectrum.manifest_entry); empty columns
    left out."""
    views = unit.record.get("views") or {}
    entry = views.get("spectrum") or VIEWS["spectrum"].manifest_entry(None, views) or {}
    columns = [{"name": column["name"],
                "items": [_item(unit, item["image"], item.get("value"),
                                item.get("source", ""))
                          for item in column["items"][:ROW_IMAGES] if item.get("image")]}
               for column in entry.get("columns", [])]
    return [column for column in columns if column["items"]]


def _views(unit: Unit, spectrum: bool) -> list[dict[str, Any]]:
    """Each view's images, up to ROW_IMAGES spread from first to last; the spectrum,
    where shown, holds positive and negative."""
    shown = []
    for name, images in view_images(unit.record).items():
        if spectrum and name in ("positive", "negative"):
            continue
        values = unit.activations(name)
        shown.append({"name": name, "items": [
            _item(unit, images[i], values[i] if i < len(values) else None)
            for i in spread(len(images), ROW_IMAGES)]})
    return shown


def spread(count: int, most: int) -> list[int]:
    """Up to `most` indices of `count`, evenly apart, the first and the last among them
    (an evolution's start, middle and end)."""
    if count <= most:
        return list(range(count))
    return sorted({round(i * (count - 1) / (most - 1)) for i in range(most)})


def unit_view(unit: Unit) -> dict[str, Any]:
    """As the unit page words them: its measures line, dominant labels and scores."""
    record = unit.record
    spectrum = _spectrum(unit)
    return {"label": unit.label, "page": _shown(lambda: unit.page, Path.as_uri),
            "spectrum": spectrum,
            "views": _views(unit, bool(spectrum)), "measures": measures(record),
            "labels": [(f"Top examples: {share.key}",
                        share.value + (f" · {share.fraction}" if share.fraction else ""))
                       for share in dominant(record.get("labels"))],
            "scores": [(SCORE_LABELS.get(key, fmt.title_case(key)), fmt.sig3(value))
                       for key, value in unit.scores.items() if value is not None],
            "flags": ", ".join(unit.flags), "status": record.get("status", "ok")}


def layer_view(layer: Layer) -> dict[str, Any]:
    tiles = []
    for entry in layer.record["units"][:LAYER_UNITS]:
        images = ((entry.get("views") or {}).get("positive") or {}).get("images") or []
        tiles.append({"index": entry["index"], "label": entry.get("label", ""),
                      "src": _image(layer.atlas, images[0], f"{layer.name}:{entry['index']}")
                      if images else ""})
    total = len(layer.record["units"])
    return {"name": layer.name, "page": _shown(lambda: layer.page, Path.as_uri),
            "type": layer.record.get("type"),
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
