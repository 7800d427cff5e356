"""torch-lucent's images for the quality table: `render_vis` as its users call
it, at the steps and image size of the atlas candidates, stored in the
atlas's layout so the same analysis measures them."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from atlas.bench.lucent_process import from_lucent, lucent_layer, lucent_transforms
from atlas.bench.methods import lucent_as_shipped
from atlas.bench.quality_work import QualityWork
from atlas.optvis import objectives
from atlas.optvis.render import measure
from atlas.record_types import Analysis
from atlas.store import ResultStore

CHUNK = 64  # units per render_vis call for the positive images
LUCENT_DIVERSITY = 1e2  # the weight of lucent's diversity term in its own examples


def _render(model, loaded, objective, size: int, batch: int, steps: int) -> torch.Tensor:
    from lucent.optvis import param, render

    images = render.render_vis(
        model, objective, lambda: param.image(size, batch=batch),
        transforms=lucent_transforms(loaded), thresholds=(steps,), progress=False,
        show_image=False, preprocess=False, fixed_image_size=size)
    return from_lucent(images)


def _activations(loaded, layer: str, units: list[int], images: torch.Tensor,
                 device: torch.device) -> list[float]:
    scores = measure(loaded.module, objectives.channel(layer, units), images.to(device),
                     loaded.preprocess)
    return [round(float(s), 6) for s in scores]


def lucent_site(work: QualityWork, folder: Path) -> tuple[ResultStore, Analysis]:
    """Stores lucent's positive and diversity images of every chosen unit under
    `folder`, scans the dataset there, and returns the store and its analysis.
    lucent's diversity objective needs spatial activations: a linear layer
    gets no diversity images."""
    from lucent.optvis import objectives as lucent_objectives

    from atlas.models.layers import dry_run
    from atlas.models.registry import load_model
    from atlas.pipeline.analysis.evidence import DataEvidence
    from atlas.pipeline.analysis.questions import analyse
    from atlas.pipeline.dataset.passes import scan_dataset
    from atlas.pipeline.dataset.scan import local_scanner
    from atlas.pipeline.prepare import (
        choose_layers,
        class_output,
        open_build_dataset,
        resolve_device,
    )

    config = work.config(folder, {})
    loaded = load_model(config.model, Path(config.weights) if config.weights else None)
    device = resolve_device(config.device)
    loaded.module.to(device)
    loaded.preprocess.to(device)
    size = config.image_size or loaded.input_size
    run = dry_run(loaded.module, size, loaded.preprocess)
    chosen = choose_layers(config, loaded, run, size)
    # the class output, as a build finds it: the analysis checks its logits' recognition
    config = dataclasses.replace(config, logits_layer=class_output(config, loaded, run, size)[0])
    model = lucent_as_shipped(loaded)
    store = ResultStore(folder)
    record = {"key": "torch-lucent render_vis", "steps": config.steps}
    for info, units in chosen:
        name = lucent_layer(info.name)
        for start in range(0, len(units), CHUNK):
            chunk = units[start:start + CHUNK]
            objective = sum(lucent_objectives.channel(name, unit, batch=i)
                            for i, unit in enumerate(chunk))
            images = _render(model, loaded, objective, size, len(chunk), config.steps)
            values = _activations(loaded, info.read, chunk, images, device)
            for i, unit in enumerate(chunk):
                store.save_view(info.name, unit, "positive", [images[i]],
                                {**record, "activations": [values[i]]})
        if len(info.shape) != 3 or "diversity" not in config.views:
            continue
        count = config.diversity_images
        for unit in units:
            objective = (lucent_objectives.channel(name, unit)
                         - LUCENT_DIVERSITY * lucent_objectives.diversity(name))
            images = _render(model, loaded, objective, size, count, config.steps)
            store.save_view(info.name, unit, "diversity", list(images), {
                **record, "activations": _activations(loaded, info.read, [unit] * count,
                                                      images, device)})
    dataset = open_build_dataset(config, loaded, size)
    evidence = None
    if dataset is not None:
        scans, _, _ = scan_dataset(config, loaded, dataset, chosen, store, size, device,
                                   local_scanner(loaded.module, loaded.preprocess, device),
                                   False)
        evidence = DataEvidence(dataset, scans)
    return store, analyse(loaded, store, chosen, config, device, evidence)
