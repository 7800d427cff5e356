"""The examples view: from a layer's pass results, each unit's dataset
examples (top, bottom, just below and just above its threshold), cropped
around the position of the unit's extreme to its receptive field, with the
histogram and statistics of its values.

Crops are shared: one file per (dataset image, layer, position), under a
folder named by the dataset fingerprint, so a unit that shares an example
with another costs no second file and a changed dataset never reuses a crop.
Records are written after their crops, so a record that exists is complete.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image
from tqdm import tqdm

from atlas.datasets import Dataset
from atlas.fsio import write_image_atomic
from atlas.manifest_types import EXAMPLE_COLUMNS
from atlas.models.receptive_field import ReceptiveField, crop
from atlas.pipeline.dataset.extremes import histogram, near_threshold, value_stats
from atlas.pipeline.dataset.scan import LayerScan
from atlas.slugs import slugify
from atlas.store import RESULTS, ResultStore, settings_key, to_pil

EXAMPLES_DIR = "_examples"
# Examples are stored at the largest size a page draws them, never above their own: a
# layer tile at 102 CSS px (117 on an 800 px screen), 94 on unit pages (at 1280 px and up).
EXAMPLE_PIXELS = 112
# The least PSNR at which an encoded example counts as faithful to its crop. Examples of
# a lossy build are WebP at EXAMPLE_QUALITY, the least quality that reaches it on real
# photographs; AVIF reaches it a few percent smaller at twice the encoding time
# (`atlas bench --example-format`; docs/large-atlases.md).
FAITHFUL_PSNR = 38.0
EXAMPLE_QUALITY = 87
VIEW = "examples"
LOAD_CHUNK = 256  # images decoded at a time while cutting crops
# Units whose values are read from the (images x units) matrix together: one
# read of the memory-mapped file serves them all instead of one per unit.
UNITS_AT_ONCE = 64


@dataclass(frozen=True)
class Pick:
    """One example: a pass row, where in the layer's grid, and its value."""

    row: int
    position: tuple[int, int] | None
    value: float


def _position(flat: int, shape: Sequence[int]) -> tuple[int, int] | None:
    if len(shape) != 3 or flat < 0:
        return None
    return divmod(int(flat), int(shape[2]))


def _picks(values: np.ndarray, rows: np.ndarray, positions: np.ndarray,
           shape: Sequence[int]) -> list[Pick]:
    return [Pick(int(r), _position(int(p), shape), float(v))
            for v, r, p in zip(values, rows, positions)]


def unit_columns(scan: LayerScan, unit: int, shape: Sequence[int], k: int,
                 column: np.ndarray, peak_positions: np.ndarray) -> dict[str, Any]:
    """One unit's four columns as picks, its threshold, histogram and stats;
    `column` holds the unit's value on every image of the pass."""
    threshold, below, above = near_threshold(column, k)

    def near(rows: np.ndarray) -> list[Pick]:
        return _picks(column[rows], rows, np.asarray(peak_positions[rows, unit]), shape)

    return {
        "max": _picks(scan.top["values"][unit][:k], scan.top["images"][unit][:k],
                      scan.top["positions"][unit][:k], shape),
        "min": _picks(scan.bottom["values"][unit][:k], scan.bottom["images"][unit][:k],
                      scan.bottom["positions"][unit][:k], shape),
        "below": near(below),
        "above": near(above),
        "threshold": threshold,
        "histogram": histogram(column),
        "stats": value_stats(column),
    }


@dataclass(frozen=True)
class CropFormat:
    """How crops are stored: at most `pixels` a side, in `image_format` at `quality`."""

    image_format: str
    quality: int
    pixels: int = EXAMPLE_PIXELS

    @property
    def original(self) -> bool:
        """Crops as they were first stored (PNG at their own size), where nothing of
        this format can change them: small images in a lossless build."""
        return self.image_format == "png"

    def tag(self) -> str:
        """What sets this format's files apart on disk and in cache keys."""
        return "" if self.original else f"-{self.pixels}px-q{self.quality}"

    def image(self, cut: Image.Image) -> Image.Image:
        side = max(cut.size)
        if side <= self.pixels:
            return cut
        scale = self.pixels / side
        return cut.resize((max(1, round(cut.width * scale)), max(1, round(cut.height * scale))),
                          Image.LANCZOS)  # type: ignore[attr-defined]  # Pillow sets it by loop


def crop_format(store: ResultStore) -> CropFormat:
    """A lossy build's crops at the size pages show them, as WebP at EXAMPLE_QUALITY; a
    lossless build's (small images) as PNG at their own size."""
    if store.image_format == "png":
        return CropFormat("png", store.quality, pixels=1 << 30)
    return CropFormat(store.image_format, EXAMPLE_QUALITY)


