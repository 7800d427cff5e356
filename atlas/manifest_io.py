"""Reading and writing the sharded manifest: `atlas.json` (the index) and one
file of units per layer under `data/`.

The build writes a layer's file as soon as its units are assembled, so no
more than one layer's units are held at a time; the renderer reads them back
one layer at a time. Anyone who wants the whole atlas in one dict (a notebook,
a test, `atlas bench --storage`) calls `read_manifest`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from atlas.errors import AtlasError
from atlas.fsio import write_bytes_atomic
from atlas.manifest_types import FORMAT, LAYER_FILES, MANIFEST, LayerFile, UnitEntry

UnitsOf = Callable[[dict[str, Any]], list[UnitEntry]]
"""Gives a layer header's units (read from its file, or held inline)."""


def write_layer_file(site_dir: Path, slug: str, layer: str, units: list[UnitEntry]) -> str:
    """Writes one layer's units (compact JSON, sorted keys: equal data, equal bytes) and
    returns the file's site-relative path, `data/<slug>-<hash of its content>.json`.
    Named by content, a new file never replaces the one the current atlas.json names:
    a build that fails before its new index is written leaves the old site whole
    (`remove_unlisted` deletes the old files once it is)."""
    content: LayerFile = {"format": FORMAT, "layer": layer, "units": units}
    data = (json.dumps(content, sort_keys=True, separators=(",", ":"), allow_nan=False)
            + "\n").encode("utf-8")
    path = f"{LAYER_FILES}/{slug}-{hashlib.sha256(data).hexdigest()[:12]}.json"
    if not (Path(site_dir) / path).is_file():
        write_bytes_atomic(Path(site_dir) / path, data)
    return path


def remove_unlisted(site_dir: Path, index: Mapping[str, Any]) -> int:
    """Deletes the unit files under data/ that `index` (the new atlas.json) does not
    name; returns how many."""
    listed = {header["units_file"] for header in index.get("layers", [])}
    removed = 0
    for path in (Path(site_dir) / LAYER_FILES).glob("*.json"):
        if f"{LAYER_FILES}/{path.name}" not in listed:
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def units_reader(site_dir: Path) -> UnitsOf:
    """Reads a layer's units: inline where the header holds them (a whole manifest in
    memory), else from its file under `site_dir`."""
    def units_of(header: dict[str, Any]) -> list[UnitEntry]:
        if "units" in header:
            return header["units"]
        path = Path(site_dir) / header["units_file"]
        try:
            content = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as error:
            raise AtlasError(f"cannot read the units of layer {header.get('name')!r} from "
                             f"{path} ({error}); run `atlas render` to write them again") from None
        return content["units"]

    return units_of


def read_manifest(site_dir: Path) -> dict[str, Any]:
    """The whole atlas as one dict: atlas.json with every layer's units inline."""
    index = json.loads((Path(site_dir) / MANIFEST).read_text(encoding="utf-8"))
    units_of = units_reader(site_dir)
    return {**index, "layers": [{**header, "units": units_of(header)}
                                for header in index.get("layers", [])]}


def unit_stub(unit: Mapping[str, Any]) -> dict[str, Any]:
    """What pages of other layers read of a unit (links, thumbnails, status marks):
    a few hundred bytes, so every unit of a large atlas can be held at once."""
    stub: dict[str, Any] = {key: unit[key] for key in ("index", "page", "label", "status",
                                                       "dead", "failed_views") if key in unit}
    positive = ((unit.get("views") or {}).get("positive") or {}).get("images") or []
    stub["views"] = {"positive": {"images": positive[:1]}} if positive else {}
    return stub
