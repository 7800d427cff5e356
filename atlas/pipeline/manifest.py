"""Assembles the manifest from the store alone (no model needed): `atlas.json`,
the index the site renderer reads, and one file of units per layer, written as
each layer is assembled so that only one layer's units are held at a time.
Its format is described in docs/manifest.md.

The records are read as anyone may have left them: one that does not read as its
view's is left out of the manifest (noted in the store's `broken`), never followed
outside the site (see `atlas.store`, `atlas.record_check`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any, TypeVar, cast

from atlas.errors import AtlasError
from atlas.fsio import read_json, write_json_atomic
from atlas.manifest_io import write_layer_file
from atlas.manifest_types import (
    FORMAT,
    MANIFEST,
    Caricature,
    ClassesEntry,
    CompareEntry,
    CompareUnit,
    Concepts,
    JointEntry,
    LayerHeader,
    Loading,
    Manifest,
    Summary,
    UnitClass,
    UnitEntry,
    UnitScores,
)
from atlas.models.branches import branch_of
from atlas.models.concept_reads import concept_base
from atlas.pipeline.classes.contributions import FOLDER as CLASSES_FOLDER
from atlas.pipeline.classes.entry import PAGE as CLASSES_PAGE
from atlas.pipeline.classes.entry import classes_entry, unit_classes
from atlas.pipeline.compare.entry import compare_entry
from atlas.pipeline.concepts.fit import FOLDER as CONCEPTS_FOLDER
from atlas.pipeline.concepts.fit import load_concepts_record, stored_directions
from atlas.pipeline.concepts.loadings import loadings
from atlas.pipeline.weights.connections import unit_connections
from atlas.record_check import build_record_problem
from atlas.record_types import BuildRecord, LayerRecord
from atlas.slugs import slugify
from atlas.store import LAYER_UNIT, RESULTS, ResultStore
from atlas.version import __version__
from atlas.views import COMPOSED, UNIT_VIEWS, VIEWS, View, Where
from atlas.views.joint import Joint

__all__ = ["MANIFEST", "FORMAT", "build_manifest", "write_manifest", "unit_page", "layer_page"]

# What reading a hand-edited record the way a build wrote it raises.
RECORD_ERRORS = (KeyError, TypeError, ValueError, IndexError, AttributeError)
Made = TypeVar("Made")


def _from_record(store: ResultStore, rel: str, make: Callable[..., Made], *args: Any
                 ) -> Made | None:
    """`make(*args)`, made of the stored record `rel`; None where the record does not
    read as its view's (noted in the store's `broken`, so the build says which)."""
    try:
        return make(*args)
    except RECORD_ERRORS as error:
        store.broken[rel] = f"{type(error).__name__}: {error}"
        return None


def unit_page(layer: str, unit: int) -> str:
    base = concept_base(layer)
    if base is not None:
        return f"concepts/{slugify(base)}/{unit}.html"
    return f"units/{slugify(layer)}/{unit}.html"


def layer_page(layer: str) -> str:
    base = concept_base(layer)
    if base is not None:
        return f"concepts/{slugify(base)}.html"
    return f"layers/{slugify(layer)}.html"


def unit_label(layer: str, unit: int) -> str:
    base = concept_base(layer)
    return f"{base} concept {unit}" if base is not None else f"{layer}:{unit}"


def _unit(store: ResultStore, layer: str, unit: int, views: list[View], scores: dict,
          branch: str | None, connections: dict, loadings: list[Loading] | None,
          classes: list[UnitClass] | None) -> UnitEntry:
    entries: dict[str, Any] = {}
    failures = {}
    for view in views:  # stored views first: composed ones read their entries
        if view.produced_by == COMPOSED:
            continue
        record = store.load_view(layer, unit, view.name)
        if record is None:
            continue
        if record.get("status") == "failed":
            failures[view.name] = str(record.get("reason", "failed"))
        else:
            entry = _from_record(store, store.record_rel(layer, unit, view.name),
                                 view.manifest_entry, record, entries)
            if entry is not None:
                entries[view.name] = entry
    for view in views:
        if view.produced_by == COMPOSED:
            entry = view.manifest_entry(None, entries)
            if entry is not None:
                entries[view.name] = entry
    unit_entry: UnitEntry = {
        "index": unit,
        "page": unit_page(layer, unit),
        "label": unit_label(layer, unit),
        "branch": branch,
        "status": "failed" if failures or not entries else "ok",
        "dead": bool(scores.get("dead", False)),  # constant activation: see analysis.is_dead
        "flags": scores.get("flags", []),  # see pipeline/analysis/flags.py
        "views": entries,
        "scores": cast(UnitScores, {key: scores.get(key) for key in SCORES}),
        "labels": scores.get("labels", {}),
        "family": scores.get("family"),
        # {"in": [...], "out": [...]}: see pipeline/weights/connections.py
        "connections": connections,
    }
    if failures:
        unit_entry["failed_views"] = failures
    if loadings is not None:
        unit_entry["loadings"] = loadings
    if classes is not None:
        unit_entry["classes"] = classes
    return unit_entry


def _concepts(store: ResultStore, folder: str) -> Concepts | None:
    """A layer's dictionary as its stored record gives it (pipeline/concepts/fit.py)."""
    record = load_concepts_record(store.root / CONCEPTS_FOLDER / folder)
    if record is None:
        return None
    return _from_record(store, f"{RESULTS}/{CONCEPTS_FOLDER}/{folder}/concepts.json",
                        lambda: cast(Concepts, {
                            "method": record["method"], "count": record["count"],
                            "vectors": record["vectors"], "per_image": record["per_image"],
                            "r2": record["r2"], "stability": record["stability"],
                            "dead": len(record["dead"])}))


