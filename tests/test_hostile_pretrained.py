"""A pretrained cache is data, never code (issue 32): a pickle planted in torch's hub
cache or the Hugging Face cache never runs, a file that differs from the sha256 its
name publishes is refused, and each refusal is one line with exit code 2.

Every hostile file here would create a marker file if unpickled the way the model
libraries do (`test_the_payload_runs_when_unpickled_unsafely` shows it does)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch

from atlas.cli import main
from atlas.errors import AtlasError
from atlas.models.registry import load_model

REMEDY = "copy it again from a trusted machine, or give a weights file with --weights"
RESNET18_FILE = "resnet18-f37072fd.pth"  # torchvision's name for resnet18's weights
LUCENT_FILE = "inception5h.pth"  # torch-lucent's name for InceptionV1's: no hash in it


class Payload:
    """Unpickled without weights_only, this creates `marker`."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return open, (str(self.marker), "w")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def checkpoints(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """torch's hub cache folder in a TORCH_HOME of this test's own."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    folder = tmp_path / "torch" / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    return folder


def _hostile(path: Path, marker: Path) -> Path:
    """A torch file at `path` that looks like a state dict and carries the payload."""
    torch.save({"fc.weight": torch.zeros(2), "fc.bias": Payload(marker)}, path)
    return path


def _published(folder: Path, monkeypatch: pytest.MonkeyPatch, save) -> Path:
    """A file `save` writes, named `resnet18-<its sha256 prefix>.pth` as torchvision
    names its files, and made the URL torchvision's resnet18 weights entry gives."""
    import torchvision.models as models

    written = folder / "resnet18.pth"
    save(written)
    path = written.rename(folder / f"resnet18-{_sha256(written)[:8]}.pth")
    entry = models.get_model_weights("resnet18").DEFAULT
    monkeypatch.setattr(entry.value, "url", f"https://download.pytorch.org/models/{path.name}")
    return path


def _resnet18_state(path: Path) -> dict[str, torch.Tensor]:
    import torchvision.models as models

    torch.manual_seed(2)
    state = models.resnet18().state_dict()
    torch.save(state, path)
    return state


