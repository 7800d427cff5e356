"""`atlas plan`: what a build will cost, before it computes anything.

The counts come from the build's own planner, so they are exact. Times come
from a calibration on the chosen executor: the first batch of every layer
(at most `calibration_images` of its images) and of the compare page
optimized for 1 and then `CALIBRATION_STEPS` or more steps, whose difference
is the cost of a step without the batch's fixed costs; and one chunk of the
dataset pass. Batches are then dealt to N workers the way the executor deals
them (each free worker takes the next), which gives the wall time for N
workers. Storage multiplies the calibration images' encoded size by the
images the site will hold.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any

from atlas.errors import AtlasError
from atlas.pipeline.compare.compute import compare_batches, unstored
from atlas.pipeline.cost.calibrate import (
    CALIBRATION_STEPS,
    CALIBRATION_WORK,
    calibrate_batch,
    calibrate_compare,
    calibration_batch,
    calibration_image_count,
    timed_chunk,
)
from atlas.pipeline.cost.classes_price import price_classes
from atlas.pipeline.cost.concepts_price import (
    ConceptCost,
    attach_for_pricing,
    price_concepts,
    sampled_images,
)
from atlas.pipeline.cost.example_bytes import LayerExamples, chunk_concentrations
from atlas.pipeline.cost.site_budget import ExampleChoice, fit
from atlas.pipeline.cost.site_price import SitePrice
from atlas.pipeline.dataset.accent import ACCENT_EXAMPLES, units_per_task
from atlas.pipeline.dataset.accent import VIEW as ACCENT_VIEW
from atlas.pipeline.dataset.caricature import CARICATURE_IMAGES
from atlas.pipeline.dataset.caricature import VIEW as CARICATURE_VIEW
from atlas.pipeline.dataset.examples import crop_format
from atlas.pipeline.execution.tasks import Task
from atlas.pipeline.jobs import Job, image_count, unit_jobs
from atlas.pipeline.prepare import Prepared, prepare_build
from atlas.pipeline.weights.circuits import PairCost, price_pair
from atlas.pipeline.weights.connections import map_side, pairs_to_compute
from atlas.sizes import format_size, parse_size


@dataclass
class LayerCost:
    """One layer's calibration: seconds per image-step and per batch."""

    layer: str
    images: int  # the calibration batch
    per_image_step: float
    fixed: float  # per batch: the final measurement and encoding
    image_bytes: float  # one image, encoded as the build stores it


