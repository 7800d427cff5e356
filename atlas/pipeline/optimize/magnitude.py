"""The magnitude spectrum MACO images keep: measured on the build's dataset
(the same evenly spaced images every time), or the 1/f fallback."""

from __future__ import annotations

import hashlib

import numpy as np
import torch

from atlas.datasets import Dataset
from atlas.optvis.maco import MAGNITUDE_IMAGES, dataset_magnitude, power_law_magnitude

POWER_LAW = "power-law 1/f"  # the key's name for the fallback spectrum
CHUNK = 64  # images decoded at a time


def _sample(count: int) -> list[int]:
    """Evenly spaced indices: the same images on every build of the dataset."""
    if count <= MAGNITUDE_IMAGES:
        return list(range(count))
    return [int(i) for i in np.linspace(0, count - 1, MAGNITUDE_IMAGES).round()]


def _measure(dataset: Dataset) -> torch.Tensor | None:
    indices = _sample(len(dataset))
    total, seen = None, 0
    for start in range(0, len(indices), CHUNK):
        images, loaded = dataset.load(indices[start:start + CHUNK])
        if not loaded:
            continue
        part = dataset_magnitude(images) * len(loaded)
        total = part if total is None else total + part
        seen += len(loaded)
    return None if total is None else total / seen


def maco_magnitude(dataset: Dataset | None, image_size: int) -> tuple[torch.Tensor, str]:
    """(magnitude, its name in the cache key): the dataset's mean spectrum when
    there is a dataset with readable images, else the 1/f law."""
    measured = _measure(dataset) if dataset is not None else None
    if measured is None:
        return power_law_magnitude(image_size), POWER_LAW
    digest = hashlib.sha256(measured.numpy().astype(np.float32).tobytes()).hexdigest()[:16]
    return measured, f"dataset {digest}"
