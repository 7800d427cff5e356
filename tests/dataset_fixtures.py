"""The dataset half of a synthetic atlas: what `make_manifest(dataset=True)` scans.

A tiny labelled dataset of `DATASET_IMAGES` digit-like real PNGs (and the crops
the pipeline would cut of them), and from it each unit's examples and spectrum
views, its dominant labels and data scores, the manifest's `dataset` entry,
and the summary's data columns (colour shares, top images, shortcut counts).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from fixture_common import SEED, _blob, _mean, _write
from PIL import Image

CLASS_COLOURS = ["#e6194b", "#3cb44b", "#ffe119", "#4363d8", "#f58231",
                 "#911eb4", "#46f0f0", "#f032e6", "#bcf60c", "#fabebe"]
COLOUR_NAMES = ["red", "green", "yellow", "blue", "orange",
                "purple", "cyan", "magenta", "lime", "pink"]
DIGITS = tuple("0123456789")
DATASET_VIEWS = ("spectrum", "examples")
DATASET_IMAGES = 24
"""Images in the synthetic dataset: every unit ranks all of them."""
EXAMPLE_COUNT = 10
SPECTRUM_EXAMPLES = 4
SKIPPED = 3
"""Files the synthetic dataset could not read; the first two are named."""
DATA_SCORES = ("faithfulness", "faithfulness_baseline", "super_stimulus", "positive_value",
               "example_polysemanticity")


class _Dataset:
    """A tiny labelled dataset on disk: whole digit-like images, and crops of them
    around a position, cut once per (image, layer, position) as the pipeline does."""

    def __init__(self, site_dir: Path, size: int, class_names: Sequence[str],
                 source_prefix: str) -> None:
        self.site_dir, self.size, self.source_prefix = site_dir, size, source_prefix
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

    def entry(self) -> dict[str, Any]:
        """The manifest's `dataset`: what was scanned, and what could not be read."""
        return {
            "spec": "colored-digits",
            "description": f"colored-digits: {DATASET_IMAGES} held-out digits, coloured at random",
            "images": DATASET_IMAGES, "skipped": SKIPPED,
            "skipped_sources": [f"{self.source_prefix}broken-{i}.png" for i in range(2)],
            "label_keys": ["class", "colour"], "fingerprint": "f00d",
        }

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