def _classes(store: ResultStore, name: str | None) -> ClassesEntry | None:
    """The class pages' entry from the stored record, None where the build has none."""
    record = read_json(store.root / CLASSES_FOLDER / name) if name else None
    return _from_record(store, f"{RESULTS}/{CLASSES_FOLDER}/{name}",
                        classes_entry, record) if record else None


def _caricature(store: ResultStore, layer: str) -> Caricature | None:
    """The layer's caricatures (pipeline/dataset/caricature.py), None where it has none."""
    record = store.load_view(layer, LAYER_UNIT, "caricature")
    if not record or not record.get("images"):
        return None
    return _from_record(store, store.record_rel(layer, LAYER_UNIT, "caricature"),
                        lambda: cast(Caricature, {key: record[key] for key in (
                            "images", "originals", "sources", "activations")}))


# Per-unit scores the analysis measures, passed on to the pages (null where not measured).
SCORES = ("polysemanticity", "diversity_spread", "colour", "example_polysemanticity",
          "faithfulness", "faithfulness_baseline", "super_stimulus", "positive_value")


def _layer_views(build: BuildRecord, layer: LayerRecord) -> list[View]:
    """The per-unit views this build asked for that apply to `layer`, in page order."""
    where = Where(tuple(layer["shape"]), kernel_layer=layer["kernel"],
                  dataset=build.get("dataset") is not None)
    requested = build["settings"]["views"]
    return [view for view in UNIT_VIEWS if view.name in requested and view.applies(where)]


def build_manifest(store: ResultStore) -> Manifest:
    """The index (atlas.json's content); each layer's units are written to their
    file under the site as they are assembled (see `manifest_io`)."""
    build = read_build_record(store)
    analysis = store.load_json("analysis.json") or {}  # read as it comes: it may be absent
    try:
        return _assemble(store, build, analysis)
    except RECORD_ERRORS as error:  # what the checks of each record do not cover
        raise AtlasError(f"the stored results in {store.root} do not read as a build wrote "
                         f"them ({type(error).__name__}: {error}); run `atlas build --out "
                         f"{store.site_dir}` to write them again") from error


def read_build_record(store: ResultStore) -> BuildRecord:
    """build.json, checked: an AtlasError naming it where it is missing or broken."""
    rel = store.build_rel("build.json")
    build = store.load_json("build.json")
    if build is None and rel not in store.broken:
        raise AtlasError(f"no stored results in {store.site_dir}; run `atlas build` first")
    problem = store.broken[rel] if build is None else build_record_problem(build)
    if problem is not None:
        raise AtlasError(f"{store.site_dir / rel} is broken ({problem}); run `atlas build "
                         f"--out {store.site_dir}` to write it again")
    return cast(BuildRecord, build)


