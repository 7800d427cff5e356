"""The `accent` view (feature accentuation, Hamblin et al. 2024): each of a unit's
top ACCENT_EXAMPLES dataset images, optimized toward the unit from the real image
and kept near it, so a researcher sees what in a real image drives the unit.

Each image starts at the whole dataset image (at the build's image size) and
changes in the build's spatial basis (`optvis/anchored.py`): the unit's channel
mean, divided by its dataset maximum so one weight suits every unit, minus
`accent_weight` times the mean squared change; the change is held to RMS
`accent_radius` ([0, 1] pixel units) by construction. The record keeps each
image's activation before and after, the distance it travelled and its source.

Runs after the dataset pass, as executor tasks like the optimized views; stored
per unit with a cache key of its settings and sources, so a rebuild redoes only
what changed, and a build stopped between tasks resumes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from atlas.errors import AtlasError
from atlas.optvis import objectives as obj
from atlas.optvis.anchored import AnchoredImage, accent, distance
from atlas.optvis.render import measure, optimize
from atlas.pipeline.execution.tasks import Executor, Task
from atlas.pipeline.optimize.batch import floats, transform_seed
from atlas.store import Encoder, ViewFiles, settings_key
from atlas.views.images import image_seed

VIEW = "accent"
ACCENT_EXAMPLES = 3  # top dataset examples accentuated per unit
UNSIZED = 48  # images a task takes where the build did not size the layer's batches


@dataclass(frozen=True)
class AccentJob:
    """One unit's accentuation: its top dataset rows and what its key covers."""

    layer: str
    read: str  # the name its values are captured under (the pre-activation if clamped)
    unit: int
    indices: tuple[int, ...]  # dataset indices of its top examples, best first
    sources: tuple[str, ...]
    scale: float  # the unit's dataset maximum (at least a small positive value)
    settings: dict[str, Any]

    @property
    def key(self) -> str:
        return settings_key(self.settings)


def accent_settings(config: Any) -> dict[str, Any]:
    return {"accent_radius": config.accent_radius, "accent_weight": config.accent_weight}


def accent_jobs(common: dict[str, Any], config: Any, layer: str, read: str,
                units: list[int], scan: Any, dataset: Any) -> list[AccentJob]:
    """The accent jobs of `units` of one layer, from its dataset pass `scan`."""
    jobs = []
    for unit in units:
        rows = [int(row) for row in scan.top["images"][unit][:ACCENT_EXAMPLES]]
        indices = tuple(int(scan.indices[row]) for row in rows)
        sources = tuple(dataset.source(index) for index in indices)
        settings = {**common, "layer": layer, "unit": unit, "view": VIEW,
                    "read": read, "sources": list(sources), **accent_settings(config)}
        jobs.append(AccentJob(layer, read, unit, indices, sources,
                              max(float(scan.value_max[unit]), 1e-6), settings))
    return jobs


def accent_batch(engine: Any, anchors: torch.Tensor, read: str, units: list[int],
                 scales: list[float], seeds: list[int], radius: float, weight: float,
                 on_progress: Callable[[int], None]) -> dict[str, torch.Tensor]:
    """An executor task: accentuates `anchors` (N, 3, S, S), image i toward unit
    `units[i]` of `read`; returns the images, their activations before and after and
    the distance each travelled, on the CPU."""
    device = engine.device
    anchors = anchors.to(device)
    target = obj.channel(read, units)
    objective = accent(target, anchors, weight, torch.tensor(scales))
    image = AnchoredImage(anchors, radius, seeds, engine.param, engine.decorrelate).to(device)
    result = optimize(engine.model, objective, image, engine.transforms, engine.steps,
                      engine.lr, [transform_seed(seed) for seed in seeds], engine.preprocess,
                      on_step=lambda step: on_progress(1), channels_last=engine.channels_last,
                      autocast=engine.autocast)
    return {"images": result.images,
            "before": measure(engine.model, target, anchors, engine.preprocess),
            "after": measure(engine.model, target, result.images.to(device), engine.preprocess),
            "distance": distance(result.images, anchors.cpu())}


