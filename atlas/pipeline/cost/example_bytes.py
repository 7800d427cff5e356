"""What a build's dataset examples will weigh on disk, before they are cut (`atlas plan`).

Each layer's examples are crops at its receptive field (the whole image where
the field covers it), stored as the build stores them (`crop_format`). Their
size is measured by encoding crops of the calibration images the plan already
loads; their number is what shared crops leave of `units x 4 columns x k`
picks: the picks of a spatial layer fall on (image, position) pairs, those of
whole-image layers on images shared by every such layer. The expected number of
distinct ones if the picks fell uniformly is scaled by the layer's measured
concentration: real units share their extremes (the same striking image, the
same position of a post-ReLU zero), so a layer's distinct picks of its top and
bottom images, against uniform ones, say how much fewer crops there are (the
plan measures it on one chunk of the dataset, a build with a site budget on its
whole pass).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from atlas.fsio import encode_image
from atlas.manifest_types import EXAMPLE_COLUMNS
from atlas.models.receptive_field import ReceptiveField
from atlas.pipeline.dataset.examples import CropFormat
from atlas.store import to_pil

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


def concentration(images: np.ndarray, positions: np.ndarray, candidates: int) -> float:
    """Distinct (image, position) picks among `images` and `positions` (the same
    shape: each unit's picks), against as many picks falling uniformly on
    `candidates`: 1 for uniform picks, less where units share their examples."""
    expected = expected_distinct(images.size, candidates)
    if expected <= 0:
        return 1.0
    found = len(set(zip(np.asarray(images).ravel().tolist(),
                        np.asarray(positions).ravel().tolist())))
    return min(1.0, found / expected)


@dataclass
class LayerExamples:
    layer: str
    crops: float  # expected distinct crops (whole-image layers: their share of the images)
    bytes_each: float


def forecast_examples(layers: list[tuple[str, tuple[int, ...], int]], dataset_images: int,
                      per_column: int, field_of: Callable[[str], ReceptiveField],
                      images: torch.Tensor, stored: CropFormat,
                      concentrations: dict[str, float] | None = None) -> list[LayerExamples]:
    """Each layer's expected crops and bytes per crop. `layers`: (name, output shape
    of one image, units chosen); `concentrations`: each layer's (`concentration`; 1
    where not given)."""
    concentrations = concentrations or {}
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
        found.append(LayerExamples(name, concentrations.get(name, 1.0) * expected_distinct(
            units * picks, dataset_images * positions), each))
    shared = expected_distinct(whole_draws, dataset_images)  # one set for every such layer
    for name, units, each in whole_layers:
        found.append(LayerExamples(name, shared * units * picks / whole_draws, each))
    return found


def _positions(shape: tuple[int, ...]) -> int:
    return shape[1] * shape[2] if len(shape) == 3 else 1


def chunk_concentrations(layers: list[tuple[str, tuple[int, ...]]], extremes: dict,
                         per_column: int, dataset_images: int) -> dict[str, float]:
    """Each layer's `concentration` on one chunk of the dataset (`scan_chunk`'s
    extremes): every unit's top and bottom images, as many of the chunk's as the build
    takes of the whole dataset (at least one)."""
    found = {}
    for name, shape in layers:
        chunk = extremes[name]
        count = chunk.max_values.shape[0]
        take = max(1, min(count, round(per_column * count / max(1, dataset_images))))
        top = chunk.max_values.topk(take, dim=0).indices  # (take, C) rows of the chunk
        bottom = (-chunk.min_values).topk(take, dim=0).indices
        rows = torch.cat([top, bottom])
        positions = torch.cat([chunk.max_positions.gather(0, top),
                               chunk.min_positions.gather(0, bottom)])
        found[name] = concentration(rows.numpy(), positions.numpy(), count * _positions(shape))
    return found


def scan_concentrations(layers: list[tuple[str, tuple[int, ...]]], scans: dict,
                        per_column: int) -> dict[str, float]:
    """Each layer's `concentration` on its whole dataset pass (`LayerScan`s)."""
    found = {}
    for name, shape in layers:
        scan = scans[name]
        rows = np.concatenate([scan.top["images"][:, :per_column],
                               scan.bottom["images"][:, :per_column]])
        positions = np.concatenate([scan.top["positions"][:, :per_column],
                                    scan.bottom["positions"][:, :per_column]])
        found[name] = concentration(rows, positions, scan.count * _positions(shape))
    return found
