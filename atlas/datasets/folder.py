"""A folder of image files, optionally sorted into class subfolders (torchvision's
ImageFolder layout).

Images are found by `walk.find_images`: recursively, by suffix (SUFFIXES, any
letter case), hidden entries ignored, links followed only as `links` allows and
atlas sites inside left out. Items are ordered by their '/'-joined path relative
to the folder, the same on every machine.

When any image lies in a subfolder, each image's class is the name of the
top-level subfolder it lies under, however deep; a loose file at the top then
has no label. A folder with no subfolder images has no labels at all.

Names are shown (sources, classes, the folder's own name) through `names.shown`;
the folder's absolute path is never published, only its name ("photos/").
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from atlas.datasets.base import Dataset, fingerprint_of, plural, sample_indices
from atlas.datasets.decode import Refused, read_rgb
from atlas.datasets.names import shown
from atlas.datasets.walk import SUFFIXES, find_images, is_inside
from atlas.errors import AtlasError

__all__ = ["SUFFIXES", "FolderDataset"]

_WHAT_TO_GIVE = "give --dataset a folder of images (class subfolders optional) or colored-digits"


class FolderDataset(Dataset):
    """Image files under one folder, selected and ordered once when opened."""

    def __init__(self, spec: str, image_size: int, limit: int | None, seed: int, resize: str,
                 links: str = "inside", exclude: Path | None = None) -> None:
        root = _checked_root(spec)
        walk = find_images(root, spec, links, exclude)
        found = walk.found
        chosen = sample_indices(len(found), limit, seed)
        self._paths = [found[i] for i in chosen]  # as on disk (undecodable bytes as surrogates)
        self._total = len(found)
        self._resize = resize
        self._links = links
        has_classes = any("/" in path for path in found)
        stats = [_size_and_mtime(root / path) for path in self._paths]
        fingerprint = fingerprint_of(
            ["folder", [[p, *s] for p, s in zip(self._paths, stats)], image_size, resize, limit,
             seed]
        )
        super().__init__(f"{shown(root.name)}/", root, image_size,
                         ("class",) if has_classes else (), fingerprint)
        self.notes.extend(walk.notes())

    def __len__(self) -> int:
        return len(self._paths)

    def source(self, index: int) -> str:
        return shown(self._paths[self._checked(index)])

    def labels(self, index: int) -> dict[str, str]:
        path = self.source(index)
        if not self.label_keys or "/" not in path:
            return {}
        return {"class": path.split("/", 1)[0]}

    def describe(self) -> str:
        count = len(self)
        images = plural(count, "image")
        if count < self._total:
            images = f"{count:,} of {self._total:,} images (seeded sample)"
        if self.label_keys:
            labelled = [self.labels(i) for i in range(count)]
            classes = {item["class"] for item in labelled if item}
            images += f" in {plural(len(classes), 'class', 'classes')}"
            loose = sum(1 for item in labelled if not item)
            if loose:
                images += f" ({loose:,} unlabelled)"
        how = "centre-cropped to" if self._resize == "crop" else "stretched to"
        return f"folder {self.spec}: {images}, {how} {self.image_size} px"

    def _read(self, index: int) -> np.ndarray:
        assert self.root is not None
        path = self.root / self._paths[index]
        # Checked again as it is read: a link may have been changed since the walk.
        if self._links != "follow" and not is_inside(path, self.root):
            raise Refused("a link leading out of the dataset folder")
        return read_rgb(path, self.image_size, self._resize)


def _checked_root(spec: str) -> Path:
    path = Path(spec).expanduser()
    if not path.exists():
        raise AtlasError(f"dataset folder {spec!r} does not exist; {_WHAT_TO_GIVE}")
    if not path.is_dir():
        raise AtlasError(f"dataset {spec!r} is a file, not a folder; {_WHAT_TO_GIVE}")
    return path.resolve()


def _size_and_mtime(path: Path) -> tuple[int, int]:
    """What the fingerprint knows of a file, without reading it; (-1, -1) if it vanished."""
    try:
        status = path.stat()
    except OSError:
        return (-1, -1)
    return (status.st_size, status.st_mtime_ns)
