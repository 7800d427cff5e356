"""What a build's dataset examples will weigh on disk, before they are cut (`atlas plan`).

Each layer's examples are crops at its receptive field (the whole image where
the field covers it), stored as the build stores them (`crop_format`). Their
size is measured by encoding crops of the calibration images the plan already
loads; their number is what shared crops leave of `units x 4 columns x k`
picks: the picks of a spatial layer fall on (image, position) pairs, those of
whole-image layers on images shared by every such layer, and the expected
number of distinct ones is read as if the picks fell uniformly. Real picks
gather on fewer images than uniform ones, so this is an upper estimate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from atlas.manifest_types import EXAMPLE_COLUMNS
from atlas.models.receptive_field import ReceptiveField
from atlas.pipeline.examples import CropFormat
from atlas.store import to_pil
from atlas.fsio import encode_image

SAMPLES = 24  # crops encoded per layer to price one


def expected_distinct(draws: int, candidates: int) -> float:
    """How many distinct candidates `draws` uniform picks (with repeats) reach."""
    if candidates <= 0 or draws <= 0:
        return 0.0
    return candidates * -math.expm1(draws * math.log1p(-1.0 / candidates)) \
        if candidates > 1 else 1.0


def mean_crop_bytes(images: torch.Tensor, side: int, stored: CropFormat, seed: int = 0) -> float:
    """The mean encoded size of SAMPLES random `side`-pixel crops of `images`
    (n, 3, S, S), stored as `stored` stores them."""
    generator = np.random.default_rng(seed)
    size = images.shape[-1]
    side = min(side, size)
    sizes = []
    for index in range(SAMPLES):
        image = images[index % len(images)]
        top, left = (int(generator.integers(0, size - side + 1)) for _ in range(2))
        cut = stored.image(to_pil(image[:, top:top + side, left:left + side]))
        sizes.append(len(encode_image(cut, stored.image_format, stored.quality)))
    return float(np.mean(sizes))


@dataclass
class LayerExamples:
    layer: str
    crops: float  # expected distinct crops (whole-image layers: their share of the images)
    bytes_each: float


def forecast_examples(layers: list[tuple[str, tuple[int, ...], int]], dataset_images: int,
                      per_column: int, field_of: Callable[[str], ReceptiveField],
                      images: torch.Tensor, stored: CropFormat) -> list[LayerExamples]:
    """Each layer's expected crops and bytes per crop. `layers`: (name, output shape
    of one image, units chosen)."""
    picks = len(EXAMPLE_COLUMNS) * per_column
    found, whole_draws, whole_layers = [], 0, []
    for name, shape, units in layers:
        field = field_of(name)
        whole = field.whole_image or len(shape) != 3 or min(field.size) >= field.image_size
        side = field.image_size if whole else max(field.size)
        each = mean_crop_bytes(images, side, stored)
        if whole:
            whole_draws += units * picks
            whole_layers.append((name, units, each))
            continue
        positions = shape[1] * shape[2]
        found.append(LayerExamples(name, expected_distinct(units * picks,
                                                           dataset_images * positions), each))
    shared = expected_distinct(whole_draws, dataset_images)  # one set for every such layer
    for name, units, each in whole_layers:
        found.append(LayerExamples(name, shared * units * picks / whole_draws, each))
    return found