@dataclass
class Forecast:
    model: str
    executor: str
    workers: int
    units: int
    jobs: int
    jobs_todo: int
    images: int
    image_steps: int
    batches: int
    stored_images: int  # images the site keeps (evolution snapshots included)
    dataset_images: int
    dataset_layers: int
    compare_images: int
    costs: list[LayerCost] = field(default_factory=list)
    scan_read: float = 0.0  # seconds per image read on the driver
    scan_compute: float = 0.0  # seconds per image through the model on one worker
    batch_seconds: list[float] = field(default_factory=list)  # each batch still to run
    compare_seconds_by_pass: list[list[float]] = field(default_factory=list)  # likewise
    storage: dict[str, float] = field(default_factory=dict)  # bytes by item
    steps: int = 0
    calibration_seconds: float = 0.0
    memory: list[str] = field(default_factory=list)  # the budget, then each layer's batches
    stopping: bool = False  # convergence-aware stopping is on: the times are the most
    examples: list[LayerExamples] = field(default_factory=list)  # each layer's crops
    budget_line: str = ""  # what a site budget chose, or why it cannot be met
    connections: list[PairCost] = field(default_factory=list)  # each pair still to compute
    concentrations: dict[str, float] = field(default_factory=dict)  # of examples, by layer
    largest_file: float = 0.0  # bytes: the largest file the site will hold
    # the accent and caricature views: images optimized from dataset images, and each
    # task's seconds (priced at its layer's cost per image-step)
    from_data_images: int = 0
    from_data_seconds: list[float] = field(default_factory=list)
    concepts: list[ConceptCost] = field(default_factory=list)  # each dictionary to fit
    concept_images: int = 0  # the concepts' sampling pass
    class_images: int = 0  # the class pages' measure
    class_compute: float = 0.0  # its seconds per image on one worker

    def classes_seconds(self, workers: int) -> float:
        """Read on the driver while the workers compute, as the dataset pass."""
        return self.class_images * max(self.scan_read, self.class_compute / workers)

    def concepts_seconds(self, workers: int) -> float:
        """The sampling pass, as the dataset pass is priced, then the fits on the driver."""
        return (self.concept_images * max(self.scan_read, self.scan_compute / workers)
                + sum(cost.fit_seconds for cost in self.concepts))

    def dataset_seconds(self, workers: int) -> float:
        """The driver reads while the workers compute: the slower of the two."""
        return self.dataset_images * max(self.scan_read, self.scan_compute / workers)

    def compare_seconds(self, workers: int) -> float:
        """Its two passes, one after the other."""
        return sum(_dealt(batches, workers) for batches in self.compare_seconds_by_pass)

    def optimize_seconds(self, workers: int) -> float:
        return _dealt(self.batch_seconds, workers)

    def connections_seconds(self) -> float:
        """On the driver, a pair after the other, whatever the workers."""
        return sum(pair.seconds for pair in self.connections)

    def from_data_seconds_on(self, workers: int) -> float:
        return _dealt(self.from_data_seconds, workers)

    def seconds(self, workers: int) -> float:
        return (self.concepts_seconds(workers) + self.classes_seconds(workers)
                + self.dataset_seconds(workers)
                + self.optimize_seconds(workers)
                + self.compare_seconds(workers) + self.connections_seconds()
                + self.from_data_seconds_on(workers))


def _dealt(seconds: list[float], workers: int) -> float:
    """Batches dealt in order to whichever of `workers` is free first, as the
    executors deal them: when the last one ends."""
    free = [0.0] * workers
    for each in seconds:
        first = free.index(min(free))
        free[first] += each
    return max(free, default=0.0)


def _stored_image_count(ready: Prepared, jobs: list[Job]) -> int:
    """Images the site keeps for `jobs`: each job's images, and the positive
    view's snapshots (every `snapshot_every` steps, the first and the last)."""
    total = image_count(jobs)
    every = ready.config.snapshot_every
    for job in jobs:
        if job.settings.get("snapshot_every"):
            total += len(range(0, ready.config.steps, every)) + 1
    return total


def forecast(ready: Prepared, bar: Any) -> Forecast:
    """Counts, calibrates and prices the build `ready` describes."""
    config, executor = ready.config, ready.executor
    todo = ready.todo()
    all_jobs = [job for jobs in ready.layer_jobs for job in jobs]
    ready.size_batches(todo if any(todo) else ready.layer_jobs, bar)
    batches = ready.batches(todo)
    scanned = ready.scanned
    images = sum(image_count(jobs) for jobs in todo)
    result = Forecast(
        model=ready.loaded.spec, executor=executor.describe(), workers=executor.workers,
        units=sum(len(units) for _, units in ready.chosen), jobs=len(all_jobs),
        jobs_todo=sum(len(jobs) for jobs in todo), images=images,
        image_steps=images * config.steps, batches=len(batches),
        stopping=config.stop_tolerance > 0,
        stored_images=_stored_image_count(ready, all_jobs),
        dataset_images=len(scanned) if scanned is not None else 0,
        dataset_layers=len(ready.chosen) if scanned is not None else 0,
        compare_images=len({run for plan in ready.compared for run in plan.runs}),
        steps=config.steps)
    started = time.perf_counter()
    samples = [jobs for jobs in ready.layer_jobs if jobs]
    limit = calibration_image_count(executor.device.type, ready.image_size)
    tasks = [Task(calibrate_batch, (calibration_batch(jobs, min(limit, ready.batch_limit(jobs))),
                                    CALIBRATION_STEPS), CALIBRATION_WORK) for jobs in samples]
    bar.total = (len(tasks) + 1) * CALIBRATION_WORK
    for index, (per_step, fixed, image_bytes) in executor.map(tasks, bar):
        jobs = tasks[index].args[0]
        layer = jobs[0].layer or "joint"
        result.costs.append(LayerCost(layer, image_count(jobs), per_step / image_count(jobs), fixed,
                                      image_bytes))
    by_layer = {cost.layer: cost for cost in result.costs}
    _price_from_data(ready, result, by_layer, bar)
    for batch in batches:
        cost = by_layer[batch[0].layer or "joint"]
        result.batch_seconds.append(cost.fixed + image_count(batch) * config.steps
                                    * cost.per_image_step)
    if scanned is not None and len(scanned):
        result.scan_read, result.scan_compute = _calibrate_scan(ready, bar, result)
    result.class_images, result.class_compute = price_classes(ready, bar)
    result.compare_seconds_by_pass = _price_compare(ready, bar)
    result.calibration_seconds = time.perf_counter() - started
    result.memory = memory_lines(ready)
    result.connections = _price_connections(ready)
    result.concepts = price_concepts(ready)
    result.concept_images = sampled_images(ready)
    result.storage = _storage(ready, result)
    return result


