"""The Python API speaks Python: `atlas.layers()` gives what `atlas layers` prints as
objects, `channels=` takes ints, lists and ranges, errors name keyword arguments, a
labelled torch Dataset names a module's classes, and `from atlas import *` shadows no
built-in."""

from __future__ import annotations

import builtins
from pathlib import Path

import pytest
import torch
from torch import nn

import atlas
from atlas.api import channels_text
from atlas.api_messages import in_python
from atlas.cli import main


class TwoConvs(nn.Module):
    def __init__(self, classes: int = 3) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1)
        self.conv2 = nn.Conv2d(4, 6, 3, padding=1)
        self.head = nn.Linear(6, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.conv1(x))
        x = torch.relu(self.conv2(x))
        return self.head(x.mean((2, 3)))


class Stripes(torch.utils.data.Dataset):
    """(image, label) pairs, with `classes` as torchvision's datasets have them."""

    classes = ["Left", "middle", "right"]

    def __len__(self) -> int:
        return 12

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        image = torch.full((3, 16, 16), 0.1)
        image[:, :, (index % 3) * 5:(index % 3) * 5 + 5] = 0.9
        return image, index % 3


def _net(classes: int = 3) -> TwoConvs:
    torch.manual_seed(0)
    return TwoConvs(classes)


QUICK = {"layers": ["conv2"], "steps": 2, "image_size": 16, "views": ["positive"],
         "progress": False}


def test_a_star_import_shadows_no_builtin() -> None:
    assert set(atlas.__all__) & set(dir(builtins)) == set()
    scope: dict[str, object] = {}
    exec("from atlas import *", scope)
    assert "open" not in scope and "layers" in scope and "build" in scope
    assert atlas.open is atlas.api.open  # still there by its documented name


def test_layers_of_a_module_in_memory_are_objects() -> None:
    listing = atlas.layers(_net(), image_size=16)
    assert listing.names == ["conv1", "conv2", "head"]
    conv2 = listing["conv2"]
    assert (conv2.type, conv2.shape, conv2.channels) == ("Conv2d", (6, 16, 16), 6)
    assert listing["head"].shape == (3,) and listing.size == 16
    assert listing.defaults == ["conv1", "conv2", "head"]
    assert "\nconv2  Conv2d  6x16x16              6\n" in repr(listing)


def test_the_api_listing_is_the_commands_listing(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["layers", "--image-size", "40"]) == 0
    printed = capsys.readouterr().out.rstrip("\n").splitlines()
    listing = atlas.layers(image_size=40)
    assert listing.lines() == printed
    assert printed[-1].endswith("Try the model's own --image-size 28.")
    assert repr(listing).endswith("Try the model's own image_size=28.")


@pytest.mark.parametrize(("given", "text"), [
    (3, "3"), ([0, 2], "0,2"), ((1, 4), "1,4"), (range(4), "0-3"), (range(2, 3), "2"),
    (range(0, 6, 2), "0,2,4"), ("0-3,7", "0-3,7"), (None, None),
])
def test_channels_takes_an_int_a_list_a_range_or_text(given: object, text: str | None) -> None:
    assert channels_text(given) == text


@pytest.mark.parametrize(("given", "message"), [
    ([], r"^channels=\[\]: give a channel number"),
    (True, r"^channels=True: give a channel number"),
    ([0, -1], r"^channels holds -1; a channel is a whole number from 0$"),
    ([0.5], r"^channels holds 0.5; a channel is a whole number from 0$"),
])
def test_channels_refuses_what_is_no_channel(given: object, message: str) -> None:
    with pytest.raises(atlas.AtlasError, match=message):
        channels_text(given)


def test_a_build_takes_a_list_of_channels(tmp_path: Path) -> None:
    built = atlas.build(_net(), out=tmp_path / "site", channels=[0, 2], class_pages=False,
                        **QUICK)
    assert built.units("conv2") == [0, 2]


@pytest.mark.parametrize(("message", "python"), [
    ("--device cuda was given but no CUDA GPU is available; use --device cpu",
     "device='cuda' was given but no CUDA GPU is available; use device='cpu'"),
    ("the smallest image size that works is 32: use --image-size 32.",
     "the smallest image size that works is 32: use image_size=32."),
    ("no stored results in s; run `atlas build --out s` first",
     "no stored results in s; run `atlas.build(..., out='s')` first"),
    ("name at least one layer (see `atlas layers`)",
     "name at least one layer (see `atlas.layers()`)"),
    ("choose another --out, or add --force to put it there",
     "choose another out=, or add force=True to put it there"),
    ("check that --weights belongs to --model", "check that weights= belongs to model="),
    ("give it with --weights FILE", "give it with weights=FILE"),
    ("--no-class-pages skips them", "class_pages=False skips them"),
    ("then run `atlas render` (the results are kept)",  # the API has no render
     "then run `atlas render` (the results are kept)"),
    ("--dataset-images must be at least 1", "--dataset-images must be at least 1"),  # not a setting
])
def test_flags_of_settings_read_as_keyword_arguments(message: str, python: str) -> None:
    assert in_python(message) == python


def test_errors_through_the_api_name_keyword_arguments(tmp_path: Path) -> None:
    if torch.cuda.is_available():
        pytest.skip("the device message needs a machine without CUDA")
    with pytest.raises(atlas.AtlasError, match=r"^device='cuda' was given but no CUDA GPU is "
                                               r"available; use device='cpu'$"):
        atlas.build(_net(), out=tmp_path / "site", device="cuda", **QUICK)
    with pytest.raises(atlas.AtlasError, match=r"see `atlas.layers\(\)`\)$"):
        atlas.build(_net(), out=tmp_path / "site", **{**QUICK, "layers": []})


def test_the_command_line_keeps_its_flags(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["build", "--layers", ""]) == 2
    assert capsys.readouterr().err.rstrip().endswith("(see `atlas layers`)")


@pytest.mark.parametrize(("classes", "labels"), [(3, "dataset"), (4, "predictions")])
def test_a_labelled_dataset_names_the_modules_classes(tmp_path: Path, classes: int,
                                                      labels: str) -> None:
    built = atlas.build(_net(classes), dataset=Stripes(), out=tmp_path / "site",
                        channels="0-1", **{**QUICK, "views": ["positive", "examples"]})
    entry = built.manifest["classes"]
    assert entry["labels"] == labels
    names = [row["name"] for row in entry["classes"]]
    if labels == "dataset":
        assert names == Stripes.classes
    else:  # four outputs, three names: which is which is unknown, so none is named
        assert names and set(names) <= {"0", "1", "2", "3"}
