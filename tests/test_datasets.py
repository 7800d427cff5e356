"""atlas.datasets: folder layouts, pixel formats, broken files, resizing, sampling, errors.

Every image is made in tmp_path with Pillow; solid colours make exact checks possible.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from atlas.datasets import SUFFIXES, Dataset, open_dataset
from atlas.datasets.decode import read_rgb
from atlas.errors import AtlasError
from atlas.models import digits_data

RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)
ONE_LEVEL = 1 / 255 + 1e-6


def save(path: Path, image: Image.Image, **options: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, **options)
    return path


def solid(path: Path, colour: tuple = RED, size: tuple[int, int] = (8, 8)) -> Path:
    return save(path, Image.new("RGB", size, colour))


def stripes(path: Path, colours: list[tuple], width: int, height: int) -> Path:
    """Vertical bands of equal width, left to right."""
    pixels = np.zeros((height, width * len(colours), 3), np.uint8)
    for band, colour in enumerate(colours):
        pixels[:, band * width:(band + 1) * width] = colour
    return save(path, Image.fromarray(pixels))


def rgb_of(image: torch.Tensor) -> tuple[float, ...]:
    """The colour of a solid (3, S, S) image, checking that it is solid."""
    flat = image.reshape(3, -1)
    assert torch.allclose(flat, flat[:, :1].expand_as(flat), atol=1e-6), "image is not solid"
    return tuple(float(v) for v in flat[:, 0])


def assert_colour(image: torch.Tensor, expected: tuple, atol: float = ONE_LEVEL) -> None:
    got = rgb_of(image)
    assert np.allclose(got, np.array(expected) / 255, atol=atol), (got, expected)


def load_one(dataset: Dataset, index: int = 0) -> torch.Tensor:
    images, kept = dataset.load([index])
    assert kept == [index]
    return images[0]


# --- layout ---------------------------------------------------------------------------------


def test_class_subfolders_give_classes_in_sorted_order(tmp_path: Path) -> None:
    for name in ("dogs/c.png", "cats/b.png", "loose.png", "dogs/inner/x.png", "cats/a.png"):
        solid(tmp_path / name)
    solid(tmp_path / ".hidden.png")
    solid(tmp_path / ".cache" / "deep" / "y.png")
    solid(tmp_path / "cats" / ".thumb.png")
    (tmp_path / "notes.txt").write_text("not an image")

    dataset = open_dataset(str(tmp_path), image_size=8)

    sources = [dataset.source(i) for i in range(len(dataset))]
    assert sources == ["cats/a.png", "cats/b.png", "dogs/c.png", "dogs/inner/x.png", "loose.png"]
    assert dataset.label_keys == ("class",)
    assert [dataset.labels(i) for i in range(len(dataset))] == [
        {"class": "cats"}, {"class": "cats"}, {"class": "dogs"}, {"class": "dogs"}, {},
    ]
    assert dataset.root == tmp_path.resolve()
    assert dataset.spec == f"{tmp_path.name}/"  # published: the folder's name, not its path
    assert dataset.describe() == (
        f"folder {tmp_path.name}/: 5 images in 2 classes (1 unlabelled), centre-cropped to 8 px"
    )


def test_flat_folder_has_no_labels(tmp_path: Path) -> None:
    for name in ("b.png", "a.png"):
        solid(tmp_path / name)
    dataset = open_dataset(str(tmp_path), image_size=8, resize="stretch")
    assert dataset.label_keys == ()
    assert dataset.labels(0) == {} and dataset.source(0) == "a.png"
    assert dataset.describe() == f"folder {tmp_path.name}/: 2 images, stretched to 8 px"


def test_symlinked_folders_are_not_entered(tmp_path: Path) -> None:
    solid(tmp_path / "a" / "img.png")
    outside = tmp_path.parent / (tmp_path.name + "-outside")
    solid(outside / "far.png")
    os.symlink(tmp_path, tmp_path / "a" / "loop", target_is_directory=True)
    os.symlink(outside, tmp_path / "elsewhere", target_is_directory=True)
    dataset = open_dataset(str(tmp_path), image_size=8)
    assert [dataset.source(i) for i in range(len(dataset))] == ["a/img.png"]


# --- pixel formats --------------------------------------------------------------------------


def _palette_with_transparency() -> Image.Image:
    image = Image.new("P", (8, 8), 1)
    image.putpalette([*RED, *GREEN] + [0] * (256 * 3 - 6))
    return image


FORMATS = [
    # (file name, image, save options, expected colour 0-255, tolerance)
    ("rgb.png", Image.new("RGB", (8, 8), (10, 200, 30)), {}, (10, 200, 30), ONE_LEVEL),
    ("grey.png", Image.new("L", (8, 8), 128), {}, (128, 128, 128), ONE_LEVEL),
    ("grey-alpha.png", Image.new("LA", (8, 8), (60, 0)), {}, (60, 60, 60), ONE_LEVEL),
    ("rgba.png", Image.new("RGBA", (8, 8), (0, 0, 255, 10)), {}, BLUE, ONE_LEVEL),
    ("palette.png", _palette_with_transparency(), {"transparency": 1}, GREEN, ONE_LEVEL),
    ("photo.jpg", Image.new("RGB", (8, 8), (200, 100, 50)), {"quality": 95}, (200, 100, 50),
     4 / 255),
    ("cmyk.jpeg", Image.new("CMYK", (8, 8), (0, 255, 255, 0)), {"quality": 95}, RED, 4 / 255),
    ("lossless.webp", Image.new("RGB", (8, 8), (1, 2, 250)), {"lossless": True}, (1, 2, 250),
     ONE_LEVEL),
    ("pic.bmp", Image.new("RGB", (8, 8), (90, 80, 70)), {}, (90, 80, 70), ONE_LEVEL),
    ("UPPER.PNG", Image.new("RGB", (8, 8), (5, 6, 7)), {}, (5, 6, 7), ONE_LEVEL),
]


@pytest.mark.parametrize("name, image, options, expected, atol", FORMATS,
                         ids=[f[0] for f in FORMATS])
@pytest.mark.parametrize("size", [8, 12])
def test_each_format_loads_as_rgb(tmp_path: Path, name: str, image: Image.Image,
                                  options: dict, expected: tuple, atol: float, size: int) -> None:
    save(tmp_path / name, image, **options)
    dataset = open_dataset(str(tmp_path), image_size=size)
    assert dataset.source(0) == name
    loaded = load_one(dataset)
    assert loaded.shape == (3, size, size) and loaded.dtype == torch.float32
    assert_colour(loaded, expected, atol)
    assert dataset.skipped == []


def test_suffixes_are_the_documented_ones() -> None:
    assert SUFFIXES == (".png", ".jpg", ".jpeg", ".webp", ".bmp")


def test_sixteen_bit_grey_is_scaled_by_its_depth(tmp_path: Path) -> None:
    values = (np.arange(64, dtype=np.uint16).reshape(8, 8) * 1000 + 500).astype(np.uint16)
    save(tmp_path / "deep.png", Image.fromarray(values))
    assert Image.open(tmp_path / "deep.png").mode.startswith("I")
    loaded = load_one(open_dataset(str(tmp_path), image_size=8))
    expected = torch.from_numpy(values.astype(np.float32) / 65535)
    for channel in loaded:
        assert torch.allclose(channel, expected, atol=ONE_LEVEL)
    assert loaded.max() > 0.9  # not clipped at 255 and saturated, not divided by 255 either


def test_float_grey_is_read_as_0_255_or_0_1(tmp_path: Path) -> None:
    wide = save(tmp_path / "wide.tiff", Image.fromarray(np.full((4, 4), 51.0, np.float32)))
    unit = save(tmp_path / "unit.tiff", Image.fromarray(np.full((4, 4), 0.25, np.float32)))
    assert np.allclose(read_rgb(wide, 4, "crop"), 0.2)
    assert np.allclose(read_rgb(unit, 4, "crop"), 0.25)


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    # Stored 16 wide: red left, blue right. Orientation 6 means "turn 90 degrees
    # clockwise to view", which puts red on top.
    exif = Image.Exif()
    exif[0x0112] = 6
    pixels = np.zeros((8, 16, 3), np.uint8)
    pixels[:, :8] = RED
    pixels[:, 8:] = BLUE
    save(tmp_path / "turned.png", Image.fromarray(pixels), exif=exif)
    loaded = load_one(open_dataset(str(tmp_path), image_size=8))
    assert_colour(loaded[:, :4], RED)
    assert_colour(loaded[:, 4:], BLUE)


# --- broken files ---------------------------------------------------------------------------


def _noise_png() -> bytes:
    pixels = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def test_unreadable_files_are_skipped_and_recorded_once(tmp_path: Path) -> None:
    solid(tmp_path / "a.png", RED)
    whole = _noise_png()
    (tmp_path / "b.png").write_bytes(whole[: len(whole) // 2])
    (tmp_path / "c.png").write_text("this is text, not a picture")
    solid(tmp_path / "d.png", BLUE)
    dataset = open_dataset(str(tmp_path), image_size=8)
    assert len(dataset) == 4  # counted before any skipping

    images, kept = dataset.load([0, 1, 2, 3])
    assert kept == [0, 3] and images.shape == (2, 3, 8, 8)
    assert_colour(images[0], RED)
    assert_colour(images[1], BLUE)
    assert [source for source, _ in dataset.skipped] == ["b.png", "c.png"]
    assert all(reason and "\n" not in reason for _, reason in dataset.skipped)
    assert str(tmp_path) not in " ".join(reason for _, reason in dataset.skipped)

    images, kept = dataset.load([2, 3, 1])
    assert kept == [3] and images.shape == (1, 3, 8, 8)
    assert len(dataset.skipped) == 2


def test_decompression_bomb_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    solid(tmp_path / "huge.png", size=(100, 100))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    dataset = open_dataset(str(tmp_path), image_size=8)
    images, kept = dataset.load([0])
    assert kept == [] and images.shape == (0, 3, 8, 8)
    assert dataset.skipped[0][0] == "huge.png"


def test_load_of_nothing_and_bad_indices(tmp_path: Path) -> None:
    solid(tmp_path / "a.png")
    dataset = open_dataset(str(tmp_path), image_size=8)
    images, kept = dataset.load([])
    assert images.shape == (0, 3, 8, 8) and kept == []
    with pytest.raises(IndexError):
        dataset.load([1])
    with pytest.raises(IndexError):
        dataset.source(-1)


# --- untrusted names ------------------------------------------------------------------------

# POSIX file names cannot hold "/", so the markup below avoids closing tags.
HOSTILE_FILES = ["<script>alert(1).png", "a b.png", "ünïcode.png", '"quote".png', "a..b.png",
                 "&amp;'.png"]
HOSTILE_CLASS = "<img src=x onerror=alert(1)>"


def test_hostile_names_come_back_as_exact_text(tmp_path: Path) -> None:
    for name in HOSTILE_FILES:
        solid(tmp_path / "plain" / name)
    solid(tmp_path / HOSTILE_CLASS / "x.png", GREEN)
    # Starts with ".", so it is hidden like any dot-file. (Pillow can't guess its format.)
    save(tmp_path / "plain" / "..png", Image.new("RGB", (8, 8)), format="PNG")

    dataset = open_dataset(str(tmp_path), image_size=8)
    sources = [dataset.source(i) for i in range(len(dataset))]
    expected = sorted([f"{HOSTILE_CLASS}/x.png"] + [f"plain/{name}" for name in HOSTILE_FILES])
    assert sources == expected
    assert dataset.labels(sources.index(f"{HOSTILE_CLASS}/x.png")) == {"class": HOSTILE_CLASS}
    _, kept = dataset.load(range(len(dataset)))
    assert kept == list(range(len(dataset))) and dataset.skipped == []


# --- resizing -------------------------------------------------------------------------------


def test_crop_keeps_the_centre_and_stretch_keeps_everything(tmp_path: Path) -> None:
    stripes(tmp_path / "wide.png", [RED, GREEN, BLUE], width=8, height=8)  # 24 x 8
    crop = load_one(open_dataset(str(tmp_path), image_size=8, resize="crop"))
    assert_colour(crop, GREEN)

    stretch = load_one(open_dataset(str(tmp_path), image_size=8, resize="stretch"))
    assert_colour(stretch[:, :, :1], RED)
    assert_colour(stretch[:, :, 3:5], GREEN)
    assert_colour(stretch[:, :, 7:], BLUE)


def test_crop_without_scaling_is_exact(tmp_path: Path) -> None:
    stripes(tmp_path / "halves.png", [RED, BLUE], width=20, height=20)  # 40 x 20
    crop = load_one(open_dataset(str(tmp_path), image_size=20))
    assert_colour(crop[:, :, :10], RED)
    assert_colour(crop[:, :, 10:], BLUE)


def test_odd_excess_is_cut_from_the_right_and_bottom(tmp_path: Path) -> None:
    wide = np.zeros((8, 9, 3), np.uint8)
    wide[:] = GREEN
    wide[:, 0], wide[:, 8] = RED, BLUE
    save(tmp_path / "wide" / "a.png", Image.fromarray(wide))
    save(tmp_path / "tall" / "a.png", Image.fromarray(wide.transpose(1, 0, 2).copy()))

    images, _ = open_dataset(str(tmp_path), image_size=8).load([0, 1])
    tall, wide_loaded = images
    assert_colour(wide_loaded[:, :, :1], RED)
    assert_colour(wide_loaded[:, :, 1:], GREEN)
    assert_colour(tall[:, :1], RED)
    assert_colour(tall[:, 1:], GREEN)


def test_small_images_are_scaled_up(tmp_path: Path) -> None:
    solid(tmp_path / "tiny.png", (12, 34, 56), size=(4, 3))
    for resize in ("crop", "stretch"):
        loaded = load_one(open_dataset(str(tmp_path), image_size=16, resize=resize))
        assert loaded.shape == (3, 16, 16)
        assert_colour(loaded, (12, 34, 56))


# --- sampling and fingerprints --------------------------------------------------------------


def _thirty_images(folder: Path) -> str:
    for i in range(30):
        solid(folder / f"img{i:02d}.png", (i, 0, 0), size=(4, 4))
    return str(folder)


def test_limit_is_a_seeded_sample_in_path_order(tmp_path: Path) -> None:
    spec = _thirty_images(tmp_path)

    def chosen(**options: object) -> list[str]:
        dataset = open_dataset(spec, image_size=4, **options)
        return [dataset.source(i) for i in range(len(dataset))]

    first = chosen(limit=5, seed=0)
    assert len(first) == 5 and first == sorted(first)
    assert chosen(limit=5, seed=0) == first
    assert chosen(limit=5, seed=1) != first
    assert chosen(limit=30) == chosen(limit=100) == chosen()
    described = open_dataset(spec, image_size=4, limit=5).describe()
    assert described == (f"folder {tmp_path.name}/: 5 of 30 images (seeded sample), "
                         "centre-cropped to 4 px")


def test_fingerprint_follows_selection_and_options(tmp_path: Path) -> None:
    spec = _thirty_images(tmp_path)
    base = open_dataset(spec, image_size=4).fingerprint
    assert len(base) == 16 and int(base, 16) >= 0
    assert open_dataset(spec, image_size=4).fingerprint == base
    variants = [
        open_dataset(spec, image_size=4, limit=5).fingerprint,
        open_dataset(spec, image_size=4, limit=5, seed=1).fingerprint,
        open_dataset(spec, image_size=8).fingerprint,
        open_dataset(spec, image_size=4, resize="stretch").fingerprint,
    ]
    assert len({base, *variants}) == 5

    target = tmp_path / "img07.png"
    stat = target.stat()
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    touched = open_dataset(spec, image_size=4).fingerprint
    assert touched != base

    solid(target, (7, 0, 0), size=(6, 6))  # new content, new size
    rewritten = open_dataset(spec, image_size=4).fingerprint
    assert rewritten not in (base, touched)


# --- errors ---------------------------------------------------------------------------------


def _bad_spec(tmp_path: Path, case: str) -> str:
    if case == "missing":
        return str(tmp_path / "nowhere")
    if case == "file":
        return str(solid(tmp_path / "one.png"))
    folder = tmp_path / case
    folder.mkdir()
    if case == "text-only":
        (folder / "a.txt").write_text("hi")
    if case == "hidden-only":
        solid(folder / ".secret.png")
    return str(folder)


@pytest.mark.parametrize("case, words", [
    ("missing", "does not exist"),
    ("file", "is a file"),
    ("empty", "holds no images (.png, .jpg, .jpeg, .webp, .bmp)"),
    ("text-only", "holds no images"),
    ("hidden-only", "holds no images"),
])
def test_bad_folders_are_one_line_errors(tmp_path: Path, case: str, words: str) -> None:
    spec = _bad_spec(tmp_path, case)
    with pytest.raises(AtlasError) as caught:
        open_dataset(spec, image_size=8)
    message = str(caught.value)
    assert words in message and repr(spec) in message and "\n" not in message


@pytest.mark.parametrize("options, words", [
    ({"limit": 0}, "limit"),
    ({"limit": -3}, "limit"),
    ({"resize": "zoom"}, "'zoom'"),
    ({"image_size": 0}, "image size"),
])
def test_bad_options_are_one_line_errors(tmp_path: Path, options: dict, words: str) -> None:
    solid(tmp_path / "a.png")
    arguments = {"image_size": 8, **options}
    for spec in (str(tmp_path), "colored-digits"):
        with pytest.raises(AtlasError, match=words):
            open_dataset(spec, **arguments)


# --- colored-digits -------------------------------------------------------------------------


def test_colored_digits_is_the_unbiased_test_split() -> None:
    split = digits_data.load_splits()["unbiased_test"]
    dataset = open_dataset("colored-digits", image_size=28)
    assert len(dataset) == len(split.labels)
    assert dataset.root is None and dataset.spec == "colored-digits"
    assert dataset.label_keys == ("class", "colour")
    assert dataset.labels(0) == {
        "class": str(int(split.labels[0])),
        "colour": digits_data.COLOUR_NAMES[int(split.colours[0])],
    }
    assert dataset.source(3) == "unbiased_test/3"
    images, kept = dataset.load([0, 1, 2, 3, 4])
    assert kept == [0, 1, 2, 3, 4]
    assert torch.equal(images, split.images[:5])
    assert dataset.describe() == (
        f"colored-digits: {len(split.labels)} held-out digits, coloured at random"
    )


def test_colored_digits_resize_limit_and_fingerprint() -> None:
    dataset = open_dataset("colored-digits", image_size=40, limit=7, seed=3)
    assert len(dataset) == 7
    images, kept = dataset.load(range(7))
    assert images.shape == (7, 3, 40, 40) and kept == list(range(7))
    assert 0.0 <= float(images.min()) and float(images.max()) <= 1.0
    positions = [int(dataset.source(i).split("/")[1]) for i in range(7)]
    assert positions == sorted(positions)
    assert open_dataset("colored-digits", 40, limit=7, seed=3).fingerprint == dataset.fingerprint
    others = {
        open_dataset("colored-digits", 28).fingerprint,
        open_dataset("colored-digits", 40).fingerprint,
        open_dataset("colored-digits", 40, limit=7, seed=4).fingerprint,
        open_dataset("colored-digits", 40, limit=8, seed=3).fingerprint,
    }
    assert dataset.fingerprint not in others and len(others) == 4
