"""Build settings: precedence, TOML errors, validation and channel lists."""

from __future__ import annotations

from pathlib import Path

import pytest

from atlas.config import (BuildConfig, load_toml, make_config, parse_channels,
                          with_sized_defaults)
from atlas.errors import AtlasError
from atlas.views import DEFAULT_VIEWS


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "atlas.toml"
    path.write_text(text)
    return path


# --- precedence --------------------------------------------------------------------


def test_defaults() -> None:
    config = make_config({}, {})
    assert config == BuildConfig()
    assert config.steps == 256 and config.seed == 0 and config.lr is None
    assert config.views == list(DEFAULT_VIEWS)


@pytest.mark.parametrize(("size", "param", "lr"), [(28, "pixel", 0.12), (64, "pixel", 0.12),
                                                  (65, "fourier", 0.075), (224, "fourier", 0.075)])
def test_unset_settings_take_the_image_sizes_defaults(size: int, param: str, lr: float) -> None:
    config = with_sized_defaults(make_config({}, {}), size)
    assert (config.param, config.lr) == (param, lr)


def test_settings_given_are_kept_whatever_the_size() -> None:
    config = with_sized_defaults(make_config({}, {"param": "maco", "lr": 0.3}), 28)
    assert (config.param, config.lr) == ("maco", 0.3)


@pytest.mark.parametrize(("param", "small", "large"), [("pixel", 0.12, 0.12),
                                                     ("fourier", 0.05, 0.075),
                                                     ("maco", 0.05, 0.05)])
def test_an_unset_learning_rate_is_the_parameterizations_at_the_size(
        param: str, small: float, large: float) -> None:
    for size, lr in ((28, small), (64, small), (65, large), (224, large)):
        assert with_sized_defaults(make_config({}, {"param": param}), size).lr == lr


def test_precedence_defaults_then_file_then_flags(tmp_path: Path) -> None:
    path = _write(tmp_path, 'steps = 10\nseed = 3\nviews = ["positive", "seeds"]\nlr = 0.1\n')
    config = make_config(load_toml(path), {"steps": 20, "seed": None, "out": "public"})
    assert config.steps == 20  # flag beats file
    assert config.seed == 3  # a flag left unset (None) does not override the file
    assert config.views == ["positive", "seeds"]  # file beats default
    assert config.lr == 0.1
    assert config.out == "public"  # flag beats default
    assert config.tv_weight == 0.05  # default


def test_flags_only() -> None:
    config = make_config({}, {"layers": ["conv1", "fc"], "channels": "0-3"})
    assert config.layers == ["conv1", "fc"]
    assert config.channels == "0-3"


def test_default_lists_are_not_shared() -> None:
    a, b = BuildConfig(), BuildConfig()
    a.views.append("extra")
    assert b.views == list(DEFAULT_VIEWS)
    assert b.joint is None  # the model decides its default pairs


def test_bool_for_a_number_is_rejected() -> None:
    with pytest.raises(AtlasError, match="setting 'steps' must be a whole number, not True"):
        make_config({"steps": True}, {})


def test_wrong_type_is_an_atlas_error() -> None:
    with pytest.raises(AtlasError, match="setting 'steps' must be a whole number, not 'many'"):
        make_config({"steps": "many"}, {})


def test_whole_numbers_are_accepted_for_float_settings() -> None:
    assert make_config({"tv_weight": 1}, {}).tv_weight == 1.0


def test_unknown_key_in_make_config_is_an_atlas_error() -> None:
    with pytest.raises(AtlasError, match="unknown setting 'stpes' \\(did you mean 'steps'\\?\\)"):
        make_config({"stpes": 10}, {})


# --- load_toml ---------------------------------------------------------------------


def test_load_toml_returns_values(tmp_path: Path) -> None:
    path = _write(tmp_path, 'model = "colored-digits"\nsteps = 64\nparam = "maco"\n')
    assert load_toml(path) == {"model": "colored-digits", "steps": 64, "param": "maco"}


def test_a_replaced_key_says_what_to_write_instead(tmp_path: Path) -> None:
    path = _write(tmp_path, "fft = false\n")
    with pytest.raises(AtlasError, match='param = "pixel"'):
        load_toml(path)


def test_unknown_param_is_named() -> None:
    with pytest.raises(AtlasError, match="pixel, fourier, maco"):
        make_config({}, {"param": "wavelet"})


def test_invalid_toml_names_the_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "steps = 10\nseed = = 3\n")
    with pytest.raises(AtlasError, match="line 2") as error:
        load_toml(path)
    assert "not valid TOML" in str(error.value)
    assert str(path) in str(error.value)


