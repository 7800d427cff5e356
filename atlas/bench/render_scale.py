"""How long the site takes to render for a large atlas: a synthetic manifest of
many units (HTML only; the images it names need not exist), with what a full
build gives each unit: labels, scores, families, connections (12 each way, 5x5
maps), and the search index."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from atlas import __version__
from atlas.manifest_types import FORMAT

VIEW_IMAGES = {"positive": 1, "negative": 1, "diversity": 4, "neuron": 3, "seeds": 5,
               "evolution": 12}
FAMILY_SIZE = 16  # units per synthetic family: a layer of 1,000 has 62 of them
CONNECTIONS = 12  # per unit and direction, the default
MAP_SIDE = 5  # InceptionV1's consecutive mixed layers connect through 5x5 maps
DEAD_EVERY = 97  # every 97th unit is dead


def _score(layer: int, unit: int, salt: int) -> float:
    """A deterministic number in [0, 1) that varies from unit to unit."""
    return ((layer * 7919 + unit * 104729 + salt * 1299709) % 10007) / 10007


def _connect(layers: list[dict]) -> None:
    """Every unit reads CONNECTIONS units of the layer before and feeds CONNECTIONS
    of the layer after, each with a MAP_SIDE x MAP_SIDE map."""
    for layer in layers:
        for unit in layer["units"]:
            unit["connections"] = {}
    for number, (earlier, later) in enumerate(zip(layers, layers[1:])):
        for direction, units, others in (("in", later["units"], earlier),
                                         ("out", earlier["units"], later)):
            count = len(others["units"])
            for unit in units:
                unit["connections"][direction] = [
                    {"layer": others["name"], "unit": (unit["index"] * 7 + k * 13) % count,
                     "weight": round(1.0 / (k + 1), 4), "scale": 0.001,
                     "map": [[int(198 * _score(number, unit["index"], k * 31 + r * 7 + c)) - 99
                              for c in range(MAP_SIDE)] for r in range(MAP_SIDE)]}
                    for k in range(min(CONNECTIONS, count))]


def _families(units: list[dict]) -> list[dict]:
    families = []
    for number, start in enumerate(range(0, len(units) - 1, FAMILY_SIZE), start=1):
        members = units[start:start + FAMILY_SIZE]
        for unit in members:
            unit["family"] = number
        families.append({"number": number, "name": f"class {number % 10} ({len(members)} of "
                         f"{len(members)})", "units": [u["index"] for u in members],
                         "share": round(len(members) / len(units), 4), "correlation": 0.7})
    return families


def synthetic_manifest(layers: int, units_per_layer: int, steps: int = 512) -> dict:
    """A manifest shaped like a full InceptionV1 build: every unit with every view."""
    layer_entries = []
    for l in range(layers):
        name = f"mixed{l}"
        units = []
        for u in range(units_per_layer):
            base = f"results/{name}/{u}"
            views = {view: {"images": [f"{base}/{view}-{i}.png" for i in range(count)],
                            "activations": [1.0 + i for i in range(count)]}
                     for view, count in VIEW_IMAGES.items()}
            views["neuron"]["positions"] = [[4, 4], [8, 8], [12, 12]]
            views["seeds"]["seeds"] = list(range(5))
            views["evolution"]["steps"] = [min(steps, 50 * i) for i in range(12)]
            views["evolution"]["loss"] = [i / steps for i in range(steps)]
            units.append({"index": u, "page": f"units/{name}/{u}.html", "label": f"{name}:{u}",
                          "branch": None, "status": "ok", "dead": u % DEAD_EVERY == 5,
                          "views": views,
                          "scores": {"polysemanticity": round(_score(l, u, 1), 4),
                                     "colour": round(_score(l, u, 2), 4),
                                     "faithfulness": round(_score(l, u, 3), 4)},
                          "labels": {"class": {"value": str(u % 10), "count": 7, "of": 10}}})
        families = _families(units)
        layer_entries.append({"name": name, "slug": name, "page": f"layers/{name}.html",
                              "type": "CatLayer", "shape": [units_per_layer, 14, 14],
                              "channels": units_per_layer, "branches": [], "families": families,
                              "units": units})
    _connect(layer_entries)
    return {
        "format": FORMAT, "atlas_version": __version__, "generated_at": "2026-01-01T00:00:00Z",
        "model": {"spec": "synthetic", "title": "Synthetic", "description": "x",
                  "weights": None, "weights_sha256": None, "input_size": 128,
                  "parameters": 1, "preprocess": "none",
                  "architecture": [{"name": e["name"], "type": e["type"], "shape": e["shape"],
                                    "channels": e["channels"]} for e in layer_entries],
                  "accuracy": {}},
        "settings": {"steps": steps, "image_size": 128, "seed": 0, "lr": 0.05,
                     "param": "fft+decorrelate, sigmoid", "transforms": "standard",
                     "tv_weight": 0.0, "l2_weight": 0.0, "diversity_weight": 4.0,
                     "views": list(VIEW_IMAGES)},
        "pages": {"index": "index.html", "summary": "summary.html", "joint": "joint.html"},
        "families_method": "Synthetic families of 16 consecutive units.",
        "layers": layer_entries, "joint": [],
        "summary": {"colour": {"method": "m", "layers": []}, "shortcut": None,
                    "polysemantic": {"method": "m", "units": []}},
    }


def time_render(layers: int = 10, units_per_layer: int = 1000,
                workers: int | None = None) -> tuple[int, float]:
    """(pages written, seconds) for rendering the synthetic atlas once, with
    `workers` processes (None: as `atlas render` chooses)."""
    from atlas.site import render_site

    manifest = synthetic_manifest(layers, units_per_layer)
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        pages = render_site(manifest, Path(folder), progress=False, workers=workers)
        return len(pages), time.perf_counter() - started
