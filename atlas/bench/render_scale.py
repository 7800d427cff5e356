"""How long the site takes to render for a large atlas, and in how much memory: a
synthetic manifest of many units (HTML only; the images it names need not exist),
with what a full build gives each unit: every optimized view, dataset examples
(four columns of 10, histogram, statistics) and the spectrum, labels, scores,
families, connections (12 each way, 5x5 maps), and the search index. It is
written as a build writes it (an index and a file of units per layer) and
rendered from those files, a layer at a time."""

from __future__ import annotations

import gc
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

from atlas import __version__
from atlas.manifest_types import FORMAT

VIEW_IMAGES = {"positive": 1, "negative": 1, "diversity": 4, "neuron": 3, "seeds": 5,
               "evolution": 12}
FAMILY_SIZE = 16  # units per synthetic family: a layer of 1,000 has 62 of them
CONNECTIONS = 12  # per unit and direction, the default
MAP_SIDE = 5  # InceptionV1's consecutive mixed layers connect through 5x5 maps
DEAD_EVERY = 97  # every 97th unit is dead
EXAMPLES = 10  # per column, the build's default
DATASET_IMAGES = 10_000  # the synthetic dataset the examples are drawn from


def _score(layer: int, unit: int, salt: int) -> float:
    """A deterministic number in [0, 1) that varies from unit to unit."""
    return ((layer * 7919 + unit * 104729 + salt * 1299709) % 10007) / 10007


def _connections(layer: int, layers: int, units_per_layer: int, unit: int) -> dict:
    """The unit reads CONNECTIONS units of the layer before and feeds CONNECTIONS of
    the layer after, each with a MAP_SIDE x MAP_SIDE map; made from the numbers
    alone, so each layer can be made without the others."""
    found = {}
    for direction, other, number in (("in", layer - 1, layer - 1), ("out", layer + 1, layer)):
        if not 0 <= other < layers:
            continue
        found[direction] = [
            {"layer": f"mixed{other}", "unit": (unit * 7 + k * 13) % units_per_layer,
             "weight": round(1.0 / (k + 1), 4), "scale": 0.001,
             "map": [[int(198 * _score(number, unit, k * 31 + r * 7 + c)) - 99
                      for c in range(MAP_SIDE)] for r in range(MAP_SIDE)]}
            for k in range(min(CONNECTIONS, units_per_layer))]
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


def _example(name: str, unit: int, column: int, k: int) -> dict:
    image = (unit * 7919 + column * 104729 + k * 31) % DATASET_IMAGES
    y, x = k % 14, (unit + k) % 14
    return {"image": f"results/_examples/f00d-112px-q87/{name}/{image}-{y}-{x}.webp",
            "source": f"photos/class{image % 10}/img{image:05d}.jpg",
            "value": round(2.0 - column - k / 10, 4), "position": [y, x],
            "labels": {"class": str(image % 10)}}


def _data_views(name: str, unit: int, views: dict) -> None:
    """The examples and spectrum views as a build with a dataset gives them."""
    columns = {column: [_example(name, unit, c, k) for k in range(EXAMPLES)]
               for c, column in enumerate(("max", "above", "below", "min"))}
    views["examples"] = {**columns, "threshold": 0.0,
                         "histogram": {"edges": [round(-3 + 0.2 * i, 2) for i in range(31)],
                                       "counts": [(unit * i) % 97 for i in range(30)]},
                         "stats": {"mean": 0.1, "min": -3.0, "max": 3.0,
                                   "quantiles": {"0.01": -2.5, "0.5": 0.0, "0.99": 2.5}}}
    optimized = [{"name": "negative", "items": [{"image": views["negative"]["images"][0],
                                                 "value": -1.0}]}]
    optimized += [{"name": column, "items": columns[column][:4]}
                  for column in ("min", "below", "above", "max")]
    optimized.append({"name": "positive", "items": [{"image": views["positive"]["images"][0],
                                                     "value": 1.0}]})
    views["spectrum"] = {"columns": optimized, "threshold": 0.0}


def synthetic_layer(number: int, layers: int, units_per_layer: int,
                    steps: int = 512) -> dict:
    """The `number`-th layer of a synthetic atlas of `layers`, with its units."""
    name = f"mixed{number}"
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
        _data_views(name, u, views)
        units.append({"index": u, "page": f"units/{name}/{u}.html", "label": f"{name}:{u}",
                      "branch": None, "status": "ok", "dead": u % DEAD_EVERY == 5,
                      "views": views,
                      "scores": {"polysemanticity": round(_score(number, u, 1), 4),
                                 "colour": round(_score(number, u, 2), 4),
                                 "faithfulness": round(_score(number, u, 3), 4)},
                      "labels": {"class": {"value": str(u % 10), "count": 7, "of": 10}},
                      "connections": _connections(number, layers, units_per_layer, u)})
    families = _families(units)
    return {"name": name, "slug": name, "page": f"layers/{name}.html", "type": "CatLayer",
            "shape": [units_per_layer, 14, 14], "channels": units_per_layer, "branches": [],
            "families": families, "units": units}


