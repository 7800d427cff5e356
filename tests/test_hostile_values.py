"""Hostile setting values (issue 32, part 4): each is refused where it enters, from a
flag, a config file or `atlas.build` alike, with one line that names the setting and
what it allows, and exit code 2, before anything is written or computed at scale."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

import atlas
from atlas.cli import main
from atlas.config import make_config, parse_channels
from atlas.errors import AtlasError
from atlas.models import layers as layer_search
from atlas.models.registry import load_model
from atlas.models.specs import DEFAULT_SPEC

TINY = ("--steps", "1", "--channels", "0", "--views", "positive", "--quiet")
WEIGHT = "at most 1000000 (a weight of a million already drowns every other term)"
LR = "above 0, at most 10 (Adam moves a value by about lr a step; larger rates only saturate " \
     "the image)"

# (flags after TINY, the one line's exact text or a stable part ending in '…')
CASES = {
    "seed-negative": (["--seed", "-1"], "seed must be from 0 to 4294967295, not -1"),
    "seed-huge": (["--seed", str(2**64)],
                  f"seed must be from 0 to 4294967295, not {2**64}"),
    "lr-nan": (["--lr", "nan"], f"lr must be a finite number, {LR}, not nan"),
    "lr-inf": (["--lr", "inf"], f"lr must be a finite number, {LR}, not inf"),
    "lr-overflow": (["--lr", "1e308"],
                    "lr must be at most 10 (Adam moves a value by about lr a step; larger "
                    "rates only saturate the image), not 1e+308"),
    "tv-weight-huge": (["--tv-weight", "1e308"], f"tv_weight must be {WEIGHT}, not 1e+308"),
    "class-weight-minus-inf": (["--class-weight=-inf"],
                               f"class_weight must be a finite number, at least -1000000, "
                               f"{WEIGHT}, not -inf"),
    "class-weight-in-objective": (
        ["--objective", "class:3:1e9"],
        "objective 'class:3:1e9' has a weight 1e9 beyond ±1000000 (a weight of a million "
        "already drowns every other term); objectives are: channel, neuron, top_k:K, "
        "class:C, class:C:λ"),
    "mean-nan": (["--mean", "nan,0.5,0.5"], "mean must be finite numbers, not [nan, 0.5, 0.5]"),
    "layers-twice": (["--layers", "conv2,conv2"],
                     "layers names 'conv2' twice; name each layer once"),
    "jitter-past-the-image": (
        ["--jitter", "100000"],
        "jitter must be at most 128 (the whole image: jitter is given at 128 px and scaled "
        "to the image size), not 100000"),
    "steps-a-trillion": (
        ["--steps", "1000000000000"],
        "steps must be at most 10000 (a bound on time: 40 times the default, and every "
        "image keeps a record of each step), not 1000000000000"),
    "seed-count-past-a-batch": (
        ["--seed-count", "100000000", "--views", "seeds"],
        "seed_count must be at most 1024 (a unit's images of a view share one batch), "
        "not 100000000"),
    "channels-a-hundred-million": (
        ["--layers", "conv1", "--channels", "0-100000000"],
        "channel 8 is out of range for layer 'conv1', which has 8 channels (0-7)"),
    "concepts-a-hundred-million": (
        ["--layers", "conv3", "--views", "positive,examples",
         "--concepts", "conv3=nmf:100000000"],
        "concepts of layer 'conv3': nmf:100000000 asks for more concepts than the 20000 "
        "activation vectors a dictionary is fitted on; use at most 20000"),
    "concepts-past-memory": (
        ["--layers", "conv3", "--views", "positive,examples", "--memory-limit", "1GB",
         "--concepts", "conv3=sae:15000"],
        "concepts of layer 'conv3': fitting sae:15000 takes about 8.4 GB, more than the "
        "1.0 GB a batch may take; use at most 2731 concepts"),
    "image-size-past-memory": (
        ["--layers", "conv1", "--image-size", "20000", "--memory-limit", "1GB"],
        "image_size 20000 needs at least 52.8 GB for one image's forward pass (103.5 KB at "
        "the model's 28 px, scaled by the area), more than the 1.0 GB a batch may take "
        "(memory_limit 1GB); the largest that fits is about 2751"),
    "image-size-2000": (
        ["--image-size", "2000"],
        "image size 2000 is too large for layer 'fc': the forward pass fails at 'fc' …; "
        "the smallest image size that works is 28: use --image-size 28"),
    "image-size-32": (
        ["--image-size", "32"],
        "image size 32 is too large for layer 'fc': the forward pass fails at 'fc' …; "
        "the smallest image size that works is 28: use --image-size 28"),
}


def assert_one_line(code: int, err: str, expected: str) -> None:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    line = lines[0].removeprefix("atlas: error: ")
    if "…" in expected:
        head, tail = expected.split(" …", 1)
        assert line.startswith(head) and line.endswith(tail), line
    else:
        assert line == expected


@pytest.mark.parametrize("name", list(CASES))
def test_a_hostile_flag_is_one_line_and_exit_2(name: str, tmp_path: Path, capsys) -> None:
    flags, expected = CASES[name]
    out = tmp_path / "site"
    code = main(["build", *TINY, *flags, "--out", str(out)])
    assert_one_line(code, capsys.readouterr().err, expected)
    assert not out.exists()  # refused before anything was written


@pytest.mark.parametrize(("line", "expected"), [
    ("lr = nan", f"lr must be a finite number, {LR}, not nan"),
    ("tv_weight = inf", f"tv_weight must be a finite number, at least 0, {WEIGHT}, not inf"),
    ("class_weight = nan", f"class_weight must be a finite number, at least -1000000, {WEIGHT}, "
                           "not nan"),
    ("seed = -1", "seed must be from 0 to 4294967295, not -1"),
    ("diversity_window = [0.0, inf]", "diversity_window must be finite numbers, not [0.0, inf]"),
])
def test_a_hostile_config_value_is_one_line_and_exit_2(line: str, expected: str,
                                                       tmp_path: Path, capsys) -> None:
    path = tmp_path / "atlas.toml"
    path.write_text(line + "\n", encoding="utf-8")
    code = main(["build", str(path), *TINY, "--out", str(tmp_path / "site")])
    assert_one_line(code, capsys.readouterr().err, expected)


def test_atlas_build_refuses_nan_like_a_flag(tmp_path: Path) -> None:
    with pytest.raises(AtlasError, match=r"^lr must be a finite number, above 0, "):
        atlas.build(out=tmp_path / "site", lr=float("nan"), progress=False)
    with pytest.raises(AtlasError, match=r"^accent_weight must be a finite number, "):
        make_config({}, {"accent_weight": float("inf")})
    assert not (tmp_path / "site").exists()


def test_values_at_the_ceilings_are_taken() -> None:
    config = make_config({}, {"steps": 10_000, "seed": 2**32 - 1, "lr": 10.0, "jitter": 128,
                              "class_weight": -1e6, "seed_count": 1024})
    assert (config.steps, config.seed, config.jitter) == (10_000, 2**32 - 1, 128)
    assert make_config({}, {"seed_count": 17, "batch_size": 1}).seed_count == 17


def test_a_channel_twice_is_one_unit() -> None:
    assert parse_channels("0,0,1-2,2", 8, "conv1") == [0, 1, 2]


# --- the size search: a bounded number of forward passes --------------------------------


@pytest.fixture()
def counted(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The sizes of every dry run the size search makes."""
    sizes: list[int] = []
    real = layer_search.dry_run

    def counting(model: nn.Module, size: int, *args: Any, **kwargs: Any) -> Any:
        sizes.append(size)
        return real(model, size, *args, **kwargs)

    monkeypatch.setattr(layer_search, "dry_run", counting)
    return sizes


