"""Runs one packed batch through the optimizer and encodes each job's views;
whoever owns the store writes them (the build itself, or a Ray driver)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

import torch
from torch import nn

from atlas.optvis import objectives as obj
from atlas.optvis.param import ImageParam
from atlas.optvis.render import measure, optimize
from atlas.optvis.stopping import Stopping
from atlas.optvis.transforms import Compose
from atlas.pipeline.jobs import Job
from atlas.pipeline.optimize.pack import job_objective, pack
from atlas.store import Encoder, ResultStore, ViewFiles
from atlas.views import VIEWS, OptimizedView


@dataclass
class Engine:
    """What every batch of a build shares: the model and the optimization settings."""

    model: nn.Module
    preprocess: nn.Module
    transforms: Compose
    device: torch.device
    image_size: int
    steps: int
    lr: float
    param: str
    decorrelate: bool
    valid: str
    tv_weight: float
    l2_weight: float
    versions: dict
    channels_last: bool = False
    autocast: torch.dtype | None = None
    magnitude: torch.Tensor | None = None  # MACO's magnitude spectrum
    encoder: Encoder = field(default_factory=Encoder)  # the store's image format and quality
    stop_tolerance: float = 0.0  # convergence-aware stopping (optvis/stopping.py); 0: off
    stop_window: int = 32

    @property
    def transparency(self) -> bool:
        """Whether images get a transparency map (MACO's: where the gradient went)."""
        return self.param == "maco"


def transform_seed(image_seed: int) -> int:
    """Each image's transforms get their own stream, distinct from its init."""
    return image_seed ^ 0x5EED5EED


def floats(values: torch.Tensor) -> list[float]:
    """Measured values as a record keeps them."""
    return [round(float(v), 6) for v in values]


@dataclass
class BatchOutput:
    """What one batch produced: every finished unit-view, encoded, and the
    positions (in the batch's job list) of the jobs that went NaN or infinite."""

    views: list[ViewFiles]
    failed: list[int]


def optimize_batch(engine: Engine, jobs: list[Job], lr: float,
                   on_progress: Callable[[int], None]) -> BatchOutput:
    """`compute_batch` at learning rate `lr` (the build's, or its retry's), as an
    executor task: `on_progress(1)` after each step."""
    if lr != engine.lr:
        engine = dataclasses.replace(engine, lr=lr)
    done = 0

    def stepped(step: int) -> None:
        nonlocal done
        on_progress(step - done)  # a batch whose images all settled jumps to its last step
        done = step

    return compute_batch(engine, jobs, stepped)


def _view(name: str) -> OptimizedView:
    """`VIEWS[name]`, typed: every job's view is an optimized one."""
    return cast(OptimizedView, VIEWS[name])


def stopping(engine: Engine, jobs: list[Job]) -> Stopping | None:
    """The batch's stopping rule: each image may stop if its view's may."""
    if engine.stop_tolerance <= 0:
        return None
    return Stopping(engine.stop_tolerance, engine.stop_window,
                    [_view(job.view).settles for job in jobs for _ in job.images])


def compute_batch(engine: Engine, jobs: list[Job],
                  on_step: Callable[[int], None] | None = None) -> BatchOutput:
    """Optimizes all images of `jobs` together and encodes each job's views.
    Jobs whose images or objective went NaN or infinite are listed, not encoded."""
    packed = pack(jobs, engine.tv_weight, engine.l2_weight)
    seeds = [spec.seed for job in jobs for spec in job.images]
    image = ImageParam(engine.image_size, seeds, engine.param, engine.decorrelate, engine.valid,
                       magnitude=engine.magnitude)
    snapshot_every = max(job.settings.get("snapshot_every", 0) for job in jobs)
    result = optimize(
        engine.model, packed.objective, image.to(engine.device), engine.transforms,
        engine.steps, engine.lr, [transform_seed(seed) for seed in seeds], engine.preprocess,
        snapshot_every, on_step, engine.channels_last, engine.autocast, engine.transparency,
        stopping(engine, jobs),
    )

    def activations(images: torch.Tensor) -> torch.Tensor:
        return measure(engine.model, packed.measure, images.to(engine.device), engine.preprocess)

    def measured(objective: obj.Objective, images: torch.Tensor) -> list[float]:
        return floats(measure(engine.model, objective, images.to(engine.device),
                               engine.preprocess))

    assert result.steps_taken is not None  # `optimize` always sets it
    final = activations(result.images)
    snapshot_acts = [activations(images) for _, images in result.snapshots]
    finite = (torch.isfinite(result.images).flatten(1).all(1) & result.finite_history()
              & torch.isfinite(final))
    output = BatchOutput([], [])
    for index, (job, start) in enumerate(zip(jobs, packed.offsets)):
        stop = start + len(job.images)
        if not bool(finite[start:stop].all()):
            output.failed.append(index)
            continue
        record = {
            "key": job.key,
            "settings": job.settings,
            "objective": job_objective(job, engine.tv_weight, engine.l2_weight).description,
            "seeds": [spec.seed for spec in job.images],
            "activations": floats(final[start:stop]),
            "versions": engine.versions,
            "lr_used": engine.lr,
            "steps_taken": [int(steps) for steps in result.steps_taken[start:stop]],
        }
        record.update(_view(job.view).record_extras(job, result.images[start:stop], measured))
        maps = (list(result.transparency[start:stop]) if result.transparency is not None
                else None)
        output.views.append(engine.encoder.view_files(
            job.layer, job.unit, job.view, list(result.images[start:stop]), record,
            transparency=maps))
        snapshots = _view(job.view).snapshots
        if snapshots and job.settings.get("snapshot_every"):
            evolution = {
                **record,
                "activations": [round(float(acts[start]), 6) for acts in snapshot_acts],
                "steps": [step for step, _ in result.snapshots],
                "loss": floats(result.ran(start)),
            }
            frames = [images[start] for _, images in result.snapshots]
            output.views.append(engine.encoder.view_files(job.layer, job.unit, snapshots,
                                                          frames, evolution))
    return output


def save_output(store: ResultStore, output: BatchOutput) -> None:
    """Writes a batch's views; each view's record after its images, as they come."""
    for view in output.views:
        store.write(view)


def save_failure(store: ResultStore, job: Job, reason: str) -> None:
    """Records a view that could not be computed, so pages show why and a rebuild
    with the same settings does not try again."""
    store.save_view(job.layer, job.unit, job.view, [], {
        "key": job.key, "settings": job.settings, "status": "failed", "reason": reason,
        "activations": []})


def job_is_done(store: ResultStore, job: Job) -> bool:
    done = store.is_done(job.layer, job.unit, job.view, job.key)
    snapshots = _view(job.view).snapshots
    if done and snapshots and job.settings.get("snapshot_every"):
        done = store.is_done(job.layer, job.unit, snapshots, job.key)
    return done

