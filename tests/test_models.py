"""Every model spec form builds a small atlas: torch-lucent's InceptionV1, a
torchvision ResNet-18 and a user model from a .py file, each with random or
saved weights; and every bad model input gets a one-line error."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from atlas.manifest_io import read_manifest
from atlas.cli import main
from atlas.config import make_config
from atlas.errors import AtlasError
from atlas.models.registry import load_model
from atlas.pipeline.build import build_atlas

USER_MODEL = Path(__file__).parent / "models" / "two_heads.py"
TINY = {"steps": 2, "views": ["positive", "negative"], "joint": []}


def tiny_build(out: Path, **settings) -> dict:
    build_atlas(make_config({}, {**TINY, "out": str(out), **settings}), progress=False)
    return read_manifest(out)


@pytest.fixture(scope="module")
def user_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The user model file plus its weights saved two ways."""
    folder = tmp_path_factory.mktemp("user")
    shutil.copy(USER_MODEL, folder / "two_heads.py")
    sys.path.insert(0, str(folder))
    try:
        import two_heads  # noqa: F401  (the test's own copy of the model)
    finally:
        sys.path.remove(str(folder))
    torch.manual_seed(123)
    model = sys.modules["two_heads"].build()
    torch.save(model.state_dict(), folder / "state.pt")
    torch.save({"epoch": 3, "state_dict": model.state_dict()}, folder / "checkpoint.pt")
    torch.save({"nothing": 1}, folder / "empty.pt")
    (folder / "notes.txt").write_text("not weights")
    return folder


def spec(folder: Path) -> str:
    return f"{folder / 'two_heads.py'}:build"


def test_inceptionv1_tiny_build_has_pages_and_branch_labels(tmp_path: Path) -> None:
    manifest = tiny_build(tmp_path / "site", model="lucent:inceptionv1", layers=["mixed3a",
                          "mixed4a"], channels="0,70", image_size=128)
    layers = {layer["name"]: layer for layer in manifest["layers"]}
    assert [b["label"] for b in layers["mixed3a"]["branches"]] == [
        "1x1", "3x3", "5x5", "pool projection"]
    assert [(b["start"], b["stop"]) for b in layers["mixed3a"]["branches"]] == [
        (0, 64), (64, 192), (192, 224), (224, 256)]
    assert [u["branch"] for u in layers["mixed3a"]["units"]] == ["1x1", "3x3"]
    assert [u["branch"] for u in layers["mixed4a"]["units"]] == ["1x1", "1x1"]
    unit = layers["mixed3a"]["units"][1]
    page = (tmp_path / "site" / unit["page"]).read_text()
    assert "3x3" in page
    with Image.open(tmp_path / "site" / unit["views"]["positive"]["images"][0]) as image:
        assert image.size == (128, 128)  # native size, no 224 upsampling
    assert manifest["model"]["preprocess"].startswith("inceptionv1")
    # Connections across mixed3b and a max-pool: expanded weights, among the atlas's units.
    for unit in layers["mixed4a"]["units"]:
        reads = unit["connections"]["in"]
        assert {e["unit"] for e in reads} == {0, 70} and all(e["layer"] == "mixed3a" for e in reads)
        assert reads[0]["weight"] >= reads[1]["weight"] > 0
        assert len(reads[0]["map"]) > 1  # spatial: the branches' kernels and the pool compose
    assert {e["unit"] for e in layers["mixed3a"]["units"][0]["connections"]["out"]} == {0, 70}
    assert 'class="weight-map"' in page


def test_resnet18_tiny_build_of_a_conv_and_the_linear_head(tmp_path: Path) -> None:
    manifest = tiny_build(tmp_path / "site", model="torchvision:resnet18",
                          layers=["layer1.0.conv1", "fc"], channels="0-1", image_size=64)
    shapes = {layer["name"]: layer["shape"] for layer in manifest["layers"]}
    assert shapes == {"layer1.0.conv1": [64, 16, 16], "fc": [1000]}
    for layer in manifest["layers"]:
        for unit in layer["units"]:
            positive = unit["views"]["positive"]["activations"][0]
            negative = unit["views"]["negative"]["activations"][0]
            assert positive > negative
    assert manifest["model"]["preprocess"] == "imagenet mean/std"
    assert manifest["summary"]["shortcut"] is None
    # fc reads layer1.0.conv1 through every residual block and the global pool.
    for unit in manifest["layers"][1]["units"]:
        reads = unit["connections"]["in"]
        assert [e["layer"] for e in reads] == ["layer1.0.conv1"] * 2 and reads[0]["weight"] > 0
        assert 1 < len(reads[0]["map"]) <= 11


