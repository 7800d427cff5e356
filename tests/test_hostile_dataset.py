"""A hostile dataset folder and a broken dataset pass (issue 32): links that leave the
folder, link loops, an atlas site inside the folder, undecodable and escape-code file
names, a huge image, NaN pixels from Python, too few images, a damaged cached pass and
a full disk. Each is handled and said in one line, or refused in one line with exit 2.

The builds run the real command in this process (`atlas.cli.main`) on the default
model, one layer, two units and four steps.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from atlas.cli import main
from atlas.datasets import decode, open_dataset
from atlas.datasets.in_memory import ItemsDataset
from atlas.datasets.names import shown
from atlas.pipeline.dataset.scan import load_scan

BAD_BYTES = b"bad\xff\xfe.png"
ESCAPE = "esc\x1b[31mred.png"
SECRET = (201, 13, 77)  # the colour of the file outside the folder


def _image(path: Path, colour: tuple[int, int, int], side: int = 28) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (side, side), colour).save(path)


def _hostile_folder(base: Path) -> Path:
    """8 readable images in two classes, beside everything a walk must survive."""
    data = base / "photos"
    for i in range(3):
        _image(data / "c0" / f"{i}.png", (40 * i, 90, 10))
        _image(data / "c1" / f"{i}.png", (10, 40 * i, 200))
    os.rename(data / "c0" / "2.png", os.path.join(os.fsencode(data / "c0"), BAD_BYTES))
    _image(data / "c1" / ESCAPE, (250, 250, 0))
    _image(data / "c1" / "huge.png", (0, 0, 0), side=64)  # refused: MAX_PIXELS is lowered
    _image(base / "secret" / "secret.png", SECRET)
    os.symlink(base / "secret" / "secret.png", data / "c0" / "leak.png")
    os.symlink(base / "secret", data / "c1" / "far", target_is_directory=True)
    os.symlink("loop", data / "c1" / "loop")  # a link to itself
    os.symlink("..", data / "c1" / "up", target_is_directory=True)
    _image(data / "c1" / "z-after-loops.png", (0, 120, 120))
    old = data / "old-site"  # an atlas site someone built inside the folder
    _image(old / "results" / "x.png", (1, 2, 3))
    (old / "atlas.json").write_text("{}")
    return data


def _build(capsys: pytest.CaptureFixture, data: Path, out: Path) -> tuple[int, list[str]]:
    """`atlas build` of two conv1 units on `data`: its exit code and printed lines."""
    code = main(["build", "--layers", "conv1", "--channels", "0-1", "--steps", "4",
                 "--views", "positive,examples", "--quiet", "--dataset", str(data),
                 "--out", str(out)])
    captured = capsys.readouterr()
    return code, (captured.out + captured.err).splitlines()


def _dataset_lines(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith(("atlas: dataset:", "atlas: error:"))]


def _user_files(root: Path) -> dict[str, int]:
    """Every file under `root` (links not followed) with its modification time."""
    return {os.path.join(folder, name): os.lstat(os.path.join(folder, name)).st_mtime_ns
            for folder, _, names in os.walk(root) for name in names}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _hostile_folder(tmp_path_factory.mktemp("hostile"))


def test_a_hostile_folder_builds_and_says_what_it_left_out(
        hostile: Path, tmp_path: Path, capsys: pytest.CaptureFixture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(decode, "MAX_PIXELS", 40 * 40)
    before = _user_files(hostile.parent)
    out = hostile / "site"  # inside the dataset folder
    code, lines = _build(capsys, hostile, out)
    assert code == 0
    said = _dataset_lines(lines)
    assert said[:3] == [
        "atlas: dataset: 2 links leading out of the folder skipped (c0/leak.png, c1/far); "
        "set dataset_links = \"follow\" to read them",
        "atlas: dataset: 2 folder links looping or repeating a folder not entered again "
        "(c1/loop, c1/up/)",
        "atlas: dataset: 1 atlas site inside the folder left out of the scan (old-site/)",
    ]
    assert said[3].startswith("atlas: dataset: 8 images scanned in ")
    assert said[4:] == [
        "atlas: dataset: 1 file(s) could not be read and were skipped (first: c1/huge.png "
        "(64 x 64 px, more than the 1,600 pixels a dataset image may have))",
        "atlas: dataset: 8 images scanned, fewer than the 20 that fill every example column "
        "(10 a column, example_count); the columns show what there is",
    ]
    for line in lines:  # escaped in every printed line
        assert line.isprintable() and line.encode("utf-8")
    published = "".join(path.read_text(encoding="utf-8") for path in sorted(out.rglob("*"))
                        if path.suffix in (".json", ".html", ".js"))  # all UTF-8
    assert str(hostile) not in published  # the folder's name only
    assert '"spec":"photos/"' in published and "folder photos/: 9 images" in published
    assert "c0/bad\\\\xff\\\\xfe.png" in published  # JSON of the text c0/bad\xff\xfe.png
    assert "esc\\\\x1b[31mred.png" in published
    assert "leak.png" not in published and "secret.png" not in published
    assert "c1/z-after-loops.png" in published  # the images after a loop are kept
    assert {path: when for path, when in _user_files(hostile.parent).items()
            if path in before} == before  # nothing of the user's was touched

    # The next build finds its own out dir inside the folder and leaves it out too.
    code, lines = _build(capsys, hostile, out)
    assert code == 0
    assert ("atlas: dataset: 2 atlas sites inside the folder left out of the scan "
            "(old-site/, site/)") in lines
    assert "atlas: dataset: pass cached for 1 layer(s)" in lines


def test_links_are_read_when_asked(hostile: Path) -> None:
    inside = open_dataset(str(hostile), 28)
    followed = open_dataset(str(hostile), 28, links="follow")
    sources = [followed.source(i) for i in range(len(followed))]
    assert set(sources) - {inside.source(i) for i in range(len(inside))} == {
        "c0/leak.png", "c1/far/secret.png"}
    pixels, _ = followed.load([sources.index("c0/leak.png")])
    assert pixels[0, :, 0, 0].mul(255).round().tolist() == list(SECRET)


def test_a_link_changed_after_the_walk_is_not_read(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _image(data / "a.png", (1, 2, 3))
    _image(tmp_path / "secret.png", SECRET)
    dataset = open_dataset(str(data), 28)
    (data / "a.png").unlink()
    os.symlink(tmp_path / "secret.png", data / "a.png")
    images, kept = dataset.load([0])
    assert kept == [] and dataset.skipped == [("a.png", "a link leading out of the dataset "
                                                         "folder")]


def test_the_out_dir_is_left_out_before_it_is_a_site(tmp_path: Path) -> None:
    _image(tmp_path / "data" / "a.png", (1, 2, 3))
    _image(tmp_path / "data" / "out" / "b.png", (1, 2, 3))
    dataset = open_dataset(str(tmp_path / "data"), 28, exclude=tmp_path / "data" / "out")
    assert [dataset.source(i) for i in range(len(dataset))] == ["a.png"]
    assert dataset.notes == ["dataset: 1 atlas site inside the folder left out of the scan "
                             "(out/)"]


def test_names_are_shown_escaped() -> None:
    assert shown("plain <b>&'.png") == "plain <b>&'.png"
    assert shown(os.fsdecode(BAD_BYTES)) == "bad\\xff\\xfe.png"
    assert shown(ESCAPE) == "esc\\x1b[31mred.png"
    assert shown("rtl\u202eevil.png") == "rtl\\u202eevil.png"


@pytest.mark.parametrize("mode", ["RGB", "I;16"])
def test_a_large_image_is_decoded_reduced(tmp_path: Path, mode: str,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    left = np.zeros((200, 300), np.uint16)
    left[:, 150:] = 40000
    image = (Image.fromarray((left >> 8).astype(np.uint8)).convert("RGB") if mode == "RGB"
             else Image.fromarray(left))  # uint16: "I;16"
    image.save(tmp_path / "big.png")
    whole = decode.read_rgb(tmp_path / "big.png", 8, "crop")
    with Image.open(tmp_path / "big.png") as opened:
        opened.load()
        assert decode._reduced(opened, 8).size == (25, 17)  # by 12: the short side stays >= 16
    monkeypatch.setattr(decode, "LARGE_PIXELS", 100 * 100)  # big.png is now large
    shrunk = decode.read_rgb(tmp_path / "big.png", 8, "crop")
    assert shrunk.shape == (8, 8, 3)
    assert np.abs(shrunk - whole).max() < 0.02  # 16-bit values kept, not clipped at 255


def test_pillows_bomb_guard_is_a_skipped_file(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    _image(tmp_path / "a.png", (1, 2, 3))
    _image(tmp_path / "b.png", (1, 2, 3), side=100)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    dataset = open_dataset(str(tmp_path), 28)
    _, kept = dataset.load([0, 1])
    assert kept == [0]
    assert dataset.skipped == [("b.png", "too many pixels (Pillow's decompression-bomb guard)")]


def test_nan_pixels_from_python_are_skipped_and_said() -> None:
    items = [torch.full((3, 8, 8), 0.5) for _ in range(4)]
    items[2] = items[2].clone()
    items[2][0, 1, 1] = float("nan")
    items[3] = items[3].clone()
    items[3][1, 0, 0] = float("inf")
    dataset = ItemsDataset(items, 8, None, 0, "crop")
    _, kept = dataset.load(range(4))
    assert kept == [0, 1]
    assert dataset.skipped == [("item 2", "NaN or Inf pixels"), ("item 3", "NaN or Inf pixels")]


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("small") / "data"
    for i in range(4):
        _image(data / f"{i}.png", (60 * i, 20, 20))
    return data


def _damaged(folder: Path, damage: str) -> None:
    if damage == "truncated":
        peaks = folder / "peaks.npy"
        peaks.write_bytes(peaks.read_bytes()[:90])
    elif damage == "garbage":
        (folder / "extremes.npz").write_bytes(b"not a zip at all")
    elif damage == "shape":
        np.save(folder / "means.npy", np.zeros((4, 1000), np.float16))  # conv1 has 8 units
    else:
        (folder / "scan.json").write_text('{"key": 3, "count": "many"}')


def test_a_damaged_cached_pass_is_scanned_again(small: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "site"
    assert _build(capsys, small, out)[0] == 0
    folder, = (out / "results" / "_dataset").glob("conv1-*")
    key = folder.name.rpartition("-")[2]
    units = len(np.load(folder / "peaks.npy", mmap_mode="r")[0])
    assert load_scan(out, "conv1", key, units) is not None
    for damage in ("truncated", "garbage", "shape", "json"):
        copy = tmp_path / damage
        shutil.copytree(out, copy)
        _damaged(copy / folder.relative_to(out), damage)
        assert load_scan(copy, "conv1", key, units) is None, damage
    _damaged(folder, "truncated")
    code, lines = _build(capsys, small, out)
    assert code == 0
    assert ("atlas: dataset: the stored pass of conv1 did not load (truncated or changed "
            "files); scanned again") in lines
    assert load_scan(out, "conv1", key, units) is not None


def test_a_full_disk_is_one_line_before_the_pass(small: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    def full(fd: int, offset: int, length: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "posix_fallocate", full)
    out = tmp_path / "site"
    code, lines = _build(capsys, small, out)
    assert code == 2
    error, = _dataset_lines(lines)
    # 4 images x 8 units x (4 + 4 + 2) bytes: the three matrices of conv1's pass
    assert re.fullmatch(rf"atlas: error: the disk holding {re.escape(str(out))}/results/"
                        r"_dataset is full \(.* free, 320 B more for the file being written\); "
                        r"free some space .*run the same command: finished work is kept", error)
    assert not list((out / "results" / "_dataset").iterdir())  # no half-made pass left
