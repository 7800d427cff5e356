"""The technique comparison's plan: which units, which variants on each axis,
which one is the reference, which runs they share, and the record's key."""

from __future__ import annotations

import dataclasses

import pytest
from engine_helpers import SEED

from atlas.config import BuildConfig, with_sized_defaults
from atlas.pipeline import jobs as job_plan
from atlas.pipeline.compare.axes import AXES, L2_ON, TRANSFORMS
from atlas.pipeline.compare.entry import compare_entry
from atlas.pipeline.compare.plan import UnitPlan, compare_units, plan_units
from atlas.pipeline.compare.runs import PREDICTED, Context, Layer
from atlas.views import VIEWS
from atlas.views.images import image_seed

CONV = Layer("conv", (2, 8, 8))  # the tiny model's layers (engine_helpers.tiny_model)
FC = Layer("fc", (3,))
AXIS_CHOICES = {
    "param": ["pixel", "fourier", "decorrelate", "fourier+decorrelate"],
    "transforms": ["none", "jitter", "standard"],
    "objective": ["channel", "neuron", "top_k", "class"],
    "regularization": ["none", "tv", "l2", "tv+l2"],
    "depth": ["conv", "fc"],
}


def _context(logits: str | None = "fc", **changes) -> Context:
    config = with_sized_defaults(dataclasses.replace(BuildConfig(seed=SEED), **changes), 8)
    config = dataclasses.replace(config, logits_layer=logits)
    return Context(config, (CONV, FC), 8, logits, "the model has no linear layer for its classes")


def _plans(context: Context) -> dict[str, UnitPlan]:
    common = job_plan.common_settings(context.config, "tiny", "abc123", 8, "standard")
    plans = plan_units(context, [(CONV, [0, 1]), (FC, [0, 1, 2])], common)
    return {f"{p.layer}:{p.unit}": p for p in plans}


def _variant(unit_plan, axis: str, choice: str):
    return next(v for v in unit_plan.variants if (v.axis, v.choice) == (axis, choice))


def test_compare_units_are_the_first_of_each_layer() -> None:
    chosen = [(CONV, [0, 1]), (FC, [0, 1, 2])]
    assert compare_units(chosen, 3) == [(CONV, 0), (CONV, 1), (FC, 0), (FC, 1), (FC, 2)]
    assert compare_units(chosen, 1) == [(CONV, 0), (FC, 0)]
    assert list(_plans(_context())) == ["conv:0", "conv:1", "fc:0", "fc:1", "fc:2"]


def test_every_unit_has_every_axis_in_declaration_order() -> None:
    assert [axis.name for axis in AXES] == list(AXIS_CHOICES)
    assert list(TRANSFORMS) == AXIS_CHOICES["transforms"]
    for unit_plan in _plans(_context()).values():
        found: dict[str, list[str]] = {}
        for variant in unit_plan.variants:
            found.setdefault(variant.axis, []).append(variant.choice)
        assert found == AXIS_CHOICES


def test_the_build_settings_are_the_reference_on_each_axis() -> None:
    unit_plan = _plans(_context())["conv:1"]  # default at 8 px: pixel + decorrelate, standard
    references = {v.axis: v.choice for v in unit_plan.variants if v.reference}
    assert references == {"param": "decorrelate", "transforms": "standard",
                          "objective": "channel", "regularization": "tv", "depth": "conv"}
    runs = {v.run for v in unit_plan.variants if v.reference}
    assert len(runs) == 1  # one image, shown on every axis
    run = runs.pop()
    assert run.seed == image_seed(SEED, "conv", 1, "positive")  # the positive view's start
    assert (run.param, run.decorrelate, run.lr, run.transforms) == ("pixel", True, 0.12,
                                                                    "standard")
    other = _plans(_context(param="fourier", decorrelate=False, transforms="none",
                            tv_weight=0.0, l2_weight=0.5, objective="top_k:4"))["conv:1"]
    assert {v.axis: v.choice for v in other.variants if v.reference} == {
        "param": "fourier", "transforms": "none", "objective": "top_k",
        "regularization": "l2", "depth": "conv"}
    assert _variant(other, "objective", "top_k").note == "k = 4 of 64"
    assert _variant(other, "regularization", "l2").run.l2_weight == 0.5


def test_maco_has_no_reference_among_the_parameterizations() -> None:
    unit_plan = _plans(_context(param="maco"))["conv:0"]
    assert not any(v.reference for v in unit_plan.variants if v.axis == "param")


