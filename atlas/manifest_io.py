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
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from atlas.errors import AtlasError
from atlas.fsio import write_bytes_atomic
from atlas.manifest_types import FORMAT, LAYER_FILES, MANIFEST, LayerFile, UnitEntry
from atlas.site_paths import SiteFiles

UNITS_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*-[0-9a-f]{12}\.json")
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
        # only names `write_layer_file` gives: other files in data/ are not atlas's
        if (f"{LAYER_FILES}/{path.name}" not in listed and UNITS_FILE_NAME.fullmatch(path.name)
                and not path.is_symlink()):
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def units_reader(site_dir: Path) -> UnitsOf:
    """Reads a layer's units: inline where the header holds them (a whole manifest in
    memory), else from its file under `site_dir`, which must be a file of the site
    (`atlas.site_paths`); an AtlasError where it is not, or does not read as one."""
    files = SiteFiles(site_dir)

    def units_of(header: dict[str, Any]) -> list[UnitEntry]:
        if "units" in header:
            return header["units"]
        name = header.get("name")
        try:
            path = files.file(header.get("units_file"))
            content = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:  # unreadable, not JSON, not a site path
            raise AtlasError(f"cannot read the units of layer {name!r} that {MANIFEST} names "
                             f"({error}); run `atlas render` to write them again") from None
        units = content.get("units") if isinstance(content, dict) else None
        if not (isinstance(units, list) and all(isinstance(unit, dict) and isinstance(
                unit.get("index"), int) for unit in units)):
            raise AtlasError(f"the units file of layer {name!r} ({path}) holds no list of "
                             "units; run `atlas render` to write it again")
        return units

    return units_of


def read_index(site_dir: Path) -> dict[str, Any]:
    """atlas.json as it is on disk (each layer's units in their file), checked: an
    AtlasError naming it where it does not read as an atlas's index."""
    path = Path(site_dir) / MANIFEST
    try:
        index = json.loads(SiteFiles(site_dir).file(MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:  # unreadable, not UTF-8, not JSON, a link out
        problem: str | None = str(error)
    else:
        problem = index_problem(index)
    if problem is not None:
        raise AtlasError(f"{path} is not an atlas's index ({problem}); run `atlas render "
                         f"--out {site_dir}` to write it again from the stored results")
    return index


def index_problem(index: Any) -> str | None:
    """Why atlas.json's content is not an index the readers can use; None where it is."""
    if not isinstance(index, dict):
        return f"a JSON {type(index).__name__}, not an object"
    if not isinstance(index.get("model", {}), dict):
        return "its 'model' is not an object"
    layers = index.get("layers")
    if not isinstance(layers, list):
        return "it has no list of 'layers'"
    for header in layers:
        if not (isinstance(header, dict) and isinstance(header.get("name"), str)):
            return "a layer is not an object with a 'name'"
        if not isinstance(header.get("units", header.get("units_file")), (list, str)):
            return f"layer {header['name']!r} names no 'units_file'"
    return None


def read_manifest(site_dir: Path) -> dict[str, Any]:
    """The whole atlas as one dict: atlas.json with every layer's units inline."""
    index = read_index(site_dir)
    units_of = units_reader(site_dir)
    return {**index, "layers": [{**header, "units": units_of(header)}
                                for header in index["layers"]]}


def unit_stub(unit: Mapping[str, Any]) -> dict[str, Any]:
    """What pages of other layers read of a unit (links, thumbnails, status marks):
    a few hundred bytes, so every unit of a large atlas can be held at once."""
    stub: dict[str, Any] = {key: unit[key] for key in ("index", "page", "label", "status",
                                                       "dead", "failed_views") if key in unit}
    positive = ((unit.get("views") or {}).get("positive") or {}).get("images") or []
    stub["views"] = {"positive": {"images": positive[:1]}} if positive else {}
    return stub


def view_images(record: dict[str, Any]) -> dict[str, list[Any]]:
    """A unit's views that hold a list of images, as its manifest entry names them:
    view name -> site paths (unchecked: `Atlas.file` finds the files)."""
    return {name: entry["images"] for name, entry in (record.get("views") or {}).items()
            if isinstance(entry, dict) and isinstance(entry.get("images"), list)}
