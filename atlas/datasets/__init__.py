"""Datasets: the images that units are measured on, from a folder or a built-in set.

`open_dataset(spec, image_size)` is the one way in: "colored-digits" names the
built-in set, anything else is taken as a folder path.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from atlas.config import DATASET_LINKS, RESIZE_MODES
from atlas.datasets.base import Dataset
from atlas.datasets.colored_digits import NAME as COLORED_DIGITS
from atlas.datasets.colored_digits import ColoredDigits
from atlas.datasets.folder import SUFFIXES, FolderDataset
from atlas.errors import AtlasError

__all__ = ["BUILT_IN", "DATASET_LINKS", "RESIZE_MODES", "SUFFIXES", "Dataset", "open_dataset"]

# Built-in datasets by name, each opened as (image_size, limit, seed, resize).
# A name here wins over a folder of the same name.
BUILT_IN: dict[str, Callable[[int, int | None, int, str], Dataset]] = {
    COLORED_DIGITS: ColoredDigits,
}


def open_dataset(
    spec: str, image_size: int, limit: int | None = None, seed: int = 0, resize: str = "crop",
    links: str = "inside", exclude: Path | None = None,
) -> Dataset:
    """The dataset `spec` names, its items chosen (all, or a seeded sample of `limit`) and ordered.

    A folder's links are followed as `links` says (DATASET_LINKS); `exclude`,
    the build's out dir, is never scanned. Raises AtlasError, in one line, for a
    missing, unreadable or image-less folder and for bad options.
    """
    if resize not in RESIZE_MODES:
        raise AtlasError(
            f"unknown resize mode {resize!r}; use crop (scale, then centre-crop) "
            "or stretch (squash to a square)"
        )
    if limit is not None and limit < 1:
        raise AtlasError(
            f"dataset limit must be at least 1 image, got {limit}; leave it out to use every image"
        )
    if image_size < 1:
        raise AtlasError(f"image size must be at least 1 px, got {image_size}")
    if spec in BUILT_IN:
        return BUILT_IN[spec](image_size, limit, seed, resize)
    if not spec.strip():
        raise AtlasError(
            "--dataset is empty; give it a folder of images (class subfolders optional) "
            "or colored-digits"
        )
    if links not in DATASET_LINKS:
        raise AtlasError(f"unknown dataset_links {links!r}; use inside (links that stay in "
                         "the dataset folder) or follow (every link)")
    return FolderDataset(spec, image_size, limit, seed, resize, links, exclude)
