"""The dataset pass through real builds: exact examples on a model whose units
are known by construction, receptive-field crops, caching, an interrupted
pass, determinism, untrusted names, and the default atlas's labels."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from atlas.manifest_io import read_manifest
from atlas.config import make_config
from atlas.pipeline import prepare as prepare_module
from atlas.pipeline.build import build_atlas

MODELS = Path(__file__).parent / "models"
PROBE = f"{MODELS / 'colour_probe.py'}:build"
K = 3
# Solid 8x8 images: red rises with the index; green − blue takes both signs.
SOLIDS = [(20 * i, 10 * i, 60 + 5 * (i % 3) - 4 * i) for i in range(12)]
SPOT = (5, 6)  # the one red pixel of spot/spot.png
HOSTILE_CLASS = "<img src=x onerror=alert(1)>"


def _solid(colour: tuple[int, int, int]) -> Image.Image:
    return Image.new("RGB", (8, 8), tuple(max(0, c) for c in colour))


def make_folder(root: Path) -> Path:
    for i, colour in enumerate(SOLIDS):
        group = "warm" if colour[0] >= 120 else "cool"
        (root / group).mkdir(parents=True, exist_ok=True)
        _solid(colour).save(root / group / f"c{i:02d}.png")
    spot = np.zeros((8, 8, 3), np.uint8)
    spot[SPOT[0], SPOT[1], 0] = 255
    (root / "spot").mkdir()
    Image.fromarray(spot).save(root / "spot" / "spot.png")
    (root / HOSTILE_CLASS).mkdir()
    _solid((7, 7, 7)).save(root / HOSTILE_CLASS / "\"q'<b>.png")
    (root / "warm" / "truncated.png").write_bytes(
        (root / "warm" / "c11.png").read_bytes()[:40])
    return root


def config(out: Path, data: Path, **extra):
    values = {"model": PROBE, "dataset": str(data), "views": ["spectrum"], "steps": 4,
              "example_count": K, "out": str(out), **extra}
    return make_config({}, values)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_folder(tmp_path_factory.mktemp("data") / "images")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, data: Path):
    out = tmp_path_factory.mktemp("atlas") / "site"
    report = build_atlas(config(out, data), progress=False)
    return out, report, read_manifest(out)


def _unit(manifest: dict, layer: str, unit: int) -> dict:
    found = next(entry for entry in manifest["layers"] if entry["name"] == layer)
    return next(entry for entry in found["units"] if entry["index"] == unit)


def _sources(column: list[dict]) -> list[str]:
    return [item["source"] for item in column]


def test_top_and_bottom_examples_are_exact(built) -> None:
    _, _, manifest = built
    examples = _unit(manifest, "red", 0)["views"]["examples"]
    # The spot's one pure-red pixel beats every solid colour; then the reddest solids.
    assert _sources(examples["max"]) == ["spot/spot.png", "warm/c11.png", "warm/c10.png"]
    assert [item["value"] for item in examples["max"]] == pytest.approx(
        [1.0, 220 / 255, 200 / 255], abs=1e-6)
    assert examples["max"][0]["position"] == list(SPOT)
    # Red 0: c00 and the spot's black pixels tie at 0; the smaller index (path order) wins;
    # then the grey image (red 7) of the hostile class.
    assert _sources(examples["min"]) == ["cool/c00.png", "spot/spot.png",
                                         f"{HOSTILE_CLASS}/\"q'<b>.png"]
    assert examples["min"][0]["value"] == 0.0
    assert examples["max"][1]["labels"] == {"class": "warm"}


def test_threshold_columns_are_exact(built) -> None:
    _, _, manifest = built
    red = _unit(manifest, "red", 0)["views"]["examples"]
    values = sorted([c[0] / 255 for c in SOLIDS] + [1.0, 7 / 255])
    median = float(np.median(values))
    assert red["threshold"] == pytest.approx(median, abs=1e-6)  # all values >= 0: the median
    assert all(item["value"] < median for item in red["below"])
    assert all(item["value"] >= median for item in red["above"])
    assert [item["value"] for item in red["below"]] == sorted(
        [item["value"] for item in red["below"]], reverse=True)  # closest first
    green_blue = _unit(manifest, "red", 1)["views"]["examples"]
    assert green_blue["threshold"] == 0.0  # the unit takes both signs over the data
    assert green_blue["below"][0]["value"] < 0 <= green_blue["above"][0]["value"]
    for column in ("max", "min", "below", "above"):  # one image at most once per column
        assert len(set(_sources(red[column]))) == len(red[column]) == K
    assert sum(red["histogram"]["counts"]) == len(SOLIDS) + 2


def test_conv_examples_are_receptive_field_crops(built, data: Path) -> None:
    site, _, manifest = built
    box = next(layer for layer in manifest["layers"] if layer["name"] == "box")
    assert box["receptive_field"] == [3, 3]
    top = _unit(manifest, "box", 0)["views"]["examples"]["max"]
    solid = top[0]  # a solid image: every interior position ties; the first interior wins
    assert solid["source"] == "warm/c11.png" and solid["value"] == pytest.approx(220 / 255, 1e-5)
    head = _unit(manifest, "head", 0)["views"]["examples"]["max"]
    assert head[0]["position"] is None
    assert Image.open(site / head[0]["image"]).size == (8, 8)  # linear unit: whole image


def test_crop_is_the_window_around_the_extreme(tmp_path: Path) -> None:
    spot = np.zeros((8, 8, 3), np.uint8)
    spot[SPOT[0], SPOT[1]] = (255, 40, 90)
    (tmp_path / "data").mkdir()
    Image.fromarray(spot).save(tmp_path / "data" / "spot.png")
    _solid((0, 0, 0)).save(tmp_path / "data" / "black.png")
    report = build_atlas(config(tmp_path / "site", tmp_path / "data", views=["examples"],
                                layers=["box"]), progress=False)
    manifest = read_manifest(report.site_dir)
    top = _unit(manifest, "box", 0)["views"]["examples"]["max"][0]
    # Nine positions see the pixel equally; the first in row-major order wins.
    assert top["source"] == "spot.png" and top["position"] == [SPOT[0] - 1, SPOT[1] - 1]
    assert top["value"] == pytest.approx(1 / 9, abs=1e-6)
    crop = np.asarray(Image.open(report.site_dir / top["image"]).convert("RGB"))
    assert crop.shape == (3, 3, 3)
    assert (crop == spot[SPOT[0] - 2:SPOT[0] + 1, SPOT[1] - 2:SPOT[1] + 1]).all()
    assert (crop[2, 2] == spot[SPOT]).all()


def test_skipped_files_are_reported_and_the_build_goes_on(built) -> None:
    _, report, manifest = built
    assert manifest["dataset"]["skipped"] == 1
    assert manifest["dataset"]["skipped_sources"] == ["warm/truncated.png"]
    assert manifest["dataset"]["images"] == len(SOLIDS) + 2
    assert any("1 file(s) could not be read" in note and "warm/truncated.png" in note
               for note in report.notes)


def test_spectrum_has_six_columns_with_optimized_ends(built) -> None:
    _, _, manifest = built
    spectrum = _unit(manifest, "red", 0)["views"]["spectrum"]
    assert [c["name"] for c in spectrum["columns"]] == [
        "negative", "min", "below", "above", "max", "positive"]
    assert all(column["items"] for column in spectrum["columns"])
    assert "spectrum" in manifest["views"] and "examples" in manifest["views"]


def test_untrusted_names_are_escaped_on_pages(built) -> None:
    site, _, manifest = built
    unit = _unit(manifest, "red", 0)
    html = (site / unit["page"]).read_text()
    assert HOSTILE_CLASS not in html
    pages = "".join(path.read_text() for path in site.rglob("*.html"))
    assert "<img src=x onerror" not in pages
    for item in unit["views"]["examples"]["min"] + unit["views"]["examples"]["max"]:
        assert "<" not in item["image"] and "'" not in item["image"]  # crops are named by index


def test_rebuild_skips_the_pass_and_the_examples(built, data: Path) -> None:
    site, _, _ = built
    before = {p: p.stat().st_mtime_ns for p in (site / "results").rglob("*") if p.is_file()
              if "_build" not in p.parts}
    report = build_atlas(config(site, data), progress=False)
    assert report.jobs_computed == 0
    assert "dataset: pass cached for 3 layer(s)" in report.notes, report.notes
    assert any("0 of 5 units written" in note for note in report.notes), report.notes
    after = {p: p.stat().st_mtime_ns for p in before}
    assert after == before
    manifest = read_manifest(site)  # the field read back, not measured
    assert next(layer for layer in manifest["layers"] if layer["name"] == "box")[
        "receptive_field"] == [3, 3]


def test_interrupted_pass_leaves_no_result_and_resumes(tmp_path: Path, data: Path,
                                                       built, monkeypatch) -> None:
    real_open = prepare_module.open_dataset

    def interrupted(*args, **kwargs):
        dataset = real_open(*args, **kwargs)
        load, calls = dataset.load, []

        def load_then_stop(indices):
            calls.append(1)
            if len(calls) == 2:
                raise KeyboardInterrupt
            return load(indices)

        dataset.load = load_then_stop
        return dataset

    out = tmp_path / "site"
    monkeypatch.setattr(prepare_module, "open_dataset", interrupted)
    with pytest.raises(KeyboardInterrupt):
        build_atlas(config(out, data, dataset_batch=4), progress=False)
    folders = list((out / "results" / "_dataset").iterdir())
    assert folders and all(f.name.startswith(".partial-") for f in folders)
    monkeypatch.setattr(prepare_module, "open_dataset", real_open)
    build_atlas(config(out, data, dataset_batch=4), progress=False)
    folders = list((out / "results" / "_dataset").iterdir())
    assert len(folders) == 3 and not any(f.name.startswith(".") for f in folders)
    # Same examples as the uninterrupted build with another batch size.
    site, _, manifest = built
    resumed = read_manifest(out)
    for layer, unit in (("red", 0), ("red", 1), ("box", 0), ("head", 1)):
        assert (_unit(resumed, layer, unit)["views"]["examples"]
                == _unit(manifest, layer, unit)["views"]["examples"])


def test_two_builds_are_byte_identical(tmp_path: Path, data: Path, built) -> None:
    site, _, manifest = built
    other = tmp_path / "again"
    build_atlas(config(other, data), progress=False)
    again = read_manifest(other)
    assert {**again, "generated_at": None} == {**manifest, "generated_at": None}
    crops = sorted(p.relative_to(site) for p in (site / "results" / "_examples").rglob("*.png"))
    assert crops
    for rel in crops:
        assert (other / rel).read_bytes() == (site / rel).read_bytes()


def test_no_dataset_means_no_data_views(tmp_path: Path, data: Path) -> None:
    report = build_atlas(config(tmp_path / "s", data, dataset="none"), progress=False)
    manifest = read_manifest(report.site_dir)
    assert manifest["dataset"] is None
    unit = _unit(manifest, "red", 0)
    assert "examples" not in unit["views"] and "spectrum" not in unit["views"]
    assert "positive" in unit["views"]


def test_dataset_limit_samples_with_the_seed(tmp_path: Path, data: Path) -> None:
    report = build_atlas(config(tmp_path / "s", data, dataset_limit=5, views=["examples"]),
                         progress=False)
    manifest = read_manifest(report.site_dir)
    assert manifest["dataset"]["images"] + manifest["dataset"]["skipped"] == 5


def test_build_killed_during_the_pass_resumes(tmp_path: Path, data: Path) -> None:
    """A real `kill -9` while the pass runs: no finished result is left half-written,
    and the same command then completes with the same examples as a clean build."""
    import os
    import signal
    import subprocess
    import sys
    import time

    many = tmp_path / "many"
    many.mkdir()
    for i in range(600):
        _solid(((i * 37) % 256, (i * 11) % 256, (i * 5) % 256)).save(many / f"{i:04d}.png")
    out = tmp_path / "site"
    argv = [sys.executable, "-m", "atlas", "build", "--model", PROBE, "--dataset", str(many),
            "--views", "examples", "--example-count", "3", "--quiet", "--out", str(out)]
    with open(tmp_path / "config.toml", "w") as handle:
        handle.write("dataset_batch = 1\n")
    process = subprocess.Popen([*argv[:4], str(tmp_path / "config.toml"), *argv[4:]])
    partial = out / "results" / "_dataset"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if partial.is_dir() and any(p.name.startswith(".partial-") for p in partial.iterdir()):
            time.sleep(0.3)  # well inside the pass
            break
        time.sleep(0.02)
    assert process.poll() is None, "the pass ended before it could be killed"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert not any(p.name[0] != "." for p in partial.iterdir())  # nothing finished
    assert not (out / "atlas.json").exists()
    subprocess.run(argv, check=True)
    assert not any(p.name.startswith(".") for p in partial.iterdir())
    clean = tmp_path / "clean"
    subprocess.run([*argv[:-1], str(clean)], check=True)
    resumed = read_manifest(out)
    expected = read_manifest(clean)
    assert resumed["layers"] == expected["layers"]


def test_more_examples_per_column_rescan(tmp_path: Path, data: Path) -> None:
    out = tmp_path / "site"
    build_atlas(config(out, data, views=["examples"], example_count=2), progress=False)
    build_atlas(config(out, data, views=["examples"], example_count=4), progress=False)
    manifest = read_manifest(out)
    examples = _unit(manifest, "red", 0)["views"]["examples"]
    assert [len(examples[c]) for c in ("max", "min", "below", "above")] == [4, 4, 4, 4]
    assert len(list((out / "results" / "_dataset").iterdir())) == 3  # the k=2 results replaced
