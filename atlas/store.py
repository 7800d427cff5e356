"""Results on disk, one unit-view at a time, under `<site>/results/`.

A unit-view is its images (PNG, or WebP for large ones) plus a JSON record
holding everything needed to reproduce it and a `key`: the hash of the settings
that shape its pixels. The record is written after its images, atomically, so a
record that exists with the right key means the view is complete. Rebuilds skip
those.

A record is read as anyone may have left it: one that is not JSON, not an object,
or names a file outside the site is broken, read as missing (so a build computes
it again) and noted in `ResultStore.broken`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from atlas.fsio import encode_image, write_bytes_atomic, write_json_atomic
from atlas.record_check import object_problem, view_record_problem
from atlas.site_paths import SiteFiles
from atlas.slugs import slugify

RESULTS = "results"
# Slugs never start with "_" (see slugify), so these folders cannot collide with a layer.
BUILD_DIR = "_build"
JOINT_DIR = "_joint"


def settings_key(settings: dict[str, Any]) -> str:
    canonical = json.dumps(settings, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def to_pil(image: torch.Tensor) -> Image.Image:
    """(3, H, W) in [0, 1] -> 8-bit RGB image."""
    array = (image.detach().cpu().clamp(0, 1).permute(1, 2, 0).numpy() * 255.0).round()
    return Image.fromarray(array.astype(np.uint8), mode="RGB")


def to_grey(values: torch.Tensor) -> Image.Image:
    """(H, W) in [0, 1] -> 8-bit greyscale image."""
    array = (values.detach().cpu().clamp(0, 1).numpy() * 255.0).round()
    return Image.fromarray(array.astype(np.uint8), mode="L")


def load_image(path: Path) -> torch.Tensor:
    """A stored image back as (3, H, W) in [0, 1]."""
    with Image.open(path) as image:
        array = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(array).permute(2, 0, 1).contiguous()


IMAGE_FORMATS = ("png", "webp")


LAYER_UNIT = -1  # the "unit" a layer's own views (its caricatures) are stored under
LAYER_DIR = "_layer"


def view_dir(layer: str | None, unit: int) -> str:
    """A unit's folder (relative to the site root, '/'-separated); layer None is
    the joint views' folder (unit = pair index); unit LAYER_UNIT the layer's own."""
    folder = LAYER_DIR if unit == LAYER_UNIT else unit
    return f"{RESULTS}/{JOINT_DIR if layer is None else slugify(layer)}/{folder}"


def record_rel(layer: str | None, unit: int, view: str) -> str:
    return f"{view_dir(layer, unit)}/{view}.json"


@dataclass
class ViewFiles:
    """One unit-view, encoded and ready to write: its image files, then the
    record naming them (the commit point). Made where the images are computed
    (a Ray worker, say), written by whoever owns the store."""

    layer: str | None
    unit: int
    view: str
    files: list[tuple[str, bytes]]  # (path relative to the site root, encoded bytes)
    record: dict


@dataclass(frozen=True)
class Encoder:
    """Turns a unit-view's tensors into files: names them and encodes them as
    PNG or WebP. Touches no disk, so it runs wherever the images are made."""

    image_format: str = "png"
    quality: int = 90

    def image_rel(self, layer: str | None, unit: int, view: str, index: int,
                  image_format: str | None = None) -> str:
        return f"{view_dir(layer, unit)}/{view}-{index}.{image_format or self.image_format}"

    def view_files(
        self, layer: str | None, unit: int, view: str, images: Sequence[torch.Tensor],
        record: dict, image_format: str | None = None,
        transparency: Sequence[torch.Tensor] | None = None,
        originals: Sequence[torch.Tensor] | None = None,
    ) -> ViewFiles:
        """The images (and their transparency maps, always lossless PNG; and the real
        images they were made from, stored as `<view>-original-<i>`) and the record
        naming them."""
        image_format = image_format or self.image_format
        files = [(self.image_rel(layer, unit, view, i, image_format),
                  encode_image(to_pil(image), image_format, self.quality))
                 for i, image in enumerate(images)]
        record = {**record, "images": [rel for rel, _ in files]}
        if originals is not None:
            real = [(self.image_rel(layer, unit, f"{view}-original", i, image_format),
                     encode_image(to_pil(image), image_format, self.quality))
                    for i, image in enumerate(originals)]
            files[:0] = real  # written first: the record, written last, commits both
            record["originals"] = [rel for rel, _ in real]
        if transparency is not None:
            maps = [(self.image_rel(layer, unit, f"{view}-alpha", i, "png"),
                     encode_image(to_grey(alpha), "png"))
                    for i, alpha in enumerate(transparency)]
            files += maps
            record["transparency"] = [rel for rel, _ in maps]
        return ViewFiles(layer, unit, view, files, record)


class ResultStore:
    """`image_format` and `quality` apply to the images this store writes;
    reading takes whatever each record names."""

    def __init__(self, site_dir: Path, image_format: str = "png", quality: int = 90) -> None:
        self.site_dir = Path(site_dir)
        self.root = self.site_dir / RESULTS
        self.encoder = Encoder(image_format, quality)
        self.files = SiteFiles(self.site_dir)  # every path a record names is read through it
        self.broken: dict[str, str] = {}  # record (site path) -> why it was read as missing
        self.mended: set[str] = set()  # broken records written again since

    @property
    def image_format(self) -> str:
        return self.encoder.image_format

    @property
    def quality(self) -> int:
        return self.encoder.quality

    # --- paths (relative to the site root, '/'-separated) ---------------------
    def view_dir(self, layer: str | None, unit: int) -> str:
        return view_dir(layer, unit)

    def image_rel(self, layer: str | None, unit: int, view: str, index: int,
                  image_format: str | None = None) -> str:
        return self.encoder.image_rel(layer, unit, view, index, image_format)

    def record_rel(self, layer: str | None, unit: int, view: str) -> str:
        return record_rel(layer, unit, view)

    def path(self, rel: str) -> Path:
        return self.site_dir / rel

    # --- unit views -----------------------------------------------------------
    def load_view(self, layer: str | None, unit: int, view: str) -> dict | None:
        """The unit-view's record; None where there is none, or where it is broken."""
        return self._read_checked(self.record_rel(layer, unit, view), view_record_problem)

    def is_done(self, layer: str | None, unit: int, view: str, key: str) -> bool:
        record = self.load_view(layer, unit, view)
        return (
            record is not None
            and record.get("key") == key
            and all(self.files.file(rel).is_file()
                    for rel in record.get("images", []) + record.get("transparency", []))
        )

    def write(self, view: ViewFiles) -> dict:
        """Writes the image files, then the record (the commit point)."""
        for rel, data in view.files:
            write_bytes_atomic(self.path(rel), data)
        rel = record_rel(view.layer, view.unit, view.view)
        write_json_atomic(self.path(rel), view.record)
        self._mend(rel)
        return view.record

    def save_view(
        self, layer: str | None, unit: int, view: str, images: Sequence[torch.Tensor],
        record: dict, image_format: str | None = None,
        transparency: Sequence[torch.Tensor] | None = None,
    ) -> dict:
        """Encodes and writes one unit-view (see `Encoder.view_files`)."""
        return self.write(self.encoder.view_files(layer, unit, view, images, record,
                                                  image_format, transparency))

    def save_record(self, layer: str | None, unit: int, view: str, record: dict,
                    images: Sequence[str]) -> dict:
        """Writes a record naming images already written elsewhere (shared crops)."""
        record = {**record, "images": list(images)}
        rel = self.record_rel(layer, unit, view)
        write_json_atomic(self.path(rel), record)
        self._mend(rel)
        return record

    # --- whole-build files ----------------------------------------------------
    def save_json(self, name: str, value: Any) -> None:
        write_json_atomic(self.root / BUILD_DIR / name, value)

    def build_rel(self, name: str) -> str:
        """A whole-build file's site path (build.json, analysis.json, ...)."""
        return f"{RESULTS}/{BUILD_DIR}/{name}"

    def load_json(self, name: str) -> dict | None:
        """A whole-build file (a JSON object); None where there is none, or where it is
        broken."""
        return self._read_checked(self.build_rel(name), object_problem)

    # --- reading what anyone may have edited ----------------------------------
    def _read_checked(self, rel: str, problem: Callable[[Any, SiteFiles], str | None]
                      ) -> Any | None:
        """The JSON at site path `rel` where `problem` finds none in it; else None, with
        why in `broken` (a missing file is not broken: it is not written yet)."""
        try:
            value = json.loads(self.files.file(rel).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except json.JSONDecodeError as error:
            reason = f"not JSON: {error}"
        except (OSError, ValueError) as error:  # unreadable, not UTF-8, a link out
            reason = str(error) or type(error).__name__
        else:
            found = problem(value, self.files)
            if found is None:
                return value
            reason = found
        self.broken[rel] = reason
        return None

    def _mend(self, rel: str) -> None:
        if rel in self.broken:
            self.mended.add(rel)

    def broken_lines(self) -> list[str]:
        """A line for the broken records computed again, and one for those still
        broken (left out of the site); none where every record read well."""
        lines = []
        for mended, said in ((True, "were read as missing and computed again"),
                             (False, "were left out: delete them and run `atlas build` to "
                                     "compute them again")):
            rels = [rel for rel in self.broken if (rel in self.mended) == mended]
            if rels:
                lines.append(f"{len(rels)} broken record(s) under {RESULTS}/ {said} (first: "
                             f"{rels[0]}: {self.broken[rels[0]]})")
        return lines

