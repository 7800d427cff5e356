"""Connections in a build: stored per layer pair, limited to the atlas's units,
computed once, and carried into the manifest and the unit pages."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from atlas.config import make_config
from atlas.errors import AtlasError
from atlas.models.registry import load_model
from atlas.pipeline.weights.circuits import layer_connections
from atlas.pipeline.weights.connections import pair_file, store_connections, unit_connections
from atlas.site.connections_view import connection_groups, unit_targets, weight_map
from atlas.store import ResultStore

COMMON = {"atlas": "test", "model": "colored-digits", "weights_sha256": "x"}


@pytest.fixture(scope="module")
def loaded():
    return load_model("colored-digits")


def test_lists_stay_among_the_chosen_units_and_agree(loaded, tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    chosen = [("conv2", [1, 3, 5, 7]), ("conv3", [0, 2, 4]), ("fc", [0, 9])]
    pairs, computed = store_connections(store, loaded.module, loaded.preprocess, 28, chosen, 3,
                                        COMMON, loaded_device())
    assert pairs == [["conv2", "conv3"], ["conv3", "fc"]] and computed == 2
    links = unit_connections(store, pairs)
    full = layer_connections(loaded.module, loaded.preprocess, 28, "conv2", "conv3")
    for unit in (0, 2, 4):
        entries = links["conv3"][unit]["in"]
        assert entries == full.incoming(unit, 3, [1, 3, 5, 7])  # as computed, stored as is
        others = [e["unit"] for e in full.incoming(unit, 16)]  # among every unit of conv2
        assert [u for u in others if u in (1, 3, 5, 7)][:3] == [e["unit"] for e in entries]
        assert {e["unit"] for e in entries} <= {1, 3, 5, 7} and len(entries) == 3
        weights = [e["weight"] for e in entries]
        assert weights == sorted(weights, reverse=True)
        # the "out" list of an earlier unit names this unit with the same weight
        for entry in entries:
            back = {e["unit"]: e["weight"] for e in links["conv2"][entry["unit"]]["out"]}
            if unit in back:
                assert back[unit] == entry["weight"]
    assert set(links["fc"]) == {0, 9} and "out" not in links["fc"][0]
    assert "in" not in links["conv2"][1]


def test_stored_pairs_are_not_computed_again(loaded, tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    chosen = [("conv1", [0, 1]), ("conv2", [0, 1])]
    assert store_connections(store, loaded.module, loaded.preprocess, 28, chosen, 2, COMMON,
                             loaded_device())[1] == 1
    path = store.site_dir / "results" / "_build" / pair_file("conv1", "conv2")
    before = path.stat().st_mtime_ns
    assert store_connections(store, loaded.module, loaded.preprocess, 28, chosen, 2, COMMON,
                             loaded_device())[1] == 0
    assert path.stat().st_mtime_ns == before
    assert store_connections(store, loaded.module, loaded.preprocess, 28, chosen, 1, COMMON,
                             loaded_device())[1] == 1  # another top: another key
    assert store_connections(store, loaded.module, loaded.preprocess, 28, chosen, 0, COMMON,
                             loaded_device()) == ([], 0)


def test_connections_setting_is_checked() -> None:
    assert make_config({}, {"connections": 50}).validate().connections == 50
    with pytest.raises(AtlasError, match="connections must be from 0"):
        make_config({}, {"connections": 51}).validate()


def test_unit_page_entries_link_and_paint(loaded) -> None:
    manifest = {"layers": [
        {"name": "a", "units": [{"index": 0, "page": "units/a/0.html",
                                 "views": {"positive": {"images": ["results/a/0/p.png"]}}}]},
        {"name": "b", "units": [{"index": 3, "page": "units/b/3.html", "connections": {
            "in": [{"layer": "a", "unit": 0, "weight": 0.25, "scale": 0.01,
                    "map": [[1, -2], [99, 0]]},
                   {"layer": "a", "unit": 7, "weight": 0.125, "scale": 0.01, "map": [[0]]}]}}]},
    ]}
    unit = manifest["layers"][1]["units"][0]
    groups = connection_groups(unit["page"], unit, unit_targets(manifest))
    assert [g["title"] for g in groups] == ["Reads from a"]
    first, missing = groups[0]["entries"]
    assert first["href"] == "../a/0.html" and first["image"] == "../../results/a/0/p.png"
    assert first["map"] == "2 2 1 -2 99 0" and first["weight"] == "0.250"
    assert missing["href"] is None and missing["label"] == "a:7"  # not in the atlas: no link
    assert weight_map([[1, 2], [3]]) is None and weight_map([]) is None


def loaded_device() -> torch.device:
    return torch.device("cpu")
