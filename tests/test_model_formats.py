"""Model formats researchers have: timm models, safetensors weights, and pretrained
weights answered from the local Hugging Face and torch hub caches, never downloaded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from atlas.cli import main
from atlas.errors import AtlasError
from atlas.models.registry import load_model
from atlas.models.weights import sha256_of

pytest.importorskip("timm")

HUB_REPO = "timm/resnet18.a1_in1k"  # what timm names resnet18's pretrained weights
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def _timm_weights(path: Path, seed: int = 1) -> dict[str, torch.Tensor]:
    """A timm resnet18 with weights drawn from `seed`, saved as safetensors at `path`."""
    import timm

    torch.manual_seed(seed)
    state = {key: value.contiguous() for key, value in
             timm.create_model("resnet18").state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(state, str(path))
    return state


def _hub_cache(root: Path) -> Path:
    """A Hugging Face hub cache holding resnet18's weights, laid out as the hub lays it."""
    repo = root / f"models--{HUB_REPO.replace('/', '--')}"
    _timm_weights(repo / "snapshots" / COMMIT / "model.safetensors")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(COMMIT)
    return repo / "snapshots" / COMMIT / "model.safetensors"


def test_safetensors_weights_load_into_a_timm_model(tmp_path: Path) -> None:
    state = _timm_weights(tmp_path / "model.safetensors")
    loaded = load_model("timm:resnet18", tmp_path / "model.safetensors")
    assert torch.equal(loaded.module.state_dict()["conv1.weight"], state["conv1.weight"])
    assert loaded.weights_sha256 == sha256_of(tmp_path / "model.safetensors")
    assert (loaded.input_size, loaded.preprocess.description) == (224, "imagenet mean/std")
    assert loaded.class_names is not None and loaded.class_names[281] == "tabby"


def test_atlas_build_takes_a_timm_model_and_a_safetensors_file(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture
                                                              ) -> None:
    _timm_weights(tmp_path / "model.safetensors")
    site = tmp_path / "site"
    code = main(["build", "--model", "timm:resnet18", "--weights",
                 str(tmp_path / "model.safetensors"), "--layers", "layer2", "--channels", "0-1",
                 "--views", "positive", "--steps", "2", "--image-size", "64", "--dataset",
                 "none", "--out", str(site), "--quiet"])
    assert code == 0, capsys.readouterr().err
    manifest = json.loads((site / "atlas.json").read_text())
    assert manifest["model"]["spec"] == "timm:resnet18"
    assert [layer["name"] for layer in manifest["layers"]] == ["layer2"]
    assert (site / "units" / "layer2" / "1.html").is_file()


def test_pretrained_timm_weights_come_from_the_hugging_face_cache(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub.constants

    cached = _hub_cache(tmp_path / "hub")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    loaded = load_model("timm:resnet18", pretrained=True)
    assert loaded.weights_sha256 == sha256_of(cached)
    from safetensors.torch import load_file

    assert torch.equal(loaded.module.state_dict()["fc.weight"], load_file(cached)["fc.weight"])


def test_pretrained_without_a_cached_file_says_where_to_put_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "empty"))
    with pytest.raises(AtlasError, match=r"not in the Hugging Face cache \(.*empty\): put "
                                         r"timm/resnet18.a1_in1k's model.safetensors there"):
        load_model("timm:resnet18", pretrained=True)


def test_pretrained_torchvision_weights_come_from_torchs_hub_cache(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torchvision.models as models

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    entry = models.get_model_weights("resnet18").DEFAULT
    with pytest.raises(AtlasError, match="not in torch's hub cache: put resnet18-"):
        load_model("torchvision:resnet18", pretrained=True)
    torch.manual_seed(2)
    state = models.resnet18().state_dict()
    written = tmp_path / "hub" / "checkpoints" / "resnet18.pth"
    written.parent.mkdir(parents=True)
    torch.save(state, written)
    # named as torchvision names its files, after their sha256 (which atlas checks)
    file = written.rename(written.with_name(f"resnet18-{sha256_of(written)[:8]}.pth"))
    monkeypatch.setattr(entry.value, "url", f"{entry.url.rsplit('/', 1)[0]}/{file.name}")
    loaded = load_model("torchvision:resnet18", pretrained=True)
    assert loaded.weights_sha256 == sha256_of(file)
    assert torch.equal(loaded.module.state_dict()["fc.weight"], state["fc.weight"])


def test_a_broken_safetensors_file_is_one_clear_error(tmp_path: Path) -> None:
    good = tmp_path / "good.safetensors"
    save_file({"weight": torch.zeros(2, 2)}, str(good))
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(good.read_bytes()[:-5])
    with pytest.raises(AtlasError, match="is not a readable safetensors file"):
        load_model("timm:resnet18", broken)
    with pytest.raises(AtlasError, match="does not match the model"):
        load_model("timm:resnet18", good)


def test_safetensors_weights_of_a_users_own_model(tmp_path: Path) -> None:
    from atlas.models.weights import load_weights

    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())
    save_file({key: value.clone() for key, value in model.state_dict().items()},
              str(tmp_path / "w.safetensors"))
    other = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())
    assert load_weights(other, tmp_path / "w.safetensors") == sha256_of(tmp_path /
                                                                         "w.safetensors")
    assert torch.equal(other[0].weight, model[0].weight)
