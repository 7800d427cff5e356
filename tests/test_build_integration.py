"""Builds a small real atlas of the default model into a temp dir and checks the
site a user would open: pages, links, images, activations, rebuilds."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np
import pytest
from PIL import Image

from atlas.manifest_io import read_manifest
from atlas.config import make_config
from atlas.pipeline.build import build_atlas

ALL_VIEWS = ["positive", "negative", "diversity", "neuron", "seeds", "evolution", "examples",
             "spectrum"]
DATA_VIEWS = ("examples", "spectrum")  # real images: no optimized images or activations


def small_config(out: Path, **extra):
    values = {"channels": "0-2", "steps": 24, "out": str(out), **extra}
    return make_config({}, values)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("atlas") / "site"
    report = build_atlas(small_config(out), progress=False)
    return out, report, read_manifest(out)


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        for name, value in attrs:
            if name in ("href", "src") and value is not None:
                self.links.append(value)


def _html_files(site: Path) -> list[Path]:
    return sorted(site.rglob("*.html"))


def test_every_manifest_page_exists(built) -> None:
    site, _, manifest = built
    pages = list(manifest["pages"].values())
    for layer in manifest["layers"]:
        pages.append(layer["page"])
        pages.extend(unit["page"] for unit in layer["units"])
    pages.extend(row["page"] for row in manifest["classes"]["classes"])
    # index, summary, joint, compare, the classes' list; 4 layers of 3 units; 10 digits
    assert len(pages) == 5 + 4 + 4 * 3 + 10
    for page in pages:
        assert (site / page).is_file(), page
    assert (site / ".nojekyll").is_file()


def test_every_local_link_resolves_and_nothing_is_remote(built) -> None:
    site, _, _ = built
    checked = 0
    for page in _html_files(site):
        text = page.read_text()
        assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", text), page
        assert "url(http" not in text and "fetch(" not in text
        parser = _Links()
        parser.feed(text)
        for link in parser.links:
            parsed = urlparse(link)
            assert parsed.scheme == "" and not link.startswith("/"), (page, link)
            if not parsed.path:
                continue
            target = (page.parent / unquote(parsed.path)).resolve()
            assert target.is_file(), (page, link)
            assert site.resolve() in target.parents
            checked += 1
    assert checked > 100
    for css in site.rglob("*.css"):
        assert "http" not in css.read_text()


def test_units_have_every_view_with_real_images(built) -> None:
    site, _, manifest = built
    for layer in manifest["layers"]:
        conv = len(layer["shape"]) == 3
        for unit in layer["units"]:
            views = unit["views"]
            expected = ALL_VIEWS if conv else [v for v in ALL_VIEWS if v != "neuron"]
            if layer["name"] == "conv1":
                expected = expected + ["kernel"]
            assert sorted(views) == sorted(expected), unit["label"]
            assert len(views["diversity"]["images"]) == 4
            assert len(views["seeds"]["images"]) == 5
            if conv:
                assert len(views["neuron"]["images"]) == 3
            assert len(views["evolution"]["loss"]) == 24
            for name, view in views.items():
                if name in DATA_VIEWS:
                    continue
                assert len(view["images"]) == len(view["activations"])
                # the evolution strip starts from the near-grey initial image
                finished = view["images"][1:] if name == "evolution" else view["images"]
                for rel in finished:
                    with Image.open(site / rel) as image:
                        pixels = np.asarray(image.convert("RGB"), dtype=np.float32)
                    assert pixels.std() > 1.0, rel  # not a blank square


def test_diversity_images_are_distinct(built) -> None:
    """No two diversity images are the same picture. At 24 steps raw-pixel images
    have only begun to part (most of each stays near grey); how far apart they
    end in the layer's activation space at the default steps is tested in
    test_diversity_retention."""
    site, _, manifest = built
    for layer in manifest["layers"]:
        for unit in layer["units"]:
            images = []
            for rel in unit["views"]["diversity"]["images"]:
                with Image.open(site / rel) as image:
                    images.append(np.asarray(image.convert("RGB"), dtype=np.float32))
            for i in range(len(images)):
                for j in range(i + 1, len(images)):
                    assert np.abs(images[i] - images[j]).mean() > 0.5, (unit["label"], i, j)


def test_positive_beats_negative_for_every_unit(built) -> None:
    _, _, manifest = built
    for layer in manifest["layers"]:
        for unit in layer["units"]:
            positive = unit["views"]["positive"]["activations"][0]
            negative = unit["views"]["negative"]["activations"][0]
            assert positive > negative, (unit["label"], positive, negative)


def test_images_keep_the_optimized_resolution(built) -> None:
    site, _, manifest = built
    rel = manifest["layers"][0]["units"][0]["views"]["positive"]["images"][0]
    with Image.open(site / rel) as image:
        assert image.size == (28, 28)


def test_summary_answers_the_three_questions_with_numbers(built) -> None:
    _, _, manifest = built
    summary = manifest["summary"]
    layers = summary["colour"]["layers"]
    assert [row["name"] for row in layers] == ["conv1", "conv2", "conv3", "fc"]
    for row in layers:
        assert 0.0 <= row["colour_score"] <= 1.0
        assert row["verdict"] in ("colour", "shape")
    shortcut = summary["shortcut"]
    assert shortcut["biased_accuracy"] > shortcut["unbiased_accuracy"]
    assert [row["class"] for row in shortcut["classes"]] == [0, 1, 2]
    poly = summary["polysemantic"]["units"]
    assert poly and all(len(row["images"]) == 5 for row in poly)
    scores = [row["score"] for row in poly]
    assert scores == sorted(scores, reverse=True)


def test_joint_views(built) -> None:
    site, _, manifest = built
    labels = [entry["label"] for entry in manifest["joint"]]
    assert labels == ["fc:0 + fc:7", "conv2:0 + conv2:1"]
    for entry in manifest["joint"]:
        assert len(entry["activations"][0]) == 2
        assert (site / entry["images"][0]).is_file()


def test_rebuild_skips_unchanged_and_recomputes_changed_views(built, tmp_path) -> None:
    site, first, _ = built
    again = build_atlas(small_config(site), progress=False)
    assert again.jobs_computed == 0 and again.jobs_total == first.jobs_total
    # every optimized view depends on the TV weight
    changed = build_atlas(small_config(site, tv_weight=0.01), progress=False)
    assert changed.jobs_computed == first.jobs_total
    # only the diversity views (3 units x 4 layers) depend on the diversity weight
    diversity = make_config({}, {"channels": "0-2", "steps": 24, "out": str(site),
                                 "tv_weight": 0.01, "diversity_weight": 5.0})
    only_diversity = build_atlas(diversity, progress=False)
    assert only_diversity.jobs_computed == 4 * 3


def test_render_uses_stored_results_only(built) -> None:
    site, _, _ = built
    (site / "index.html").unlink()
    result = subprocess.run([sys.executable, "-m", "atlas", "render", "--out", str(site),
                             "--quiet"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert (site / "index.html").is_file()


def test_same_seed_gives_identical_results(tmp_path) -> None:
    config = {"channels": "0-1", "steps": 8, "layers": ["conv2", "fc"],
              "views": ["positive", "negative", "seeds"], "joint": []}
    sites = []
    for name in ("a", "b"):
        out = tmp_path / name
        build_atlas(make_config({}, {**config, "out": str(out)}), progress=False)
        sites.append(out)
    files = sorted(p.relative_to(sites[0]) for p in (sites[0] / "results").rglob("*.*"))
    assert len(files) > 10
    for rel in files:
        assert (sites[0] / rel).read_bytes() == (sites[1] / rel).read_bytes(), rel
    manifests = [read_manifest(s) for s in sites]
    for manifest in manifests:
        manifest.pop("generated_at")
    assert manifests[0] == manifests[1]


def test_cli_bad_layer_is_one_line_and_exit_2(tmp_path) -> None:
    result = subprocess.run([sys.executable, "-m", "atlas", "build", "--layers", "conv9",
                             "--out", str(tmp_path / "x")], capture_output=True, text=True)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "conv9" in lines[0] and "atlas layers" in lines[0]


def test_webp_images_for_large_atlases(tmp_path) -> None:
    out = tmp_path / "webp"
    build_atlas(make_config({}, {"channels": "0", "steps": 4, "out": str(out),
                                 "layers": ["conv1"], "image_format": "webp",
                                 "views": ["positive", "kernel"]}), progress=False)
    manifest = read_manifest(out)
    views = manifest["layers"][0]["units"][0]["views"]
    positive = views["positive"]["images"][0]
    assert positive.endswith(".webp")
    assert views["kernel"]["images"][0].endswith(".png")  # filters stay exact
    with Image.open(out / positive) as image:
        assert image.format == "WEBP" and image.size == (28, 28)
    again = tmp_path / "webp2"
    build_atlas(make_config({}, {"channels": "0", "steps": 4, "out": str(again),
                                 "layers": ["conv1"], "image_format": "webp",
                                 "views": ["positive", "kernel"]}), progress=False)
    assert (out / positive).read_bytes() == (again / positive).read_bytes()  # deterministic