def task(jobs: list[AccentJob], anchors: torch.Tensor, seed: int, config: Any) -> Task:
    """The task accentuating `jobs` (one layer's) from `anchors`, their top examples
    in job order."""
    units = [job.unit for job in jobs for _ in job.indices]
    scales = [job.scale for job in jobs for _ in job.indices]
    seeds = [image_seed(seed, job.layer, job.unit, VIEW, i)
             for job in jobs for i in range(len(job.indices))]
    return Task(accent_batch, (anchors, jobs[0].read, units, scales, seeds,
                               config.accent_radius, config.accent_weight), config.steps)


def view_files(encoder: Encoder, jobs: list[AccentJob], anchors: torch.Tensor,
               result: dict[str, torch.Tensor], versions: dict | None = None
               ) -> list[ViewFiles]:
    """Each job's accented images and the real images beside them, with its record."""
    found, start = [], 0
    for job in jobs:
        stop = start + len(job.indices)
        record = {"key": job.key, "settings": job.settings, "sources": list(job.sources),
                  "activations": floats(result["after"][start:stop]),
                  "before": floats(result["before"][start:stop]),
                  "distance": floats(result["distance"][start:stop])}
        if versions:
            record["versions"] = versions
        found.append(encoder.view_files(job.layer, job.unit, VIEW,
                                        list(result["images"][start:stop]), record,
                                        originals=list(anchors[start:stop])))
        start = stop
    return found


def run_accents(ready: Any, scans: dict, executor: Executor, bar: Any, stop: Any) -> str:
    """Accentuates the top examples of every chosen unit not already stored with
    its key; returns the report line."""
    config, store, dataset = ready.config, ready.store, ready.scanned
    todo: list[AccentJob] = []
    for info, units in ready.chosen:
        if info.name in scans:
            common = {**ready.common, **info.key_settings()}
            todo += [job for job in accent_jobs(common, config, info.name, info.read, units,
                                                scans[info.name], dataset)
                     if not store.is_done(job.layer, job.unit, VIEW, job.key)]
    total = sum(len(units) for info, units in ready.chosen if info.name in scans)
    if not todo:
        return f"accent: {total} units unchanged"
    groups = _groups(todo, ready)
    bar.reset(total=len(groups) * config.steps)
    batches = []

    def tasks():
        for jobs in groups:
            anchors = dataset.reload([index for job in jobs for index in job.indices],
                                     "the accent view")
            batches.append((jobs, anchors))
            yield task(jobs, anchors, config.seed, config)

    for index, result in executor.map(tasks(), bar, stop):
        jobs, anchors = batches[index]
        if isinstance(result, BaseException):
            raise AtlasError(f"the accent view failed on {len(jobs)} units of {jobs[0].layer} "
                             f"({result}); lower batch_size, then run the same command again")
        for files in view_files(store.encoder, jobs, anchors, result, ready.engine.versions):
            store.write(files)
    return f"accent: {len(todo)} of {total} units accentuated"


def units_per_task(ready: Any, layer: str) -> int:
    """As many units a task as the layer's batches hold images, where the build sized
    them (else UNSIZED images)."""
    sized = ready.memory.get(layer)
    images = sized.images if sized is not None else min(ready.config.batch_size, UNSIZED)
    return max(1, images // ACCENT_EXAMPLES)


def _groups(jobs: list[AccentJob], ready: Any) -> list[list[AccentJob]]:
    """Consecutive jobs of one layer, `units_per_task` of them a task."""
    groups: list[list[AccentJob]] = []
    for job in jobs:
        limit = units_per_task(ready, job.layer)
        if groups and groups[-1][0].layer == job.layer and len(groups[-1]) < limit:
            groups[-1].append(job)
        else:
            groups.append([job])
    return groups
