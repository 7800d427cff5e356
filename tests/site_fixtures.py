"""A synthetic atlas for site tests: tiny real PNGs plus a manifest per docs/manifest.md.

`make_manifest` needs no model and no torch, so the renderer can be tested
(and its pages looked at) on any machine. `page_refs` and `css_urls` pull the
URLs out of rendered files for link checks.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from atlas.fsio import write_json_atomic, write_png_atomic

SEED = 0
LOSS_STEPS = 64
EVOLUTION_STEPS = [0, 16, 32, 48, 63]
CLASS_COLOURS = ["#e6194b", "#3cb44b", "#ffe119", "#4363d8", "#f58231",
                 "#911eb4", "#46f0f0", "#f032e6", "#bcf60c", "#fabebe"]


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
    site_dir: Path, rng: np.random.Generator, base: str, spatial: bool, kernel: bool, size: int
) -> dict[str, Any]:
    """Every view of one unit, images written under `base`."""

    def imgs(view: str, n: int) -> list[str]:
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
    if kernel:
        views["kernel"] = {"images": [_write(site_dir, f"{base}/kernel-0.png", _kernel(rng))],
                           "activations": [None], "weight_range": [-0.31, 0.28]}
    return views


def make_manifest(
    site_dir: Path,
    layers: Sequence[str | tuple[str, str]] = ("conv1", "conv2", "fc"),
    units: int | Sequence[int] = 3,
    *,
    failed: Iterable[tuple[str, int]] = (),
    image_size: int = 28,
    write_json: bool = True,
) -> dict[str, Any]:
    """Write PNGs for a synthetic atlas into `site_dir` and return its manifest.

    `layers` are names, or (name, slug) pairs to force a slug (e.g. one with
    spaces or `#` to test quoting). `units` is a count per layer, or one count
    for all. The last layer is treated as the classifier (no spatial views),
    the first one gets kernels. `failed` lists (layer name, unit index) pairs
    whose status is "failed". Also writes `atlas.json` unless `write_json` is
    False.
    """
    site_dir = Path(site_dir)
    rng = np.random.default_rng(SEED)
    counts = [units] * len(layers) if isinstance(units, int) else list(units)
    failed_set = set(failed)
    layer_entries = []
    architecture = []
    for pos, (spec, count) in enumerate(zip(layers, counts, strict=True)):
        name, slug = spec if isinstance(spec, tuple) else (spec, slugify(spec))
        classifier = pos == len(layers) - 1
        shape = [count] if classifier else [count, image_size >> pos, image_size >> pos]
        unit_entries = []
        for index in range(count):
            base = f"results/{slug}/{index}"
            unit_entries.append({
                "index": index,
                "page": f"units/{slug}/{index}.html",
                "label": f"{name}:{index}",
                "status": "failed" if (name, index) in failed_set else "ok",
                "views": _unit_views(site_dir, rng, base, not classifier, pos == 0, image_size),
                "scores": {"polysemanticity": round(float(rng.uniform(0, 1)), 4),
                           "colour": None if classifier else round(float(rng.uniform(0, 1)), 4)},
            })
        layer_type = "Linear" if classifier else "Conv2d"
        layer_entries.append({"name": name, "slug": slug, "page": f"layers/{slug}.html",
                              "type": layer_type, "shape": shape, "channels": count,
                              "units": unit_entries})
        architecture.append({"name": name, "type": layer_type, "shape": shape, "channels": count})

    first, last = layer_entries[0], layer_entries[-1]
    joint_image = _write(site_dir, "results/joint/0.png", _blob(rng, image_size))
    manifest = {
        "format": 1,
        "atlas_version": "0.1.0",
        "generated_at": "2026-11-23T18:00:00Z",
        "model": {
            "spec": "colored-digits",
            "title": "Biased Colored Digits CNN",
            "description": "A small CNN trained on MNIST digits whose colour gives away the class.",
            "weights": "colored_digits.pt",
            "weights_sha256": "ab12" * 16,
            "input_size": image_size,
            "parameters": 25034,
            "architecture": architecture,
            "accuracy": {"biased_test": 0.98, "unbiased_test": 0.41},
        },
        "settings": {
            "steps": LOSS_STEPS, "image_size": image_size, "seed": SEED, "lr": 0.05,
            "param": "fft+decorrelate, sigmoid",
            "transforms": "pad 3, jitter 2, scale 0.9–1.1, rotate ±10°, jitter 1",
            "tv_weight": 0.001, "l2_weight": 0.0001, "diversity_weight": 10.0,
            "views": ["positive", "negative", "diversity", "neuron", "seeds", "evolution",
                      "kernel"],
        },
        "pages": {"index": "index.html", "summary": "summary.html", "joint": "joint.html"},
        "layers": layer_entries,
        "joint": [{
            "label": f"{last['name']}:0 + {first['name']}:1",
            "terms": [
                {"label": f"{last['name']}:0", "layer": last["name"], "unit": 0, "weight": 1.0},
                {"label": f"{first['name']}:1", "layer": first["name"], "unit": 1, "weight": 0.5},
            ],
            "images": [joint_image],
            "activations": [[5.1, 4.3]],
        }],
        "summary": {
            "colour": {
                "method": "Colour score: mean saturation-weighted hue agreement of the seeds.",
                "layers": [{"name": layer["name"], "colour_score": 0.8 - 0.3 * i,
                            "shape_score": 0.2 + 0.3 * i, "saturation": 0.5,
                            "verdict": "colour" if i == 0 else "shape"}
                           for i, layer in enumerate(layer_entries[:-1])],
            },
            "shortcut": {
                "method": "Accuracy on test sets with and without the colour bias.",
                "biased_accuracy": 0.98, "unbiased_accuracy": 0.41,
                "colour_swap": {"follows_colour": 0.7, "follows_shape": 0.2},
                "classes": [{"class": u["index"], "unit_page": u["page"],
                             "image": u["views"]["positive"]["images"][0],
                             "class_colour": CLASS_COLOURS[u["index"] % 10],
                             "image_colour": "#d02040", "matches": u["index"] % 2 == 0}
                            for u in last["units"]],
            },
            "polysemantic": {
                "method": "One minus the mean pairwise similarity of the seed images.",
                "units": [{"label": u["label"], "page": u["page"], "score": 0.41 - 0.1 * k,
                           "images": u["views"]["seeds"]["images"]}
                          for k, u in enumerate(first["units"][:2])],
            },
        },
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
