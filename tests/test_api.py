"""atlas from Python: atlas.build with a module, a torch Dataset or a Hugging Face split
in memory, atlas.open, the Atlas objects and their inline HTML, and the command line's
results from the same settings."""

from __future__ import annotations

import filecmp
import json
from pathlib import Path

import pytest
import torch
from PIL import Image
from torch import nn

import atlas
from atlas.cli import main

STEPS = 4


class TinyNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 3, padding=1)
        self.conv2 = nn.Conv2d(6, 8, 3, padding=1)
        self.fc = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.conv1(x))
        x = torch.relu(self.conv2(x))
        return self.fc(x.mean((2, 3)))


class Squares(torch.utils.data.Dataset):
    """Images with a bright square where the class says (tensors, (image, label) pairs)."""

    classes = ["left", "<b>middle</b>", "right"]

    def __len__(self) -> int:
        return 30

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        image = torch.full((3, 24, 24), 0.2)
        column = (index % 3) * 8
        image[:, 8:16, column:column + 8] = 0.9
        image[index % 3] *= 0.5
        return image, index % 3


def _net(seed: int = 0) -> TinyNet:
    torch.manual_seed(seed)
    return TinyNet()


SETTINGS = dict(layers=["conv2"], channels="0-3", steps=STEPS, image_size=24,
                views=["positive", "negative", "examples", "spectrum"], progress=False)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> atlas.Atlas:
    out = tmp_path_factory.mktemp("api") / "site"
    return atlas.build(_net(), dataset=Squares(), out=out, **SETTINGS)


def test_a_module_and_a_torch_dataset_build_an_atlas(built: atlas.Atlas) -> None:
    assert built.layers == ["conv2"] and built.units("conv2") == [0, 1, 2, 3]
    assert built.model["spec"] == "python:TinyNet"
    unit = built.unit("conv2", 2)
    assert set(unit.views) == {"positive", "negative"}
    assert all(path.is_file() for paths in unit.views.values() for path in paths)
    assert len(unit.activations("positive")) == 1
    assert unit.page.is_file() and unit.page == built.page(unit)
    assert unit.labels["class"]["value"] in Squares.classes
    assert "faithfulness" in unit.scores
    dataset = built.manifest["dataset"]
    assert dataset["spec"] == "python:Squares" and dataset["images"] == 30
    assert dataset["label_keys"] == ["class"]


def test_the_inline_html_embeds_images_and_escapes_names(built: atlas.Atlas) -> None:
    unit = built.unit("conv2", 1)
    html = unit._repr_html_()
    assert html.count("data:image/png;base64,") >= 2 + 4  # optimized views, examples
    assert "conv2:1" in html and "<b>middle</b>" not in html
    columns = [column["name"] for column in unit.record["views"]["spectrum"]["columns"]]
    assert all(f"<em>{name}</em>" in html for name in columns)
    layer = built.layer("conv2")._repr_html_()
    assert layer.count("data:image/png;base64,") == 4
    assert "conv2" in built._repr_html_()


def test_the_same_call_resumes_and_a_changed_weight_recomputes(tmp_path: Path) -> None:
    first = atlas.build(_net(), dataset=Squares(), out=tmp_path, **SETTINGS)
    assert first.report.jobs_computed == 8
    again = atlas.build(_net(), dataset=Squares(), out=tmp_path, **SETTINGS)
    assert again.report.jobs_computed == 0 and again.report.jobs_total == 8
    changed = _net()
    with torch.no_grad():
        changed.conv2.bias[0] += 0.5
    assert changed.training  # the caller's module is left as it was
    rebuilt = atlas.build(changed, dataset=Squares(), out=tmp_path, **SETTINGS)
    assert rebuilt.report.jobs_computed == 8
    assert changed.training and changed.conv2.weight.device.type == "cpu"


def test_a_spec_through_the_api_and_the_command_line_give_the_same_results(
        tmp_path: Path) -> None:
    flags = ["--layers", "conv2,fc", "--channels", "0-1", "--steps", "3",
             "--views", "positive,negative,examples", "--dataset-limit", "40"]
    assert main(["build", *flags, "--out", str(tmp_path / "cli"), "--quiet"]) == 0
    atlas.build("colored-digits", layers=["conv2", "fc"], channels="0-1", steps=3,
                views=["positive", "negative", "examples"], dataset_limit=40,
                out=tmp_path / "api", progress=False)
    compared = filecmp.dircmp(tmp_path / "cli" / "results", tmp_path / "api" / "results")
    files = _all_files(tmp_path / "cli" / "results")
    assert files == _all_files(tmp_path / "api" / "results") and len(files) > 20
    different = [name for name in files if (tmp_path / "cli" / "results" / name).read_bytes()
                 != (tmp_path / "api" / "results" / name).read_bytes()]
    assert different == [], compared.report()


