"""Each setting declared once: its flag, its help, its docs row and its cache-key role
all come from the declaration in atlas/config.py, and the role is what the build does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from atlas.cli import _build_config, _parser
from atlas.config import SETTINGS, BuildConfig, make_config
from atlas.errors import AtlasError
from atlas.pipeline.dataset.accent import accent_settings
from atlas.pipeline.dataset.passes import _scan_common
from atlas.pipeline.prepare import prepare_build
from atlas.pipeline.weights.connections import pairs_to_compute
from atlas.settings_table import settings_markdown
from atlas.views import DEFAULT_VIEWS

DOCS = Path(__file__).parent.parent / "docs" / "settings.md"

# A value other than the default for every setting, as a flag writes it and as the
# build reads it. A new setting needs one here (a test below says so).
OTHER = {
    "model": ("lucent:inceptionv1", "lucent:inceptionv1"),
    "weights": ("w.pt", "w.pt"),
    "pretrained": (None, True),
    "preprocess": ("imagenet", "imagenet"),
    "mean": ("0.5,0.4,0.3", [0.5, 0.4, 0.3]),
    "std": ("0.2,0.2,0.25", [0.2, 0.2, 0.25]),
    "layers": ("conv2,fc", ["conv2", "fc"]),
    "channels": ("1-2", "1-2"),
    "views": ("positive,examples", ["positive", "examples"]),
    "steps": ("12", 12),
    "image_size": ("30", 30),  # the default model's fc takes 28 to 31 pixels
    "seed": ("3", 3),
    "device": ("cpu", "cpu"),
    "out": ("elsewhere", "elsewhere"),
    "force": (None, True),
    "lr": ("0.2", 0.2),
    "param": ("fourier", "fourier"),
    "decorrelate": (None, False),
    "valid": ("clamp", "clamp"),
    "transforms": ("none", "none"),
    "jitter": ("4", 4),
    "scale": ("0.2", 0.2),
    "rotate": ("5", 5),
    "tv_weight": ("0.5", 0.5),
    "l2_weight": ("0.01", 0.01),
    "objective": ("top_k:3", "top_k:3"),
    "class_weight": ("0.5", 0.5),
    "accent_radius": ("0.2", 0.2),
    "accent_weight": ("2", 2.0),
    "pre_activation": ("off", "off"),
    "logits_layer": ("conv3", "conv3"),
    "compare_units": ("2", 2),
    "connections": ("4", 4),
    "diversity_weight": ("8", 8.0),
    "diversity_images": ("3", 3),
    "diversity_keep": ("0.9", 0.9),
    "diversity_window": ("0.1,0.7", [0.1, 0.7]),
    "neuron_positions": ("2", 2),
    "seed_count": ("3", 3),
    "snapshot_every": ("20", 20),
    "stop_tolerance": ("0.01", 0.01),
    "stop_window": ("16", 16),
    "joint": ("fc:1 + fc:2", ["fc:1 + fc:2"]),
    "batch_size": ("64", 64),
    "memory_limit": ("2GB", "2GB"),
    "channels_last": (None, True),
    "precision": ("bf16", "bf16"),
    "image_format": ("webp", "webp"),
    "image_quality": ("50", 50),
    "dataset": ("none", "none"),
    "dataset_limit": ("32", 32),
    "dataset_resize": ("stretch", "stretch"),
    "dataset_links": ("follow", "follow"),
    "example_count": ("4", 4),
    "site_budget": ("1GB", "1GB"),
    "dataset_batch": ("16", 16),
    "executor": ("ray", "ray"),
    "ray_address": ("10.0.0.5:6379", "10.0.0.5:6379"),
    "ray_workers": ("2", 2),
    "ray_threads": ("2", 2),
    "concepts": ("conv2=nmf:6", {"conv2": "nmf:6"}),
    "class_pages": (None, False),
}
# Settings whose key role the prepared build cannot show, and where it is checked.
ELSEWHERE = {
    "model": "another model: keyed by its spec (test_jobs' pinned keys)",
    "weights": "keyed by the file's sha256 (test_models)",
    "pretrained": "downloads; keyed as 'pretrained' weights (test_models)",
    "logits_layer": "must be a layer of class outputs; keyed with class objectives "
                    "(test_compare_settings)",
    "dataset": "none drops the dataset views; a dataset's fingerprint joins scan keys "
               "(test_dataset_build)",
    "site_budget": "fits the examples while they are cut (test_site_budget)",
    "pre_activation": "the default model's layers have no clamp (test_pre_activation)",
    "dataset_resize": "the built-in dataset's images are the model's size; a folder's "
                      "fingerprint holds it (test_datasets)",
    "executor": "needs Ray (test_ray builds the same results on both)",
    "ray_address": "needs Ray",
    "ray_workers": "needs Ray",
    "ray_threads": "needs Ray",
}


def _flags(name: str) -> list[str]:
    declared = SETTINGS[name]
    text, value = OTHER[name]
    if declared.kind == "bool":
        return [declared.flag if value else "--no-" + declared.flag[2:]]
    return [declared.flag, text]


def test_docs_settings_page_is_current() -> None:
    assert DOCS.read_text(encoding="utf-8") == settings_markdown(), (
        "docs/settings.md is out of date: run `make docs`")


def test_every_setting_has_another_value_here() -> None:
    assert set(OTHER) == set(SETTINGS)
    assert set(ELSEWHERE) <= set(SETTINGS)


@pytest.mark.parametrize("name", list(SETTINGS))
def test_each_settings_flag_reads_its_value(name: str) -> None:
    args = _parser().parse_args(["build", *_flags(name)])
    assert getattr(args, name) == OTHER[name][1]
    untouched = {other for other in SETTINGS if other != name}
    assert all(getattr(args, other) is None for other in untouched)


def test_no_flag_leaves_the_config_files_value(tmp_path: Path) -> None:
    path = tmp_path / "atlas.toml"
    path.write_text("steps = 7\ndecorrelate = false\n")
    config = _build_config(_parser().parse_args(["build", str(path), "--seed", "4"]))
    assert (config.steps, config.decorrelate, config.seed) == (7, False, 4)


@pytest.mark.parametrize("name", list(SETTINGS))
def test_each_setting_has_help_and_shows_its_default(name: str) -> None:
    declared = SETTINGS[name]
    assert declared.setting.help and declared.default_words()
    help_text = " ".join(_parser()._subparsers._group_actions[0].choices["build"]  # type: ignore
                         .format_help().split())
    assert f"{declared.setting.help} (default: {declared.default_words()})" in help_text


def test_bounds_say_what_is_allowed() -> None:
    with pytest.raises(AtlasError, match=r"^connections must be from 0 to 50, not 51$"):
        make_config({}, {"connections": 51})
    with pytest.raises(AtlasError, match=r"^lr must be above 0, not 0.0$"):
        make_config({}, {"lr": 0.0})
    with pytest.raises(AtlasError, match=r"^diversity_keep must be at least 0 and below 1, "
                                         r"not 1.0$"):
        make_config({}, {"diversity_keep": 1.0})
    assert make_config({}, {"connections": 50, "diversity_keep": 0.0}).connections == 50


def test_a_choice_suggests_the_closest() -> None:
    with pytest.raises(AtlasError, match=r"^param must be one of pixel, fourier, maco, not "
                                         r"'fourir' \(did you mean 'fourier'\?\)$"):
        make_config({}, {"param": "fourir"})
    with pytest.raises(AtlasError, match=r"^valid must be 'sigmoid' or 'clamp', not 'clmp' "
                                         r"\(did you mean 'clamp'\?\)$"):
        make_config({}, {"valid": "clmp"})


# --- the cache-key role each setting declares ------------------------------------------


def _keys(config: BuildConfig) -> dict[str, Any]:
    """Every key the prepared build gives its results, by result."""
    ready = prepare_build(config)
    try:
        keys: dict[str, Any] = {
            f"job {job.layer} {job.settings.get('expression', job.unit)} {job.view}": job.key
            for jobs in ready.layer_jobs for job in jobs}
        keys.update({f"compare {plan.layer} {plan.unit}": plan.key for plan in ready.compared})
        if ready.scanned is not None:
            keys["scan"] = _scan_common(ready.config, ready.loaded, ready.scanned,
                                        ready.image_size)
        keys["accent"] = accent_settings(ready.config)
        keys.update({f"concepts {plan.layer}": plan.key for plan in ready.concepts})
        for (earlier, _), (later, _), settings in pairs_to_compute(
                ready.store, ready.image_size, ready.forward_layers(),
                ready.config.connections, ready.common):
            keys[f"connections {earlier} {later}"] = settings
        return keys
    finally:
        ready.executor.close()


BASE = {"channels": "0-1", "steps": 8, "dataset_limit": 64,
        "views": [*DEFAULT_VIEWS, "accent"], "concepts": {"conv2": "nmf:4"}}
# A change that needs another to take effect (a window counts only when stopping is on).
WITH = {"stop_window": {"stop_tolerance": 0.01}, "image_quality": {"image_format": "webp"}}


@pytest.mark.parametrize("name", [name for name in SETTINGS if name not in ELSEWHERE])
def test_a_setting_changes_the_keys_exactly_when_it_is_keyed(name: str,
                                                             tmp_path: Path) -> None:
    base = {**BASE, **WITH.get(name, {}), "out": str(tmp_path / "site")}
    before = _keys(make_config({}, base))
    after = _keys(make_config({}, {**base, name: OTHER[name][1]}))
    shared = before.keys() & after.keys()
    assert shared, "the two builds share no result"
    changed = [result for result in shared if before[result] != after[result]]
    if SETTINGS[name].setting.keyed:  # True, or the results it recomputes
        assert changed, f"{name} is declared keyed but changes no key"
    else:
        assert not changed, f"{name} is declared not keyed but changes {changed[:3]}"
