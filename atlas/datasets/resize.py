"""Bringing an image to image_size x image_size: the one resize rule every dataset uses.

"crop" (the default) scales the image so its shorter side is `size`, then cuts
the centre `size` x `size` square out of it. When the excess cannot be split
evenly, the extra pixel is cut from the right (or bottom), so the left (top)
edge stays put: a 9x8 image at size 8 keeps columns 0-7.

"stretch" resizes straight to `size` x `size`, squashing the aspect ratio but
keeping the whole picture.

Resampling is Pillow's BILINEAR with reducing_gap=None (no box pre-reduction).
Pillow widens the bilinear filter when shrinking, so downscaling is
antialiased, and a solid colour stays exactly that colour. An image that
already is `size` x `size` is returned untouched, in both modes.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

RESAMPLE = Image.Resampling.BILINEAR


def fit_image(image: Image.Image, size: int, resize: str) -> Image.Image:
    """The image brought to `size` x `size` by the `resize` rule (any Pillow mode)."""
    width, height = image.size
    if (width, height) == (size, size):
        return image
    if resize == "stretch":
        return image.resize((size, size), RESAMPLE, reducing_gap=None)
    scale = size / min(width, height)
    # max() guards the short side against float rounding (7.9999 -> 7).
    scaled = (max(size, round(width * scale)), max(size, round(height * scale)))
    if scaled != image.size:
        image = image.resize(scaled, RESAMPLE, reducing_gap=None)
    left = (scaled[0] - size) // 2
    top = (scaled[1] - size) // 2
    return image.crop((left, top, left + size, top + size))


def fit_array(values: np.ndarray, size: int, resize: str) -> np.ndarray:
    """The same rule for float pixels: (H, W, C) float32 -> (size, size, C) float32.

    Each channel goes through Pillow as a 32-bit float ("F") image, so 16-bit
    and float sources keep their precision instead of being rounded to 8 bits.
    """
    if values.shape[:2] == (size, size):
        return values
    channels = [
        np.asarray(fit_image(Image.fromarray(np.ascontiguousarray(values[:, :, c])), size, resize))
        for c in range(values.shape[2])
    ]
    return np.clip(np.stack(channels, axis=2), 0.0, 1.0).astype(np.float32, copy=False)
