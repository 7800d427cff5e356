"""A synthetic atlas for site tests: tiny real PNGs plus a manifest per docs/manifest.md.

`make_manifest` needs no model and no torch, so the renderer can be tested
(and its pages looked at) on any machine. `page_refs` and `css_urls` pull the
URLs out of rendered files for link checks.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from atlas.fsio import write_json_atomic, write_png_atomic
from atlas.manifest_types import FORMAT

SEED = 0
LOSS_STEPS = 64
EVOLUTION_STEPS = [0, 16, 32, 48, 63]
MIXED3A = (("1x1", 64), ("3x3", 128), ("5x5", 32), ("pool proj", 32))
"""InceptionV1 mixed3a's branches as (label, width): 256 channels in all."""
UnitKey = tuple[str, int]  # (layer name, unit index)
ALL_VIEWS = ("positive", "negative", "diversity", "neuron", "seeds", "evolution", "kernel")
FAILED_REASON = ("the objective or image became NaN or infinite, also when retried with "
                 "learning rate 0.025")
"""What the build records for a view that went non-finite twice (see pipeline/schedule.py)."""
CLASS_COLOURS = ["#e6194b", "#3cb44b", "#ffe119", "#4363d8", "#f58231",
                 "#911eb4", "#46f0f0", "#f032e6", "#bcf60c", "#fabebe"]
COLOUR_NAMES = ["red", "green", "yellow", "blue", "orange",
                "purple", "cyan", "magenta", "lime", "pink"]
DIGITS = tuple("0123456789")
VIEW_ORDER = ("spectrum", "positive", "negative", "diversity", "neuron", "seeds", "evolution",
              "kernel", "examples")
"""Page order of the views (atlas.pipeline.views.VIEWS, less joint)."""
DATASET_VIEWS = ("spectrum", "examples")
DATASET_IMAGES = 24
"""Images in the synthetic dataset: every unit ranks all of them."""
EXAMPLE_COUNT = 10
SPECTRUM_EXAMPLES = 4
SKIPPED = 3
"""Files the synthetic dataset could not read; the first two are named."""
DATA_SCORES = ("faithfulness", "faithfulness_baseline", "super_stimulus", "positive_value",
               "example_polysemanticity")


