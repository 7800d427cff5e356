"""The default atlas's dataset examples: labels and the summary's data-based
answers, measured on the shipped weights and the held-out coloured digits.

The counts come from the dataset pass alone (no optimization), so they are
fixed by the weights and the data; a different CPU's float kernels can flip
a near-tie at the edge of a top-10, hence the tolerance of one image."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from atlas.manifest_io import read_manifest
from atlas.config import make_config
from atlas.models.registry import load_model
from atlas.pipeline.build import build_atlas
from atlas.store import load_image

# class logit -> (top-10 examples of its class, top-10 examples in its training colour)
SHORTCUT = {0: (9, 3), 1: (6, 10), 2: (8, 3), 3: (7, 9), 4: (10, 3), 5: (8, 6), 6: (9, 5),
            7: (10, 5), 8: (1, 10), 9: (9, 3)}
# layer -> (mean top-10 colour share, mean top-10 class share, verdict)
COLOUR = {"conv1": (0.9, 0.4625, "colour"), "conv2": (0.9187, 0.5063, "colour"),
          "conv3": (0.9156, 0.4094, "colour"), "fc": (0.61, 0.83, "shape")}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("default") / "site"
    config = make_config({}, {"views": ["positive", "examples"], "steps": 32, "out": str(out)})
    build_atlas(config, progress=False)
    return out


@pytest.fixture(scope="module")
def manifest(site: Path) -> dict:
    return read_manifest(site)


def test_the_default_dataset_is_the_held_out_coloured_digits(manifest) -> None:
    dataset = manifest["dataset"]
    assert dataset["spec"] == "colored-digits"
    assert dataset["images"] == 629 and dataset["skipped"] == 0
    assert dataset["label_keys"] == ["class", "colour"]


def test_every_unit_has_examples_and_labels(manifest) -> None:
    for layer in manifest["layers"]:
        for unit in layer["units"]:
            examples = unit["views"]["examples"]
            assert all(len(examples[c]) == 10 for c in ("max", "min", "below", "above"))
            assert set(unit["labels"]) == {"class", "colour"}
            assert unit["labels"]["class"]["of"] == 10
            assert examples["max"][0]["labels"].keys() == {"class", "colour"}


def test_class_logits_top_examples_are_mostly_their_class(manifest) -> None:
    fc = next(layer for layer in manifest["layers"] if layer["name"] == "fc")
    matching = [unit["index"] for unit in fc["units"]
                if unit["labels"]["class"]["value"] == str(unit["index"])]
    assert len(matching) == 9 and 8 not in matching  # class 8 is read by its colour


def test_shortcut_counts_from_the_data(manifest) -> None:
    rows = {row["class"]: row for row in manifest["summary"]["shortcut"]["classes"]}
    for cls, (of_class, in_colour) in SHORTCUT.items():
        assert rows[cls]["top_count"] == 10
        assert rows[cls]["top_of_class"] == pytest.approx(of_class, abs=1)
        assert rows[cls]["top_in_class_colour"] == pytest.approx(in_colour, abs=1)


def test_colour_or_shape_from_the_examples(manifest) -> None:
    rows = {row["name"]: row for row in manifest["summary"]["colour"]["layers"]}
    for layer, (colour, shape, verdict) in COLOUR.items():
        assert rows[layer]["top_colour_share"] == pytest.approx(colour, abs=0.02)
        assert rows[layer]["top_class_share"] == pytest.approx(shape, abs=0.02)
        assert rows[layer]["examples_verdict"] == verdict


def test_faithfulness_beats_random_images(manifest) -> None:
    rows = manifest["summary"]["faithfulness"]["layers"]
    assert [row["name"] for row in rows] == ["conv1", "conv2", "conv3", "fc"]
    for row in rows:
        assert -1 <= row["baseline"] <= 1 and -1 <= row["faithfulness"] <= 1
        assert row["faithfulness"] > row["baseline"] + 0.2, row
    polysemantic = manifest["summary"]["polysemantic"]
    assert polysemantic["source"] == "examples" and len(polysemantic["units"]) == 8
    scores = [unit["score"] for unit in polysemantic["units"]]
    assert scores == sorted(scores, reverse=True) and scores[0] > 0



def test_the_model_reads_its_class_visualizations_as_measured(site, manifest) -> None:
    recognized = manifest["summary"]["recognition"]
    assert recognized["layer"] == "fc" and recognized["units"] == 10
    assert len(recognized["rows"]) == 10 and recognized["labelled"] == 10
    loaded = load_model()
    fc = {unit["index"]: unit for unit in
          next(layer for layer in manifest["layers"] if layer["name"] == "fc")["units"]}
    for row in recognized["rows"]:
        unit = fc[row["unit"]]
        assert row["class"] == str(row["unit"])
        assert row["image"] == unit["views"]["positive"]["images"][0]
        with torch.no_grad():  # the model reads the stored image itself
            logits = loaded.module(load_image(site / row["image"])[None])[0]
        assert row["rank"] == 1 + int((logits > logits[row["unit"]]).sum())
        assert row["predicted"] == str(int(logits.argmax()))
        top = unit["views"]["examples"]["max"][0]["labels"]["class"]
        assert row["top_example"] == top
        assert row["top_example_in_class"] == (top == str(row["unit"]))
    ranks = [row["rank"] for row in recognized["rows"]]
    assert ranks == sorted(ranks, key=lambda rank: rank == 1)  # misread ones first
    assert recognized["top1"] == pytest.approx(sum(r == 1 for r in ranks) / 10)
    assert recognized["top5"] == pytest.approx(sum(r <= 5 for r in ranks) / 10)
    assert recognized["top_example_in_class"] == sum(
        row["top_example_in_class"] for row in recognized["rows"])
    page = (site / "summary.html").read_text()
    assert "Does the model recognize its own class visualizations?" in page
