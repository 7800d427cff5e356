"""What the concepts phase will cost: its sampling pass (priced with the dataset
pass's per-image rate) and each dictionary's fits on the driver, timed on a tenth of
their iterations over random vectors of the sample's size and scaled up (the fit
costs the same for any values of that shape; two fits, the second for stability)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch

from atlas.dictionaries import fit_dictionary
from atlas.dictionaries.nmf import SWEEPS
from atlas.dictionaries.sae import STEPS
from atlas.models.concept_reads import attach
from atlas.pipeline.concepts.fit import concepts_folder, load_concepts, stored_directions
from atlas.pipeline.concepts.plan import MOST_VECTORS, PER_IMAGE
from atlas.pipeline.prepare import Prepared

TIMED_SHARE = 10  # a tenth of the iterations is timed
ITERATIONS = {"nmf": ("sweeps", SWEEPS), "sae": ("steps", STEPS)}


@dataclass
class ConceptCost:
    layer: str
    method: str
    count: int
    vectors: int
    images: int  # the sampling pass's
    fit_seconds: float  # both fits


def sampled_images(ready: Prepared) -> int:
    """The images the concepts' sampling pass reads (none when every dictionary is stored)."""
    dataset = ready.scanned
    if dataset is None or all(load_concepts(ready.store.site_dir, plan) is not None
                              for plan in ready.concepts):
        return 0
    return min(len(dataset), math.ceil(MOST_VECTORS / PER_IMAGE))


def price_concepts(ready: Prepared) -> list[ConceptCost]:
    """Each dictionary still to fit, with its fits timed."""
    costs = []
    images = sampled_images(ready)
    shapes = {info.name: info.shape for info, _ in ready.chosen}
    for plan in ready.concepts:
        if load_concepts(ready.store.site_dir, plan) is not None:
            continue
        shape = shapes[plan.layer]
        positions = min(PER_IMAGE, math.prod(shape[1:])) if len(shape) > 1 else 1
        vectors = min(MOST_VECTORS, images * positions)
        values = np.random.default_rng(0).random((max(vectors, 2), shape[0]), dtype=np.float32)
        name, full = ITERATIONS[plan.method]
        started = time.perf_counter()
        fit_dictionary(plan.method, values, plan.count, 0, **{name: full // TIMED_SHARE})
        seconds = (time.perf_counter() - started) * TIMED_SHARE * 2
        costs.append(ConceptCost(plan.layer, plan.method, plan.count, vectors, images, seconds))
    return costs


def attach_for_pricing(ready: Prepared) -> None:
    """Makes every concept layer readable before its dictionary exists, so the plan can
    time its views: the stored directions where fitted, else random ones (a view's
    cost does not depend on the direction)."""
    generator = torch.Generator().manual_seed(0)
    shapes = {info.name: info.shape for info, _ in ready.chosen}
    for plan in ready.concepts:
        if load_concepts(ready.store.site_dir, plan) is not None:
            directions = torch.from_numpy(
                stored_directions(concepts_folder(ready.store.site_dir, plan)))
        else:
            directions = torch.randn(plan.count, shapes[plan.layer][0], generator=generator)
        attach(ready.loaded.module, plan.layer, directions)