def _from_data_tasks(ready: Prepared) -> list[tuple[str, int]]:
    """(layer, images) of each accent and caricature task the build would run (stored
    results counted as still to do: their keys need the dataset pass)."""
    config = ready.config
    tasks: list[tuple[str, int]] = []
    if ready.scanned is None:
        return tasks
    for info, units in ready.chosen:
        if ACCENT_VIEW in config.views:
            per_task = units_per_task(ready, info.name)
            for start in range(0, len(units), per_task):
                tasks.append((info.name, ACCENT_EXAMPLES * len(units[start:start + per_task])))
        if CARICATURE_VIEW in config.views:
            tasks.append((info.name, CARICATURE_IMAGES))
    return tasks


def _price_from_data(ready: Prepared, result: Forecast, by_layer: dict[str, LayerCost],
                     bar: Any) -> None:
    """Prices the accent and caricature tasks at their layer's cost per image-step,
    calibrating a positive batch for a layer the build optimizes nothing else of."""
    tasks = _from_data_tasks(ready)
    missing = sorted({layer for layer, _ in tasks} - set(by_layer))
    infos = {info.name: info for info, _ in ready.chosen}
    limit = calibration_image_count(ready.executor.device.type, ready.image_size)
    positive = dataclasses.replace(ready.config, views=["positive"])
    samples = [[job for unit in range(min(limit, infos[layer].channels))
                for job in unit_jobs(positive, ready.common, infos[layer], unit)]
               for layer in missing]
    calibrations = [Task(calibrate_batch, (jobs, CALIBRATION_STEPS), CALIBRATION_WORK)
                    for jobs in samples if jobs]
    for index, (per_step, fixed, image_bytes) in ready.executor.map(calibrations, bar):
        jobs = calibrations[index].args[0]
        cost = LayerCost(jobs[0].layer, image_count(jobs), per_step / image_count(jobs), fixed,
                         image_bytes)
        result.costs.append(cost)
        by_layer[cost.layer] = cost
    for layer, images in tasks:
        cost = by_layer[layer]
        result.from_data_images += images
        result.from_data_seconds.append(cost.fixed + images * ready.config.steps
                                        * cost.per_image_step)
    result.stored_images += 2 * result.from_data_images  # each beside its real image


def _price_compare(ready: Prepared, bar: Any) -> list[list[float]]:
    """Each compare batch's seconds, per pass, from its first batch calibrated."""
    _, first, second = compare_batches(unstored(ready.compared, ready.store),
                                       ready.smallest_limit())
    if not first:
        return []
    sample = first[0][:calibration_image_count(ready.executor.device.type, ready.image_size)]
    task = Task(calibrate_compare, (sample, CALIBRATION_STEPS), CALIBRATION_WORK)
    (_, (per_step, fixed)), = list(ready.executor.map([task], bar))
    per_image_step = per_step / len(sample)
    steps = ready.config.steps
    return [[fixed + len(batch) * steps * per_image_step for batch in batches]
            for batches in (first, second)]