def test_unknown_key_suggests_the_right_one(tmp_path: Path) -> None:
    path = _write(tmp_path, "stpes = 10\n")
    with pytest.raises(AtlasError, match="unknown key 'stpes' \\(did you mean 'steps'\\?\\)"):
        load_toml(path)


def test_unknown_key_without_a_close_match_lists_the_keys(tmp_path: Path) -> None:
    path = _write(tmp_path, "zzzzzz = 1\n")
    with pytest.raises(AtlasError, match="known keys: model, weights") as error:
        load_toml(path)
    assert "did you mean" not in str(error.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(AtlasError, match="cannot read config"):
        load_toml(tmp_path / "absent.toml")


# --- validate ----------------------------------------------------------------------


def test_unknown_view() -> None:
    with pytest.raises(AtlasError, match="unknown view 'postive' \\(did you mean 'positive'\\?\\)"):
        make_config({}, {"views": ["postive"]})


@pytest.mark.parametrize("name", ["steps", "seed_count", "diversity_images",
                                  "neuron_positions", "batch_size"])
def test_counts_must_be_at_least_one(name: str) -> None:
    with pytest.raises(AtlasError, match=f"{name} must be at least 1, not 0"):
        make_config({}, {name: 0})
    assert getattr(make_config({}, {name: 1}), name) == 1


def test_empty_layer_list() -> None:
    with pytest.raises(AtlasError, match="layer list is empty"):
        make_config({"layers": []}, {})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"image_size": 0}, "image size must be a positive number"),
        ({"transforms": "fancy"}, "transforms must be 'standard' or 'none'"),
        ({"valid": "tanh"}, "valid must be 'sigmoid' or 'clamp'"),
        ({"device": "tpu"}, "device must be auto, cpu or cuda"),
        ({"jitter": -1}, "transform amounts must be jitter >= 0"),
        ({"scale": 1.0}, "transform amounts must be"),
        ({"rotate": 181}, "transform amounts must be"),
        ({"pre_activation": "sometimes"}, "pre_activation must be one of all, negative, off"),
    ],
)
def test_other_validation_errors(change: dict, message: str) -> None:
    with pytest.raises(AtlasError, match=message):
        make_config(change, {})


@pytest.mark.parametrize("device", ["auto", "cpu", "cuda", "cuda:1"])
def test_valid_devices(device: str) -> None:
    assert make_config({}, {"device": device}).device == device


# --- parse_channels ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0-3,7", [0, 1, 2, 3, 7]),
        ("7, 0-1", [0, 1, 7]),
        ("2,2,1-2", [1, 2]),
        ("5", [5]),
        ("0-9", list(range(10))),
        ("3,", [3]),
    ],
)
def test_parse_channels(text: str, expected: list[int]) -> None:
    assert parse_channels(text, 10, "conv") == expected


def test_parse_channels_out_of_range_names_the_count() -> None:
    with pytest.raises(AtlasError, match="channel 10 is out of range for layer 'conv', "
                                         "which has 10 channels \\(0-9\\)"):
        parse_channels("8-12", 10, "conv")


@pytest.mark.parametrize("text", ["a", "1-b", "-1", "0.5", "1-2-3"])
def test_parse_channels_unreadable(text: str) -> None:
    with pytest.raises(AtlasError, match="cannot read channels"):
        parse_channels(text, 10, "conv")


@pytest.mark.parametrize("text", ["7-0", "1--2"])
def test_parse_channels_reversed_range_is_an_error(text: str) -> None:
    # '1--2' reads as the range 1 to -2
    with pytest.raises(AtlasError, match="runs backwards"):
        parse_channels(text, 10, "conv")


def test_the_spelled_out_default_config_matches_the_defaults() -> None:
    path = Path(__file__).parent.parent / "examples" / "colored-digits.toml"
    values = load_toml(path)
    spelled = with_sized_defaults(make_config(values, {}), 28)
    default = with_sized_defaults(make_config({}, {}), 28)
    for key in values:
        if key not in ("layers", "views", "joint"):  # lists the model and the build choose
            assert getattr(spelled, key) == getattr(default, key), key


def test_each_settings_kind_comes_from_its_declaration() -> None:
    from atlas.config import KINDS, SETTINGS

    assert set(KINDS) == set(SETTINGS)
    assert {name: KINDS[name] for name in ("steps", "dataset_limit", "lr", "scale",
                                           "channels_last", "layers", "diversity_window",
                                           "channels", "memory_limit")} == {
        "steps": "int", "dataset_limit": "int", "lr": "float", "scale": "float",
        "channels_last": "bool", "layers": "str_list", "diversity_window": "float_list",
        "channels": "str", "memory_limit": "str"}
    assert KINDS["concepts"] == "str_dict"
    assert set(KINDS.values()) == {"int", "float", "bool", "str", "str_list", "float_list",
                                   "str_dict"}
