"""Bad input to the real `atlas` command exits with code 2 and prints ONE line
on stderr that says what is wrong and what to do: no traceback, and no site
left behind. `--debug` or ATLAS_DEBUG=1 shows the traceback instead.

Each case runs `python -m atlas` in a subprocess, as a user would. A process
spends ~2 s importing torch, so the module starts every selected case in a
small thread pool before its first test, and each test waits for its own.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

MODELS = Path(__file__).parent / "models"
TINY = ("--steps", "1", "--channels", "0", "--views", "positive", "--quiet")
WORKERS = max(2, min(4, os.cpu_count() or 2))


@dataclass(frozen=True)
class Case:
    """A command line (`{dir}`: the inputs folder, `{out}`: a fresh output
    folder of its own), extra environment, and the words its one line must hold."""

    argv: tuple[str, ...]
    says: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()

    @property
    def key(self) -> tuple:
        return self.argv, self.env


@dataclass
class Outcome:
    returncode: int
    stdout: str
    stderr: str
    folder: Path  # the case's `{dir}`
    out: Path  # the case's `{out}`

    @property
    def lines(self) -> list[str]:
        return self.stderr.strip().splitlines()


USER_MODEL = ("--model", "{dir}/two_heads.py:build")  # loads faster than the default model


def build(*argv: str) -> tuple[str, ...]:
    """`atlas build` with tiny settings; later flags in `argv` override them."""
    return ("build", *TINY, "--out", "{out}", *argv)


def config_build(name: str) -> tuple[str, ...]:
    """`atlas build` of a config file from the inputs folder, flags left to it."""
    return ("build", f"{{dir}}/{name}", "--quiet", "--out", "{out}")


MISMATCH = build(*USER_MODEL, "--weights", "{dir}/renamed.pt")
TINY_TOML = {"steps": "steps = 1", "views": 'views = ["positive"]', "channels": 'channels = "0"'}


def toml_with(line: str) -> str:
    """`line` after the tiny settings, less the one `line` sets."""
    key = line.split()[0].strip("[]")
    return "".join(f"{text}\n" for name, text in TINY_TOML.items() if name != key) + line + "\n"


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Model files, weights files, config files and obstacles for the cases."""
    folder = tmp_path_factory.mktemp("inputs")
    for name in ("two_heads.py", "conv_only.py"):
        shutil.copy(MODELS / name, folder / name)
    (folder / "raising.py").write_text("def build():\n    raise RuntimeError('boom')\n")
    (folder / "syntax_error.py").write_text("def build(\n")
    namespace: dict = {}
    exec((folder / "two_heads.py").read_text(), namespace)
    state = namespace["build"]().state_dict()
    state["haed.weight"] = state.pop("head.weight")  # one missing key, one unexpected
    torch.save(state, folder / "renamed.pt")
    (folder / "notes.txt").write_text("not weights\n")
    (folder / "broken.toml").write_text("steps = 5\nlayers = [conv1\n")
    (folder / "typo.toml").write_text("step = 5\n")
    (folder / "binary.toml").write_bytes(bytes(range(128, 256)))
    for name, line in WRONG_TYPES.items():
        (folder / f"{name}.toml").write_text(toml_with(line))
    (folder / "a-file").write_text("a regular file, not a folder\n")
    (folder / "empty").mkdir()
    (folder / "broken-images").mkdir()
    for name in ("a.png", "b.jpg"):
        (folder / "broken-images" / name).write_text("not an image\n")
    return folder


def run_case(folder: Path, case: Case, out: Path) -> Outcome:
    argv = [arg.replace("{dir}", str(folder)).replace("{out}", str(out)) for arg in case.argv]
    env = {k: v for k, v in os.environ.items() if k != "ATLAS_DEBUG"}
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # no __pycache__ beside the model files
    env.update(case.env)
    result = subprocess.run([sys.executable, "-m", "atlas", *argv], capture_output=True,
                            text=True, timeout=300, cwd=folder, env=env)
    return Outcome(result.returncode, result.stdout, result.stderr, folder, out)