def _calibrate_scan(ready: Prepared, bar: Any, result: Forecast) -> tuple[float, float]:
    """Seconds per image of the dataset pass: (reading on the driver, one chunk
    through the model on a worker, its second run: the first warms up)."""
    dataset = ready.scanned
    assert dataset is not None  # asked only of a build with a dataset
    chunk = range(min(ready.config.dataset_batch, len(dataset)))
    started = time.perf_counter()
    images, _ = dataset.load(chunk)
    read = (time.perf_counter() - started) / len(chunk)
    layers = [info.read for info, _ in ready.chosen]  # as the pass reads them
    task = Task(timed_chunk, (layers, images), 0)
    (_, (seconds, extremes)), = list(ready.executor.map([task], bar))
    result.concentrations = chunk_concentrations(
        [(info.name, tuple(info.shape)) for info, _ in ready.chosen],
        {info.name: extremes[info.read] for info, _ in ready.chosen},
        ready.config.example_count, len(dataset))
    return read, seconds / len(chunk)


def _storage(ready: Prepared, result: Forecast) -> dict[str, float]:
    """Bytes the published site will take, by kind (`site_size.KINDS`); with a site
    budget, for the examples it would choose."""
    mean_bytes = (sum(cost.image_bytes for cost in result.costs)
                  / max(1, len(result.costs)))
    sides = [pair.map_side for pair in result.connections]
    price = SitePrice(ready, (result.stored_images + result.compare_images) * mean_bytes,
                      result.concentrations, map_side(sides))
    choice = ExampleChoice(ready.config.example_count, crop_format(ready.store))
    if ready.config.site_budget is not None:
        try:
            fitted = fit(parse_size(ready.config.site_budget, "site_budget"), choice.count,
                         choice.crops, price)
            result.budget_line, choice = fitted.line(), fitted.choice
        except AtlasError as error:
            result.budget_line = str(error)
    storage = price(choice)
    result.examples = price.examples(choice)
    # The largest file: a layer's unit file (data/), the largest layer's units.
    largest_layer = max((len(units) for _, units in ready.chosen), default=0)
    result.largest_file = price.weight(choice).per_unit.get("manifest", 0.0) * largest_layer
    return storage


def _price_connections(ready: Prepared) -> list[PairCost]:
    """Each layer pair whose connections the build will compute, chunked within the
    memory budget as it will be, a few of its chunks timed (`circuits.price_pair`)."""
    if ready.config.connections == 0:
        return []
    loaded = ready.loaded
    return [price_pair(loaded.module, loaded.preprocess, ready.image_size, earlier, later,
                       ready.device, memory=ready.budget_bytes())
            for (earlier, _), (later, _), _ in pairs_to_compute(
                ready.store, ready.image_size, ready.forward_layers(), ready.config.connections,
                ready.common)]


def memory_lines(ready: Prepared) -> list[str]:
    """The memory budget and each layer's measured batch size and expected peak."""
    budget = ready.budget
    if budget is None:
        return []
    peak = max((sized.cost.at(sized.images) for sized in ready.memory.values()), default=0)
    lines = [f"  memory:             budget "
             f"{format_size(budget.bytes) if budget.bytes else 'none'} ({budget.description}); "
             f"expected peak of a batch {format_size(peak)}"]
    lines += [f"    {sized.line()}" for sized in ready.memory.values()]
    return lines


def plan_build(config: Any, progress: bool = True) -> Forecast:
    from tqdm import tqdm

    ready = prepare_build(config)
    attach_for_pricing(ready)
    with ready.executor:
        ready.executor.start(ready.engine)
        with tqdm(total=0, unit="step", desc="calibrate", disable=not progress,
                  dynamic_ncols=True) as bar:
            return forecast(ready, bar)
