"""The clamped test model (`models/clamped.py`) and a folder of solid images for it,
shared by the tests of pre-activations, flags and the views made from real images."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

MODEL = f"{Path(__file__).parent / 'models' / 'clamped.py'}:build"
# Solid 8x8 images (red, green, blue) in [0, 255]: green - blue takes both signs.
SOLIDS = [(30 * i, 20 * i, 200 - 25 * i) for i in range(9)]


def write_solids(folder: Path, count: int = len(SOLIDS)) -> Path:
    """The first `count` solid images as s<i>.png in `folder` (made if missing)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, colour in enumerate(SOLIDS[:count]):
        Image.new("RGB", (8, 8), colour).save(folder / f"s{i}.png")
    return folder