def _error(capsys: pytest.CaptureFixture) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_the_payload_runs_when_unpickled_unsafely(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    torch.load(_hostile(tmp_path / "w.pth", marker), weights_only=False)
    assert marker.exists()


@pytest.mark.parametrize("content", ["hostile", "genuine"])
def test_a_torchvision_file_that_differs_from_its_published_hash_is_refused(
        checkpoints: Path, tmp_path: Path, capsys: pytest.CaptureFixture, content: str) -> None:
    marker = tmp_path / "ran"
    path = checkpoints / RESNET18_FILE
    if content == "hostile":
        _hostile(path, marker)
    else:
        _resnet18_state(path)
    code = main(["layers", "--model", "torchvision:resnet18", "--pretrained"])
    assert (code, _error(capsys)) == (2, (
        f"atlas: error: {path} is not the file torchvision:resnet18's pretrained weights were "
        f"published as: its sha256 starts {_sha256(path)[:8]}, its name says f37072fd; "
        f"{REMEDY}"))
    assert not marker.exists()


def test_a_hostile_file_with_a_matching_hash_still_runs_nothing(
        checkpoints: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture) -> None:
    """The hash in a name only tells a damaged or wrong file: a planted one can be
    named after its own hash. Reading weights as data is what keeps code out."""
    marker = tmp_path / "ran"
    path = _published(checkpoints, monkeypatch, lambda file: _hostile(file, marker))
    assert main(["layers", "--model", "torchvision:resnet18", "--pretrained"]) == 2
    line = _error(capsys)
    assert line.startswith(f"atlas: error: {path} needs ") and line.endswith(
        f" to be unpickled, and atlas runs no code from a weights file (tensors only); {REMEDY}")
    assert not marker.exists()


def test_a_hostile_lucent_inceptionv1_file_runs_nothing(
        checkpoints: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    marker = tmp_path / "ran"
    path = _hostile(checkpoints / LUCENT_FILE, marker)
    assert main(["layers", "--model", "lucent:inceptionv1", "--pretrained"]) == 2
    line = _error(capsys)
    assert line.startswith(f"atlas: error: {path} needs ") and line.endswith(REMEDY)
    assert not marker.exists()


def test_a_torchvision_file_matching_its_hash_loads(
        checkpoints: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    state: dict[str, torch.Tensor] = {}
    path = _published(checkpoints, monkeypatch, lambda file: state.update(_resnet18_state(file)))
    loaded = load_model("torchvision:resnet18", pretrained=True)
    assert (loaded.weights_path, loaded.weights_sha256) == (path, _sha256(path))
    assert torch.equal(loaded.module.state_dict()["fc.weight"], state["fc.weight"])


def test_a_torchvision_model_is_built_as_torchvision_builds_it_for_its_weights(
        checkpoints: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """GoogLeNet with its weights normalizes its input itself and drops its
    auxiliary heads: atlas's safe reading must not lose that."""
    import torchvision.models as models

    torch.manual_seed(3)
    reference = models.GoogLeNet(aux_logits=True, transform_input=True, init_weights=False)
    written = checkpoints / "googlenet.pth"
    torch.save(reference.state_dict(), written)
    path = written.rename(checkpoints / f"googlenet-{_sha256(written)[:8]}.pth")
    entry = models.get_model_weights("googlenet").DEFAULT
    monkeypatch.setattr(entry.value, "url", f"https://download.pytorch.org/models/{path.name}")
    module = load_model("torchvision:googlenet", pretrained=True).module
    assert module.transform_input and module.aux1 is None
    reference.eval().aux_logits = False
    image = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(module(image), reference(image))


# --- the Hugging Face cache (timm models) ------------------------------------------------

HUB_REPO = "timm/resnet18.a1_in1k"  # what timm names resnet18's pretrained weights
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def _hf_snapshot(root: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> Path:
    """Where the Hugging Face cache at `root` keeps `name` of resnet18's weights."""
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(root))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    repo = root / f"models--{HUB_REPO.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(COMMIT)
    (repo / "snapshots" / COMMIT).mkdir(parents=True)
    return repo / "snapshots" / COMMIT / name


def test_a_hostile_pytorch_model_bin_in_the_hugging_face_cache_runs_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("timm")
    marker = tmp_path / "ran"
    path = _hostile(_hf_snapshot(tmp_path / "hub", monkeypatch, "pytorch_model.bin"), marker)
    with pytest.raises(AtlasError, match=rf"^{path} needs .* to be unpickled, and atlas runs no "
                                         r"code from a weights file \(tensors only\); copy it"):
        load_model("timm:resnet18", pretrained=True)
    assert not marker.exists()


def test_a_hugging_face_blob_that_differs_from_its_name_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The hub stores each file as a blob named by its sha256 and links the
    snapshot's name to it."""
    pytest.importorskip("timm")
    from safetensors.torch import save_file

    link = _hf_snapshot(tmp_path / "hub", monkeypatch, "model.safetensors")
    blob = link.parents[2] / "blobs" / ("ab" * 32)
    blob.parent.mkdir()
    save_file({"fc.weight": torch.zeros(2)}, str(blob))
    link.symlink_to(blob)
    with pytest.raises(AtlasError) as refused:
        load_model("timm:resnet18", pretrained=True)
    assert str(refused.value) == (
        f"{link} is not the file timm:resnet18's pretrained weights were published as: its "
        f"sha256 starts {_sha256(blob)[:8]}, its name says abababab; {REMEDY}")


# --- the benchmark's own processes ---------------------------------------------------------

def test_the_benchmarks_torch_lucent_process_reads_weights_as_data(tmp_path: Path) -> None:
    from atlas.bench.lucent_process import run

    marker = tmp_path / "ran"
    weights = _hostile(tmp_path / "weights.pt", marker)
    with pytest.raises(AtlasError, match="atlas runs no code from a weights file"):
        run({"way": "best", "model": "lucent:inceptionv1", "weights": str(weights)})
    assert not marker.exists()
