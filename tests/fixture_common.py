"""What both halves of the synthetic atlas draw on: the seed, tiny random PNGs and a mean.

`site_fixtures` (model, units, views, summary) and `dataset_fixtures` (the
scanned dataset) both import from here, so `dataset_fixtures` never needs to
import `site_fixtures`, which imports it.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
from PIL import Image

from atlas.fsio import write_png_atomic

SEED = 0


def _blob(rng: np.random.Generator, size: int) -> Image.Image:
    """A smooth random colour image, roughly what a feature visualization looks like."""
    coarse = rng.integers(0, 256, size=(4, 4, 3), dtype=np.uint8)
    return Image.fromarray(coarse, "RGB").resize((size, size), Image.BILINEAR)


def _write(site_dir: Path, path: str, img: Image.Image) -> str:
    write_png_atomic(site_dir / path, img)
    return path


def _mean(values: Iterable[float | None]) -> float | None:
    found = [v for v in values if v is not None]
    return round(float(np.mean(found)), 4) if found else None
