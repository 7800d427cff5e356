"""Reading one image file into an RGB float array, whatever its pixel format.

8-bit formats (RGB, L, LA, P with or without transparency, RGBA, CMYK, ...)
go through Pillow's convert("RGB"). Alpha is dropped, not composited onto a
background, the way torchvision's ImageFolder loader does it, so a model sees
the colours it would see in training.

16-bit and 32-bit integer greyscale ("I;16*", "I") is scaled by its bit depth
(65535) rather than converted, because Pillow's convert would clip it at 255
and turn most of the image white. "I" is what older Pillows return for 16-bit
PNGs, so it is read as 16-bit too. Float greyscale ("F") is taken as [0, 1]
when its maximum is at most 1 and as [0, 255] otherwise, then clipped.

Every file is fully decoded inside the caller's `try`, with truncated files
refused (ImageFile.LOAD_TRUNCATED_IMAGES stays False), so a broken file raises
one of DECODE_ERRORS and can be skipped.

Memory is bounded whatever the file claims: a JPEG is decoded at the smallest
scale that still covers the image size (`draft`); an image of more than
MAX_PIXELS after that is refused (a skipped file, not a traceback), and one of
more than LARGE_PIXELS is decoded one at a time and shrunk (`reduce`) before
anything copies it.
"""

from __future__ import annotations

import struct
import threading
import warnings
from contextlib import nullcontext
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from atlas.datasets.resize import fit_array, fit_image

# What a bad file can raise while Pillow reads it. EOFError and struct.error
# come from some truncated or malformed headers that slip past OSError.
DECODE_ERRORS = (
    OSError,
    ValueError,
    SyntaxError,
    EOFError,
    struct.error,
    Image.DecompressionBombError,
)

_WIDE_GREY_MODES = frozenset({"I;16", "I;16B", "I;16L", "I;16N", "I"})
_SIXTEEN_BIT_MAX = 65535.0
# An 8192 x 8192 image: 256 MB as RGBA. Beyond it a file is skipped (decoding
# several at once took gigabytes); Pillow's own guard refuses twice its limit.
MAX_PIXELS = 8192 * 8192
LARGE_PIXELS = 4096 * 4096  # from here, one image decodes at a time
# `reduce` keeps the short side at least this many times the image size, so the
# bilinear resize that follows still antialiases.
_REDUCE_MARGIN = 2
_ONE_LARGE_AT_A_TIME = threading.Lock()
# Pillow warns between its limit and twice it; atlas refuses those files itself, in a note.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)


class Refused(ValueError):
    """An image atlas will not use, for the reason its message gives (too many pixels,
    NaN pixels)."""


def read_rgb(path: Path, size: int, resize: str) -> np.ndarray:
    """The file as (size, size, 3) float32 in [0, 1], upright per its EXIF orientation.

    Raises one of DECODE_ERRORS when the file cannot be read.
    """
    with Image.open(path) as image:
        # JPEG only (a no-op elsewhere): decode at 1/2, 1/4 or 1/8 scale while
        # both sides stay >= size, which makes big photos several times faster.
        image.draft("RGB", (size, size))
        width, height = image.size
        if width * height > MAX_PIXELS:
            raise Refused(f"{width:,} x {height:,} px, more than the {MAX_PIXELS:,} "
                          "pixels a dataset image may have")
        large = width * height > LARGE_PIXELS
        with _ONE_LARGE_AT_A_TIME if large else nullcontext():
            image.load()  # decode now, so a truncated file raises here
            shrunk = _reduced(image, size) if large else image
            upright = ImageOps.exif_transpose(shrunk)
            return image_rgb(upright, size, resize)


def _reduced(image: Image.Image, size: int) -> Image.Image:
    """A large decoded image shrunk by a whole factor (a box filter), its short side
    kept at least _REDUCE_MARGIN times `size`; modes `reduce` cannot take are
    converted first."""
    factor = min(image.size) // (size * _REDUCE_MARGIN)
    if factor < 2:
        return image
    if image.mode in _WIDE_GREY_MODES:
        image = image.convert("I")  # exact, where "RGB" would clip at 255
    elif image.mode not in ("L", "LA", "RGB", "RGBA", "F"):
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    return image.reduce(factor)


def image_rgb(image: Image.Image, size: int, resize: str) -> np.ndarray:
    """A decoded Pillow image as (size, size, 3) float32 in [0, 1]."""
    if image.mode in _WIDE_GREY_MODES or image.mode == "F":
        grey = fit_array(_grey_values(image)[:, :, None], size, resize)
        return np.repeat(grey, 3, axis=2)
    rgb = fit_image(_to_rgb(image), size, resize)
    return np.asarray(rgb, dtype=np.float32) / 255.0


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode == "RGB":
        return image
    if image.mode == "P" and "transparency" in image.info:
        # Through RGBA, which Pillow asks for on palette transparency; the
        # alpha is then dropped like any other.
        image = image.convert("RGBA")
    return image.convert("RGB")


def _grey_values(image: Image.Image) -> np.ndarray:
    """A wide greyscale image as (H, W) float32 in [0, 1]."""
    values = np.asarray(image).astype(np.float32)
    if image.mode == "F":
        values = np.nan_to_num(values)
        if values.max() > 1.0:
            values /= 255.0
    else:
        values /= _SIXTEEN_BIT_MAX
    return np.clip(values, 0.0, 1.0)


def short_reason(error: BaseException) -> str:
    """One line saying why a file was skipped, without the absolute path Pillow puts in."""
    if isinstance(error, UnidentifiedImageError):
        return "not an image Pillow can read"
    if isinstance(error, Refused):
        return str(error)
    if isinstance(error, Image.DecompressionBombError):
        return "too many pixels (Pillow's decompression-bomb guard)"
    if isinstance(error, OSError) and error.filename is not None and error.strerror:
        return error.strerror  # not the absolute path the message names
    lines = str(error).strip().splitlines()
    message = lines[0] if lines else ""
    reason = f"{type(error).__name__}: {message}" if message else type(error).__name__
    return reason if len(reason) <= 120 else reason[:117] + "..."
