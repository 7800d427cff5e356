"""The identity of one image to optimize: its seed, and where a neuron view looks."""

from __future__ import annotations

import zlib
from dataclasses import dataclass


def image_seed(seed: int, *parts: object) -> int:
    """A stable 31-bit seed for one image, from the build seed and its identity
    (never from its place in a batch, so packing cannot change pixels)."""
    text = "/".join(str(p) for p in (seed, *parts))
    return zlib.crc32(text.encode()) & 0x7FFFFFFF


@dataclass(frozen=True)
class ImageSpec:
    seed: int  # initialization seed
    position: tuple[int, int] | None = None  # neuron view: (h, w)
    seed_index: int | None = None  # seeds view: which of the seeds
