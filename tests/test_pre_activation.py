"""Clamped layers through real builds: the dataset pass, the examples and the
negative view read the pre-activation, the manifest and pages say so, and a layer
without a clamp stays as it was."""

from __future__ import annotations

from pathlib import Path

import pytest

from clamped_data import MODEL, SOLIDS, write_solids

from atlas.config import make_config
from atlas.manifest_io import read_manifest
from atlas.models.floors import Floor, pre_name
from atlas.models.layers import LayerInfo
from atlas.pipeline import jobs as plan
from atlas.pipeline.build import build_atlas
from atlas.views import VIEWS

K = 3


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory):
    data = write_solids(tmp_path_factory.mktemp("data") / "images")
    out = tmp_path_factory.mktemp("atlas") / "site"
    config = make_config({}, {"model": MODEL, "dataset": str(data), "views": ["spectrum"],
                              "steps": 8, "example_count": K, "out": str(out),
                              "layers": ["block", "silent", "head"]})
    build_atlas(config, progress=False)
    return out, read_manifest(out)


def _layer(manifest: dict, name: str) -> dict:
    return next(layer for layer in manifest["layers"] if layer["name"] == name)


def _unit(manifest: dict, layer: str, unit: int) -> dict:
    return next(entry for entry in _layer(manifest, layer)["units"] if entry["index"] == unit)


def test_the_manifest_says_which_layers_are_read_before_their_clamp(built) -> None:
    _, manifest = built
    assert _layer(manifest, "block")["pre_activation"] == {
        "floor": 0.0, "source": "the input of ReLU block.1"}
    assert _layer(manifest, "silent")["pre_activation"]["floor"] == 0.0
    assert _layer(manifest, "head")["pre_activation"] is None


def test_the_minimum_column_holds_the_pre_activations_negative_values(built) -> None:
    _, manifest = built
    examples = _unit(manifest, "block", 1)["views"]["examples"]
    greens_minus_blues = sorted((g - b) / 255 for _, g, b in SOLIDS)
    assert [item["value"] for item in examples["min"]] == pytest.approx(
        greens_minus_blues[:K], abs=1e-5)
    assert examples["min"][0]["value"] < examples["min"][1]["value"] < 0  # distinct, below 0
    assert examples["stats"]["min"] == pytest.approx(greens_minus_blues[0], abs=1e-5)
    assert examples["histogram"]["edges"][0] < 0


def test_the_negative_view_goes_below_the_floor(built) -> None:
    _, manifest = built
    for unit in (0, 1):
        negative = _unit(manifest, "block", unit)["views"]["negative"]["activations"][0]
        positive = _unit(manifest, "block", unit)["views"]["positive"]["activations"][0]
        assert negative < 0 < positive


def test_a_unit_that_never_fires_still_ranks_its_images(built) -> None:
    _, manifest = built
    examples = _unit(manifest, "silent", 0)["views"]["examples"]
    # before the clamp: -1 - red, so the least red image comes first
    values = [item["value"] for item in examples["max"]]
    assert values == pytest.approx(sorted((-1 - r / 255 for r, _, _ in SOLIDS),
                                          reverse=True)[:K], abs=1e-5)
    assert max(values) < 0


def test_pages_say_that_values_are_pre_activations(built) -> None:
    site, manifest = built
    unit_page = (site / _unit(manifest, "block", 1)["page"]).read_text()
    assert "Values are pre-activations, the input of ReLU block.1" in unit_page
    assert "pre-activations" in (site / _layer(manifest, "block")["page"]).read_text()
    head = (site / _layer(manifest, "head")["page"]).read_text()
    assert "pre-activations" not in head


@pytest.mark.parametrize("mode", ["all", "negative"])
def test_clamped_views_report_the_pre_activation_and_optimize_it_as_the_mode_says(
        mode: str) -> None:
    config = make_config({}, {"steps": 4, "pre_activation": mode})
    common = plan.common_settings(config, "tiny", "abc", 8, "standard")
    clamped = LayerInfo("block", "Sequential", (2, 8, 8),
                        floor=Floor(0.0, "the input of ReLU block.1"))
    jobs = {job.view: job for job in plan.unit_jobs(config, common, clamped, 1)}
    for view in ("negative", "neuron"):  # always optimized before the clamp
        target, measure = VIEWS[view].objective("block", [jobs[view]])
        assert target.layers == measure.layers == {pre_name("block")}
        assert jobs[view].settings["pre_activation"] == "optimized"
    for view in ("positive", "diversity", "seeds"):
        target, measure = VIEWS[view].objective("block", [jobs[view]])
        assert measure.layers == {pre_name("block")}
        assert target.layers == {pre_name("block") if mode == "all" else "block"}
        assert jobs[view].settings["pre_activation"] == (
            "optimized" if mode == "all" else "reported")


def test_a_layer_without_a_clamp_keeps_its_objectives_and_keys() -> None:
    config = make_config({}, {"steps": 4})
    common = plan.common_settings(config, "tiny", "abc", 8, "standard")
    plain = LayerInfo("head", "Linear", (2,))
    jobs = {job.view: job for job in plan.unit_jobs(config, common, plain, 1)}
    assert all("pre_activation" not in job.settings for job in jobs.values())
    target, measure = VIEWS["negative"].objective("head", [jobs["negative"]])
    assert target.layers == measure.layers == {"head"}


def test_pre_activation_off_reads_clamped_layers_at_their_output(tmp_path: Path) -> None:
    data = write_solids(tmp_path / "images", 4)
    config = make_config({}, {"model": MODEL, "dataset": str(data), "views": ["examples"],
                              "example_count": 2, "out": str(tmp_path / "site"),
                              "layers": ["block"], "pre_activation": "off"})
    build_atlas(config, progress=False)
    manifest = read_manifest(tmp_path / "site")
    assert _layer(manifest, "block")["pre_activation"] is None
    assert min(item["value"] for item in
               _unit(manifest, "block", 1)["views"]["examples"]["min"]) == 0.0


def test_flags_follow_the_data(built) -> None:
    site, manifest = built
    seen = set()
    for layer in manifest["layers"]:
        floor = (layer["pre_activation"] or {}).get("floor")
        for unit in layer["units"]:
            data_max = unit["views"]["examples"]["max"][0]["value"]
            positive = unit["scores"]["positive_value"]
            lost = positive is not None and positive < data_max - 1e-6
            never = floor is not None and data_max <= floor
            assert ("lost_to_data" in unit["flags"]) == lost or abs(positive - data_max) < 1e-6
            assert ("never_fires" in unit["flags"]) == never, unit["label"]
            seen.update(unit["flags"])
    assert "never_fires" in _unit(manifest, "silent", 0)["flags"]
    assert "never_fires" not in _unit(manifest, "silent", 1)["flags"]
    assert "never_fires" in seen
    summary = (site / "summary.html").read_text()
    assert "Never fires" in summary and "1 of 2" in summary
    page = (site / _unit(manifest, "silent", 0)["page"]).read_text()
    assert "This unit never fires" in page


def test_every_flag_has_its_words_in_the_manifests_order() -> None:
    from atlas.manifest_types import UNIT_FLAGS
    from atlas.site.status import FLAG_WORDS

    assert tuple(FLAG_WORDS) == UNIT_FLAGS
    assert all(len(words) == 3 and all(words) for words in FLAG_WORDS.values())
