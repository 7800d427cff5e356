"""A real build with `param = "maco"`: each optimized image gets a stored
transparency map, the manifest names it, the unit page overlays it (checked in
headless Chromium), and the magnitude comes from the dataset, or from the 1/f
law without one, so the cache key says which."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from test_browser import browser  # noqa: F401  (the headless Chromium fixture)

from atlas.manifest_io import read_manifest
from atlas.config import make_config
from atlas.pipeline.build import build_atlas
from atlas.pipeline.optimize.magnitude import POWER_LAW

SETTINGS = {"param": "maco", "layers": ["conv2"], "channels": "0-1", "steps": 6,
            "views": ["positive", "diversity"]}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("maco") / "site"
    build_atlas(make_config({}, {**SETTINGS, "out": str(out)}), progress=False)
    return out, read_manifest(out)


def test_every_image_has_its_transparency_map(built) -> None:
    site, manifest = built
    for unit in manifest["layers"][0]["units"]:
        for view in ("positive", "diversity"):
            entry = unit["views"][view]
            assert len(entry["transparency"]) == len(entry["images"])
            for path in entry["transparency"]:
                assert path.endswith(".png") and f"{view}-alpha-" in path
                with Image.open(site / path) as image:
                    assert image.mode == "L" and image.size == (28, 28)
                    values = np.asarray(image)
                assert values.max() == 255 and values.min() >= 0


def test_magnitude_comes_from_the_dataset_and_rebuilds_reuse_the_images(built) -> None:
    site, manifest = built
    record = json.loads((site / "results" / "_build" / "build.json").read_text())
    assert record["settings"]["magnitude"].startswith("dataset ")
    assert manifest["settings"]["param"] == "maco+decorrelate, sigmoid"
    again = build_atlas(make_config({}, {**SETTINGS, "out": str(site)}), progress=False)
    assert again.jobs_computed == 0


def test_without_a_dataset_the_power_law_is_used(tmp_path: Path) -> None:
    out = tmp_path / "site"
    build_atlas(make_config({}, {**SETTINGS, "channels": "0", "views": ["positive"],
                                 "dataset": "none", "out": str(out)}), progress=False)
    record = json.loads((out / "results" / "_build" / "build.json").read_text())
    assert record["settings"]["magnitude"] == POWER_LAW


def test_unit_page_overlays_the_map_at_the_switch(browser: Any, built) -> None:  # noqa: F811
    site, _ = built
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        page.goto((site / "units" / "conv2" / "0.html").as_uri(), wait_until="load")
        overlay = page.locator("section:has(> h2#positive) img.alpha").first
        overlay.scroll_into_view_if_needed()
        page.wait_for_function("img => img.complete && img.naturalWidth === 28",
                               arg=overlay.element_handle())
        style = "img => [getComputedStyle(img).opacity, getComputedStyle(img).mixBlendMode]"
        assert overlay.evaluate(style) == ["0", "multiply"]
        page.locator("section:has(> h2#positive) .alpha-toggle").check()
        assert overlay.evaluate(style) == ["1", "multiply"]
        # the switch of one view leaves the others alone
        other = page.locator("section:has(> h2#diversity) img.alpha").first
        assert other.evaluate(style)[0] == "0"
    finally:
        page.close()
