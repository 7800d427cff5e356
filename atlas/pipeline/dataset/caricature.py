"""The `caricature` view of a layer (Microscope's caricatures): for a few dataset
images, an image optimized from noise to amplify the layer's whole activation
pattern on that image (`optvis/caricature.py`), so a researcher sees what the
layer as a whole picks out of a real image.

The images are CARICATURE_IMAGES dataset images drawn with the build's seed and
the layer's name (the same ones on every rebuild of the same data); the pattern
is the layer's output, what it passes on (not its pre-activation). Each record
keeps the sources, the originals at the build's image size and the score each
caricature reached (1: as strong as the real image along its own pattern).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from atlas.errors import AtlasError
from atlas.optvis.caricature import caricature
from atlas.optvis.hooks import capture, frozen
from atlas.optvis.param import ImageParam
from atlas.optvis.render import measure, optimize
from atlas.pipeline.execution.tasks import Executor, Task
from atlas.pipeline.optimize.batch import floats, transform_seed
from atlas.store import LAYER_UNIT, settings_key
from atlas.views.images import image_seed

VIEW = "caricature"
CARICATURE_IMAGES = 4


def chosen_rows(count: int, seed: int, layer: str) -> list[int]:
    """The dataset pass rows a layer caricatures: a seeded sample, in row order."""
    generator = np.random.default_rng(image_seed(seed, layer, VIEW))
    take = min(CARICATURE_IMAGES, count)
    return sorted(int(row) for row in generator.choice(count, size=take, replace=False))


def caricature_batch(engine: Any, originals: torch.Tensor, layer: str, seeds: list[int],
                     on_progress: Callable[[int], None]) -> dict[str, torch.Tensor]:
    """An executor task: one caricature of each of `originals` at `layer`, and the
    score each reached."""
    device = engine.device
    originals = originals.to(device)
    with frozen(engine.model), torch.no_grad(), capture(engine.model, [layer]) as run:
        targets = run(engine.preprocess(originals))[layer].float()
    objective = caricature(layer, targets)
    image = ImageParam(originals.shape[-1], seeds, engine.param, engine.decorrelate,
                       engine.valid, magnitude=engine.magnitude).to(device)
    result = optimize(engine.model, objective, image, engine.transforms, engine.steps,
                      engine.lr, [transform_seed(seed) for seed in seeds], engine.preprocess,
                      on_step=lambda step: on_progress(1), channels_last=engine.channels_last,
                      autocast=engine.autocast)
    return {"images": result.images,
            "scores": measure(engine.model, objective, result.images.to(device),
                              engine.preprocess)}


def run_caricatures(ready: Any, scans: dict, executor: Executor, bar: Any, stop: Any) -> str:
    """Caricatures of every chosen layer not already stored with its key; the report
    line."""
    config, store, dataset = ready.config, ready.store, ready.scanned
    todo = []
    for info, _ in ready.chosen:
        scan = scans.get(info.name)
        if scan is None:
            continue
        indices = [int(scan.indices[row]) for row in
                   chosen_rows(scan.count, config.seed, info.name)]
        sources = [dataset.source(index) for index in indices]
        settings = {**ready.common, **info.key_settings(), "layer": info.name, "view": VIEW,
                    "sources": sources}
        key = settings_key(settings)
        if not store.is_done(info.name, LAYER_UNIT, VIEW, key):
            todo.append((info.name, indices, sources, settings, key))
    layers = sum(1 for info, _ in ready.chosen if info.name in scans)
    if not todo:
        return f"caricature: {layers} layers unchanged"
    bar.reset(total=len(todo) * config.steps)
    loaded = []

    def tasks():
        for layer, indices, *_ in todo:
            originals = dataset.reload(indices, "the caricature view")
            loaded.append(originals)
            seeds = [image_seed(config.seed, layer, VIEW, i) for i in range(len(indices))]
            yield Task(caricature_batch, (originals, layer, seeds), config.steps)

    for index, result in executor.map(tasks(), bar, stop):
        layer, indices, sources, settings, key = todo[index]
        if isinstance(result, BaseException):
            raise AtlasError(f"the caricature view failed on layer {layer} ({result}); "
                             "lower batch_size, then run the same command again")
        record = {"key": key, "settings": settings, "sources": sources,
                  "activations": floats(result["scores"]),
                  "versions": ready.engine.versions}
        store.write(store.encoder.view_files(layer, LAYER_UNIT, VIEW, list(result["images"]),
                                             record, originals=list(loaded[index])))
    return f"caricature: {len(todo)} of {layers} layers caricatured"