class Runner:
    """Runs each distinct case once, `WORKERS` at a time."""

    def __init__(self, folder: Path, pool: ThreadPoolExecutor) -> None:
        self.folder, self.pool = folder, pool
        self.futures: dict[tuple, Future] = {}

    def start(self, case: Case) -> Future:
        if case.key not in self.futures:
            out = self.folder / "out" / str(len(self.futures))
            self.futures[case.key] = self.pool.submit(run_case, self.folder, case, out)
        return self.futures[case.key]

    def result(self, case: Case) -> Outcome:
        return self.start(case).result()


def _skipped(item: pytest.Item) -> bool:
    return any(mark.name == "skip" or (mark.name == "skipif" and any(mark.args))
               for mark in item.iter_markers())


@pytest.fixture(scope="module")
def runner(request: pytest.FixtureRequest, inputs: Path):
    with ThreadPoolExecutor(WORKERS) as pool:
        runner = Runner(inputs, pool)
        for item in request.session.items:
            case = getattr(item, "callspec", None) and item.callspec.params.get("case")
            if isinstance(case, Case) and item.module is request.module and not _skipped(item):
                runner.start(case)
        yield runner
        for future in runner.futures.values():
            future.cancel()


def assert_one_line(outcome: Outcome, says: tuple[str, ...]) -> str:
    assert outcome.returncode == 2, outcome.stderr
    assert "Traceback" not in outcome.stderr, outcome.stderr
    assert len(outcome.lines) == 1, outcome.stderr
    line = outcome.lines[0]
    assert line.startswith("atlas: error: "), line
    for words in says:
        assert words.replace("{dir}", str(outcome.folder)) in line, (words, line)
    assert not (outcome.out / "index.html").exists()
    return line


def bad(*argv: str, says: tuple[str, ...], marks=(), id: str) -> object:
    return pytest.param(Case(tuple(argv), says), marks=marks, id=id)


