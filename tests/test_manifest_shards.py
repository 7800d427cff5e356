"""The sharded manifest: atlas.json an index, one unit file per layer, both read through
the typed contract; an old single-file site re-rendered; the renderer holding one
layer's units at a time."""

from __future__ import annotations

import json
import re
import tracemalloc
from pathlib import Path

import pytest

from atlas.synthetic_atlas import synthetic_manifest, write_sharded, write_synthetic
from atlas.cli import main
from atlas.config import make_config
from atlas.manifest_io import read_manifest, units_reader
from atlas.manifest_types import FORMAT, LAYER_FILES, LayerFile, LayerHeader, Manifest
from atlas.pipeline.build import build_atlas
from atlas.site import render_site


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("atlas") / "site"
    build_atlas(make_config({}, {"layers": ["conv1", "fc"], "channels": "0-2", "steps": 4,
                                 "views": ["positive", "negative"], "dataset": "none",
                                 "out": str(out)}), progress=False)
    return out


def test_atlas_json_is_an_index_and_each_layer_a_file(site: Path) -> None:
    index = json.loads((site / "atlas.json").read_text())
    assert index["format"] == FORMAT == 3
    # every field, the optional one (classes) where the build has class pages
    assert Manifest.__required_keys__ <= set(index) <= set(Manifest.__annotations__)
    assert ("classes" in index) == (index["dataset"] is not None)
    for header in index["layers"]:
        # every field a header must have, the optional ones (concepts) where they apply,
        # and no units in the index
        assert LayerHeader.__required_keys__ <= set(header) <= set(LayerHeader.__annotations__)
        assert "units" not in header
        assert re.fullmatch(f"{LAYER_FILES}/{header['slug']}-[0-9a-f]{{12}}\\.json",
                            header["units_file"])
        content = json.loads((site / header["units_file"]).read_text())
        assert set(content) == set(LayerFile.__annotations__)
        assert content["format"] == FORMAT and content["layer"] == header["name"]
        assert [unit["index"] for unit in content["units"]] == [0, 1, 2]
        assert header["unit_count"] == 3 and header["failed_views"] == 0


def test_the_whole_atlas_reads_back_in_one_dict(site: Path) -> None:
    whole = read_manifest(site)
    assert [layer["name"] for layer in whole["layers"]] == ["conv1", "fc"]
    unit = whole["layers"][1]["units"][2]
    assert unit["page"] == "units/fc/2.html" and (site / unit["page"]).is_file()
    assert unit["views"]["positive"]["images"]


def test_a_missing_unit_file_says_how_to_write_it_again(site: Path, tmp_path: Path) -> None:
    header = dict(json.loads((site / "atlas.json").read_text())["layers"][0])
    with pytest.raises(Exception, match="run `atlas render`"):
        units_reader(tmp_path)(header)


def test_an_old_single_file_site_re_renders(site: Path, tmp_path: Path) -> None:
    import shutil

    old = tmp_path / "old"
    shutil.copytree(site, old)
    whole = read_manifest(old)  # format 2: every unit inline, no unit files
    for layer in whole["layers"]:
        for key in ("units_file", "unit_count", "failed_views"):
            layer.pop(key)
    (old / "atlas.json").write_text(json.dumps({**whole, "format": 2}))
    shutil.rmtree(old / LAYER_FILES)
    assert main(["render", "--out", str(old), "--quiet"]) == 0
    index = json.loads((old / "atlas.json").read_text())
    assert index["format"] == FORMAT and "units" not in index["layers"][0]
    assert read_manifest(old)["layers"] == read_manifest(site)["layers"]


def _sharded(folder: Path, layers: int, units: int) -> dict:
    """The synthetic atlas written as a build writes it: an index and a file a layer."""
    return write_sharded(synthetic_manifest(layers, units), folder)


def _peak(run) -> int:
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_the_renderer_holds_one_layer_of_units_at_a_time(tmp_path: Path) -> None:
    layers, units = 6, 40
    data = tmp_path / "site"
    index = _sharded(data, layers, units)
    whole = _peak(lambda: _hold(index, data))
    rendered = _peak(lambda: render_site(index, data, progress=False, workers=1))
    assert (data / "units" / "mixed5" / f"{units - 1}.html").is_file()
    # Holding every layer's units costs `whole`; the render holds one layer's and a
    # stub of each other unit, well under that (measured: 0.41 of it with 6 layers).
    assert rendered < 0.6 * whole, (rendered, whole)


def _hold(index: dict, data: Path) -> None:
    """Every layer's units in memory at once, as a single-file manifest holds them."""
    reader = units_reader(data)
    held = [reader(header) for header in index["layers"]]
    assert len(held) == len(index["layers"])


def test_render_memory_grows_with_the_largest_layer_not_the_atlas(tmp_path: Path) -> None:
    """Four times the layers (same size each) cost the renderer little more memory:
    only the stubs and search rows of the extra units (measured: 1.08x)."""
    peaks = {}
    for layers in (2, 8):
        data = tmp_path / f"site{layers}"
        index = write_synthetic(layers, 40, data)
        peaks[layers] = _peak(lambda: render_site(index, data, progress=False, workers=1))
    assert peaks[8] < 1.5 * peaks[2], peaks


def test_layers_read_in_two_processes_give_the_same_site(tmp_path: Path) -> None:
    pages = {}
    for workers in (1, 2):
        data = tmp_path / f"site{workers}"
        index = write_synthetic(3, 30, data)
        render_site(index, data, progress=False, workers=workers)
        pages[workers] = {path.relative_to(data).as_posix(): path.read_bytes()
                          for path in data.rglob("*.html")}
        pages[workers]["search-index.js"] = (data / "search-index.js").read_bytes()
    assert pages[1] == pages[2]