def _index(layer_entries: list[dict], steps: int) -> dict:
    """The atlas around `layer_entries` (with or without their units)."""
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
                     "views": ["spectrum", *VIEW_IMAGES, "examples"]},
        "pages": {"index": "index.html", "summary": "summary.html", "joint": "joint.html"},
        "families_method": "Synthetic families of 16 consecutive units.",
        "views": ["spectrum", *VIEW_IMAGES, "examples"],
        "dataset": {"spec": "photos/", "description": "photos/: 10,000 synthetic photographs",
                    "images": DATASET_IMAGES, "skipped": 0, "skipped_sources": [],
                    "label_keys": ["class"], "fingerprint": "f00d"},
        "layers": layer_entries, "joint": [],
        "summary": {"colour": {"method": "m", "layers": []}, "shortcut": None,
                    "polysemantic": {"method": "m", "units": []}},
    }


def synthetic_manifest(layers: int, units_per_layer: int, steps: int = 512) -> dict:
    """A manifest shaped like a full InceptionV1 build: every unit with every view."""
    return _index([synthetic_layer(number, layers, units_per_layer, steps)
                   for number in range(layers)], steps)


def _header(folder: Path, layer: dict) -> dict:
    """The layer's entry in the index, its units written to their file under `folder`."""
    from atlas.manifest_io import write_layer_file

    header = {key: value for key, value in layer.items() if key != "units"}
    header.update(units_file=write_layer_file(folder, layer["slug"], layer["name"],
                                              layer["units"]),
                  unit_count=len(layer["units"]), failed_views=0)
    return header


def write_synthetic(layers: int, units_per_layer: int, folder: Path, steps: int = 512) -> dict:
    """Writes a synthetic atlas's layers to their files under `folder` one at a time (as
    a build does: no more than one layer's units are held); returns the index."""
    return _index([_header(folder, synthetic_layer(number, layers, units_per_layer, steps))
                   for number in range(layers)], steps)


def write_sharded(manifest: dict, folder: Path) -> dict:
    """Writes each layer's units of a whole `manifest` to its file under `folder`;
    returns the index (the manifest without units)."""
    return {**manifest, "layers": [_header(folder, layer) for layer in manifest["layers"]]}


@dataclass
class RenderRun:
    pages: int
    seconds: float
    peak_bytes: Optional[int]  # the process's resident high-water mark during the render
    largest_file: int  # bytes: the largest page or manifest file


def time_render(layers: int = 10, units_per_layer: int = 1000,
                workers: int | None = None) -> RenderRun:
    """Renders the synthetic atlas once from its sharded files, with `workers`
    processes (None: as `atlas render` chooses)."""
    from atlas.pipeline.memory_plan import peak_memory, reset_peak
    from atlas.site import render_site

    with tempfile.TemporaryDirectory() as folder:
        index = write_synthetic(layers, units_per_layer, Path(folder))
        gc.collect()
        reset_peak()
        started = time.perf_counter()
        pages = render_site(index, Path(folder), progress=False, workers=workers)
        seconds = time.perf_counter() - started
        peak = peak_memory(torch_cpu())
        largest = max(path.stat().st_size for path in Path(folder).rglob("*") if path.is_file())
        return RenderRun(len(pages), seconds, peak, largest)


def torch_cpu():
    import torch

    return torch.device("cpu")


def report_lines(sizes: list[int]) -> Iterator[str]:
    """One run per atlas size, as rows: time, pages/s, seconds per 1,000 units (flat when
    rendering grows linearly), the render's peak memory and its largest file."""
    from atlas.site.parallel import default_workers
    from atlas.sizes import format_size

    yield (f"render: synthetic atlases (layers of at most 1,000 units; every view, dataset "
           f"examples and spectrum, connections, families), sharded as a build writes them")
    yield (f"{'units':>8} {'pages':>8} {'processes':>9} {'seconds':>8} {'pages/s':>8} "
           f"{'s per 1k units':>14} {'peak memory':>12} {'largest file':>12}")
    for units in sizes:
        layers = max(1, -(-units // 1000))
        run = time_render(layers, units // layers)
        peak = format_size(run.peak_bytes) if run.peak_bytes else "-"
        yield (f"{units:>8,} {run.pages:>8,} {default_workers(run.pages):>9} "
               f"{run.seconds:>8.1f} {run.pages / run.seconds:>8.0f} "
               f"{run.seconds / units * 1000:>14.2f} {peak:>12} "
               f"{format_size(run.largest_file):>12}")