def _assemble(store: ResultStore, build: BuildRecord, analysis: dict) -> Manifest:
    """The index from `build` (checked), `analysis` and the stored records."""
    unit_scores = analysis.get("units", {})
    connections = build.get("connections")
    links = unit_connections(store, connections["pairs"] if connections else [])
    cited = _cited_units(analysis)
    classes = _classes(store, build.get("classes"))
    in_classes = unit_classes(classes) if classes else {}
    dictionaries = build.get("concepts") or {}  # layer -> its dictionary's folder
    loads: dict[tuple[str, int], list[Loading]] = {}
    for base, folder in dictionaries.items():
        loads.update(loadings(stored_directions(store.root / CONCEPTS_FOLDER / folder), base))
    measured = {base: _concepts(store, folder) for base, folder in dictionaries.items()}
    found: dict[tuple[str, int], UnitEntry] = {}  # the units the summary shows
    layers: list[LayerHeader] = []
    for layer in build["layers"]:
        name = layer["name"]
        views = _layer_views(build, layer)
        units = [_unit(store, name, u, views, unit_scores.get(name, {}).get(str(u), {}),
                       branch_of(layer.get("branches"), u), links.get(name, {}).get(u, {}),
                       loads.get((name, u)), in_classes.get((name, u)))
                 for u in layer["units"]]
        found.update({(name, unit["index"]): unit for unit in units
                      if (name, unit["index"]) in cited})
        path = write_layer_file(store.site_dir, slugify(name), name, units)
        header: LayerHeader = {
            "name": name, "slug": slugify(name), "page": layer_page(name),
            "type": layer["type"], "shape": layer["shape"], "channels": layer["channels"],
            "branches": layer.get("branches", []),
            "pre_activation": layer.get("pre_activation"),
            "caricature": _caricature(store, name),
            "receptive_field": layer.get("receptive_field"),
            "families": (analysis.get("families") or {}).get("layers", {}).get(name, []),
            "units_file": path, "unit_count": len(units),
            "failed_views": sum(len(unit.get("failed_views", {})) for unit in units),
        }
        concepts_of = concept_base(name)
        concepts = measured.get(concepts_of or name)
        if concepts is not None:
            header["concepts"] = concepts
        if concepts_of is not None:
            header["concepts_of"] = concepts_of
        layers.append(header)
    requested = build["settings"]["views"]
    compare = _compare(store, build.get("compare"))
    manifest: Manifest = {
        "format": FORMAT,
        "atlas_version": __version__,
        "generated_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "model": build["model"],
        "settings": build["settings"],
        "views": [name for name in VIEWS if name in requested],
        "dataset": build.get("dataset"),
        "pages": {"index": "index.html", "summary": "summary.html", "joint": "joint.html",
                  **({"compare": COMPARE_PAGE} if compare else {}),
                  **({"classes": CLASSES_PAGE} if classes else {})},
        "layers": layers,
        "joint": _joint(store, build["joint"]),
        "compare": compare,
        "summary": _summary(analysis, found),
        "families_method": (analysis.get("families") or {}).get("method"),
    }
    if classes:  # absent without class pages: other builds' manifests unchanged
        manifest["classes"] = classes
    return manifest


def _joint(store: ResultStore, expressions: list[str]) -> list[JointEntry]:
    joint, entries = VIEWS["joint"], []
    assert isinstance(joint, Joint)  # declared in atlas/views/joint.py
    for index, expression in enumerate(expressions):
        record = store.load_view(None, index, joint.name)
        if record is None or record.get("status") == "failed":
            continue
        entry = _from_record(store, store.record_rel(None, index, joint.name),
                             joint.joint_entry, expression, record)
        if entry is not None:
            entries.append(entry)
    return entries


COMPARE_PAGE = "compare.html"