@pytest.mark.parametrize("weights", ["state.pt", "checkpoint.pt"])
def test_user_model_uses_the_saved_weights(user_model_dir: Path, tmp_path: Path,
                                           weights: str) -> None:
    path = user_model_dir / weights
    manifest = tiny_build(tmp_path / "site", model=spec(user_model_dir), weights=str(path),
                          layers=["features.0", "head"], views=["positive", "negative", "kernel"])
    saved = torch.load(user_model_dir / "state.pt")["features.0.weight"]
    layer = manifest["layers"][0]
    assert layer["name"] == "features.0" and layer["shape"] == [4, 16, 16]
    scale = 2 * saved.abs().max()
    for unit in layer["units"]:
        rel = unit["views"]["kernel"]["images"][0]
        with Image.open(tmp_path / "site" / rel) as image:
            pixels = torch.from_numpy(np.asarray(image, dtype=np.float32) / 255).permute(2, 0, 1)
        # the kernel view is the saved filter, up to 8-bit rounding
        recovered = (pixels - 0.5) * scale
        torch.testing.assert_close(recovered, saved[unit["index"]], atol=float(scale) / 255,
                                   rtol=0)
    assert manifest["layers"][1]["shape"] == [5]  # the linear head, from a tuple-returning model


def test_user_model_default_size_comes_from_the_module(user_model_dir: Path) -> None:
    loaded = load_model(spec(user_model_dir), user_model_dir / "state.pt")
    assert loaded.input_size == 16
    assert loaded.weights_sha256 and len(loaded.weights_sha256) == 64


def _layers_output(capsys, *argv: str) -> str:
    assert main(["layers", *argv]) == 0
    return capsys.readouterr().out


def test_layers_listing_for_each_model(user_model_dir: Path, capsys) -> None:
    out = _layers_output(capsys, "--model", "lucent:inceptionv1", "--image-size", "128")
    assert "mixed4a" in out and "CatLayer" in out
    assert "508" in out and "1x1 192 + 3x3 204 + 5x5 48 + pool projection 64" in out
    assert "softmax2_pre_activation_matmul" not in out  # unreachable at 128: said so
    assert "forward pass stops at" in out
    out = _layers_output(capsys, "--model", "torchvision:resnet18", "--image-size", "64")
    assert "layer1.0.conv1" in out and "64x16x16" in out and "fc" in out
    out = _layers_output(capsys, "--model", spec(user_model_dir), "--weights",
                         str(user_model_dir / "state.pt"))
    assert "features.0" in out and "4x16x16" in out and "head" in out
    assert "pair outputs a tuple" in out  # listed as not visualizable, with the reason


