"""Slugs, atomic writes and the result store."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
import torch
from engine_helpers import generator
from PIL import Image

from atlas import fsio
from atlas.fsio import write_bytes_atomic, write_json_atomic, write_png_atomic, write_text_atomic
from atlas.slugs import slugify
from atlas.store import (
    BUILD_DIR,
    JOINT_DIR,
    RESULTS,
    ResultStore,
    load_image,
    settings_key,
    to_pil,
)

SAFE = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*$")
NASTY = ["../../etc", "<script>", "a b", "ünïcødé", "层", "", ".", "..", ".hidden",
         "a/b", "a\\b", "con:1", "_build", "_joint", "x" * 300 + " y", "name\x00nul"]


# --- slugify -------------------------------------------------------------------------


@pytest.mark.parametrize("name", NASTY)
def test_slug_is_safe(name: str) -> None:
    slug = slugify(name)
    assert SAFE.match(slug), slug
    assert not slug.startswith(".")
    assert "/" not in slug and "\\" not in slug and ".." != slug
    assert len(slug) <= 80
    assert slug not in (BUILD_DIR, JOINT_DIR)


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("features.0", "features.0"),
        ("conv2", "conv2"),
        ("layer4.1.conv_2-a", "layer4.1.conv_2-a"),
        ("../../etc", "etc-74ccf3c5"),
        ("<script>", "script-5b63e5b2"),
        ("a b", "a_b-c8687a08"),
        ("", "unnamed-e3b0c442"),
        ("_build", "build-6e2710a4"),
    ],
)
def test_slug_values(name: str, slug: str) -> None:
    assert slugify(name) == slug


def test_long_safe_names_are_shortened() -> None:
    # a 300-character layer name would be a folder name the file system refuses
    assert len(slugify("x" * 300)) <= 255


def test_distinct_names_give_distinct_slugs() -> None:
    names = NASTY + ["a_b", "a-b", "a.b", "a b ", " a b", "etc", "script", "_script_",
                     "x" * 300 + " z", "features.0", "features 0", "features/0"]
    slugs = [slugify(name) for name in names]
    assert len(set(slugs)) == len(set(names))


def test_slug_is_stable() -> None:
    assert slugify("a b") == slugify("a b")


# --- atomic writes -------------------------------------------------------------------


def test_atomic_writes_leave_only_the_target(tmp_path: Path) -> None:
    write_bytes_atomic(tmp_path / "deep" / "dir" / "a.bin", b"\x00\x01")
    write_text_atomic(tmp_path / "b.txt", "héllo")
    write_json_atomic(tmp_path / "c.json", {"b": 1, "a": [1.5]})
    write_png_atomic(tmp_path / "d.png", Image.new("RGB", (2, 2), (10, 20, 30)))
    write_text_atomic(tmp_path / "b.txt", "again")  # overwrite
    files = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert files == ["b.txt", "c.json", "d.png", os.path.join("deep", "dir", "a.bin")]
    assert (tmp_path / "deep" / "dir" / "a.bin").read_bytes() == b"\x00\x01"
    assert (tmp_path / "b.txt").read_text() == "again"
    assert (tmp_path / "c.json").read_text() == '{"a":[1.5],"b":1}\n'
    assert (tmp_path / "b.txt").stat().st_mode & 0o777 == 0o644


def test_a_failed_write_keeps_the_old_file_and_no_temp(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "a.txt"
    write_text_atomic(target, "old")

    def broken_replace(src, dst):
        raise OSError("disk on fire")

    monkeypatch.setattr(fsio.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk on fire"):
        write_text_atomic(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_json_rejects_nan(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_json_atomic(tmp_path / "x.json", {"a": float("nan")})
    assert list(tmp_path.iterdir()) == []


def test_png_bytes_depend_only_on_pixels(tmp_path: Path) -> None:
    image = Image.new("RGB", (3, 3), (1, 2, 3))
    write_png_atomic(tmp_path / "a.png", image)
    write_png_atomic(tmp_path / "b.png", image.copy())
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()


# --- images ----------------------------------------------------------------------------


def test_png_round_trip_within_one_level(tmp_path: Path) -> None:
    image = torch.rand(3, 7, 5, generator=generator())
    image[:, 0, 0] = 0.0
    image[:, 0, 1] = 1.0
    path = tmp_path / "x.png"
    write_png_atomic(path, to_pil(image))
    loaded = load_image(path)
    assert loaded.shape == (3, 7, 5)
    assert loaded.dtype == torch.float32
    assert float((loaded - image).abs().max()) <= 0.5 / 255 + 1e-6
    assert torch.equal(loaded[:, 0, 0], torch.zeros(3))
    assert torch.equal(loaded[:, 0, 1], torch.ones(3))


def test_to_pil_clamps_and_rounds() -> None:
    image = torch.tensor([-1.0, 2.0, 0.5]).view(3, 1, 1).expand(3, 1, 2)
    pil = to_pil(image)
    assert pil.mode == "RGB" and pil.size == (2, 1)
    assert pil.getpixel((0, 0)) == (0, 255, 128)


def test_to_pil_accepts_tensors_that_need_grad() -> None:
    image = torch.full((3, 2, 2), 0.2, requires_grad=True)
    assert to_pil(image).getpixel((1, 1)) == (51, 51, 51)


# --- settings keys ---------------------------------------------------------------------


def test_settings_key_ignores_key_order() -> None:
    assert settings_key({"a": 1, "b": [1, 2]}) == settings_key({"b": [1, 2], "a": 1})
    assert settings_key({"a": 1}) != settings_key({"a": 2})
    assert settings_key({"a": 1.0}) != settings_key({"a": 1.5})
    assert len(settings_key({})) == 16


# --- ResultStore -----------------------------------------------------------------------


def _images(n: int) -> list[torch.Tensor]:
    return [torch.full((3, 4, 4), i / 4) for i in range(n)]


def test_paths(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    assert store.view_dir("conv", 3) == f"{RESULTS}/conv/3"
    assert store.view_dir(None, 1) == f"{RESULTS}/{JOINT_DIR}/1"
    assert store.view_dir("a b", 0) == f"{RESULTS}/{slugify('a b')}/0"
    assert store.image_rel("conv", 3, "seeds", 2) == "results/conv/3/seeds-2.png"
    assert store.record_rel("conv", 3, "seeds") == "results/conv/3/seeds.json"
    assert store.path("results/x") == tmp_path / "results" / "x"


def test_save_view_then_is_done(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    assert not store.is_done("conv", 3, "seeds", "k1")
    assert store.load_view("conv", 3, "seeds") is None
    record = store.save_view("conv", 3, "seeds", _images(2), {"key": "k1", "activations": [1, 2]})
    assert record["images"] == ["results/conv/3/seeds-0.png", "results/conv/3/seeds-1.png"]
    assert store.load_view("conv", 3, "seeds") == record
    assert store.is_done("conv", 3, "seeds", "k1")
    assert not store.is_done("conv", 3, "seeds", "k2")  # key mismatch
    assert not store.is_done("conv", 3, "positive", "k1")  # other view
    assert not store.is_done("conv", 4, "seeds", "k1")  # other unit
    loaded = load_image(store.path(record["images"][1]))
    assert torch.allclose(loaded, _images(2)[1], atol=0.5 / 255 + 1e-6)
    files = sorted(p.name for p in (tmp_path / "results" / "conv" / "3").iterdir())
    assert files == ["seeds-0.png", "seeds-1.png", "seeds.json"]


def test_a_missing_image_means_not_done(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    record = store.save_view("conv", 0, "diversity", _images(3), {"key": "k"})
    store.path(record["images"][2]).unlink()
    assert not store.is_done("conv", 0, "diversity", "k")


def test_a_corrupt_record_means_not_done(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    store.save_view("conv", 0, "positive", _images(1), {"key": "k"})
    store.path(store.record_rel("conv", 0, "positive")).write_text("{not json")
    assert store.load_view("conv", 0, "positive") is None
    assert not store.is_done("conv", 0, "positive", "k")


def test_save_view_overwrites(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    store.save_view("conv", 0, "positive", _images(1), {"key": "old"})
    store.save_view("conv", 0, "positive", [torch.ones(3, 4, 4)], {"key": "new"})
    assert store.is_done("conv", 0, "positive", "new")
    assert not store.is_done("conv", 0, "positive", "old")
    assert torch.equal(load_image(store.path("results/conv/0/positive-0.png")), torch.ones(3, 4, 4))


def test_joint_views_live_in_their_own_folder(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    record = store.save_view(None, 1, "joint", _images(1), {"key": "j"})
    assert record["images"] == [f"{RESULTS}/{JOINT_DIR}/1/joint-0.png"]
    assert store.is_done(None, 1, "joint", "j")


def test_hostile_layer_names_stay_inside_results(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "site")
    for name in ("../../evil", "/abs", "..", "_build"):
        record = store.save_view(name, 0, "positive", _images(1), {"key": "k"})
        for rel in record["images"]:
            resolved = store.path(rel).resolve()
            assert resolved.is_relative_to((tmp_path / "site" / RESULTS).resolve())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]
    assert not (tmp_path / "site" / RESULTS / BUILD_DIR).exists()


def test_build_json_round_trip(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    assert store.load_json("probe.json") is None
    store.save_json("probe.json", {"units": [1, 2], "name": "x"})
    assert store.load_json("probe.json") == {"units": [1, 2], "name": "x"}
    path = tmp_path / RESULTS / BUILD_DIR / "probe.json"
    assert json.loads(path.read_text()) == {"units": [1, 2], "name": "x"}