def test_each_axis_changes_one_setting() -> None:
    unit_plan = _plans(_context())["conv:0"]
    base = _variant(unit_plan, "param", "decorrelate").run
    fourier = _variant(unit_plan, "param", "fourier").run
    assert dataclasses.replace(base, param="fourier", decorrelate=False, lr=0.05) == fourier
    assert _variant(unit_plan, "transforms", "jitter").run == dataclasses.replace(
        base, transforms="jitter")
    assert _variant(unit_plan, "regularization", "tv+l2").run == dataclasses.replace(
        base, l2_weight=L2_ON)
    assert _variant(unit_plan, "objective", "top_k").run.spec == {"kind": "top_k", "k": 6}
    assert _variant(unit_plan, "objective", "class").run.spec == {
        "kind": "class", "class": PREDICTED, "weight": 0.1, "logits": "fc"}
    assert _variant(unit_plan, "objective", "class").run.source == base


def test_a_linear_unit_shares_one_run_for_its_spatial_objectives() -> None:
    unit_plan = _plans(_context())["fc:1"]
    channel = _variant(unit_plan, "objective", "channel").run
    assert _variant(unit_plan, "objective", "neuron").run == channel
    assert _variant(unit_plan, "objective", "top_k").run == channel
    assert "no positions" in _variant(unit_plan, "objective", "top_k").note


def test_depth_takes_the_same_channel_in_every_layer() -> None:
    plans = _plans(_context())
    conv0, fc2 = plans["conv:0"], plans["fc:2"]
    assert _variant(conv0, "depth", "fc").run == _variant(plans["fc:0"], "depth", "fc").run
    assert _variant(conv0, "depth", "fc").note == "fc:0"
    missing = _variant(fc2, "depth", "conv")
    assert missing.run is None and missing.skipped == "conv has 2 channels"
    # conv:0 needs 13 images: the reference, 3 + 2 + 3 + 3 other choices, fc:0 for depth
    assert len(conv0.runs) == 13
    assert len(fc2.runs) == 1 + 3 + 2 + 1 + 3  # no spatial objectives, no conv:2


def test_without_a_class_output_the_class_variant_is_skipped_with_the_reason() -> None:
    variant = _variant(_plans(_context(logits=None))["conv:0"], "objective", "class")
    assert variant.run is None
    assert variant.skipped == "the model has no linear layer for its classes"


def test_a_class_objective_of_the_build_is_the_class_reference() -> None:
    unit_plan = _plans(_context(objective="class:2:0.5"))["conv:0"]
    variant = _variant(unit_plan, "objective", "class")
    assert variant.reference and variant.note == "class 2, λ 0.5"
    assert variant.run.spec == {"kind": "class", "class": 2, "weight": 0.5, "logits": "fc"}


def test_keys_follow_the_settings_that_shape_the_images() -> None:
    keys = {name: p.key for name, p in _plans(_context()).items()}
    assert keys == {name: p.key for name, p in _plans(_context()).items()}
    assert len(set(keys.values())) == len(keys)
    fewer = {name: p.key for name, p in _plans(_context(compare_units=1)).items()}
    assert fewer == {"conv:0": keys["conv:0"], "fc:0": keys["fc:0"]}
    for change in ({"tv_weight": 0.1}, {"steps": 10}, {"class_weight": 0.3}, {"seed": 1},
                   {"batch_size": 8}):
        changed = {name: p.key for name, p in _plans(_context(**change)).items()}
        assert all(changed[name] != keys[name] for name in keys), change


def test_the_compare_view_is_declared_once() -> None:
    view = VIEWS["compare"]
    assert view.produced_by == "compare" and not view.per_unit
    assert "compare" in BuildConfig().views


@pytest.mark.parametrize("missing", [True, False])
def test_manifest_entry_places_every_variant_in_its_column(missing: bool) -> None:
    units = [{"label": "conv:0", "layer": "conv", "unit": 0, "page": "units/conv/0.html"}]
    unit_plan = _plans(_context())["conv:0"]
    index = {run: i for i, run in enumerate(unit_plan.runs)}
    variants = [{"axis": v.axis, "choice": v.choice, "label": v.label, "reference": v.reference,
                 "target": v.run.target if v.run else None,
                 "image": index[v.run] if v.run else None, "activation": 1.5, "note": v.note,
                 "skipped": v.skipped} for v in unit_plan.variants]
    if missing:
        variants = [v for v in variants if v["choice"] != "neuron"]
    record = {"images": [f"results/conv/0/compare-{i}.png" for i in index.values()],
              "variants": variants}
    entry = compare_entry(units, [record])
    assert [axis["name"] for axis in entry["axes"]] == list(AXIS_CHOICES)
    objective = entry["axes"][2]
    names = [choice["name"] for choice in objective["choices"]]
    assert names == [c for c in AXIS_CHOICES["objective"] if not (missing and c == "neuron")]
    cells = objective["rows"][0]["cells"]
    assert cells[0] == {"image": "results/conv/0/compare-2.png", "activation": 1.5,
                        "reference": True, "target": "conv:0", "note": None, "skipped": None}
    assert compare_entry([], []) is None
