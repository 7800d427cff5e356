"""The calibration `atlas plan` runs on the build's executor: a layer's first batch and
a batch of compare runs optimized for 1 step and then for more, whose difference is the
cost of a step without a batch's fixed costs; one chunk of the dataset pass, timed."""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from typing import Any

from atlas.pipeline.compare.batch import optimize_runs
from atlas.pipeline.dataset.scan import scan_chunk
from atlas.pipeline.jobs import Job
from atlas.pipeline.optimize.batch import compute_batch

# Images of each layer's first batch the calibration runs: a GPU needs many to fill;
# a CPU is busy with a few large images, while tiny ones need more (128 at 64 px or
# less, down to 10 at 224 px), which keeps a CPU calibration to about a minute.
CALIBRATION_IMAGES = 128
CPU_CALIBRATION_PIXELS = 128 * 64 * 64
CALIBRATION_STEPS = 4  # at least; a fast batch runs more, up to MAX_CALIBRATION_STEPS,
MEASURABLE_SECONDS = 0.5  # so that its steps take about this long
MAX_CALIBRATION_STEPS = 64
CALIBRATION_WORK = 4  # progress units of one calibration: its four runs


def calibration_image_count(device: str, image_size: int) -> int:
    if device != "cpu":
        return CALIBRATION_IMAGES
    return max(8, min(CALIBRATION_IMAGES, CPU_CALIBRATION_PIXELS // image_size ** 2))


def _two_runs(run: Callable[[int], Any], steps: int, on_progress: Callable[[int], None]
              ) -> tuple[float, float, int, Any, Any]:
    """(seconds at 1 step, seconds at `steps` steps or more, those steps, the last
    one-step run's result, the last run's).
    A first run pays the one-time set-up costs; the one-step time is the faster
    of two; a fast batch runs more steps, so that the difference the per-step
    cost is read from is long enough to measure."""
    run(1)
    on_progress(1)
    timed = []
    for _ in range(2):
        started = time.perf_counter()
        first = run(1)
        timed.append(time.perf_counter() - started)
        on_progress(1)
    one = min(timed)
    steps = max(steps, min(MAX_CALIBRATION_STEPS, math.ceil(MEASURABLE_SECONDS / one) + 1))
    started = time.perf_counter()
    result = run(steps)
    many = time.perf_counter() - started
    on_progress(1)
    return one, many, steps, first, result


def _per_step(one: float, many: float, steps: int) -> tuple[float, float]:
    """(seconds per step, fixed seconds per batch) from the two runs."""
    per_step = max(many - one, 1e-9) / (steps - 1)
    return per_step, max(one - per_step, 0.0)


def calibrate_compare(engine: Any, runs: list, steps: int,
                      on_progress: Callable[[int], None]) -> tuple[float, float]:
    """An executor task: (seconds per step, fixed seconds) of one batch of compare runs."""
    one, many, steps, _, _ = _two_runs(lambda count: optimize_runs(
        dataclasses.replace(engine, steps=count), runs, {}, lambda _: None), steps, on_progress)
    return _per_step(one, many, steps)


def calibrate_batch(engine: Any, jobs: list[Job], steps: int,
                    on_progress: Callable[[int], None]) -> tuple[float, float, float]:
    """An executor task: (seconds per step, fixed seconds, mean encoded bytes per
    image) of `jobs` optimized as one batch."""
    one, many, steps, first, last = _two_runs(lambda count: compute_batch(
        dataclasses.replace(engine, steps=count), jobs), steps, on_progress)
    # Images encode to more bytes as they take shape: sized from the run whose steps are
    # nearer the build's (a build of 1 step stores images barely past their start).
    output = first if abs(engine.steps - 1) < abs(engine.steps - steps) else last
    sizes = [len(data) for view in output.views for _, data in view.files]
    return (*_per_step(one, many, steps), sum(sizes) / max(1, len(sizes)))


def calibration_batch(jobs: list[Job], limit: int) -> list[Job]:
    """The layer's first jobs, up to `limit` images (at least one job)."""
    chosen: list[Job] = []
    count = 0
    for job in jobs:
        if chosen and count + len(job.images) > limit:
            break
        chosen.append(job)
        count += len(job.images)
    return chosen


def timed_chunk(engine: Any, layers: list[str], images: Any,
                 on_progress: Callable[[int], None]) -> tuple[float, dict]:
    """(seconds of the chunk's second run, its extremes)."""
    scan_chunk(engine, layers, images, on_progress)
    started = time.perf_counter()
    extremes = scan_chunk(engine, layers, images, on_progress)
    return time.perf_counter() - started, extremes
