"""A dataset already in Python, handed to `atlas.build(dataset=...)`: a
`torch.utils.data.Dataset` (or any sequence) of images or of (image, label) pairs,
or a Hugging Face `datasets` split whose rows hold an image column.

An image is a Pillow image, a tensor (C, H, W) or (H, W) (float in [0, 1], or uint8),
or an array (H, W, C) or (H, W) (float in [0, 1], or uint8); it is brought to the
build's image size by the same resize rule as a folder's files. A label is a class
index (named by the split's ClassLabel feature, or the dataset's `classes`, as
torchvision's datasets have) or text.

The fingerprint that keys the dataset pass hashes the object's type, its length, the
selection options, its name and the pixels and labels of up to `FINGERPRINT_ITEMS`
items drawn with a fixed seed: a dataset that changes in none of those keeps its stored
results (give it another name, `atlas.build(dataset_name=...)`, to start over).
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from atlas.datasets.base import Dataset, fingerprint_of, plural, sample_indices
from atlas.datasets.decode import DECODE_ERRORS, Refused, image_rgb, short_reason
from atlas.datasets.names import shown
from atlas.datasets.resize import fit_array
from atlas.errors import AtlasError

FINGERPRINT_ITEMS = 64
IMAGE_COLUMNS = ("image", "img", "pixel_values")
LABEL_COLUMNS = ("label", "labels", "class", "fine_label")


class ItemsDataset(Dataset):
    """The items of a Python dataset, selected (all, or a seeded sample) once."""

    decodes_files = False

    def __init__(self, items: Any, image_size: int, limit: int | None, seed: int,
                 resize: str, name: str | None = None) -> None:
        try:
            total = len(items)
        except TypeError:
            raise AtlasError(f"the dataset is a {type(items).__name__} without a length; give "
                             "a torch Dataset, a sequence of images or a Hugging Face split, "
                             "or a folder path") from None
        if total == 0:
            raise AtlasError("the dataset holds no items; give one with images in it")
        self._items = items
        self._rows = [int(row) for row in sample_indices(total, limit, seed)]
        self._total = total
        self._image_column, self._label_column = _columns(items)
        self._names = _class_names(items, self._label_column)
        self._resize = resize
        _, first_label = self._split(self._rows[0])
        spec = shown(name) if name else f"python:{type(items).__name__}"
        super().__init__(spec, None, image_size, ("class",) if first_label is not None else (),
                         self._fingerprint(spec, image_size, limit, seed, resize))

    def _fingerprint(self, spec: str, image_size: int, limit: int | None, seed: int,
                     resize: str) -> str:
        digest = hashlib.sha256()
        for row in sample_indices(self._total, FINGERPRINT_ITEMS, 0):
            image, label = self._split(int(row))
            try:
                digest.update(_pixels(image, image_size, resize, int(row)).tobytes())
            except DECODE_ERRORS as error:  # skipped by the pass, with a note; hashed as such
                digest.update(short_reason(error).encode())
            digest.update(repr(label).encode())
        return fingerprint_of(["items", spec, type(self._items).__qualname__, self._total,
                               image_size, resize, limit, seed, digest.hexdigest()])

    def __len__(self) -> int:
        return len(self._rows)

    def source(self, index: int) -> str:
        return f"item {self._rows[self._checked(index)]}"

    def labels(self, index: int) -> dict[str, str]:
        _, label = self._split(self._rows[self._checked(index)])
        if label is None:
            return {}
        if hasattr(label, "item"):
            label = label.item()
        if isinstance(label, int) and self._names and 0 <= label < len(self._names):
            return {"class": shown(str(self._names[label]))}
        return {"class": shown(str(label))}

    def describe(self) -> str:
        count = len(self)
        images = plural(count, "item")
        if count < self._total:
            images = f"{count:,} of {self._total:,} items (seeded sample)"
        how = "centre-cropped to" if self._resize == "crop" else "stretched to"
        return f"{self.spec}: {images}, {how} {self.image_size} px"

    def _read(self, index: int) -> np.ndarray:
        row = self._rows[index]
        image, _ = self._split(row)
        return _pixels(image, self.image_size, self._resize, row)

    def _split(self, row: int) -> tuple[Any, Any]:
        """(image, label or None) of the item at `row`."""
        item = self._items[row]
        if isinstance(item, dict):
            if self._image_column is None or self._image_column not in item:
                raise AtlasError(f"dataset row {row} has no image column (columns: "
                                 f"{', '.join(map(str, item))}); name it one of "
                                 f"{', '.join(IMAGE_COLUMNS)}")
            return item[self._image_column], item.get(self._label_column or "")
        if isinstance(item, (tuple, list)):
            return item[0], (item[1] if len(item) > 1 else None)
        return item, None


def _columns(items: Any) -> tuple[str | None, str | None]:
    """A Hugging Face split's image and label columns, by feature type, else by name."""
    features = getattr(items, "features", None)
    if not isinstance(features, dict):
        return IMAGE_COLUMNS[0], LABEL_COLUMNS[0]
    by_type = {type(feature).__name__: column for column, feature in reversed(features.items())}
    image = by_type.get("Image") or next((c for c in IMAGE_COLUMNS if c in features), None)
    label = by_type.get("ClassLabel") or next((c for c in LABEL_COLUMNS if c in features), None)
    return image, label


def class_names_of(items: Any) -> list[str] | None:
    """The names of a Python dataset's class indices (its split's ClassLabel, else its
    `classes`), None where it names none."""
    return _class_names(items, _columns(items)[1])


def _class_names(items: Any, label_column: str | None) -> list[str] | None:
    features = getattr(items, "features", None)
    if isinstance(features, dict) and label_column in features:
        names = getattr(features[label_column], "names", None)
        if names:
            return list(names)
    classes = getattr(items, "classes", None)
    return list(classes) if isinstance(classes, (list, tuple)) else None


def _pixels(image: Any, size: int, resize: str, row: int) -> np.ndarray:
    """One item's image as (size, size, 3) float32 in [0, 1]."""
    from PIL import Image

    if isinstance(image, Image.Image):
        return image_rgb(image, size, resize)
    if hasattr(image, "detach"):  # a torch tensor: (C, H, W) or (H, W)
        values = image.detach().cpu().numpy()
        if values.ndim == 3:
            values = values.transpose(1, 2, 0)
    elif isinstance(image, np.ndarray):
        values = image
    else:
        raise AtlasError(f"dataset item {row} holds a {type(image).__name__}, not an image; "
                         "give Pillow images, tensors (C, H, W) or arrays (H, W, C)")
    if values.ndim == 2:
        values = values[:, :, None]
    if values.ndim != 3 or values.shape[2] not in (1, 3, 4):
        raise AtlasError(f"dataset item {row} has shape {tuple(image.shape)}; give an image "
                         "as (C, H, W) tensors or (H, W, C) arrays with 1, 3 or 4 channels")
    values = values[:, :, :3]
    if not np.isfinite(values).all():  # NaN would pass the clip below and poison the pass
        raise Refused("NaN or Inf pixels")
    if values.shape[2] == 1:
        values = np.repeat(values, 3, axis=2)
    if values.dtype == np.uint8:
        values = values.astype(np.float32) / 255.0
    values = np.clip(values.astype(np.float32, copy=False), 0.0, 1.0)
    return fit_array(values, size, resize)