# Each case quotes, in a comment, the line the user sees ({dir}: the inputs folder).
CASES = [
    # --- the model --------------------------------------------------------------------------
    # atlas: error: unknown model 'nosuchmodel'; model specs are: colored-digits,
    #   lucent:inceptionv1, torchvision:NAME, path/to/file.py:factory, package.module:factory
    bad(*build("--model", "nosuchmodel"), id="unknown-model-spec",
        says=("unknown model 'nosuchmodel'", "model specs are:", "path/to/file.py:factory")),
    # atlas: error: model file {dir}/missing.py does not exist; check the path in the spec
    bad(*build("--model", "{dir}/missing.py:build"), id="missing-model-file",
        says=("model file {dir}/missing.py does not exist", "check the path")),
    # atlas: error: cannot import module 'no_such_package_xyz.mod' (No module named
    #   'no_such_package_xyz'); check the spec 'no_such_package_xyz.mod:build' and that the
    #   package is installed
    bad(*build("--model", "no_such_package_xyz.mod:build"), id="missing-module",
        says=("cannot import module 'no_such_package_xyz.mod'", "package is installed")),
    # atlas: error: {dir}/syntax_error.py failed to import: SyntaxError: '(' was never closed
    #   (syntax_error.py, line 1)
    bad(*build("--model", "{dir}/syntax_error.py:build"), id="model-file-syntax-error",
        says=("syntax_error.py failed to import", "SyntaxError", "line 1")),
    # atlas: error: {dir}/two_heads.py:NOT_A_FACTORY is a int, not callable; it must be a
    #   function or class that returns an nn.Module
    bad(*build("--model", "{dir}/two_heads.py:NOT_A_FACTORY"), id="factory-not-callable",
        says=("NOT_A_FACTORY", "not callable", "function or class that returns an nn.Module")),
    # atlas: error: {dir}/two_heads.py:not_a_module() returned a str, not a torch.nn.Module
    bad(*build("--model", "{dir}/two_heads.py:not_a_module"), id="factory-not-a-module",
        says=("not_a_module() returned a str, not a torch.nn.Module",)),
        bad(*build("--model", "{dir}/raising.py:build"), id="factory-raises",
        says=("raising.py:build", "RuntimeError", "boom")),
    # --- weights ----------------------------------------------------------------------------
    # atlas: error: weights file {dir}/nope.pt does not exist; check the path given to --weights
    bad(*build(*USER_MODEL, "--weights", "{dir}/nope.pt"), id="weights-missing",
        says=("weights file {dir}/nope.pt does not exist", "check the path given to --weights")),
    # atlas: error: {dir}/notes.txt is not a PyTorch weights file (UnpicklingError: Weights only
    #   load failed. In PyTorch 2.6, we changed … `torch.load` fr); give a file saved with
    #   torch.save(model.state_dict(), ...)
    bad(*build(*USER_MODEL, "--weights", "{dir}/notes.txt"), id="weights-not-torch",
        says=("{dir}/notes.txt is not a PyTorch weights file",
              "give a file saved with torch.save(model.state_dict(), ...)")),
    # atlas: error: {dir}/renamed.pt does not match the model: 1 missing key(s) (head.weight);
    #   1 unexpected key(s) (haed.weight); check that --weights belongs to --model
    bad(*MISMATCH, id="weights-do-not-match",
        says=("renamed.pt does not match the model", "1 missing key(s) (head.weight)",
              "1 unexpected key(s) (haed.weight)", "check that --weights belongs to --model")),
    # --- layers and channels ----------------------------------------------------------------
    # atlas: error: unknown layer 'conv22' (did you mean 'conv2', 'conv3', 'conv1'?); run
    #   `atlas layers` to list the valid layers
    bad(*build("--layers", "conv22"), id="unknown-layer",
        says=("unknown layer 'conv22' (did you mean 'conv2'", "run `atlas layers`")),
    # atlas: error: channel 8 is out of range for layer 'conv1', which has 8 channels (0-7)
    bad(*build("--layers", "conv1", "--channels", "8"), id="channel-out-of-range",
        says=("channel 8 is out of range for layer 'conv1'", "which has 8 channels (0-7)")),
    # --- image size -------------------------------------------------------------------------
    # atlas: error: image size 20 is too small for layer 'fc': the forward pass fails at 'fc'
    #   (addmm: mat1 and mat2 shapes cannot be multiplied (1x800 and 1568x10)); <advice>
    bad(*build("--image-size", "20"), id="image-too-small-for-default-model",
        says=("image size 20 is too small for layer 'fc'", "fails at 'fc'")),
        bad(*build("--image-size", "20"), id="image-too-small-for-default-model-smallest-size",
        says=("the smallest image size that works is 28", "use --image-size 28")),
    # atlas: error: image size 16 is too small for layer 'conv3': the forward pass fails at
    #   'conv3' (Calculated padded input size per channel: (1 x 1). Kernel size: (3 x 3). …);
    #   the smallest image size that works is 24: use --image-size 24
    bad(*build("--model", "{dir}/conv_only.py:build", "--layers", "conv3", "--image-size", "16"),
        id="image-too-small-for-conv-layer",
        says=("image size 16 is too small for layer 'conv3'", "fails at 'conv3'",
              "the smallest image size that works is 24: use --image-size 24")),
        bad(*build("--model", "{dir}/conv_only.py:build", "--image-size", "16"),
        id="image-too-small-for-default-layers", says=("conv3", "24")),
    # --- config files -----------------------------------------------------------------------
    # atlas: error: config {dir}/broken.toml is not valid TOML: Invalid value (at line 2,
    #   column 11)
    bad(*config_build("broken.toml"), id="config-not-toml",
        says=("config {dir}/broken.toml is not valid TOML", "at line 2")),
    # atlas: error: config {dir}/typo.toml: unknown key 'step' (did you mean 'steps'?); known
    #   keys: model, weights, pretrained, …
    bad(*config_build("typo.toml"), id="config-unknown-key",
        says=("unknown key 'step' (did you mean 'steps'?)", "known keys:")),
    # atlas: error: cannot read config {dir}/nope.toml: No such file or directory
    bad(*config_build("nope.toml"), id="config-missing",
        says=("cannot read config {dir}/nope.toml", "No such file")),
        bad(*config_build("binary.toml"), id="config-not-utf8", says=("binary.toml",)),
    # --- other settings ---------------------------------------------------------------------
    # atlas: error: unknown view 'postive' (did you mean 'positive'?); views are: spectrum,
    #   positive, negative, diversity, neuron, seeds, evolution, kernel, examples, joint
    bad(*build("--views", "positive,postive"), id="unknown-view",
        says=("unknown view 'postive' (did you mean 'positive'?)",
              "views are: spectrum, positive, negative")),
    # atlas: error: steps must be at least 1, not 0
    bad(*build("--steps", "0"), id="steps-0", says=("steps must be at least 1, not 0",)),
    # atlas: error: steps must be at least 1, not -1
    bad(*build("--steps", "-1"), id="steps-negative", says=("steps must be at least 1, not -1",)),
    # atlas: error: image size must be a positive number of pixels, not 0
    bad(*build("--image-size", "0"), id="image-size-0",
        says=("image size must be a positive number of pixels, not 0",)),
        bad("layers", *USER_MODEL, "--image-size", "0", id="layers-image-size-0",
        says=("image size must be a positive number of pixels, not 0",)),
    # atlas: error: the layer list is empty; name at least one layer (see `atlas layers`)
    bad(*build("--layers", ","), id="empty-layer-list",
        says=("the layer list is empty", "`atlas layers`")),
    # --- the dataset ------------------------------------------------------------------------
    # atlas: error: dataset folder '{dir}/nowhere' does not exist; give --dataset a folder of
    #   images (class subfolders optional) or colored-digits
    bad(*build("--views", "positive,examples", "--dataset", "{dir}/nowhere"),
        id="dataset-missing", says=("dataset folder '{dir}/nowhere' does not exist",)),
    # atlas: error: dataset folder '{dir}/empty' holds no images (.png, .jpg, .jpeg, .webp,
    #   .bmp); put image files in it or in class subfolders
    bad(*build("--views", "positive,examples", "--dataset", "{dir}/empty"),
        id="dataset-empty", says=("dataset folder '{dir}/empty' holds no images",)),
    # atlas: error: dataset 'a-file' is a file, not a folder; give --dataset a folder …
    bad(*build("--views", "positive,examples", "--dataset", "{dir}/a-file"),
        id="dataset-is-a-file", says=("is a file, not a folder",)),
    # atlas: error: none of the 2 image files of dataset '{dir}/broken-images' could be read
    #   (e.g. a.png, b.jpg); check that they are images
    bad(*build("--views", "positive,examples", "--dataset", "{dir}/broken-images"),
        id="dataset-unreadable", says=("none of the 2 image files", "a.png, b.jpg")),
    # atlas: error: dataset_limit must be at least 1, not 0
    bad(*build("--dataset-limit", "0"), id="dataset-limit-0",
        says=("dataset_limit must be at least 1, not 0",)),
    # --- the output directory ---------------------------------------------------------------
    # atlas: error: cannot write to output directory {dir}/a-file/site (Not a directory);
    #   choose another with --out
    bad(*build(*USER_MODEL, "--out", "{dir}/a-file/site"), id="out-under-a-file",
        says=("cannot write to output directory {dir}/a-file/site", "Not a directory",
              "choose another with --out")),
    # atlas: error: cannot write to output directory {dir}/a-file (File exists); choose
    #   another with --out
    bad(*build(*USER_MODEL, "--out", "{dir}/a-file"), id="out-is-a-file",
        says=("cannot write to output directory {dir}/a-file", "choose another with --out")),
    # --- the device -------------------------------------------------------------------------
    # atlas: error: --device cuda was given but no CUDA GPU is available; use --device cpu
    bad(*build(*USER_MODEL, "--device", "cuda"), id="device-cuda-without-gpu",
        says=("--device cuda", "no CUDA GPU is available", "use --device cpu"),
        marks=pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA GPU is present")),
    # --- the command line and `atlas render` ------------------------------------------------
    # atlas: error: argument --steps: invalid int value: 'x'; see `atlas build --help`
    bad("build", "--steps", "x", id="bad-flag-value",
        says=("argument --steps: invalid int value: 'x'", "`atlas build --help`")),
    # atlas: error: unrecognized arguments: --stpes (did you mean --steps?); see
    #   `atlas build --help`
    bad("build", "--stpes", "3", id="unknown-flag",
        says=("unrecognized arguments: --stpes", "--help")),
    # atlas: error: no stored results in {dir}/empty; run `atlas build --out {dir}/empty` first
    bad("render", "--out", "{dir}/empty", id="render-empty-dir",
        says=("no stored results in {dir}/empty", "run `atlas build --out {dir}/empty` first")),
]

# Config values of the wrong type: each names its key in one line, e.g.
# atlas: error: setting 'steps' must be a whole number, not 'many' (str)
WRONG_TYPES = {
    "steps-text": 'steps = "many"',
    "channels-list": "channels = [1, 2]",
    "image-size-fraction": "image_size = 28.5",
    "tv-weight-text": 'tv_weight = "high"',
    "model-table": '[model]\nspec = "colored-digits"',
}
WRONG_TYPE_CASES = [
    bad(*config_build(f"{name}.toml"), id=f"config-{name}",
        says=(line.split()[0].strip("[]"),))
    for name, line in WRONG_TYPES.items()
]


@pytest.mark.parametrize("case", CASES + WRONG_TYPE_CASES)
def test_bad_input_is_one_line_and_exit_2(runner: Runner, case: Case) -> None:
    assert_one_line(runner.result(case), case.says)


@pytest.mark.parametrize("case", [
    pytest.param(Case((*MISMATCH, "--debug")), id="--debug"),
    pytest.param(Case(MISMATCH, env=(("ATLAS_DEBUG", "1"),)), id="ATLAS_DEBUG=1"),
])
def test_debug_shows_the_traceback_and_still_exits_2(runner: Runner, case: Case) -> None:
    plain = runner.result(Case(MISMATCH))
    outcome = runner.result(case)
    assert outcome.returncode == 2
    assert "Traceback (most recent call last)" in outcome.stderr
    assert "atlas.errors.AtlasError: " in outcome.stderr and "does not match" in outcome.stderr
    assert outcome.lines[-1] == plain.lines[0]  # the same one line, after the traceback
    assert not (outcome.out / "index.html").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only directory")
def test_read_only_output_dir_is_one_line(inputs: Path, tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        outcome = run_case(inputs, Case(build(*USER_MODEL)), locked / "site")
    finally:
        locked.chmod(0o755)
    # atlas: error: cannot write to output directory …/locked/site (Permission denied);
    #   choose another with --out
    assert_one_line(outcome, ("cannot write to output directory", "Permission denied",
                              "choose another with --out"))


@pytest.mark.parametrize("case", [
    pytest.param(Case(("build", *TINY, *USER_MODEL, "--layers", "head", "--out", "relative-site")),
                 id="relative-out"),
])
def test_relative_out_dir_builds(runner: Runner, case: Case) -> None:
    outcome = runner.result(case)
    assert outcome.returncode == 0, outcome.stderr
    assert (runner.folder / "relative-site" / "index.html").is_file()
