"""The concepts phase on the default model: a dictionary per layer of the `concepts`
setting, sampled, fitted, measured and stored with a key; resumed, refitted when its
settings change, the same whichever chunks the sample came in."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from atlas.config import make_config
from atlas.errors import AtlasError
from atlas.pipeline.build import build_atlas
from atlas.pipeline.concepts.fit import sample_vectors
from atlas.pipeline.concepts.plan import PER_IMAGE
from atlas.pipeline.prepare import prepare_build

SETTINGS = {"channels": "0-1", "steps": 4, "views": ["positive", "examples"],
            "dataset_limit": 120, "concepts": {"conv2": "sae:8", "conv3": "sae:16"}}


def _build(site: Path, **changes):
    return build_atlas(make_config({}, {**SETTINGS, **changes, "out": str(site)}),
                       progress=False)


def _records(site: Path) -> dict[str, dict]:
    return {json.loads(path.read_text())["layer"]: json.loads(path.read_text())
            for path in sorted((site / "results" / "_concepts").glob("*/concepts.json"))}


def test_a_dictionary_per_layer_is_fitted_measured_and_stored(tmp_path: Path) -> None:
    report = _build(tmp_path / "site")
    records = _records(tmp_path / "site")
    assert set(records) == {"conv2", "conv3"}
    conv3 = records["conv3"]
    assert (conv3["method"], conv3["count"], conv3["vectors"]) == ("sae", 16, 120 * PER_IMAGE)
    assert 0.5 < conv3["r2"] <= 1 and 0 < conv3["stability"] <= 1
    folder = next((tmp_path / "site" / "results" / "_concepts").glob("conv3-*"))
    stored = np.load(folder / "dictionary.npz")
    assert stored["directions"].shape == (16, 32)
    assert np.allclose(np.linalg.norm(stored["directions"], axis=1), 1, atol=1e-5)
    assert any(note.startswith("concepts: conv2 sae:8 on 960 vectors, R² ")
               for note in report.notes)
    assert "concepts" in report.timings


def test_a_rebuild_resumes_and_a_changed_dictionary_is_refitted(tmp_path: Path) -> None:
    _build(tmp_path / "site")
    before = _records(tmp_path / "site")
    again = _build(tmp_path / "site")
    assert any(note.endswith("(0 of 2 fitted)") for note in again.notes)
    changed = _build(tmp_path / "site", concepts={"conv2": "sae:8", "conv3": "sae:12"})
    assert any(note.endswith("(1 of 2 fitted)") for note in changed.notes)
    after = _records(tmp_path / "site")
    assert after["conv2"] == before["conv2"] and after["conv3"]["count"] == 12
    assert len(list((tmp_path / "site" / "results" / "_concepts").glob("conv3-*"))) == 1


def test_the_sample_is_the_same_in_any_chunks(tmp_path: Path) -> None:
    from tqdm import tqdm

    ready = prepare_build(make_config({}, {**SETTINGS, "out": str(tmp_path / "site")}))
    with ready.executor, tqdm(disable=True) as bar:
        ready.executor.start(ready.engine)
        small = sample_vectors(ready.executor, ready.scanned, ["conv3", "fc"], 0, 7, bar)
        large = sample_vectors(ready.executor, ready.scanned, ["conv3", "fc"], 0, 64, bar)
    assert small["conv3"].shape == (120 * PER_IMAGE, 32) and small["fc"].shape == (120, 10)
    # the same positions of the same images; the model's arithmetic may round a batch of 7
    # and one of 64 differently in the last bits
    for layer in small:
        assert np.allclose(small[layer], large[layer], rtol=1e-5, atol=1e-5), layer


@pytest.mark.parametrize(("changes", "message"), [
    ({"concepts": {"conv9": "sae:4"}},
     "concepts name layer 'conv9', which this build does not visualize; its layers are: "
     "conv1, conv2, conv3, fc"),
    ({"concepts": {"conv3": "sae:4"}, "dataset": "none", "views": ["positive"]},
     "concepts are fitted on the dataset's activations, and this build has none"),
    ({"concepts": {"conv3": "nmf:4"}}, "nmf needs a non-negative layer, and this one reaches"),
    ({"concepts": {"conv3": "pca:4"}}, "concepts of layer 'conv3': concepts 'pca:4' must be a "
                                       "method and a count"),
])
def test_bad_concepts_are_one_line(changes: dict, message: str, tmp_path: Path) -> None:
    with pytest.raises(AtlasError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _build(tmp_path / "site", **changes)


def test_the_manifest_and_the_layer_page_give_the_measures(tmp_path: Path) -> None:
    from atlas.manifest_io import read_manifest

    _build(tmp_path / "site")
    stored = _records(tmp_path / "site")["conv3"]
    layers = {layer["name"]: layer for layer in read_manifest(tmp_path / "site")["layers"]}
    assert "concepts" not in layers["conv1"]
    assert layers["conv3"]["concepts"] == {
        "method": "sae", "count": 16, "vectors": 960, "per_image": PER_IMAGE,
        "r2": stored["r2"], "stability": stored["stability"], "dead": len(stored["dead"])}
    page = (tmp_path / "site" / "layers" / "conv3.html").read_text()
    assert (f"Concepts: a dictionary of 16 directions by a TopK sparse autoencoder, fitted "
            f"on 960 activation vectors (8 positions per dataset image). It reconstructs "
            f"{stored['r2']:.1%} of their variance") in page
    assert 'class="concepts"' not in (tmp_path / "site" / "layers" / "conv1.html").read_text()
