"""What the class pages will cost: the images their measure reads, and one chunk of it
timed on the executor (a forward and a backward pass to the class output, and the
dictionary's codes: the stored dictionary where fitted, else a random one of its size).
"""

from __future__ import annotations

import time
from typing import Any

from atlas.pipeline.classes.contributions import (
    choose_images,
    contribution_chunk,
    load_classes,
)
from atlas.pipeline.cost.concepts_price import priced_dictionary
from atlas.pipeline.execution.tasks import Task
from atlas.pipeline.prepare import Prepared

TIMED_IMAGES = 16


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
    class_of = dict(zip(indices, classes)) if classes is not None else None
    labels = [class_of[index] for index in kept] if class_of else None
    dictionary = priced_dictionary(ready, plan.concepts) if plan.concepts else None
    task = Task(contribution_chunk, (plan.layer, plan.logits, images, labels, dictionary), 0)
    list(ready.executor.map([task], bar))  # the first run warms up
    started = time.perf_counter()
    list(ready.executor.map([task], bar))
    return len(indices), (time.perf_counter() - started) / len(kept)