class CropPaths:
    """Where each example's image lives, relative to the site root."""

    def __init__(self, store: ResultStore, dataset: Dataset, layer: str,
                 field: ReceptiveField, stored: CropFormat) -> None:
        self.base = f"{RESULTS}/{EXAMPLES_DIR}/{dataset.fingerprint}{stored.tag()}"
        self.layer, self.field, self.suffix = slugify(layer), field, stored.image_format

    def whole(self, position: tuple[int, int] | None) -> bool:
        return (position is None or self.field.whole_image
                or min(self.field.size) >= self.field.image_size)

    def __call__(self, index: int, position: tuple[int, int] | None) -> str:
        if self.whole(position):  # the whole image: shared by every layer
            return f"{self.base}/images/{index}.{self.suffix}"
        assert position is not None  # `whole` is true without one
        return f"{self.base}/{self.layer}/{index}-{position[0]}-{position[1]}.{self.suffix}"


def shown_size(side: int) -> int:
    """The side an example cut at `side` pixels is stored at (a lossy build's)."""
    return min(side, EXAMPLE_PIXELS)


def _write_crops(store: ResultStore, dataset: Dataset, field: ReceptiveField,
                 wanted: dict[int, dict[str, tuple[int, int] | None]],
                 stored: CropFormat) -> None:
    """Cuts and writes every crop in `wanted` (dataset index -> path -> position)
    that is not on disk yet, a chunk of images at a time."""
    missing = {index: {path: position for path, position in targets.items()
                       if not store.path(path).is_file()} for index, targets in wanted.items()}
    order = sorted(index for index, targets in missing.items() if targets)
    for start in range(0, len(order), LOAD_CHUNK):
        images, loaded = dataset.load(order[start:start + LOAD_CHUNK])
        for image, index in zip(images, loaded):
            targets = missing[index]
            cuts = crop(image[None].expand(len(targets), -1, -1, -1), field,
                        list(targets.values()))
            for path, cut in zip(targets, cuts):
                write_image_atomic(store.path(path), stored.image(to_pil(cut)),
                                   stored.image_format, stored.quality)


def _example(dataset: Dataset, scan: LayerScan, paths: CropPaths, pick: Pick) -> dict[str, Any]:
    index = int(scan.indices[pick.row])
    return {"image": paths(index, pick.position), "source": dataset.source(index),
            "value": round(pick.value, 6),
            "position": list(pick.position) if pick.position is not None else None,
            "labels": dataset.labels(index)}


def store_examples(store: ResultStore, dataset: Dataset, scan: LayerScan,
                   field: ReceptiveField, shape: Sequence[int], units: Sequence[int],
                   common: dict[str, Any], k: int, progress: bool = True,
                   stored: CropFormat | None = None) -> int:
    """Writes the examples record of every unit of `units` not already stored
    with these settings (`k` per column, crops as `stored` keeps them, default the
    store's `crop_format`); returns how many were written."""
    stored = stored or crop_format(store)
    # Crops stored as they always were keep their records' keys.
    extra = {} if stored.original else {"crops": {"pixels": stored.pixels,
                                                  "quality": stored.quality}}
    settings = {unit: {**common, "layer": scan.layer, "unit": unit, "view": VIEW,
                       "example_count": k, "images": store.image_format, **extra}
                for unit in units}
    todo = [unit for unit in units
            if not store.is_done(scan.layer, unit, VIEW, settings_key(settings[unit]))]
    if not todo:
        return 0
    paths = CropPaths(store, dataset, scan.layer, field, stored)
    peaks, peak_positions = scan.peaks(), scan.peak_positions()
    columns = {}
    for start in range(0, len(todo), UNITS_AT_ONCE):  # a block of columns per read
        block = todo[start:start + UNITS_AT_ONCE]
        values = np.asarray(peaks[:, block], dtype=np.float64)
        for i, unit in enumerate(block):
            columns[unit] = unit_columns(scan, unit, shape, k, values[:, i], peak_positions)
    wanted: dict[int, dict[str, tuple[int, int] | None]] = {}
    for found in columns.values():  # one file per path: whole images serve every position
        for name in EXAMPLE_COLUMNS:
            for pick in found[name]:
                index = int(scan.indices[pick.row])
                wanted.setdefault(index, {}).setdefault(paths(index, pick.position), pick.position)
    _write_crops(store, dataset, field, wanted, stored)
    for unit in tqdm(todo, desc=f"examples {scan.layer}", unit="unit", disable=not progress,
                     leave=False):
        found = columns[unit]
        lists = {name: [_example(dataset, scan, paths, pick) for pick in found[name]]
                 for name in EXAMPLE_COLUMNS}
        record = {"key": settings_key(settings[unit]), "settings": settings[unit],
                  "activations": [], "columns": lists, "threshold": round(found["threshold"], 6),
                  "histogram": found["histogram"], "stats": found["stats"]}
        images = sorted({item["image"] for column in lists.values() for item in column})
        store.save_record(scan.layer, unit, VIEW, record, images)
    return len(todo)

