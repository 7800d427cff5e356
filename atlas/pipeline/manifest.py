"""Assembles `atlas.json` from the store alone (no model needed): the one
document the site renderer reads. Its format is described in docs/manifest.md."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Optional

from atlas import __version__
from atlas.config import VIEWS
from atlas.errors import AtlasError
from atlas.fsio import write_json_atomic
from atlas.models.branches import branch_of
from atlas.slugs import slugify
from atlas.store import ResultStore

MANIFEST = "atlas.json"
FORMAT = 1
# Per-view record fields that the manifest passes on to the pages.
VIEW_EXTRAS = {"neuron": {"positions": "positions"}, "seeds": {"seed_indices": "seeds"},
               "evolution": {"steps": "steps", "loss": "loss"},
               "kernel": {"weight_range": "weight_range"}}


def unit_page(layer: str, unit: int) -> str:
    return f"units/{slugify(layer)}/{unit}.html"


def layer_page(layer: str) -> str:
    return f"layers/{slugify(layer)}.html"


def _view_entry(record: dict, view: str) -> dict[str, Any]:
    entry = {"images": record["images"], "activations": record["activations"]}
    for source, target in VIEW_EXTRAS.get(view, {}).items():
        if source in record:
            entry[target] = record[source]
    return entry


def _unit(store: ResultStore, layer: str, unit: int, views: list[str], scores: dict,
          branch: Optional[str]) -> dict:
    entries, failures = {}, {}
    for view in views:
        record = store.load_view(layer, unit, view)
        if record is None:
            continue
        if record.get("status") == "failed":
            failures[view] = record.get("reason", "failed")
        else:
            entries[view] = _view_entry(record, view)
    unit_entry = {
        "index": unit,
        "page": unit_page(layer, unit),
        "label": f"{layer}:{unit}",
        "branch": branch,
        "status": "failed" if failures or not entries else "ok",
        "dead": bool(scores.get("dead", False)),  # constant activation: see analysis.is_dead
        "views": entries,
        "scores": {"polysemanticity": scores.get("polysemanticity"),
                   "colour": scores.get("colour")},
    }
    if failures:
        unit_entry["failed_views"] = failures
    return unit_entry


def build_manifest(store: ResultStore) -> dict[str, Any]:
    build = store.load_json("build.json")
    if build is None:
        raise AtlasError(f"no stored results in {store.site_dir}; run `atlas build` first")
    analysis = store.load_json("analysis.json") or {}
    unit_scores = analysis.get("units", {})
    requested = [v for v in VIEWS if v in build["settings"]["views"] and v != "joint"]
    layers = []
    for layer in build["layers"]:
        name = layer["name"]
        views = [v for v in requested if v != "kernel" or layer["kernel"]]
        layers.append({
            "name": name, "slug": slugify(name), "page": layer_page(name),
            "type": layer["type"], "shape": layer["shape"], "channels": layer["channels"],
            "branches": layer.get("branches", []),
            "units": [_unit(store, name, u, views, unit_scores.get(name, {}).get(str(u), {}),
                            branch_of(layer.get("branches"), u))
                      for u in layer["units"]],
        })
    return {
        "format": FORMAT,
        "atlas_version": __version__,
        "generated_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "model": build["model"],
        "settings": build["settings"],
        "pages": {"index": "index.html", "summary": "summary.html", "joint": "joint.html"},
        "layers": layers,
        "joint": _joint(store, build["joint"]),
        "summary": _summary(analysis, layers),
    }


def _joint(store: ResultStore, expressions: list[str]) -> list[dict]:
    entries = []
    for index, expression in enumerate(expressions):
        record = store.load_view(None, index, "joint")
        if record is None or record.get("status") == "failed":
            continue
        per_image = [list(values) for values in zip(*record["term_activations"])]
        entries.append({"label": expression, "terms": record["terms"],
                        "images": record["images"], "activations": per_image})
    return entries


def _find_unit(layers: list[dict], layer: str, unit: int) -> Optional[dict]:
    for entry in layers:
        if entry["name"] == layer:
            for candidate in entry["units"]:
                if candidate["index"] == unit:
                    return candidate
    return None


def _summary(analysis: dict, layers: list[dict]) -> dict[str, Any]:
    shortcut = analysis.get("shortcut")
    if shortcut is not None:
        classes = []
        for row in shortcut["classes"]:
            unit = _find_unit(layers, row["layer"], row["class"])
            positive = (unit or {}).get("views", {}).get("positive", {})
            classes.append({**row, "unit_page": unit_page(row["layer"], row["class"]),
                            "image": (positive.get("images") or [None])[0]})
        shortcut = {**shortcut, "classes": classes}
    polysemantic = analysis.get("polysemantic", {"method": "", "units": []})
    poly_units = []
    for row in polysemantic["units"]:
        unit = _find_unit(layers, row["layer"], row["unit"]) or {}
        seeds = unit.get("views", {}).get("seeds", {})
        poly_units.append({"label": f"{row['layer']}:{row['unit']}",
                           "page": unit_page(row["layer"], row["unit"]),
                           "score": row["score"], "images": seeds.get("images", [])})
    return {
        "colour": analysis.get("colour", {"method": "", "layers": []}),
        "shortcut": shortcut,
        "polysemantic": {"method": polysemantic["method"], "units": poly_units},
    }


def write_manifest(store: ResultStore) -> dict[str, Any]:
    manifest = build_manifest(store)
    write_json_atomic(store.site_dir / MANIFEST, manifest)
    return manifest
