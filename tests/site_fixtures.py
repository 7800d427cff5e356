"""A synthetic atlas for site tests: tiny real PNGs plus a manifest per docs/manifest.md.

`make_manifest` needs no model and no torch, so the renderer can be tested
(and its pages looked at) on any machine. `page_refs` and `css_urls` pull the
URLs out of rendered files for link checks. The dataset half of the manifest
(`dataset=True`) is fabricated in `dataset_fixtures`.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
from dataset_fixtures import (
    CLASS_COLOURS,
    DATA_SCORES,
    DATASET_IMAGES,  # noqa: F401 - tests import it from here
    DATASET_VIEWS,
    DIGITS,
    EXAMPLE_COUNT,  # noqa: F401 - tests import it from here
    _data_scores,
    _Dataset,
    _examples_colour,
    _examples_entry,
    _label_shares,
    _shortcut_counts,
    _spectrum_entry,
    _top_images,
)
from fixture_common import SEED, _blob, _mean, _write
from PIL import Image

from atlas.fsio import write_json_atomic
from atlas.manifest_types import FORMAT

LOSS_STEPS = 64
EVOLUTION_STEPS = [0, 16, 32, 48, 63]
MIXED3A = (("1x1", 64), ("3x3", 128), ("5x5", 32), ("pool proj", 32))
"""InceptionV1 mixed3a's branches as (label, width): 256 channels in all."""
UnitKey = tuple[str, int]  # (layer name, unit index)
ALL_VIEWS = ("positive", "negative", "diversity", "neuron", "seeds", "evolution", "kernel")
FAILED_REASON = ("the objective or image became NaN or infinite, also when retried with "
                 "learning rate 0.025")
"""What the build records for a view that went non-finite twice (see pipeline/optimize/schedule.py)."""
VIEW_ORDER = ("spectrum", "positive", "negative", "diversity", "neuron", "seeds", "evolution",
              "kernel", "examples")
"""Page order of the views (atlas.views.VIEWS, less joint)."""