def _all_files(root: Path) -> list[str]:
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())


def test_a_hugging_face_split_is_a_dataset(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    images, labels = [], []
    for index in range(24):
        image = Image.new("RGB", (32, 32), (40 * (index % 3), 90, 200 - 50 * (index % 3)))
        images.append(image)
        labels.append(index % 3)
    split = datasets.Dataset.from_dict(
        {"img": images, "label": labels},
        features=datasets.Features({"img": datasets.Image(),
                                    "label": datasets.ClassLabel(names=["red", "green", "blue"])}))
    built = atlas.build(_net(), dataset=split, out=tmp_path / "site", **SETTINGS)
    assert built.manifest["dataset"]["images"] == 24
    labels_seen = {example["labels"]["class"] for unit in built.units("conv2")
                   for example in built.unit("conv2", unit).record["views"]["examples"]["max"]}
    assert labels_seen <= {"red", "green", "blue"} and labels_seen


def test_a_dataset_name_names_it_and_joins_its_key(tmp_path: Path) -> None:
    from atlas.datasets.in_memory import ItemsDataset

    first = ItemsDataset(Squares(), 24, None, 0, "crop")
    assert first.spec == "python:Squares" and first.labels(1) == {"class": "<b>middle</b>"}
    assert ItemsDataset(Squares(), 24, None, 0, "crop").fingerprint == first.fingerprint
    renamed = ItemsDataset(Squares(), 24, None, 0, "crop", "squares v2")
    assert renamed.spec == "squares v2" and renamed.fingerprint != first.fingerprint
    built = atlas.build(_net(), dataset=Squares(), dataset_name="squares v2",
                        out=tmp_path, **SETTINGS)
    assert built.manifest["dataset"]["spec"] == "squares v2"
    assert built.manifest["dataset"]["fingerprint"] == renamed.fingerprint


def test_atlas_open_reads_a_built_site(built: atlas.Atlas) -> None:
    opened = atlas.open(built.path)
    assert opened.layers == built.layers and opened.report is None
    assert opened.unit("conv2", 3).record == built.unit("conv2", 3).record


@pytest.mark.parametrize(("call", "message"), [
    (lambda out: atlas.build(_net(), out=out, stpes=3),
     r"^unknown setting 'stpes' \(did you mean 'steps'\?\)$"),
    (lambda out: atlas.build(_net(), out=out, steps=0), r"^steps must be at least 1, not 0$"),
    (lambda out: atlas.build("not a model", out=out), r"^unknown model 'not a model'"),
    (lambda out: atlas.build(42, out=out), r"^the model is a int; give a torch.nn.Module"),
    (lambda out: atlas.build(_net(), dataset=iter([1]), out=out, **SETTINGS),
     r"^the dataset is a list_iterator without a length"),
    (lambda out: atlas.build(_net(), dataset=["text"], out=out, **SETTINGS),
     r"^dataset item 0 holds a str, not an image"),
    (lambda out: atlas.build(_net(), weights="w.pt", out=out),
     r"^weights and pretrained apply to a model spec"),
    (lambda out: atlas.open(out), r"^no atlas in .* \(no atlas.json\)"),
])
def test_bad_input_is_one_atlas_error(call, message: str, tmp_path: Path) -> None:
    with pytest.raises(atlas.AtlasError, match=message) as raised:
        call(tmp_path / "site")
    assert "\n" not in str(raised.value)


def test_a_missing_unit_or_layer_names_what_there_is(built: atlas.Atlas) -> None:
    with pytest.raises(atlas.AtlasError, match=r"no layer 'conv3' \(did you mean 'conv2'\?\)"):
        built.unit("conv3", 0)
    with pytest.raises(atlas.AtlasError, match="has no unit 9 in this atlas; its units are 0-3"):
        built.unit("conv2", 9)
    with pytest.raises(atlas.AtlasError, match="has no 'diversity' view; it has: "):
        built.unit("conv2", 0).activations("diversity")


def test_the_manifest_records_the_in_memory_models_key(built: atlas.Atlas) -> None:
    from atlas.models.in_memory import module_digest

    record = json.loads((built.path / "atlas.json").read_text())["model"]
    assert record["weights_sha256"] == module_digest(_net())


def test_docs_api_reference_is_current() -> None:
    from atlas.api_reference import api_markdown

    page = Path(__file__).parent.parent / "docs" / "api-reference.md"
    assert page.read_text(encoding="utf-8") == api_markdown(), (
        "docs/api-reference.md is out of date: run `make docs`")
