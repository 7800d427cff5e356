"""Biased Colored Digits: scikit-learn's bundled handwritten digits, coloured.

In the biased splits a digit's colour is tied to its class for most images,
so a network can learn colour as a shortcut; the unbiased split colours every
digit at random, which exposes that shortcut. Everything is deterministic and
offline (the digits ship inside scikit-learn).
"""

from __future__ import annotations

import gzip
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

IMAGE_SIZE = 28
DIGIT_BOX = 20  # digits fill a 20x20 box centred in 28x28, as in MNIST
BIAS = 0.95  # share of biased images whose colour matches their class
TRAIN_FRACTION = 0.65

# One colour per class (RGB in [0, 1]), chosen far apart in hue.
PALETTE = np.array(
    [
        [0.90, 0.10, 0.10],  # 0 red
        [0.10, 0.75, 0.10],  # 1 green
        [0.15, 0.30, 0.95],  # 2 blue
        [0.95, 0.85, 0.10],  # 3 yellow
        [0.85, 0.15, 0.85],  # 4 magenta
        [0.10, 0.85, 0.85],  # 5 cyan
        [0.95, 0.55, 0.05],  # 6 orange
        [0.55, 0.20, 0.85],  # 7 purple
        [0.60, 0.85, 0.30],  # 8 lime
        [0.95, 0.95, 0.95],  # 9 white
    ],
    dtype=np.float32,
)
# The name of each palette colour, as dataset labels and pages show it.
COLOUR_NAMES = ("red", "green", "blue", "yellow", "magenta", "cyan", "orange", "purple", "lime",
                "white")


@dataclass
class ColoredSplit:
    images: torch.Tensor  # (N, 3, 28, 28) in [0, 1]
    labels: torch.Tensor  # (N,) digit class
    colours: torch.Tensor  # (N,) palette index used


def _bundled_digits() -> tuple[np.ndarray, np.ndarray]:
    """(images (1797, 8, 8), classes): scikit-learn's digits, read as its
    `load_digits` reads them (one gzipped CSV, a row per image and its class
    last), without importing scikit-learn, which costs seconds at start-up."""
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("scikit-learn, which ships the digits, is not installed")
    path = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data" / "digits.csv.gz"
    with gzip.open(path, "rt", encoding="utf-8") as rows:
        data = np.loadtxt(rows, delimiter=",")
    return data[:, :-1].reshape(-1, 8, 8), data[:, -1].astype(int, copy=False)


def _grey_digits() -> tuple[torch.Tensor, torch.Tensor]:
    images, classes = _bundled_digits()
    small = torch.tensor(images, dtype=torch.float32)[:, None] / 16.0
    box = F.interpolate(small, size=(DIGIT_BOX, DIGIT_BOX), mode="bilinear", align_corners=False)
    margin = (IMAGE_SIZE - DIGIT_BOX) // 2
    grey = F.pad(box.clamp(0, 1), [margin] * 4)
    return grey, torch.tensor(classes, dtype=torch.long)


def colourize(grey: torch.Tensor, colours: torch.Tensor) -> torch.Tensor:
    """(N, 1, H, W) intensities times each image's palette colour -> (N, 3, H, W)."""
    rgb = torch.tensor(PALETTE)[colours]  # (N, 3)
    return grey * rgb[:, :, None, None]


def _colours(labels: torch.Tensor, bias: float, generator: torch.Generator) -> torch.Tensor:
    random_colours = torch.randint(10, labels.shape, generator=generator)
    keep = torch.rand(labels.shape, generator=generator) < bias
    return torch.where(keep, labels, random_colours)


def load_splits(seed: int = 0) -> dict[str, ColoredSplit]:
    """Splits 'train' and 'biased_test' (colour tied to class with p=BIAS) and
    'unbiased_test' (random colours; same digits as biased_test)."""
    grey, labels = _grey_digits()
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(labels), generator=generator)
    cut = int(len(labels) * TRAIN_FRACTION)
    train, test = order[:cut], order[cut:]
    splits = {}
    for name, index, bias in (
        ("train", train, BIAS),
        ("biased_test", test, BIAS),
        ("unbiased_test", test, 0.0),
    ):
        colours = _colours(labels[index], bias, generator)
        splits[name] = ColoredSplit(colourize(grey[index], colours), labels[index], colours)
    return splits


def colour_swapped(split: ColoredSplit, seed: int = 0) -> ColoredSplit:
    """The same digits, each recoloured with another class's colour (never its own)."""
    generator = torch.Generator().manual_seed(seed)
    shift = torch.randint(1, 10, split.labels.shape, generator=generator)
    colours = (split.labels + shift) % 10
    grey = split.images.amax(dim=1, keepdim=True) / torch.tensor(PALETTE)[split.colours].amax(1)[
        :, None, None, None
    ]
    return ColoredSplit(colourize(grey.clamp(0, 1), colours), split.labels, colours)
