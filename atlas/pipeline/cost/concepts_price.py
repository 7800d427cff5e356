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
from atlas.dictionaries.dictionary import Dictionary
from atlas.dictionaries.nmf import SWEEPS
from atlas.dictionaries.sae import STEPS, default_top_k
from atlas.models.concept_reads import attach
from atlas.pipeline.concepts.fit import load_concepts, load_dictionary
from atlas.pipeline.concepts.plan import MOST_VECTORS, PER_IMAGE, ConceptPlan, sampled_rows
from atlas.pipeline.prepare import Prepared

TIMED_SHARE = 10  # a tenth of the iterations is timed
ITERATIONS = {"nmf": ("sweeps", SWEEPS), "sae": ("steps", STEPS)}


@dataclass
class ConceptCost:
    layer: str
    method: str
    count: int
    vectors: int
    fit_seconds: float  # both fits


def sampled_images(ready: Prepared) -> int:
    """The images the concepts' sampling pass reads (none when every dictionary is stored)."""
    dataset = ready.scanned
    if dataset is None or all(load_concepts(ready.store.site_dir, plan) is not None
                              for plan in ready.concepts):
        return 0
    return sampled_rows(len(dataset))


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
        costs.append(ConceptCost(plan.layer, plan.method, plan.count, vectors, seconds))
    return costs


def priced_dictionary(ready: Prepared, plan: ConceptPlan) -> Dictionary:
    """`plan`'s dictionary where fitted, else a random one of its method and size: what
    a view or a measure costs does not depend on the directions."""
    if load_concepts(ready.store.site_dir, plan) is not None:
        return load_dictionary(ready.store.site_dir, plan)
    channels = next(info.channels for info, _ in ready.chosen if info.name == plan.layer)
    directions = np.random.default_rng(0).random((plan.count, channels), dtype=np.float32)
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    if plan.method == "nmf":
        return Dictionary("nmf", directions, 0)
    return Dictionary("sae", directions, 0, {"top_k": default_top_k(plan.count)},
                      {"weight": directions.T.copy(),
                       "bias": np.zeros(plan.count, dtype=np.float32),
                       "input_bias": np.zeros(channels, dtype=np.float32)})


def attach_for_pricing(ready: Prepared) -> None:
    """Makes every concept layer readable before its dictionary exists, so the plan can
    time its views (`priced_dictionary`)."""
    for plan in ready.concepts:
        attach(ready.loaded.module, plan.layer,
               torch.from_numpy(priced_dictionary(ready, plan).directions))