@pytest.mark.parametrize("argv, expected", [
    (["--model", "nosuchmodel"], "unknown model 'nosuchmodel'"),
    (["--model", "torchvision:resnet19"], "did you mean"),
    (["--model", "missing_file.py:build"], "does not exist"),
    (["--model", "no_such_package_xyz.mod:build"], "cannot import module"),
    (["--model", "{dir}/two_heads.py:missing"], "has no 'missing'"),
    (["--model", "{dir}/two_heads.py:NOT_A_FACTORY"], "not callable"),
    (["--model", "{dir}/two_heads.py:not_a_module"], "not a torch.nn.Module"),
    (["--model", "{dir}/two_heads.py:build", "--weights", "{dir}/nope.pt"], "does not exist"),
    (["--model", "{dir}/two_heads.py:build", "--weights", "{dir}/notes.txt"],
     "not a PyTorch weights file"),
    (["--model", "{dir}/two_heads.py:build", "--weights", "{dir}/empty.pt"],
     "without a state dict"),
    (["--model", "torchvision:resnet18", "--weights", "{dir}/state.pt"],
     "does not match the model"),
    (["--model", "{dir}/two_heads.py:build", "--layers", "pair"], "outputs a tuple"),
    (["--model", "{dir}/two_heads.py:build", "--layers", "haed"], "did you mean 'head'"),
    (["--model", "lucent:inceptionv1", "--layers", "mixed4a", "--image-size", "8"],
     "image size 8 is too small for layer 'mixed4a'"),
])
def test_bad_model_input_is_one_line_and_exit_2(user_model_dir: Path, tmp_path: Path,
                                                capsys, argv: list, expected: str) -> None:
    argv = [arg.replace("{dir}", str(user_model_dir)) for arg in argv]
    code = main(["build", *argv, "--steps", "1", "--out", str(tmp_path / "x"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert expected in lines[0]
    assert not (tmp_path / "x" / "index.html").exists()


def test_too_small_image_names_the_failing_layer_and_the_smallest_size(tmp_path: Path) -> None:
    with pytest.raises(AtlasError) as caught:
        tiny_build(tmp_path / "s", model="lucent:inceptionv1", layers=["mixed4a"], image_size=8)
    message = str(caught.value)
    assert "fails at" in message and "smallest image size that works is" in message
    smallest = int(message.rsplit("--image-size ", 1)[1])
    assert 8 < smallest <= 64
    tiny_build(tmp_path / "ok", model="lucent:inceptionv1", layers=["mixed4a"],
               image_size=smallest, channels="0", views=["positive"], steps=1)


def test_pretrained_offline_says_so_in_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "atlas", "layers", "--model", "lucent:inceptionv1",
         "--pretrained"], capture_output=True, text=True, timeout=300,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "TORCH_HOME": str(tmp_path),
             "https_proxy": "http://127.0.0.1:9", "http_proxy": "http://127.0.0.1:9"})
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "--weights" in lines[0] and "download" in lines[0]


def test_model_returning_a_dict_builds(user_model_dir: Path, tmp_path: Path) -> None:
    manifest = tiny_build(tmp_path / "site", model=f"{user_model_dir / 'two_heads.py'}:build_dict",
                          layers=["features.0", "aux"])
    assert [layer["name"] for layer in manifest["layers"]] == ["features.0", "aux"]
    aux = manifest["layers"][1]
    assert aux["shape"] == [2] and len(aux["units"]) == 2


def test_fast_redirected_relu_matches_torch_lucent_exactly() -> None:
    from lucent.modelzoo.inceptionv1.helper_layers import RedirectedReluLayer

    from atlas.models.fast_relu import RedirectedReLU

    generator = torch.Generator().manual_seed(3)
    values = torch.randn(4, 8, 5, 5, generator=generator)
    upstream = torch.randn(4, 8, 5, 5, generator=generator)
    results = []
    for layer in (RedirectedReluLayer(), RedirectedReLU()):
        tensor = values.clone().requires_grad_(True)
        output = layer(tensor)
        output.backward(upstream)
        results.append((output.detach(), tensor.grad))
    assert torch.equal(results[0][0], results[1][0])
    assert torch.equal(results[0][1], results[1][1])
    assert (results[1][1] != upstream).any()  # the redirect really happened


def test_inceptionv1_uses_the_fast_relu() -> None:
    from lucent.modelzoo.inceptionv1.helper_layers import RedirectedReluLayer

    loaded = load_model("lucent:inceptionv1")
    kinds = {type(m).__name__ for m in loaded.module.modules()}
    assert "RedirectedReLU" in kinds
    assert not any(isinstance(m, RedirectedReluLayer) for m in loaded.module.modules())


@pytest.mark.parametrize("spec", [f"{USER_MODEL}:build", "lucent:inceptionv1"])
def test_random_weights_are_the_same_on_every_load(spec: str) -> None:
    torch.manual_seed(123)  # whatever the global random state, the weights do not follow it
    first = load_model(spec).module.state_dict()
    torch.manual_seed(456)
    second = load_model(spec).module.state_dict()
    assert first.keys() == second.keys()
    assert all(torch.equal(first[key], second[key]) for key in first)
    draw = torch.rand(1)
    torch.manual_seed(456)
    assert torch.equal(draw, torch.rand(1))  # loading leaves the global random state alone
