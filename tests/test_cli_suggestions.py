"""The command line suggests what the user meant: the closest flag of the command for
an unknown flag, the closest model family for an unknown one, and a missing weights
file is reported before any model is built. Each line is checked word for word."""

from __future__ import annotations

from pathlib import Path

import pytest

from atlas.cli import main
from atlas.models import colored_digits, registry
from atlas.models.specs import SPEC_FORMS


def usage_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """The one line argparse prints for `argv`, which exits with code 2."""
    with pytest.raises(SystemExit) as stopped:
        main(list(argv))
    assert stopped.value.code == 2
    return capsys.readouterr().err


def atlas_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """The one line atlas prints for `argv`, which returns exit code 2."""
    assert main(list(argv)) == 2
    return capsys.readouterr().err


@pytest.mark.parametrize(("argv", "line"), [
    (["build", "--stpes", "3"],
     "unrecognized arguments: --stpes (did you mean --steps?); see `atlas build --help`"),
    (["build", "--stpes=3"],
     "unrecognized arguments: --stpes=3 (did you mean --steps?); see `atlas build --help`"),
    (["plan", "--wrokers", "1,2"],
     "unrecognized arguments: --wrokers (did you mean --workers?); see `atlas plan --help`"),
    (["layers", "--modle", "x"],
     "unrecognized arguments: --modle x (did you mean --model?); see `atlas layers --help`"),
    (["render", "--outt", "x"],
     "unrecognized arguments: --outt x (did you mean --out?); see `atlas render --help`"),
    (["bench", "--stepz", "3"],
     "unrecognized arguments: --stepz 3 (did you mean --steps?); see `atlas bench --help`"),
    (["build", "--stpes=3", "--sede=1", "--zzzzzz"],
     "unrecognized arguments: --stpes=3 --sede=1 --zzzzzz (did you mean --steps for --stpes, "
     "--seed for --sede?); see `atlas build --help`"),
    (["build", "--zzzzzz"], "unrecognized arguments: --zzzzzz; see `atlas build --help`"),
])
def test_an_unknown_flag_suggests_the_closest_of_its_command(
        capsys: pytest.CaptureFixture[str], argv: list[str], line: str) -> None:
    assert usage_error(capsys, *argv) == f"atlas: error: {line}\n"


@pytest.mark.parametrize(("spec", "line"), [
    ("torchvison:resnet18", "unknown model family 'torchvison' (did you mean "
                            f"'torchvision:resnet18'?); model specs are: {SPEC_FORMS}"),
    ("timn:resnet18", f"unknown model family 'timn' (did you mean 'timm:resnet18'?); model "
                      f"specs are: {SPEC_FORMS}"),
    ("lucnet:inceptionv1", "unknown model family 'lucnet' (did you mean "
                           f"'lucent:inceptionv1'?); model specs are: {SPEC_FORMS}"),
    ("colored-digts:x", "unknown model family 'colored-digts' (did you mean "
                        f"'colored-digits'?); model specs are: {SPEC_FORMS}"),
    ("colored-digit", "unknown model 'colored-digit' (did you mean 'colored-digits'?); model "
                      f"specs are: {SPEC_FORMS}"),
    ("torchvision", "unknown model 'torchvision' (did you mean 'torchvision:NAME'?); model "
                    f"specs are: {SPEC_FORMS}"),
    ("lucent:inceptionv2", "unknown lucent model 'inceptionv2'; the lucent model atlas loads "
                           "is lucent:inceptionv1"),
    # Far from every family: the module is imported as before, and its error stays.
    ("no_such_package_xyz:build", "cannot import module 'no_such_package_xyz' (No module "
                                  "named 'no_such_package_xyz'); check the spec "
                                  "'no_such_package_xyz:build' and that the package is "
                                  "installed"),
])
def test_an_unknown_model_family_suggests_the_closest(
        capsys: pytest.CaptureFixture[str], spec: str, line: str) -> None:
    assert atlas_error(capsys, "layers", "--model", spec) == f"atlas: error: {line}\n"


def test_a_model_file_is_still_loaded_by_its_path(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A path close to a family's name is a path: its file is looked for."""
    spec = f"{tmp_path}/timm.py:build"
    assert atlas_error(capsys, "layers", "--model", spec) == (
        f"atlas: error: model file {tmp_path}/timm.py does not exist; check the path in the "
        "spec\n")


@pytest.fixture
def no_model_built(monkeypatch: pytest.MonkeyPatch) -> None:
    """Building any model fails the test: the weights must be refused first."""
    def built(*_args: object, **_kwargs: object) -> None:
        pytest.fail("a model was built before its weights file was checked")

    monkeypatch.setattr(registry, "build_module", built)
    monkeypatch.setattr(colored_digits, "ColoredDigitsCNN", built)


@pytest.mark.usefixtures("no_model_built")
@pytest.mark.parametrize("command", ["build", "plan", "layers"])
@pytest.mark.parametrize("model", ["torchvision:mobilenet_v2", "colored-digits"])
def test_a_missing_weights_file_is_reported_before_the_model_is_built(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, command: str, model: str) -> None:
    out = ["--out", str(tmp_path / "site")] if command == "build" else []
    missing = tmp_path / "nope.pth"
    assert atlas_error(capsys, command, "--model", model, "--weights", str(missing), *out) == (
        f"atlas: error: weights file {missing} does not exist; check the path given to "
        "--weights\n")
    assert not (tmp_path / "site").exists()


@pytest.mark.usefixtures("no_model_built")
@pytest.mark.parametrize(("files", "holds"), [
    (["b.safetensors", "a.pt", "notes.txt"], " (it holds a.pt, b.safetensors)"),
    ([], ""),
])
def test_a_weights_folder_is_reported_before_the_model_is_built(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, files: list[str], holds: str) -> None:
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    for name in files:
        (folder / name).write_bytes(b"")
    assert atlas_error(capsys, "layers", "--model", "torchvision:resnet18",
                       "--weights", str(folder)) == (
        f"atlas: error: weights file {folder} is a folder{holds}; give --weights the weights "
        "file itself\n")
