"""Dataset examples stored at the size pages show them: a lossy build's crops shrink to
EXAMPLE_PIXELS (never grow), as WebP at EXAMPLE_QUALITY, in a folder of their own; a
lossless build's stay as they always were."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from atlas.config import make_config
from atlas.pipeline.build import build_atlas
from atlas.models.receptive_field import ReceptiveField
from atlas.pipeline.cost.example_bytes import expected_distinct, forecast_examples
from atlas.pipeline.dataset.examples import EXAMPLE_PIXELS, EXAMPLE_QUALITY, CropFormat, crop_format
from atlas.store import ResultStore

MODEL = str(Path(__file__).parent / "models" / "pooled_head.py") + ":build"


def test_a_crop_shrinks_to_the_shown_size_and_keeps_its_shape() -> None:
    stored = CropFormat("webp", EXAMPLE_QUALITY)
    assert stored.image(Image.new("RGB", (224, 224))).size == (EXAMPLE_PIXELS, EXAMPLE_PIXELS)
    assert stored.image(Image.new("RGB", (224, 112))).size == (EXAMPLE_PIXELS, 56)
    assert stored.image(Image.new("RGB", (59, 59))).size == (59, 59)  # never grown


def test_lossless_builds_keep_their_crops_as_they_were(tmp_path: Path) -> None:
    lossless = crop_format(ResultStore(tmp_path, "png"))
    assert lossless.original and lossless.tag() == ""
    assert lossless.image(Image.new("RGB", (500, 500))).size == (500, 500)
    lossy = crop_format(ResultStore(tmp_path, "webp", 90))
    assert (lossy.image_format, lossy.quality, lossy.pixels) == ("webp", EXAMPLE_QUALITY,
                                                                 EXAMPLE_PIXELS)
    assert lossy.tag() == f"-{EXAMPLE_PIXELS}px-q{EXAMPLE_QUALITY}"


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(0)
    for i in range(12):
        coarse = rng.integers(0, 256, size=(6, 6, 3), dtype=np.uint8)
        Image.fromarray(coarse).resize((200, 200), Image.BICUBIC).save(folder / f"p{i:02d}.jpg")
    return folder


def test_a_lossy_build_stores_examples_shown_size_as_webp(tmp_path: Path, photos: Path) -> None:
    out = tmp_path / "site"
    build_atlas(make_config({}, {"model": MODEL, "dataset": str(photos), "views": ["examples"],
                                 "example_count": 3, "connections": 0, "out": str(out)}),
                progress=False)
    record = json.loads((out / "results" / "fc" / "0" / "examples.json").read_text())
    assert record["settings"]["crops"] == {"pixels": EXAMPLE_PIXELS, "quality": EXAMPLE_QUALITY}
    sizes = {}
    for layer in ("conv", "fc"):
        record = json.loads((out / "results" / layer / "0" / "examples.json").read_text())
        for rel in record["images"]:
            assert f"-{EXAMPLE_PIXELS}px-q{EXAMPLE_QUALITY}/" in rel and rel.endswith(".webp")
            with Image.open(out / rel) as image:
                assert image.format == "WEBP"
                sizes.setdefault(layer, set()).add(image.size)
    assert sizes["fc"] == {(EXAMPLE_PIXELS, EXAMPLE_PIXELS)}  # whole 160 px images, shrunk
    assert sizes["conv"] == {(3, 3)}  # a 3x3 receptive field, as cut


def test_expected_distinct_picks() -> None:
    assert expected_distinct(0, 10) == 0.0
    assert expected_distinct(1, 10) == pytest.approx(1.0)
    assert expected_distinct(2, 2) == pytest.approx(1.5)  # 2 picks of 2: 1 or 2 distinct
    assert expected_distinct(10**6, 100) == pytest.approx(100.0)
    assert expected_distinct(100, 10**9) == pytest.approx(100.0, rel=1e-6)


def _field(size: int, whole: bool = False) -> ReceptiveField:
    return ReceptiveField((size, size), (8.0, 8.0), (4.0, 4.0), 160, whole)


def test_examples_priced_per_layer_with_whole_images_shared() -> None:
    images = torch.rand(4, 3, 160, 160, generator=torch.Generator().manual_seed(0))
    fields = {"conv": _field(40), "head": _field(160, whole=True), "fc": _field(160, True)}
    stored = CropFormat("webp", EXAMPLE_QUALITY)
    found = {layer.layer: layer for layer in forecast_examples(
        [("conv", (4, 20, 20), 4), ("head", (4,), 2), ("fc", (3,), 2)], 50, 3,
        fields.__getitem__, images, stored)}
    picks = 4 * 3  # four columns of 3
    assert found["conv"].crops == pytest.approx(expected_distinct(4 * picks, 50 * 400))
    shared = expected_distinct(4 * picks, 50)  # head and fc pick from the same 50 images
    assert found["head"].crops + found["fc"].crops == pytest.approx(shared)
    assert found["head"].crops == pytest.approx(found["fc"].crops)
    # a whole 160 px image shrinks to EXAMPLE_PIXELS, a 40 px crop stays: more bytes
    assert found["head"].bytes_each > found["conv"].bytes_each > 0
