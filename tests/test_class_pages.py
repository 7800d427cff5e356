"""Class pages: each class's margin shared out over the units of the last chosen layer
before the class output (gradient x activation), exact on a tiny model; the images of a
class by its labels, else by the model's predictions; pages reached from the nav and
from unit pages; stored with a key and not measured again."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from engine_helpers import tiny_model

from atlas.config import make_config
from atlas.dictionaries.dictionary import Dictionary
from atlas.manifest_io import read_manifest
from atlas.pipeline.build import build_atlas
from atlas.pipeline.classes.contributions import choose_images, contribution_chunk

IMAGES = torch.rand(5, 3, 6, 6, generator=torch.Generator().manual_seed(3))


def _engine() -> SimpleNamespace:
    return SimpleNamespace(model=tiny_model(), preprocess=torch.nn.Identity(),
                           device=torch.device("cpu"))


def test_the_channels_share_out_the_margin_less_the_biases_after_the_layer() -> None:
    """Through a ReLU, an average pool and a linear layer, Σ A·G at the conv is exactly
    the margin less the class output's bias margin."""
    engine = _engine()
    found = contribution_chunk(engine, "conv", "fc", IMAGES, [0, 1, 2, 0, 1], None,
                               lambda count: None)
    bias = engine.model.fc.bias.detach().numpy()
    with torch.no_grad():
        logits = engine.model(IMAGES).numpy()
    classes = np.array([0, 1, 2, 0, 1])
    margins = logits[np.arange(5), classes] - logits.mean(axis=1)
    assert np.allclose(found["margins"], margins, atol=1e-6)
    assert np.allclose(found["channels"].sum(axis=1), margins - (bias[classes] - bias.mean()),
                       atol=1e-5)
    assert found["channels"].shape == (5, 2)


def test_predictions_serve_as_classes_and_identity_concepts_equal_the_channels() -> None:
    engine = _engine()
    identity = Dictionary("nmf", np.eye(2, dtype=np.float32), 0)
    found = contribution_chunk(engine, "relu", "fc", IMAGES, None, identity,
                               lambda count: None)
    with torch.no_grad():
        predicted = engine.model(IMAGES).argmax(dim=1).numpy()
    assert np.array_equal(found["classes"], predicted)
    assert np.allclose(found["concepts"], found["channels"], atol=1e-5)
    assert np.array_equal(found["bias"], np.zeros(5))


class _Labelled:
    label_keys = ("class",)

    def __init__(self, labels: list[str]) -> None:
        self.names = labels

    def __len__(self) -> int:
        return len(self.names)

    def labels(self, index: int) -> dict[str, str]:
        return {"class": self.names[index]} if self.names[index] else {}


def test_images_of_a_class_are_its_labelled_ones_else_the_models_choice(monkeypatch) -> None:
    import atlas.pipeline.classes.contributions as contributions

    monkeypatch.setattr(contributions, "PER_CLASS", 2)
    dataset = _Labelled(["Tabby", "dog", "tabby ", "", "espresso", "tabby"])
    assert choose_images(dataset, ["espresso", "tabby"]) == ([0, 2, 4], [1, 1, 0])
    unlabelled = _Labelled(["dog", "cat", ""])
    assert choose_images(unlabelled, ["espresso", "tabby"]) == ([0, 1, 2], None)


SETTINGS = {"layers": ["conv2", "conv3", "fc"], "channels": "0-3", "steps": 8,
            "views": ["positive", "examples"], "dataset_limit": 120,
            "concepts": {"conv3": "sae:6"}}


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> tuple[Path, list[str], list[str]]:
    root = tmp_path_factory.mktemp("class_pages") / "site"
    first = build_atlas(make_config({}, {**SETTINGS, "out": str(root)}), progress=False)
    again = build_atlas(make_config({}, {**SETTINGS, "out": str(root)}), progress=False)
    return root, first.notes, again.notes


def test_a_page_per_digit_with_its_channels_and_concepts(site) -> None:
    root, notes, again = site
    assert any(re.match(r"classes: 10 classes of fc measured at conv3 over 120 images "
                        r"\(dataset as labels\)", note) for note in notes)
    assert not any(note.startswith("classes:") for note in again)  # stored with its key
    manifest = read_manifest(root)
    entry = manifest["classes"]
    assert (entry["layer"], entry["concepts_layer"], entry["logits"]) == (
        "conv3", "conv3#concepts", "fc")
    assert [row["name"] for row in entry["classes"]] == [str(d) for d in range(10)]
    assert sum(row["images"] for row in entry["classes"]) == entry["images"] == 120
    for row in entry["classes"]:
        shares = [unit["share"] for unit in row["channels"]]
        assert shares == sorted(shares, reverse=True) and len(shares) == 8
        assert row["attributed"] == pytest.approx(row["margin"], rel=0.2)
        # after conv3 only a ReLU, a flatten and fc: the channels carry the whole margin
        assert row["channels_share"] == pytest.approx(1, abs=0.05)
        assert len(row["concepts"]) == 6 and row["concepts_share"] is not None
    page = (root / "classes" / "2.html").read_text()
    assert "<h1>Class 2</h1>" in page and 'href="../units/fc/2.html">fc:2</a>' in page
    assert 'fc:7' not in (root / "classes" / "7.html").read_text()  # fc:7 is not chosen
    for unit in entry["classes"][2]["channels"][:4]:
        if unit["unit"] < 4:  # a chosen channel has a page and an image
            assert f'href="../units/conv3/{unit["unit"]}.html"' in page
    assert 'href="../concepts/conv3/' in page
    for href in re.findall(r'href="([^"#]+)"', page):
        assert (root / "classes" / href).resolve().is_file(), href
    listing = (root / "classes.html").read_text()
    assert all(f'href="classes/{d}.html"' in listing for d in range(10))
    assert 'href="classes.html">Classes</a>' in (root / "index.html").read_text()
    logit = (root / "units" / "fc" / "2.html").read_text()
    assert 'href="../../classes/2.html">its class page</a>' in logit


def test_a_unit_lists_the_classes_it_makes_most(site) -> None:
    root, _, _ = site
    manifest = read_manifest(root)
    entry = manifest["classes"]
    layer = next(layer for layer in manifest["layers"] if layer["name"] == "conv3")
    for unit in layer["units"]:
        expected = sorted(((row["index"], share["share"]) for row in entry["classes"]
                           for share in row["channels"] if share["unit"] == unit["index"]),
                          key=lambda pair: -pair[1])[:3]
        assert [(c["index"], c["share"]) for c in unit.get("classes", [])] == expected


def test_without_class_pages_nothing_is_measured(tmp_path: Path) -> None:
    settings = {**SETTINGS, "concepts": None, "class_pages": False,
                "out": str(tmp_path / "site")}
    report = build_atlas(make_config({}, settings), progress=False)
    assert "classes" not in report.timings
    assert "classes" not in read_manifest(tmp_path / "site")
    assert not (tmp_path / "site" / "classes.html").exists()