def slugify(name: str) -> str:
    """A file-system-safe slug for a layer name ("features.0" -> "features.0")."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")
    return slug or "layer"


def _kernel(rng: np.random.Generator) -> Image.Image:
    return Image.fromarray(rng.integers(0, 256, size=(5, 5, 3), dtype=np.uint8), "RGB")


def _unit_views(
    site_dir: Path, rng: np.random.Generator, base: str, spatial: bool, kernel: bool, size: int,
    wanted: Collection[str] = ALL_VIEWS,
) -> dict[str, Any]:
    """The views of one unit (those in `wanted` that apply), images written under `base`.

    Images of views not wanted are never drawn or written (large layers stay fast).
    """

    def imgs(view: str, n: int) -> list[str]:
        if view not in wanted:
            return []
        return [_write(site_dir, f"{base}/{view}-{k}.png", _blob(rng, size)) for k in range(n)]

    def acts(n: int, centre: float) -> list[float]:
        return [round(float(centre + rng.normal(0, 0.2)), 4) for _ in range(n)]

    t = np.arange(LOSS_STEPS)
    loss = (3.0 * (1 - np.exp(-t / 12)) + rng.normal(0, 0.03, LOSS_STEPS)).round(4).tolist()
    views: dict[str, Any] = {
        "positive": {"images": imgs("positive", 1), "activations": acts(1, 3.1)},
        "negative": {"images": imgs("negative", 1), "activations": acts(1, -2.4)},
        "diversity": {"images": imgs("diversity", 4), "activations": acts(4, 2.8)},
    }
    if spatial:
        views["neuron"] = {"images": imgs("neuron", 3), "activations": acts(3, 4.0),
                           "positions": [[7, 7], [14, 14], [21, 21]]}
    views["seeds"] = {"images": imgs("seeds", 5), "activations": acts(5, 3.0),
                      "seeds": [0, 1, 2, 3, 4]}
    views["evolution"] = {"images": imgs("evolution", len(EVOLUTION_STEPS)),
                          "activations": [loss[s] for s in EVOLUTION_STEPS],
                          "steps": list(EVOLUTION_STEPS), "loss": loss}
    if kernel and "kernel" in wanted:
        views["kernel"] = {"images": [_write(site_dir, f"{base}/kernel-0.png", _kernel(rng))],
                           "activations": [None], "weight_range": [-0.31, 0.28]}
    return {name: view for name, view in views.items() if name in wanted}


def _branch_ranges(widths: Sequence[tuple[str, int]]) -> list[dict[str, Any]]:
    """(label, width) pairs as consecutive channel ranges, stop exclusive."""
    ranges, start = [], 0
    for label, width in widths:
        ranges.append({"label": label, "start": start, "stop": start + width})
        start += width
    return ranges


def _branch_label(ranges: list[dict[str, Any]], index: int) -> str | None:
    return next((r["label"] for r in ranges if r["start"] <= index < r["stop"]), None)


def _summary(layer_entries: list[dict[str, Any]], probe: bool, dataset: bool) -> dict[str, Any]:
    """The manifest's summary; without `probe`, only saturation is measured; with
    `dataset`, the parts read from the dataset examples are there too."""
    first, last = layer_entries[0], layer_entries[-1]
    colour_rows = [{"name": layer["name"], "colour_score": 0.8 - 0.3 * i,
                    "shape_score": 0.2 + 0.3 * i, "saturation": 0.5,
                    "verdict": "colour" if i == 0 else "shape"}
                   for i, layer in enumerate(layer_entries[:-1])]
    if not probe:
        colour_rows = [{**row, "colour_score": None, "shape_score": None, "verdict": None,
                        "saturation": 0.25 + 0.125 * i} for i, row in enumerate(colour_rows)]
    colour: dict[str, Any] = {
        "method": ("Colour score: mean saturation-weighted hue agreement of the seeds."
                   if probe else "Saturation: mean HSV saturation of the positive images."),
        "layers": colour_rows,
    }
    if dataset:
        colour["examples_method"] = "Top examples: the share wearing one colour or one class."
        colour["layers"] = [{**row, **_examples_colour(layer)}
                            for row, layer in zip(colour_rows, layer_entries)]
    poly_units = [] if not probe and not dataset else [
        {"label": u["label"], "page": u["page"], "score": 0.41 - 0.1 * k,
         "images": u["views"].get("seeds", {}).get("images", [])}
        for k, u in enumerate(first["units"][:2])]
    if dataset:
        poly_units = [{**row, "seeds_score": 0.2 + 0.05 * k, "diversity_score": None if k else 0.33,
                       "labels": u["labels"], "examples": _top_images(u)}
                      for k, (row, u) in enumerate(zip(poly_units, first["units"]))]
    return {
        "colour": colour,
        "shortcut": None if not probe else {
            "method": "Accuracy on test sets with and without the colour bias.",
            "biased_accuracy": 0.98, "unbiased_accuracy": 0.41,
            "colour_swap": {"follows_colour": 0.7, "follows_shape": 0.2},
            "classes": [{"class": u["index"], "unit_page": u["page"],
                         "image": (u["views"].get("positive", {}).get("images") or [None])[0],
                         "class_colour": CLASS_COLOURS[u["index"] % 10],
                         "image_colour": "#d02040", "matches": u["index"] % 2 == 0,
                         **_shortcut_counts(u)}
                        for u in last["units"]],
        },
        "polysemantic": {
            "method": ("One minus the largest label share among the top examples." if dataset
                       else "One minus the mean pairwise similarity of the seed images."),
            "source": "examples" if dataset else "seeds",
            "units": poly_units,
        },
        "faithfulness": None if not dataset else {
            "method": "Rank correlation of the positive image with the top examples.",
            "layers": [{"name": layer["name"],
                        "faithfulness": _mean(u["scores"]["faithfulness"] for u in layer["units"]),
                        "baseline": _mean(u["scores"]["faithfulness_baseline"]
                                          for u in layer["units"]),
                        "super_stimulus": _mean(u["scores"]["super_stimulus"]
                                                for u in layer["units"])}
                       for layer in layer_entries],
        },
    }


def make_manifest(
    site_dir: Path,
    layers: Sequence[str | tuple[str, str]] = ("conv1", "conv2", "fc"),
    units: int | Sequence[int] = 3,
    *,
    failed: Iterable[UnitKey] | Mapping[UnitKey, Mapping[str, str]] = (),
    no_views: Iterable[UnitKey] = (),
    dead: Iterable[UnitKey] = (),
    flags: Mapping[UnitKey, Sequence[str]] | None = None,
    image_size: int = 28,
    write_json: bool = True,
    branches: Mapping[str, Sequence[tuple[str, int]]] | None = None,
    probe: bool = True,
    joint: bool = True,
    preprocess: str | None = "none",
    views: Collection[str] = ALL_VIEWS,
    dataset: bool = False,
    class_names: Sequence[str] = DIGITS,
    source_prefix: str = "test/",
) -> dict[str, Any]:
    """Write PNGs for a synthetic atlas into `site_dir` and return its manifest.

    `layers` are names, or (name, slug) pairs to force a slug (e.g. one with
    spaces or `#` to test quoting). `units` is a count per layer, or one count
    for all. The last layer is treated as the classifier (no spatial views),
    the first one gets kernels. Also writes `atlas.json` unless `write_json` is
    False.

    `failed` units (as (layer name, index) pairs) get status "failed" and their
    negative view moves to `failed_views` with `FAILED_REASON`; as a mapping to
    {view: reason}, those views fail (e.g. "positive"). `no_views` units are
    failed with no views and no `failed_views`; `dead` units have `"dead": true`;
    `flags` gives units their data flags (pipeline/analysis/flags.py).

    `branches` maps a layer name to its branches as (label, width) pairs (e.g.
    `MIXED3A`): the layer then has that many channels, of which its first
    `units` are in the atlas, each unit carrying its branch label. `probe=False`
    gives a model without probe data: no accuracy, no shortcut, colour rows
    with saturation only, no polysemantic units, no colour scores. `joint=False`
    leaves the joint list empty; `preprocess=None` leaves `model.preprocess`
    out (an older manifest). `views` limits the views written (only
    `{"positive"}` is fast enough for layers of hundreds of units).

    `dataset=True` scans a synthetic dataset of `DATASET_IMAGES` digit-like
    images (whole images for the classifier, crops of them at a receptive field
    for conv layers, all real PNGs): every unit gets the examples and spectrum
    views, its dominant labels and data scores, the manifest its `dataset`, and
    the summary its data columns and faithfulness. Classes are `class_names`
    (by image index), sources `<source_prefix><i>.png`: pass hostile text to
    test escaping. A unit whose "examples" view fails has no spectrum either.
    """
    site_dir = Path(site_dir)
    rng = np.random.default_rng(SEED)
    counts = [units] * len(layers) if isinstance(units, int) else list(units)
    failures = (dict(failed) if isinstance(failed, Mapping)
                else {key: {"negative": FAILED_REASON} for key in failed})
    empty, dead_set = set(no_views), set(dead)
    data = _Dataset(site_dir, image_size, class_names, source_prefix) if dataset else None
    data_rng = np.random.default_rng(SEED + 2)
    wanted = [v for v in VIEW_ORDER if v in views or (dataset and v in DATASET_VIEWS)]
    layer_entries = []
    architecture = []
    for pos, (spec, count) in enumerate(zip(layers, counts, strict=True)):
        name, slug = spec if isinstance(spec, tuple) else (spec, slugify(spec))
        ranges = _branch_ranges((branches or {}).get(name, ()))
        channels = ranges[-1]["stop"] if ranges else count
        classifier = pos == len(layers) - 1
        shape = [channels] if classifier else [channels, image_size >> pos, image_size >> pos]
        field = None if classifier else [min(image_size, 5 + 6 * pos)] * 2
        unit_entries = []
        for index in range(count):
            base = f"results/{slug}/{index}"
            unit_views = _unit_views(site_dir, rng, base, not classifier, pos == 0, image_size,
                                     views)
            poly = round(float(rng.uniform(0, 1)), 4)
            colour = None if classifier else round(float(rng.uniform(0, 1)), 4)
            lost = failures.get((name, index), {})
            if data is not None:
                unit_views["examples"] = _examples_entry(data, data_rng, slug,
                                                         field, None if classifier else shape[1])
            unit_views = {v: entry for v, entry in unit_views.items() if v not in lost}
            if data is not None and "examples" in unit_views:
                unit_views["spectrum"] = _spectrum_entry(unit_views)
            if (name, index) in empty:
                unit_views = {}
            unit_entry = {
                "index": index,
                "page": f"units/{slug}/{index}.html",
                "label": f"{name}:{index}",
                "branch": _branch_label(ranges, index),
                "status": "failed" if lost or (name, index) in empty else "ok",
                "dead": (name, index) in dead_set,
                "flags": list((flags or {}).get((name, index), [])),
                "views": {v: unit_views[v] for v in wanted if v in unit_views},
                "scores": {"polysemanticity": poly, "colour": colour if probe else None,
                           "diversity_spread": round(poly * 20, 4) if poly is not None else None,
                           **dict.fromkeys(DATA_SCORES)},
                "labels": {},
            }
            if "examples" in unit_entry["views"]:
                unit_entry["labels"] = _label_shares(unit_entry["views"]["examples"])
                unit_entry["scores"].update(_data_scores(data_rng, unit_entry))
            if lost:
                unit_entry["failed_views"] = dict(lost)
            unit_entries.append(unit_entry)
        layer_type = "Linear" if classifier else "Conv2d"
        entry = {"name": name, "slug": slug, "page": f"layers/{slug}.html", "type": layer_type,
                 "shape": shape, "channels": channels, "receptive_field": field,
                 "families": _families(unit_entries), "units": unit_entries}
        if name in (branches or {}):
            entry["branches"] = ranges
        layer_entries.append(entry)
        architecture.append({"name": name, "type": layer_type, "shape": shape,
                             "channels": channels})

    _connect(layer_entries)
    first, last = layer_entries[0], layer_entries[-1]
    joint_image = _write(site_dir, "results/joint/0.png", _blob(rng, image_size))
    model = {
        "spec": "colored-digits",
        "title": "Biased Colored Digits CNN",
        "description": "A small CNN trained on MNIST digits whose colour gives away the class.",
        "weights": "colored_digits.pt",
        "weights_sha256": "ab12" * 16,
        "input_size": image_size,
        "parameters": 25034,
        "architecture": architecture,
        "accuracy": {"biased_test": 0.98, "unbiased_test": 0.41} if probe else {},
    }
    if preprocess is not None:
        model["preprocess"] = preprocess
    manifest = {
        "format": FORMAT,
        "atlas_version": "0.1.0",
        "generated_at": "2026-11-23T18:00:00Z",
        "model": model,
        "settings": {
            "steps": LOSS_STEPS, "image_size": image_size, "seed": SEED, "lr": 0.05,
            "param": "fft+decorrelate, sigmoid",
            "transforms": "pad 3, jitter 2, scale 0.9–1.1, rotate ±10°, jitter 1",
            "tv_weight": 0.001, "l2_weight": 0.0001, "diversity_weight": 10.0,
            "views": [v for v in VIEW_ORDER if v in ALL_VIEWS or (dataset and v in DATASET_VIEWS)],
        },
        "views": wanted,
        "dataset": None if data is None else data.entry(),
        "pages": {"index": "index.html", "summary": "summary.html", "joint": "joint.html"},
        "families_method": FAMILIES_METHOD,
        "compare": None,  # no techniques page (tests/test_compare_*.py build real ones)
        "layers": layer_entries,
        "joint": [] if not joint else [{
            "label": f"{last['name']}:0 + {first['name']}:1",
            "terms": [
                {"label": f"{last['name']}:0", "layer": last["name"], "unit": 0, "weight": 1.0},
                {"label": f"{first['name']}:1", "layer": first["name"], "unit": 1, "weight": 0.5},
            ],
            "images": [joint_image],
            "activations": [[5.1, 4.3]],
        }],
        "summary": _summary(layer_entries, probe, dataset),
    }
    if write_json:
        write_json_atomic(site_dir / "atlas.json", manifest)
    return manifest


CONNECTIONS = 2  # per unit and direction
CONNECTION_MAP = [[3, -40, 99], [0, 12, -99], [-7, 55, 20]]


def _connect(layers: list[dict[str, Any]]) -> None:
    """Each unit reads the first CONNECTIONS units of the layer before it and feeds
    the first CONNECTIONS of the layer after it, with one fixed 3x3 map."""
    for unit in (u for layer in layers for u in layer["units"]):
        unit["connections"] = {}
    for earlier, later in zip(layers, layers[1:]):
        for unit in later["units"]:
            unit["connections"]["in"] = [
                {"layer": earlier["name"], "unit": u["index"], "weight": round(0.5 / (i + 1), 4),
                 "scale": 0.001, "map": CONNECTION_MAP}
                for i, u in enumerate(earlier["units"][:CONNECTIONS])]
        for unit in earlier["units"]:
            unit["connections"]["out"] = [
                {"layer": later["name"], "unit": u["index"], "weight": round(0.4 / (i + 1), 4),
                 "scale": 0.001, "map": CONNECTION_MAP}
                for i, u in enumerate(later["units"][:CONNECTIONS])]


FAMILIES_METHOD = "Units are grouped by how their activations correlate (a fixture)."


def _families(units: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One family of the first half of a layer's units (at least two), named by the
    first member's class label where it has one; its members get "family": 1."""
    members = units[: len(units) // 2]
    for position, unit in enumerate(units):
        unit["family"] = 1 if position < len(members) and len(members) >= 2 else None
    if len(members) < 2:
        return []
    label = (members[0].get("labels") or {}).get("class")
    name = f"class {label['value']} (1 of {len(members)})" if label else "family 1"
    return [{"number": 1, "name": name, "units": [u["index"] for u in members],
             "share": round(len(members) / len(units), 4), "correlation": 0.75}]


class _RefParser(HTMLParser):
    """Collects (tag, attribute, value) of every URL-bearing attribute, and element ids."""

    URL_ATTRS = frozenset({"href", "src", "srcset", "poster", "data", "action", "formaction"})

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[tuple[str, str, str]] = []
        self.ids: set[str] = set()
        self.styles: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for attr, value in attrs:
            if value is None:
                continue
            if attr in self.URL_ATTRS:
                self.refs.append((tag, attr, value))
            elif attr == "id":
                self.ids.add(value)
            elif attr == "style":
                self.styles.append(value)

    def handle_data(self, data: str) -> None:
        if self.lasttag == "style":
            self.styles.append(data)


def page_refs(html: str) -> tuple[list[tuple[str, str, str]], set[str], list[str]]:
    """URL attributes (tag, attr, value), element ids and inline CSS texts of one page."""
    parser = _RefParser()
    parser.feed(html)
    return parser.refs, parser.ids, parser.styles


def css_urls(css: str) -> list[str]:
    """The targets of every `url(...)` and `@import` in a piece of CSS."""
    urls = re.findall(r"url\(\s*['\"]?([^'\")]+)", css)
    urls += re.findall(r"@import\s+['\"]([^'\"]+)", css)
    return urls