def _compare(store: ResultStore, spec: dict | None) -> CompareEntry | None:
    """The compare page's entry from the records of the build's compare units
    (`build.json`'s `compare`); None when the build has none stored."""
    view = VIEWS["compare"]
    units: list[CompareUnit] = []
    records: list[dict[str, Any]] = []
    for layer, unit in (spec or {}).get("units", []):
        record = store.load_view(layer, unit, view.name)
        if record is None or record.get("status") == "failed":
            continue
        entry: CompareUnit = {"label": f"{layer}:{unit}", "layer": layer, "unit": unit,
                              "page": unit_page(layer, unit)}
        # each record alone first: one that does not read is left out, not the page
        if _from_record(store, store.record_rel(layer, unit, view.name),
                        compare_entry, [entry], [record]) is not None:
            units.append(entry)
            records.append(record)
    return compare_entry(units, records)


def _cited_units(analysis: dict) -> set[tuple[str, int]]:
    """The units the summary shows images of: the shortcut's logits, the most
    polysemantic units and the listed class visualizations."""
    shortcut = analysis.get("shortcut") or {}
    polysemantic = analysis.get("polysemantic") or {}
    recognized = analysis.get("recognition") or {}
    return ({(row["layer"], row["class"]) for row in shortcut.get("classes", [])}
            | {(row["layer"], row["unit"]) for row in polysemantic.get("units", [])}
            | {(recognized["layer"], row["unit"]) for row in recognized.get("rows", [])})


SUMMARY_EXAMPLES = 5  # top examples shown beside a unit on the summary page


def _top_images(unit: Mapping[str, Any] | None) -> list[str]:
    examples = (unit or {}).get("views", {}).get("examples", {})
    return [item["image"] for item in examples.get("max", [])[:SUMMARY_EXAMPLES]]


def _summary(analysis: dict, units: dict[tuple[str, int], UnitEntry]) -> Summary:
    shortcut = analysis.get("shortcut")
    if shortcut is not None:
        classes = []
        for row in shortcut["classes"]:
            unit = units.get((row["layer"], row["class"]))
            positive = (unit or {}).get("views", {}).get("positive", {})
            classes.append({**row, "unit_page": unit_page(row["layer"], row["class"]),
                            "image": (positive.get("images") or [None])[0],
                            "top_images": _top_images(unit)})
        shortcut = {**shortcut, "classes": classes}
    polysemantic = analysis.get("polysemantic", {"method": "", "units": []})
    poly_units = []
    for row in polysemantic["units"]:
        unit = units.get((row["layer"], row["unit"])) or {}
        seeds = unit.get("views", {}).get("seeds", {})
        poly_units.append({"label": f"{row['layer']}:{row['unit']}",
                           "page": unit_page(row["layer"], row["unit"]),
                           "score": row["score"], "seeds_score": row.get("seeds_score"),
                           "diversity_score": row.get("diversity_score"),
                           "labels": row.get("labels", {}),
                           "images": seeds.get("images", []), "examples": _top_images(unit)})
    return {
        "colour": analysis.get("colour", {"method": "", "layers": []}),
        "shortcut": shortcut,
        "polysemantic": {"method": polysemantic["method"],
                         "source": polysemantic.get("source", "seeds"), "units": poly_units},
        "faithfulness": analysis.get("faithfulness"),
        "recognition": _recognition(analysis.get("recognition"), units),
        "concepts": analysis.get("concepts"),
    }


def _recognition(section: dict | None, units: dict[tuple[str, int], UnitEntry]
                 ) -> dict | None:
    """The recognition section with each listed unit's page and positive image."""
    if not section:
        return None
    rows = []
    for row in section["rows"]:
        unit = units.get((section["layer"], row["unit"])) or {}
        positive = unit.get("views", {}).get("positive", {})
        rows.append({**row, "page": unit_page(section["layer"], row["unit"]),
                     "image": (positive.get("images") or [None])[0]})
    return {**section, "rows": rows}


def write_manifest(store: ResultStore) -> Manifest:
    manifest = build_manifest(store)
    write_json_atomic(store.site_dir / MANIFEST, manifest)
    return manifest
