"""What the class pages will cost: the images their measure reads, and one chunk of it
timed on the executor (a forward and a backward pass to the class output, and the
dictionary's codes: the stored dictionary where fitted, else a random one of its size).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from atlas.dictionaries.dictionary import Dictionary
from atlas.dictionaries.sae import default_top_k
from atlas.pipeline.classes.contributions import (
    choose_images,
    contribution_chunk,
    load_classes,
)
from atlas.pipeline.concepts.fit import load_concepts, load_dictionary
from atlas.pipeline.concepts.plan import ConceptPlan
from atlas.pipeline.execution.tasks import Task
from atlas.pipeline.prepare import Prepared

TIMED_IMAGES = 16


def _stand_in(ready: Prepared, plan: ConceptPlan, channels: int) -> Dictionary:
    """The dictionary the measure will read, or a random one of its method and size."""
    if load_concepts(ready.store.site_dir, plan) is not None:
        return load_dictionary(ready.store.site_dir, plan)
    rng = np.random.default_rng(0)
    directions = rng.random((plan.count, channels), dtype=np.float32)
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    if plan.method == "nmf":
        return Dictionary("nmf", directions, 0)
    return Dictionary("sae", directions, 0, {"top_k": default_top_k(plan.count)},
                      {"weight": directions.T.copy(),
                       "bias": np.zeros(plan.count, dtype=np.float32),
                       "input_bias": np.zeros(channels, dtype=np.float32)})


def price_classes(ready: Prepared, bar: Any) -> tuple[int, float]:
    """(images the measure reads, seconds per image on one worker); (0, 0) where the
    build has no class pages or their record is stored."""
    plan, dataset = ready.classes, ready.scanned
    if plan is None or dataset is None or load_classes(ready.store.site_dir, plan) is not None:
        return 0, 0.0
    indices, classes = choose_images(dataset, plan.class_names)
    images, kept = dataset.load(indices[:TIMED_IMAGES])
    if not kept:
        return len(indices), 0.0
    labels = classes[:len(kept)] if classes is not None else None
    channels = next(info.channels for info, _ in ready.chosen if info.name == plan.layer)
    dictionary = _stand_in(ready, plan.concepts, channels) if plan.concepts else None
    task = Task(contribution_chunk, (plan.layer, plan.logits, images, labels, dictionary), 0)
    list(ready.executor.map([task], bar))  # the first run warms up
    started = time.perf_counter()
    list(ready.executor.map([task], bar))
    return len(indices), (time.perf_counter() - started) / len(kept)