def slugify(name: str) -> str:
    """A file-system-safe slug for a layer name ("features.0" -> "features.0")."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")
    return slug or "layer"


def _blob(rng: np.random.Generator, size: int) -> Image.Image:
    """A smooth random colour image, roughly what a feature visualization looks like."""
    coarse = rng.integers(0, 256, size=(4, 4, 3), dtype=np.uint8)
    return Image.fromarray(coarse, "RGB").resize((size, size), Image.BILINEAR)


def _kernel(rng: np.random.Generator) -> Image.Image:
    return Image.fromarray(rng.integers(0, 256, size=(5, 5, 3), dtype=np.uint8), "RGB")


def _write(site_dir: Path, path: str, img: Image.Image) -> str:
    write_png_atomic(site_dir / path, img)
    return path


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


class _Dataset:
    """A tiny labelled dataset on disk: whole digit-like images, and crops of them
    around a position, cut once per (image, layer, position) as the pipeline does."""

    def __init__(self, site_dir: Path, size: int, class_names: Sequence[str],
                 source_prefix: str) -> None:
        self.site_dir, self.size = site_dir, size
        self.base = "results/_examples/f00d"
        rng = np.random.default_rng(SEED + 1)  # apart from the views' draws
        self.labels = [{"class": str(class_names[i % len(class_names)]),
                        "colour": COLOUR_NAMES[self.colour(i)]}
                       for i in range(DATASET_IMAGES)]
        self.sources = [f"{source_prefix}{i}.png" for i in range(DATASET_IMAGES)]
        self.images = []
        for i in range(DATASET_IMAGES):
            colour = np.array([int(CLASS_COLOURS[self.colour(i)][k:k + 2], 16)
                               for k in (1, 3, 5)])
            mask = np.asarray(_blob(rng, size).convert("L"), dtype=np.float64)[..., None] / 255
            pixels = (mask > 0.5) * colour + (mask <= 0.5) * 20
            img = Image.fromarray(pixels.astype(np.uint8), "RGB")
            self.images.append(img)
            _write(site_dir, f"{self.base}/images/{i}.png", img)
        self.crops: set[str] = set()

    @staticmethod
    def colour(i: int) -> int:
        """Image i's colour: not tied to its class (i mod the class count)."""
        return (7 * i + i // 5) % len(COLOUR_NAMES)

    def example(self, slug: str, i: int, value: float, field: list[int] | None,
                grid: int | None) -> dict[str, Any]:
        """Image i as the example of a unit of layer `slug`: a crop of `field` pixels
        around its position in a `grid`-wide layer, or the whole image (linear layer)."""
        if field is None or grid is None:
            path, position = f"{self.base}/images/{i}.png", None
        else:
            position = [(5 * i) % grid, (7 * i + 3) % grid]
            path = f"{self.base}/{slug}/{i}-{position[0]}-{position[1]}.png"
            if path not in self.crops:
                scale = self.size / grid
                top = min(max(int(position[0] * scale) - field[0] // 2, 0), self.size - field[0])
                left = min(max(int(position[1] * scale) - field[1] // 2, 0), self.size - field[1])
                cut = self.images[i].crop((left, top, left + field[1], top + field[0]))
                _write(self.site_dir, path, cut)
                self.crops.add(path)
        return {"image": path, "source": self.sources[i], "value": round(value, 6),
                "position": position, "labels": dict(self.labels[i])}


def _examples_entry(data: _Dataset, rng: np.random.Generator, slug: str,
                    field: list[int] | None, grid: int | None) -> dict[str, Any]:
    """One unit's examples view: min, below, above and max over the whole dataset."""
    values = rng.normal(0.4, 1.0, DATASET_IMAGES).round(4)
    order = np.argsort(-values, kind="stable")
    threshold = 0.0 if values.min() < 0 < values.max() else float(np.median(values))
    below = [i for i in order if values[i] < threshold][:EXAMPLE_COUNT]
    above = [i for i in order[::-1] if values[i] >= threshold][:EXAMPLE_COUNT]

    def column(indices: Iterable[int]) -> list[dict[str, Any]]:
        return [data.example(slug, int(i), float(values[i]), field, grid) for i in indices]

    counts, edges = np.histogram(values, bins=8)
    quantiles = (0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99)
    return {
        "max": column(order[:EXAMPLE_COUNT]), "min": column(order[::-1][:EXAMPLE_COUNT]),
        "below": column(below), "above": column(above), "threshold": threshold,
        "histogram": {"edges": [round(float(e), 6) for e in edges],
                      "counts": [int(c) for c in counts]},
        "stats": {"mean": round(float(values.mean()), 6), "min": float(values.min()),
                  "max": float(values.max()),
                  "quantiles": {str(q): round(float(np.quantile(values, q)), 6)
                                for q in quantiles}},
    }


def _spectrum_entry(views: Mapping[str, Any]) -> dict[str, Any]:
    """The spectrum as the manifest composes it from the negative, examples and positive views."""
    def optimized(name: str) -> list[dict[str, Any]]:
        view = views.get(name) or {}
        if not view.get("images"):
            return []
        return [{"image": view["images"][0], "value": view["activations"][0]}]

    examples = views["examples"]
    columns = [{"name": "negative", "items": optimized("negative")}]
    columns += [{"name": name, "items": examples[name][:SPECTRUM_EXAMPLES]}
                for name in ("min", "below", "above", "max")]
    columns.append({"name": "positive", "items": optimized("positive")})
    return {"columns": columns, "threshold": examples["threshold"]}


def _label_shares(examples: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The dominant class and colour among a unit's top examples."""
    top = [item["labels"] for item in examples["max"]]
    shares = {}
    for key in ("class", "colour"):
        values = [labels[key] for labels in top if key in labels]
        if values:
            value = max(sorted(set(values)), key=values.count)
            shares[key] = {"value": value, "count": values.count(value), "of": len(top)}
    return shares


def _data_scores(rng: np.random.Generator, unit: Mapping[str, Any]) -> dict[str, Any]:
    """Faithfulness, super-stimulus and example polysemanticity of a unit with examples."""
    views, labels = unit["views"], unit["labels"]
    positive = views.get("positive")
    data_max = views["examples"]["stats"]["max"]
    value = round(float(data_max * rng.uniform(0.8, 3.0)), 6) if positive else None
    shares = [share["count"] / share["of"] for share in labels.values()]
    return {
        "faithfulness": round(float(rng.uniform(0.3, 0.9)), 4) if positive else None,
        "faithfulness_baseline": round(float(rng.uniform(-0.1, 0.2)), 4) if positive else None,
        "super_stimulus": round(value / data_max, 4) if value is not None and data_max else None,
        "positive_value": value,
        "example_polysemanticity": round(1 - max(shares), 4) if shares else None,
    }


def _branch_ranges(widths: Sequence[tuple[str, int]]) -> list[dict[str, Any]]:
    """(label, width) pairs as consecutive channel ranges, stop exclusive."""
    ranges, start = [], 0
    for label, width in widths:
        ranges.append({"label": label, "start": start, "stop": start + width})
        start += width
    return ranges


def _branch_label(ranges: list[dict[str, Any]], index: int) -> str | None:
    return next((r["label"] for r in ranges if r["start"] <= index < r["stop"]), None)


def _mean(values: Iterable[float | None]) -> float | None:
    found = [v for v in values if v is not None]
    return round(float(np.mean(found)), 4) if found else None


def _examples_colour(layer: Mapping[str, Any]) -> dict[str, Any]:
    """A colour row's data columns: the mean shares of the units' top examples."""
    def share(unit: Mapping[str, Any], key: str) -> float | None:
        found = unit.get("labels", {}).get(key)
        return found["count"] / found["of"] if found else None

    colour = _mean(share(u, "colour") for u in layer["units"])
    shape = _mean(share(u, "class") for u in layer["units"])
    verdict = None if colour is None or shape is None else "colour" if colour > shape else "shape"
    return {"top_colour_share": colour, "top_class_share": shape, "examples_verdict": verdict}


def _top_images(unit: Mapping[str, Any]) -> list[str]:
    examples = unit.get("views", {}).get("examples")
    return [item["image"] for item in examples["max"][:5]] if examples else []


def _shortcut_counts(unit: Mapping[str, Any]) -> dict[str, Any]:
    """How many of a class logit's top examples show its class and wear its colour."""
    examples = unit.get("views", {}).get("examples")
    if not examples:
        return {}
    labels = [item["labels"] for item in examples["max"]]
    index = unit["index"]
    return {"top_count": len(labels),
            "top_of_class": sum(item.get("class") == str(index) for item in labels),
            "top_in_class_colour": sum(item.get("colour") == COLOUR_NAMES[index % 10]
                                       for item in labels),
            "top_images": _top_images(unit)}


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
    failed with no views and no `failed_views`; `dead` units have `"dead": true`.

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
                "views": {v: unit_views[v] for v in wanted if v in unit_views},
                "scores": {"polysemanticity": poly, "colour": colour if probe else None,
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
                 "units": unit_entries}
        if name in (branches or {}):
            entry["branches"] = ranges
        layer_entries.append(entry)
        architecture.append({"name": name, "type": layer_type, "shape": shape,
                             "channels": channels})

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
        "dataset": None if data is None else {
            "spec": "colored-digits",
            "description": f"colored-digits: {DATASET_IMAGES} held-out digits, coloured at random",
            "images": DATASET_IMAGES, "skipped": SKIPPED,
            "skipped_sources": [f"{source_prefix}broken-{i}.png" for i in range(2)],
            "label_keys": ["class", "colour"], "fingerprint": "f00d",
        },
        "pages": {"index": "index.html", "summary": "summary.html", "joint": "joint.html"},
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
