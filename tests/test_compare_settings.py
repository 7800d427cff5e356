"""The build-wide `objective` setting: parsing, one-line errors, the objectives it
builds, and cache keys (the default keeps every key it had before the setting)."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch.testing import assert_close

from atlas.cli import main
from atlas.config import BuildConfig, make_config
from atlas.errors import AtlasError
from atlas.models.layers import LayerInfo
from atlas.objective_spec import parse_objective
from atlas.pipeline import jobs as job_plan
from atlas.views.optimized import objective_setting, unit_objective

CONV_SHAPE = (4, 7, 7)
LINEAR_SHAPE = (10,)


@pytest.mark.parametrize(("text", "spec"), [
    ("channel", {"kind": "channel"}),
    ("neuron", {"kind": "neuron"}),
    ("top_k:20", {"kind": "top_k", "k": 20}),
    (" top_k:1 ", {"kind": "top_k", "k": 1}),
    ("class:3", {"kind": "class", "class": 3}),
    ("class:0:0.5", {"kind": "class", "class": 0, "weight": 0.5}),
])
def test_objectives_parse(text: str, spec: dict) -> None:
    assert parse_objective(text) == spec


@pytest.mark.parametrize(("text", "message"), [
    ("chanel", "unknown objective 'chanel' (did you mean 'channel'?)"),
    ("mean", "unknown objective 'mean'"),
    ("top_k", "needs K"),
    ("top_k:0", "needs K"),
    ("top_k:²", "needs K"),
    ("class", "needs C"),
    ("class:-1", "needs C"),
    ("class:1:2:3", "needs C"),
    ("class:1:big", "weight 'big' that is not a number"),
    ("class:1:inf", "finite weight"),
    ("neuron:3", "takes no argument"),
])
def test_bad_objectives_are_one_line_listing_the_choices(text: str, message: str) -> None:
    choices = "objectives are: channel, neuron, top_k:K, class:C"
    with pytest.raises(AtlasError, match=choices) as error:
        make_config({}, {"objective": text})
    assert message in str(error.value) and "\n" not in str(error.value)


def test_objective_from_a_file_must_be_text() -> None:
    with pytest.raises(AtlasError, match="'objective' must be a string"):
        make_config({"objective": 3}, {})


def test_cli_rejects_an_unknown_objective_with_exit_2(tmp_path, capsys) -> None:
    code = main(["build", "--objective", "sharpest", "--out", str(tmp_path / "site")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "objectives are:" in err


def test_class_objective_takes_the_class_weight_and_the_class_output() -> None:
    config = make_config({}, {"objective": "class:4", "class_weight": 0.25})
    assert dataclasses.replace(config, logits_layer="fc").objective_spec() == {
        "kind": "class", "class": 4, "weight": 0.25, "logits": "fc"}
    config = make_config({}, {"objective": "class:4:2"})
    assert config.objective_spec()["weight"] == 2.0


def test_compare_settings_are_checked() -> None:
    assert make_config({}, {}).compare_units == 3
    assert make_config({"class_weight": 1}, {}).class_weight == 1.0
    with pytest.raises(AtlasError, match="compare_units must be at least 1"):
        make_config({"compare_units": 0}, {})


# --- cache keys ---------------------------------------------------------------------

# The keys of a default build's jobs before the objective setting existed (atlas 0.1.0):
# results stored then are still found.
KEYS_BEFORE = {
    "common": "ad70840ddb7123ee",
    "conv": {"positive": "0ad925f1ea802002", "negative": "ad007a575008277c",
             "diversity": "7c81ac1d182dfccb", "neuron": "dfe11fcf266739e5",
             "seeds": "40832451cc9dcab3"},
    "fc": {"positive": "6e5d51697731b485", "negative": "e88c7374bea5f48e",
           "diversity": "bcbbdf60400e247c", "seeds": "dd4950a75197b7eb"},
}


def _keys(config: BuildConfig) -> dict:
    common = job_plan.common_settings(config, "tiny", "abc123", 28, "standard")
    keys: dict = {"common": job_plan.settings_key(common)}
    for layer, shape in (("conv", CONV_SHAPE), ("fc", LINEAR_SHAPE)):
        info = LayerInfo(layer, "Conv2d", tuple(shape))
        keys[layer] = {job.view: job.key for job in job_plan.unit_jobs(config, common, info, 2)}
    return keys


def test_the_default_objective_keeps_every_key(monkeypatch) -> None:
    monkeypatch.setattr(job_plan, "__version__", "0.1.0")
    assert _keys(BuildConfig()) == KEYS_BEFORE
    assert _keys(BuildConfig(objective="channel", class_weight=3.0)) == KEYS_BEFORE
    assert objective_setting(BuildConfig()) == {}


@pytest.mark.parametrize("objective", ["neuron", "top_k:5", "class:2"])
def test_another_objective_changes_the_keys_of_the_views_that_maximize_it(objective) -> None:
    before = _keys(BuildConfig())
    after = _keys(BuildConfig(objective=objective, logits_layer="fc"))
    assert after["common"] == before["common"]
    for layer in ("conv", "fc"):
        changed = {view for view in before[layer] if before[layer][view] != after[layer][view]}
        assert changed == {"positive", "negative", "diversity", "seeds"}


def test_the_objective_joins_the_settings_of_those_views() -> None:
    config = BuildConfig(objective="top_k:5")
    common = job_plan.common_settings(config, "tiny", "abc123", 28, "standard")
    info = LayerInfo("conv", "Conv2d", tuple(CONV_SHAPE))
    jobs = {job.view: job for job in job_plan.unit_jobs(config, common, info, 2)}
    assert jobs["positive"].settings["objective"] == {"kind": "top_k", "k": 5}
    assert "objective" not in jobs["neuron"].settings


# --- the objectives -----------------------------------------------------------------


def _acts() -> dict:
    conv = torch.arange(2 * 3 * 4 * 4, dtype=torch.float32).view(2, 3, 4, 4) / 10
    return {"conv": conv, "fc": torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])}


def test_unit_objectives_score_what_they_say() -> None:
    acts = _acts()
    conv = acts["conv"]
    assert_close(unit_objective(None, "conv", [0, 2])(acts),
                 torch.stack([conv[0, 0].mean(), conv[1, 2].mean()]))
    assert_close(unit_objective({"kind": "neuron"}, "conv", 1)(acts), conv[:, 1, 2, 2])
    top = unit_objective({"kind": "top_k", "k": 3}, "conv", 1)(acts)
    assert_close(top, conv[:, 1].flatten(1).topk(3).values.mean(1))
    spec = {"kind": "class", "class": 2, "weight": 0.5, "logits": "fc"}
    assert_close(unit_objective(spec, "conv", 0)(acts), conv[:, 0].flatten(1).mean(1)
                 + 0.5 * acts["fc"][:, 2])
    per_image = {**spec, "class": [0, 1]}
    assert_close(unit_objective(per_image, "fc", 2)(acts), torch.tensor([3.5, 8.5]))


def test_views_report_the_channel_mean_whatever_they_maximize() -> None:
    from atlas.views import VIEWS

    config = BuildConfig(objective="top_k:1")
    common = job_plan.common_settings(config, "tiny", "abc123", 8, "standard")
    info = LayerInfo("conv", "Conv2d", (3, 4, 4))
    jobs = {job.view: job for job in job_plan.unit_jobs(config, common, info, 1)}
    first = {name: values[:1] for name, values in _acts().items()}  # one image: unit 1
    objective, measure = VIEWS["positive"].objective("conv", [jobs["positive"]])
    assert_close(objective(first), first["conv"][:, 1].amax((1, 2)))
    assert_close(measure(first), first["conv"][:, 1].mean((1, 2)))
    objective, measure = VIEWS["negative"].objective("conv", [jobs["negative"]])
    assert_close(objective(first), -first["conv"][:, 1].amax((1, 2)))
    assert_close(measure(first), first["conv"][:, 1].mean((1, 2)))
