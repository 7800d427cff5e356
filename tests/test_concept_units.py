"""A concept is a unit: a dictionary's concepts read as a layer (the projection of the
layer's output on each direction), keyed by the dictionary, built with the same views
as channels, on pages of their own beside the layer's, with their loadings."""

from __future__ import annotations

import copy
import json
import pickle
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from engine_helpers import tiny_model

from atlas.config import make_config
from atlas.manifest_io import read_manifest
from atlas.models.concept_reads import attach, concept_layer
from atlas.models.layers import LayerInfo
from atlas.optvis.hooks import capture
from atlas.pipeline.build import build_atlas
from atlas.pipeline.cost.forecast import plan_build
from atlas.pipeline.dataset.scan import ScanLayer, scan_key
from atlas.pipeline.jobs import common_settings, unit_jobs

DIRECTIONS = torch.tensor([[3.0, 4.0], [0.0, -2.0], [1.0, 1.0]])


def test_a_concept_layer_reads_the_projection_on_each_unit_direction() -> None:
    model = tiny_model()
    attach(model, "conv", DIRECTIONS)
    image = torch.rand(2, 3, 6, 6, generator=torch.Generator().manual_seed(0))
    with capture(model, ["conv", concept_layer("conv"), "fc"]) as run:
        acts = run(image)
    unit = DIRECTIONS / DIRECTIONS.norm(dim=1, keepdim=True)  # (0.6, 0.8), (0, -1), ...
    expected = torch.einsum("nchw,kc->nkhw", acts["conv"], unit)
    assert acts["conv#concepts"].shape == (2, 3, 6, 6)
    assert torch.allclose(acts["conv#concepts"], expected, atol=1e-6)
    assert torch.allclose(acts["conv#concepts"][:, 1], -acts["conv"][:, 1], atol=1e-6)
    with capture(model, [concept_layer("conv")]) as run:  # alone, the forward stops early
        assert torch.allclose(run(image)["conv#concepts"], expected, atol=1e-6)


def test_the_directions_travel_with_the_model_and_a_missing_one_is_a_key_error() -> None:
    model = tiny_model()
    attach(model, "fc", torch.eye(3)[:2])
    image = torch.rand(1, 3, 6, 6, generator=torch.Generator().manual_seed(1))
    for copied in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
        with capture(copied, ["fc", concept_layer("fc")]) as run:
            acts = run(image)
        assert torch.equal(acts["fc#concepts"], acts["fc"][:, :2])
    with pytest.raises(KeyError, match="no concepts are attached for 'conv#concepts'"):
        with capture(model, [concept_layer("conv")]):
            pass
    assert [name for name, _ in model.named_modules()] == ["", "conv", "relu", "pool",
                                                           "flatten", "fc"]


def test_every_key_of_a_concept_layer_holds_its_dictionary_and_a_channels_none() -> None:
    config = make_config({}, {"views": ["positive", "negative", "diversity"], "steps": 4})
    common = common_settings(config, "m", None, 28, "t")
    keys = {}
    for dictionary in ("a" * 64, "b" * 64):
        info = LayerInfo("conv3#concepts", "Concepts", (4, 7, 7), dictionary=dictionary)
        keys[dictionary] = ([job.key for job in unit_jobs(
            config, {**common, **info.key_settings()}, info, 0)]
            + [scan_key(common, ScanLayer.of(info))])
    assert len(keys["a" * 64]) == 4
    assert not set(keys["a" * 64]) & set(keys["b" * 64])
    channel = LayerInfo("conv3", "Conv2d", (32, 7, 7))
    assert channel.key_settings() == {}
    assert scan_key(common, ScanLayer.of(channel)) == scan_key(
        common, ScanLayer("conv3", 32, "conv3"))


SETTINGS = {"layers": ["conv2", "conv3"], "channels": "0-3", "steps": 8,
            "views": ["positive", "negative", "examples"], "dataset_limit": 96}


def _build(site: Path, **changes):
    return build_atlas(make_config({}, {**SETTINGS, **changes, "out": str(site)}),
                       progress=False)