@pytest.mark.parametrize("start", [32, 600, 2000])
def test_the_default_models_smallest_size_is_28_in_a_few_probes(start: int,
                                                                counted: list[int]) -> None:
    loaded = load_model(DEFAULT_SPEC, None)
    found = layer_search.smallest_size(loaded.module, loaded.preprocess, ["fc"], start,
                                       works_at=loaded.input_size)
    assert found == 28
    assert len(counted) <= 8, counted  # the model's own size, then a bisection below it
    assert max(counted) <= loaded.input_size


class Floored(nn.Module):
    """Two unpadded 5x5 convs and a pooled head: every size from 9 up works."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 4, 5), nn.ReLU(), nn.Conv2d(4, 4, 5))
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


@pytest.mark.parametrize("start", [2, 8])
def test_without_a_known_size_the_search_doubles_then_bisects(start: int,
                                                              counted: list[int]) -> None:
    found = layer_search.smallest_size(Floored(), None, ["head.2"], start)
    assert found == 9
    assert len(counted) <= 12, counted


def test_an_image_size_past_memory_never_runs_the_model_at_it(tmp_path: Path) -> None:
    from atlas.pipeline import prepare

    sizes: list[int] = []
    real = prepare.dry_run

    def counting(model: nn.Module, size: int, *args: Any, **kwargs: Any) -> Any:
        sizes.append(size)
        return real(model, size, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(prepare, "dry_run", counting)
        with pytest.raises(AtlasError, match=r"^image_size 20000 needs at least "):
            prepare.prepare_build(make_config({}, {"image_size": 20000, "layers": ["conv1"],
                                                   "memory_limit": "1GB",
                                                   "out": str(tmp_path / "site")}))
    assert sizes == [28]  # one forward at the model's own size, none at 20000


def test_atlas_layers_refuses_an_image_size_past_memory_at_once(capsys) -> None:
    assert main(["layers", "--image-size", "200000"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("atlas: error: image_size 200000 needs at least")


def test_atlas_layers_at_a_size_too_large_points_to_the_models_own(capsys) -> None:
    assert main(["layers", "--image-size", "64"]) == 0
    assert capsys.readouterr().out.rstrip().endswith("Try the model's own --image-size 28.")
