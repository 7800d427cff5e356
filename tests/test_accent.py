"""The accent view through real builds: each unit's top dataset examples
accentuated toward it, within the documented distance, activation before and
after recorded, cached and resumed, in the manifest."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from clamped_data import MODEL, write_solids

from atlas.config import make_config
from atlas.manifest_io import read_manifest
from atlas.pipeline.dataset.accent import ACCENT_EXAMPLES
from atlas.pipeline.build import build_atlas
from atlas.site.formatting import sig3

RADIUS = 0.05


def _config(data: Path, out: Path, **extra):
    return make_config({}, {"model": MODEL, "dataset": str(data), "views": ["accent"],
                            "steps": 16, "example_count": 3, "out": str(out),
                            "layers": ["block", "head"], "accent_radius": RADIUS, **extra})


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory):
    data = write_solids(tmp_path_factory.mktemp("data") / "images")
    out = tmp_path_factory.mktemp("atlas") / "site"
    report = build_atlas(_config(data, out), progress=False)
    return data, out, report, read_manifest(out)


def _units(manifest: dict):
    for layer in manifest["layers"]:
        for unit in layer["units"]:
            yield layer, unit


def test_each_unit_accentuates_its_top_examples(built) -> None:
    _, site, _, manifest = built
    for layer, unit in _units(manifest):
        accent = unit["views"]["accent"]
        top = [item["source"] for item in unit["views"]["examples"]["max"]]
        assert accent["sources"] == top[:ACCENT_EXAMPLES]
        assert len(accent["images"]) == len(accent["originals"]) == ACCENT_EXAMPLES
        assert all((site / path).is_file() for path in accent["images"] + accent["originals"])
        assert all(distance <= RADIUS + 1e-6 for distance in accent["distance"])
        # the real image, then more of what drives the unit
        assert sum(after > before for after, before in
                   zip(accent["activations"], accent["before"])) >= 2, unit["label"]


def test_the_original_is_the_dataset_image_and_before_its_activation(built) -> None:
    data, site, _, manifest = built
    unit = next(unit for layer, unit in _units(manifest) if unit["label"] == "block:1")
    accent = unit["views"]["accent"]
    source = Image.open(data / accent["sources"][0]).convert("RGB")
    stored = Image.open(site / accent["originals"][0]).convert("RGB")
    assert np.array_equal(np.asarray(stored), np.asarray(source))
    red, green, blue = source.getpixel((0, 0))
    assert accent["before"][0] == pytest.approx((green - blue) / 255, abs=1e-5)  # pre-activation


def test_a_rebuild_keeps_the_accents_and_a_changed_radius_redoes_them(built, tmp_path) -> None:
    data, _, report, _ = built
    assert any(note.startswith("accent: 4 of 4 units accentuated") for note in report.notes)
    site = tmp_path / "site"
    build_atlas(_config(data, site), progress=False)
    again = build_atlas(_config(data, site), progress=False)
    assert "accent: 4 units unchanged" in again.notes
    wider = build_atlas(_config(data, site, accent_radius=2 * RADIUS), progress=False)
    assert any(note.startswith("accent: 4 of 4") for note in wider.notes)


def test_accent_is_not_a_default_view() -> None:
    assert "accent" not in make_config({}, {}).views


def test_the_unit_page_shows_each_real_image_beside_its_accentuation(built) -> None:
    _, site, _, manifest = built
    unit = next(unit for layer, unit in _units(manifest) if unit["label"] == "block:1")
    page = (site / unit["page"]).read_text()
    assert '<h2 id="accent">Accentuation</h2>' in page
    accent = unit["views"]["accent"]
    shown = [page.index(f'src="../../{path}"') for pair in zip(accent["originals"],
                                                              accent["images"]) for path in pair]
    assert shown == sorted(shown)  # original, accented, original, accented, …
    for before, after, moved in zip(accent["before"], accent["activations"], accent["distance"]):
        assert f"real: {sig3(before)}" in page and f"accented: {sig3(after)}" in page
        assert f"moved {sig3(moved)} RMS" in page


def test_caricatures_amplify_the_layers_pattern_on_a_few_dataset_images(built, tmp_path) -> None:
    from atlas.pipeline.dataset.caricature import CARICATURE_IMAGES

    data = built[0]
    site = tmp_path / "site"
    report = build_atlas(_config(data, site, views=["caricature"], steps=32), progress=False)
    assert "caricature: 2 of 2 layers caricatured" in report.notes
    manifest = read_manifest(site)
    for layer in manifest["layers"]:
        found = layer["caricature"]
        assert len(found["images"]) == len(found["originals"]) == CARICATURE_IMAGES
        assert len(set(found["sources"])) == CARICATURE_IMAGES
        for source, original in zip(found["sources"], found["originals"]):
            assert np.array_equal(np.asarray(Image.open(site / original).convert("RGB")),
                                  np.asarray(Image.open(data / source).convert("RGB")))
        assert max(found["activations"]) > 1.0  # beyond the real image along its pattern
    layer = manifest["layers"][0]
    page = (site / layer["page"]).read_text()
    assert '<h2 id="caricatures">Caricatures</h2>' in page
    shown = [page.index(f'src="../{path}"') for pair in zip(layer["caricature"]["originals"],
                                                           layer["caricature"]["images"])
             for path in pair]
    assert shown == sorted(shown)  # each real image, then its caricature
    again = build_atlas(_config(data, site, views=["caricature"], steps=32), progress=False)
    assert "caricature: 2 layers unchanged" in again.notes
    assert read_manifest(site)["layers"][0]["caricature"]["sources"] == (
        manifest["layers"][0]["caricature"]["sources"])


def test_plan_prices_the_views_made_from_dataset_images(built, capsys) -> None:
    from atlas.cli import main

    data = built[0]
    assert main(["plan", "--model", MODEL, "--dataset", str(data), "--layers", "block,head",
                 "--views", "accent,caricature", "--steps", "8", "--example-count", "3",
                 "--quiet"]) == 0
    out = capsys.readouterr().out
    # 4 units x 3 accentuated examples + 2 layers x 4 caricatures
    assert "from dataset images: 20 (accent and caricature views)" in out
    assert "accent and caricature" in out.split("wall time")[1]
