"""A synthetic atlas shaped like a build: units with the views, dataset examples,
spectrum, labels, scores, families and connections a real build gives them, made
from numbers alone. The render benchmark renders thousands of them; `atlas plan`
renders a few shaped like the build it prices, to weigh its pages and files."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from atlas.manifest_types import FORMAT
from atlas.version import __version__

VIEW_IMAGES = {"positive": 1, "negative": 1, "diversity": 4, "neuron": 3, "seeds": 5,
               "evolution": 12}
FAMILY_SIZE = 16  # units per synthetic family: a layer of 1,000 has 62 of them
CONNECTIONS = 12  # per unit and direction, the default
MAP_SIDE = 5  # InceptionV1's consecutive mixed layers connect through 5x5 maps
DEAD_EVERY = 97  # every 97th unit is dead
EXAMPLES = 10  # per column, the build's default
DATASET_IMAGES = 10_000  # the synthetic dataset the examples are drawn from


@dataclass(frozen=True)
class UnitShape:
    """What each unit holds: images per optimized view, dataset examples per column
    (0: no dataset), connections per direction, steps of the loss curve (kept where
    the evolution view is), and how its files are named."""

    views: dict = field(default_factory=lambda: dict(VIEW_IMAGES))
    examples: int = EXAMPLES
    connections: int = CONNECTIONS
    steps: int = 512
    image_suffix: str = "png"
    crops: str = "f00d-112px-q87"  # the examples' folder
    crop_suffix: str = "webp"
    source: str = "photos/class{label}/img{image:05d}.jpg"  # a dataset file's name
    spectrum: bool = True  # the six-column spectrum view (with examples)
    map_side: int = MAP_SIDE  # of each connection's spatial map


def _score(layer: int, unit: int, salt: int) -> float:
    """A deterministic number in [0, 1) that varies from unit to unit."""
    return ((layer * 7919 + unit * 104729 + salt * 1299709) % 10007) / 10007


def _connections(layer: int, layers: int, units_per_layer: int, unit: int,
                 count: int, side: int) -> dict:
    """The unit reads `count` units of the layer before and feeds `count` of the layer
    after, each with a `side` x `side` map; made from the numbers alone, so each
    layer can be made without the others."""
    found = {}
    for direction, other, number in (("in", layer - 1, layer - 1), ("out", layer + 1, layer)):
        if not 0 <= other < layers or not count:
            continue
        found[direction] = [
            {"layer": f"mixed{other}", "unit": (unit * 7 + k * 13) % units_per_layer,
             "weight": round(1.0 / (k + 1), 4), "scale": 0.001,
             "map": [[int(198 * _score(number, unit, k * 31 + r * 7 + c)) - 99
                      for c in range(side)] for r in range(side)]}
            for k in range(min(count, units_per_layer))]
    return found


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


def _example(name: str, unit: int, column: int, k: int, shape: UnitShape) -> dict:
    image = (unit * 7919 + column * 104729 + k * 31) % DATASET_IMAGES
    y, x = k % 14, (unit + k) % 14
    return {"image": f"results/_examples/{shape.crops}/{name}/{image}-{y}-{x}."
                     f"{shape.crop_suffix}",
            "source": shape.source.format(label=image % 10, image=image),
            "value": round(2.0 - column - k / 10, 6), "position": [y, x],
            "labels": {"class": str(image % 10)}}


def _data_views(name: str, unit: int, views: dict, shape: UnitShape) -> None:
    """The examples and spectrum views as a build with a dataset gives them."""
    columns = {column: [_example(name, unit, c, k, shape) for k in range(shape.examples)]
               for c, column in enumerate(("max", "above", "below", "min"))}
    views["examples"] = {**columns, "threshold": 0.0,
                         "histogram": {"edges": [round(-3 + 0.2 * i, 2) for i in range(31)],
                                       "counts": [(unit * i) % 97 for i in range(30)]},
                         "stats": {"mean": 0.1, "min": -3.0, "max": 3.0,
                                   "quantiles": {"0.01": -2.5, "0.5": 0.0, "0.99": 2.5}}}
    optimized = [{"name": name, "items": [{"image": views[name]["images"][0], "value": -1.0}]}
                 for name in ("negative",) if name in views]
    optimized += [{"name": column, "items": columns[column][:4]}
                  for column in ("min", "below", "above", "max")]
    optimized += [{"name": name, "items": [{"image": views[name]["images"][0], "value": 1.0}]}
                  for name in ("positive",) if name in views]
    if shape.spectrum:
        views["spectrum"] = {"columns": optimized, "threshold": 0.0}


def synthetic_layer(number: int, layers: int, units_per_layer: int,
                    shape: UnitShape = UnitShape()) -> dict:
    """The `number`-th layer of a synthetic atlas of `layers`, with its units."""
    name = f"mixed{number}"
    units = []
    for u in range(units_per_layer):
        base = f"results/{name}/{u}"
        views = {view: {"images": [f"{base}/{view}-{i}.{shape.image_suffix}"
                                   for i in range(count)],
                        "activations": [1.0 + i for i in range(count)]}
                 for view, count in shape.views.items()}
        if "neuron" in views:
            views["neuron"]["positions"] = [[4, 4], [8, 8], [12, 12]][:shape.views["neuron"]]
        if "seeds" in views:
            views["seeds"]["seeds"] = list(range(shape.views["seeds"]))
        if "evolution" in views:
            views["evolution"]["steps"] = [min(shape.steps, 50 * i)
                                           for i in range(shape.views["evolution"])]
            views["evolution"]["loss"] = [i / shape.steps for i in range(shape.steps)]
        if shape.examples:
            _data_views(name, u, views, shape)
        units.append({"index": u, "page": f"units/{name}/{u}.html", "label": f"{name}:{u}",
                      "branch": None, "status": "ok", "dead": u % DEAD_EVERY == 5,
                      "views": views,
                      "scores": {"polysemanticity": round(_score(number, u, 1), 4),
                                 "colour": round(_score(number, u, 2), 4),
                                 "faithfulness": round(_score(number, u, 3), 4)},
                      "labels": ({"class": {"value": str(u % 10), "count": 7, "of": 10}}
                                 if shape.examples else {}),
                      "connections": _connections(number, layers, units_per_layer, u,
                                                  shape.connections, shape.map_side)})
    families = _families(units)
    return {"name": name, "slug": name, "page": f"layers/{name}.html", "type": "CatLayer",
            "shape": [units_per_layer, 14, 14], "channels": units_per_layer, "branches": [],
            "families": families, "units": units}


def _index(layer_entries: list[dict], shape: UnitShape) -> dict:
    """The atlas around `layer_entries` (with or without their units)."""
    return {
        "format": FORMAT, "atlas_version": __version__, "generated_at": "2026-01-01T00:00:00Z",
        "model": {"spec": "synthetic", "title": "Synthetic", "description": "x",
                  "weights": None, "weights_sha256": None, "input_size": 128,
                  "parameters": 1, "preprocess": "none",
                  "architecture": [{"name": e["name"], "type": e["type"], "shape": e["shape"],
                                    "channels": e["channels"]} for e in layer_entries],
                  "accuracy": {}},
        "settings": {"steps": shape.steps, "image_size": 128, "seed": 0, "lr": 0.05,
                     "param": "fft+decorrelate, sigmoid", "transforms": "standard",
                     "tv_weight": 0.0, "l2_weight": 0.0, "diversity_weight": 4.0,
                     "views": _views(shape)},
        "pages": {"index": "index.html", "summary": "summary.html", "joint": "joint.html"},
        "families_method": "Synthetic families of 16 consecutive units.",
        "views": _views(shape),
        "dataset": {"spec": "photos/", "description": "photos/: 10,000 synthetic photographs",
                    "images": DATASET_IMAGES, "skipped": 0, "skipped_sources": [],
                    "label_keys": ["class"], "fingerprint": "f00d"},
        "layers": layer_entries, "joint": [],
        "summary": {"colour": {"method": "m", "layers": []}, "shortcut": None,
                    "polysemantic": {"method": "m", "units": []}},
    }


def _views(shape: UnitShape) -> list[str]:
    data = ["spectrum"] if shape.examples and shape.spectrum else []
    return data + list(shape.views) + (["examples"] if shape.examples else [])


def synthetic_manifest(layers: int, units_per_layer: int,
                       shape: UnitShape = UnitShape()) -> dict:
    """A manifest shaped like a full InceptionV1 build: every unit with every view."""
    return _index([synthetic_layer(number, layers, units_per_layer, shape)
                   for number in range(layers)], shape)


def _header(folder: Path, layer: dict) -> dict:
    """The layer's entry in the index, its units written to their file under `folder`."""
    from atlas.manifest_io import write_layer_file

    header = {key: value for key, value in layer.items() if key != "units"}
    header.update(units_file=write_layer_file(folder, layer["slug"], layer["name"],
                                              layer["units"]),
                  unit_count=len(layer["units"]), failed_views=0)
    return header


def write_synthetic(layers: int, units_per_layer: int, folder: Path,
                    shape: UnitShape = UnitShape()) -> dict:
    """Writes a synthetic atlas's layers to their files under `folder` one at a time (as
    a build does: no more than one layer's units are held); returns the index."""
    return _index([_header(folder, synthetic_layer(number, layers, units_per_layer, shape))
                   for number in range(layers)], shape)


def write_sharded(manifest: dict, folder: Path) -> dict:
    """Writes each layer's units of a whole `manifest` to its file under `folder`;
    returns the index (the manifest without units)."""
    return {**manifest, "layers": [_header(folder, layer) for layer in manifest["layers"]]}