@pytest.fixture(scope="module")
def sites(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("concept_units")
    _build(root / "plain")
    _build(root / "concepts", concepts={"conv3": "sae:6"})
    return root / "plain", root / "concepts"


def test_concepts_are_a_layer_after_theirs_and_change_no_channel_result(sites) -> None:
    plain, site = sites
    layers = [(layer["name"], layer.get("concepts_of"), layer["unit_count"])
              for layer in read_manifest(site)["layers"]]
    assert layers == [("conv2", None, 4), ("conv3", None, 4), ("conv3#concepts", "conv3", 6)]
    for layer in ("conv2", "conv3"):
        for path in (plain / "results" / layer).rglob("*"):
            if path.is_file():
                twin = site / path.relative_to(plain)
                assert twin.read_bytes() == path.read_bytes(), path
    plain_units = json.loads((plain / "results" / "_build" / "analysis.json").read_text())
    units = json.loads((site / "results" / "_build" / "analysis.json").read_text())
    assert units["units"]["conv3"] == plain_units["units"]["conv3"]
    assert set(units["units"]["conv3#concepts"]) == {str(k) for k in range(6)}
    assert "concepts" not in plain_units


def test_the_summary_compares_concepts_with_channels(sites) -> None:
    """The means are the units' own scores averaged; the sentence says which is better."""
    _, site = sites
    analysis = json.loads((site / "results" / "_build" / "analysis.json").read_text())
    row, = analysis["concepts"]["layers"]
    assert (row["layer"], row["concepts_layer"]) == ("conv3", "conv3#concepts")
    for kind, layer in (("channels", "conv3"), ("concepts", "conv3#concepts")):
        scores = [unit["faithfulness"] for unit in analysis["units"][layer].values()]
        assert row[kind]["faithfulness"] == pytest.approx(np.mean(scores), abs=1e-4)
        assert row[kind]["units"] == row[kind]["faithfulness_units"] == len(scores)
    assert row["more_faithful"] == (row["concepts"]["faithfulness"]
                                    > row["channels"]["faithfulness"])
    page = (site / "summary.html").read_text()
    better = "more faithful" if row["more_faithful"] else "less faithful"
    assert (f"conv3&#39;s 6 concepts are {better} ({row['concepts']['faithfulness']:.3g}"
            in page)
    assert 'href="concepts/conv3.html">conv3 concepts</a>' in page


def test_a_concepts_examples_are_ranked_by_its_projection(sites) -> None:
    """The top example's stored value is the concept's strongest projection on that image,
    recomputed here from the stored directions and the model."""
    _, site = sites
    from atlas.datasets import open_dataset
    from atlas.models.registry import load_model

    folder = next((site / "results" / "_concepts").glob("conv3-*"))
    directions = torch.from_numpy(np.load(folder / "dictionary.npz")["directions"])
    loaded = load_model()
    attach(loaded.module, "conv3", directions)
    dataset = open_dataset("colored-digits", 28, 96, 0)
    manifest = read_manifest(site)
    concepts = next(layer for layer in manifest["layers"] if layer["name"] == "conv3#concepts")
    checked = 0
    for unit in concepts["units"]:
        top = unit["views"]["examples"]["max"][0]
        index = next(i for i in range(len(dataset)) if dataset.source(i) == top["source"])
        image, _ = dataset.load([index])
        with torch.no_grad(), capture(loaded.module, ["conv3#concepts"]) as run:
            value = run(loaded.preprocess(image))["conv3#concepts"][0, unit["index"]].max()
        assert float(value) == pytest.approx(top["value"], rel=1e-4, abs=1e-4)
        checked += 1
    assert checked == 6


def test_concept_pages_the_switch_and_the_loadings_link_to_real_pages(sites) -> None:
    _, site = sites
    layers = {layer["name"]: layer for layer in read_manifest(site)["layers"]}
    concepts, channels = layers["conv3#concepts"], layers["conv3"]
    assert concepts["page"] == "concepts/conv3.html"
    assert [unit["page"] for unit in concepts["units"]] == [
        f"concepts/conv3/{k}.html" for k in range(6)]
    assert concepts["concepts"] == channels["concepts"]
    for unit in concepts["units"]:
        weights = [entry["weight"] for entry in unit["loadings"]]
        assert {entry["layer"] for entry in unit["loadings"]} == {"conv3"}
        assert len(weights) == 8 and weights == sorted(weights, key=abs, reverse=True)
        assert 0 < sum(w * w for w in weights) <= 1 + 1e-3  # a unit direction's share
    for unit in channels["units"]:
        assert 1 <= len(unit["loadings"]) <= 5
        assert {entry["layer"] for entry in unit["loadings"]} == {"conv3#concepts"}
    assert "loadings" not in layers["conv2"]["units"][0]

    def links(page: Path) -> list[Path]:
        return [(page.parent / href).resolve()
                for href in re.findall(r'href="([^"#]+\.html)"', page.read_text())]

    layer_page = site / "concepts" / "conv3.html"
    text = layer_page.read_text()
    assert "<h1>Concepts of conv3</h1>" in text
    assert re.search(r'<nav class="layer-switch".*?Channels · 4</a>.*?'
                     r'aria-current="page">Concepts · 6</a>', text, re.S)
    assert "projection of conv3&#39;s output" in text or "projection of conv3's output" in text
    assert 'Channels · 4' in (site / "layers" / "conv3.html").read_text()
    unit_page = site / "concepts" / "conv3" / "2.html"
    assert "<h1>conv3 concept 2" in unit_page.read_text()
    assert "Made of conv3" in unit_page.read_text()
    assert "Concepts it weighs in" in (site / "units" / "conv3" / "0.html").read_text()
    pages = {(name, unit["index"]): unit["page"]
             for name, layer in layers.items() for unit in layer["units"]}
    for page, unit in ((unit_page, concepts["units"][2]),
                       (site / "units" / "conv3" / "0.html", channels["units"][0])):
        found = links(page)
        assert found and all(path.is_file() for path in found), page
        assert {site / pages[entry["layer"], entry["unit"]] for entry in unit["loadings"]
                if (entry["layer"], entry["unit"]) in pages} <= set(found)
    assert site / "concepts" / "conv3" / "5.html" in links(layer_page)
    import atlas  # the Python API reads a concept as a unit of its concept layer

    concept = atlas.open(site).unit("conv3#concepts", 2)
    assert (concept.label, concept.page) == ("conv3 concept 2", unit_page)
    assert "conv3 concept 2" in concept._repr_html_()
    assert all(path.is_file() for path in links(layer_page))


def test_plan_prices_the_concepts_their_views_and_the_class_pages(tmp_path: Path) -> None:
    config = make_config({}, {**SETTINGS, "concepts": {"conv3": "sae:6"},
                              "out": str(tmp_path / "site")})
    planned = plan_build(config, progress=False)
    assert planned.units == 14 and [cost.layer for cost in planned.concepts] == ["conv3"]
    assert planned.concept_images == 96 and planned.concepts[0].vectors == 96 * 8
    assert planned.concepts_seconds(1) > 0
    assert planned.class_images == 96 and planned.classes_seconds(1) > 0  # the class pages
    assert "conv3#concepts" in [cost.layer for cost in planned.costs]
    assert not (tmp_path / "site").exists()
