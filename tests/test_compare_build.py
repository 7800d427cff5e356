"""A small real build with the compare view: its records, its manifest entry, its
page, and rebuilds that compute nothing (or only what is missing)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from atlas.manifest_io import read_manifest
from atlas.config import make_config
from atlas.errors import AtlasError
from atlas.pipeline.build import build_atlas

MODELS = Path(__file__).parent / "models"
AXES = ["param", "transforms", "objective", "regularization", "depth"]
UNITS = ["conv2:0", "conv2:1", "fc:0", "fc:1"]


def _config(out: Path, **extra):
    return make_config({}, {"layers": ["conv2", "fc"], "channels": "0-1", "steps": 6,
                            "views": ["positive", "compare"], "compare_units": 2,
                            "dataset": "none", "out": str(out), **extra})


def _note(report) -> str:
    return next(note for note in report.notes if note.startswith("compare:"))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("compare") / "site"
    report = build_atlas(_config(out), progress=False)
    return out, report, read_manifest(out)


def _cells(manifest: dict):
    for axis in manifest["compare"]["axes"]:
        for row in axis["rows"]:
            for choice, cell in zip(axis["choices"], row["cells"]):
                yield axis["name"], manifest["compare"]["units"][row["unit"]], choice, cell


def test_every_axis_has_a_row_per_unit_and_an_image_per_cell(built) -> None:
    site, report, manifest = built
    assert _note(report).startswith("compare: 4 of 4 units computed, ")
    entry = manifest["compare"]
    assert [unit["label"] for unit in entry["units"]] == UNITS
    assert [axis["name"] for axis in entry["axes"]] == AXES
    assert manifest["pages"]["compare"] == "compare.html"
    for name, unit, choice, cell in _cells(manifest):
        assert len(entry["axes"][AXES.index(name)]["rows"]) == 4
        if cell["skipped"]:
            assert cell["image"] is None
            continue
        assert (site / cell["image"]).is_file(), (name, choice)
        assert isinstance(cell["activation"], float)
    depth = entry["axes"][AXES.index("depth")]
    assert [choice["name"] for choice in depth["choices"]] == ["conv2", "fc"]


def test_the_reference_is_the_positive_view(built) -> None:
    """Same seed, same settings, another batch: the same image up to float rounding."""
    site, _, manifest = built
    for name, unit, choice, cell in _cells(manifest):
        if cell["reference"] and name != "depth":
            folder = site / "results" / unit["layer"] / str(unit["unit"])
            record = json.loads((folder / "positive.json").read_text())
            assert cell["activation"] == pytest.approx(record["activations"][0], rel=1e-4)
            pixels = [np.asarray(Image.open(path), dtype=float)
                      for path in (site / cell["image"], folder / "positive-0.png")]
            assert np.abs(pixels[0] - pixels[1]).max() <= 1


def test_the_class_variant_names_its_class(built) -> None:
    _, _, manifest = built
    notes = [cell["note"] for _, _, choice, cell in _cells(manifest)
             if choice["name"] == "class"]
    assert len(notes) == 4
    assert all(re.fullmatch(r"predicted class \d, λ 0.1", note)
               for note in notes)


def test_the_page_shows_every_axis_with_captioned_images(built) -> None:
    site, _, manifest = built
    html = (site / "compare.html").read_text()
    for name in AXES:
        assert f'id="axis-{name}"' in html
    images = sum(1 for *_, cell in _cells(manifest) if cell["image"])
    assert len(re.findall(r"activation -?\d", html)) == images
    assert len(re.findall(r'<img class="pixel" src="results/', html)) == images
    assert 'href="units/conv2/1.html">conv2:1</a>' in html
    assert "reference" in html
    assert '<a href="compare.html">Techniques</a>' in (site / "index.html").read_text()
    assert (site / "static" / "compare.css").is_file()


def test_a_rebuild_computes_nothing_and_a_lost_record_is_redone(built, tmp_path) -> None:
    site, _, _ = built
    records = sorted(site.glob("results/*/*/compare.json"))
    assert len(records) == 4
    stamps = [path.stat().st_mtime_ns for path in records]
    again = build_atlas(_config(site), progress=False)
    assert _note(again).startswith("compare: 0 of 4 units computed, 0 images optimized")
    assert [path.stat().st_mtime_ns for path in records] == stamps
    copy = tmp_path / "site"
    shutil.copytree(site, copy)
    (copy / "results" / "fc" / "1" / "compare.json").unlink()
    resumed = build_atlas(_config(copy), progress=False)
    assert _note(resumed).startswith("compare: 1 of 4 units computed")
    redone, first = (json.loads((root / "results" / "fc" / "1" / "compare.json").read_text())
                     for root in (copy, site))
    assert redone["key"] == first["key"] and len(redone["images"]) == len(first["images"])
    # the same runs in a smaller batch: the same images up to float rounding
    assert redone["activations"] == pytest.approx(first["activations"], rel=1e-3, abs=1e-4)


def test_a_model_without_a_class_output_skips_the_class_variant(tmp_path) -> None:
    out = tmp_path / "site"
    build_atlas(make_config({}, {"model": f"{MODELS / 'conv_only.py'}:build", "steps": 2,
                                 "layers": ["conv1", "conv3"], "channels": "0",
                                 "views": ["compare"], "out": str(out)}), progress=False)
    manifest = read_manifest(out)
    skipped = [cell["skipped"] for _, _, choice, cell in _cells(manifest)
               if choice["name"] == "class"]
    assert skipped == ["the model has no linear layer for its classes (logits_layer names one)"] * 2
    assert "the model has no linear layer" in (out / "compare.html").read_text()


def test_the_build_objective_is_what_the_views_maximize(tmp_path) -> None:
    out = tmp_path / "site"
    build_atlas(make_config({}, {"layers": ["conv2"], "channels": "0", "steps": 2,
                                 "views": ["positive"], "objective": "top_k:3",
                                 "dataset": "none", "out": str(out)}), progress=False)
    record = json.loads((out / "results" / "conv2" / "0" / "positive.json").read_text())
    assert "top_k(conv2, [0], k=3)" in record["objective"]
    settings = read_manifest(out)["settings"]
    assert settings["objective"] == "top_k:3"
    with pytest.raises(AtlasError, match="class 12 is out of range for 'fc', which has 10 units"):
        build_atlas(make_config({}, {"objective": "class:12", "out": str(tmp_path / "x")}),
                    progress=False)


def test_a_comparison_killed_halfway_is_redone_on_the_next_build(tmp_path, monkeypatch) -> None:
    import atlas.pipeline.compare.compute as compare_run

    out = tmp_path / "site"
    config = _config(out, layers=["fc"], channels="0")
    calls = []
    optimize = compare_run.optimize_runs

    def dies_after_one(*args, **kwargs):
        if calls:
            raise KeyboardInterrupt  # the process is stopped during the second batch
        calls.append(1)
        return optimize(*args, **kwargs)

    monkeypatch.setattr(compare_run, "optimize_runs", dies_after_one)
    with pytest.raises(KeyboardInterrupt):
        build_atlas(config, progress=False)
    assert not list(out.glob("results/*/*/compare*"))  # nothing half-written
    assert (out / "results" / "fc" / "0" / "positive.json").is_file()
    monkeypatch.setattr(compare_run, "optimize_runs", optimize)
    resumed = build_atlas(config, progress=False)
    assert _note(resumed).startswith("compare: 1 of 1 units computed")
    assert (out / "compare.html").is_file()
