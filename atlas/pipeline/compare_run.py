"""Computes the technique comparison and stores one record per compare unit.

Runs that share a batch setup (parameterization, learning rate, transforms)
are optimized together, whatever their layer, objective and regularizers
(each image scores its own objective, so packing changes speed, not pixels).
Class-conditional runs whose class is predicted go in a second pass, after
the channel-mean images they read their class from.

A unit whose record has its key is skipped; records are written when every
run is done, so a comparison interrupted halfway restarts for the units not
yet written.
"""

from __future__ import annotations

import dataclasses
import time
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import groupby
from typing import Any, Callable, Iterator, Optional

import torch

from atlas.optvis import objectives as obj
from atlas.optvis.hooks import capture, frozen
from atlas.optvis.param import ImageParam
from atlas.optvis.render import measure, optimize
from atlas.pipeline.compare_axes import TRANSFORMS, predicted_note
from atlas.pipeline.compare_plan import VIEW, UnitPlan
from atlas.pipeline.compare_runs import PREDICTED, Run
from atlas.pipeline.execute import Engine, transform_seed
from atlas.pipeline.interrupt import BuildInterrupted, StopAfterBatch
from atlas.pipeline.pack import regularized
from atlas.pipeline.views.optimized import unit_objective
from atlas.store import ResultStore

NOT_FINITE = "the optimization became NaN or infinite"


@dataclass
class Outcome:
    """A finished run: its image and the target's channel mean on it; None where
    the run went non-finite."""

    image: Optional[torch.Tensor]  # (3, H, W) in [0, 1]
    activation: Optional[float]
    predicted: Optional[int] = None  # the class of a predicted class-conditional run


@dataclass
class CompareReport:
    units: int
    computed: int
    images: int
    seconds: float

    def note(self) -> str:
        return (f"compare: {self.computed} of {self.units} units computed ({self.images} "
                f"images optimized, {self.units - self.computed} unchanged) in "
                f"{self.seconds:.1f} s")


def _batches(runs: list[Run], limit: int) -> list[list[Run]]:
    """Runs grouped by setup, each group cut into batches of at most `limit`; in a
    batch, runs of one layer, objective and regularization sit side by side."""
    order = sorted(runs, key=lambda r: (r.setup, r.layer, r.objective, r.tv_weight,
                                        r.l2_weight, r.unit))
    batches = []
    for _, group in groupby(order, key=lambda r: r.setup):
        group = list(group)
        batches += [group[i:i + limit] for i in range(0, len(group), limit)]
    return batches


def _segments(batch: list[Run]) -> list[tuple[int, int, list[Run]]]:
    """(start, stop, runs) of consecutive runs one vectorized objective scores."""
    segments, start = [], 0
    for _, part in groupby(batch, key=lambda r: (r.layer, r.objective, r.tv_weight, r.l2_weight)):
        part = list(part)
        segments.append((start, start + len(part), part))
        start += len(part)
    return segments


def _objective(runs: list[Run], classes: dict[Run, int]) -> obj.Objective:
    spec = runs[0].spec
    if spec.get("class") == PREDICTED:
        spec = {**spec, "class": [classes[run] for run in runs]}
    units = [run.unit for run in runs]
    return regularized(unit_objective(spec, runs[0].layer, units), runs[0].tv_weight,
                       runs[0].l2_weight)


def _optimize(engine: Engine, batch: list[Run], classes: dict[Run, int],
              on_step: Callable[[int], None]) -> dict[Run, Outcome]:
    param, decorrelate, lr, transforms = batch[0].setup
    engine = dataclasses.replace(engine, param=param, decorrelate=decorrelate, lr=lr,
                                 transforms=TRANSFORMS[transforms][1](engine.image_size))
    segments = _segments(batch)
    objective = sum((_objective(runs, classes).on_images(start, stop)
                     for start, stop, runs in segments), 0)
    target = sum((obj.channel(runs[0].layer, [r.unit for r in runs]).on_images(start, stop)
                  for start, stop, runs in segments), 0)
    seeds = [run.seed for run in batch]
    image = ImageParam(engine.image_size, seeds, param, decorrelate, engine.valid,
                       magnitude=engine.magnitude).to(engine.device)
    result = optimize(engine.model, objective, image, engine.transforms.to(engine.device),
                      engine.steps, lr, [transform_seed(seed) for seed in seeds],
                      engine.preprocess, 0, on_step, engine.channels_last, engine.autocast)
    values = measure(engine.model, target, result.images.to(engine.device), engine.preprocess)
    finite = (torch.isfinite(result.images).flatten(1).all(1)
              & torch.isfinite(result.history).all(0) & torch.isfinite(values))
    return {run: Outcome(result.images[i], round(float(values[i]), 6)) if finite[i]
            else Outcome(None, None) for i, run in enumerate(batch)}


def _predicted(engine: Engine, logits: str, images: torch.Tensor) -> list[int]:
    """The class the model predicts on each image: its largest logit."""
    with frozen(engine.model), capture(engine.model, [logits]) as run, torch.no_grad():
        values = run(engine.preprocess(images.to(engine.device)))[logits]
    return [int(i) for i in values.float().argmax(1)]


@contextmanager
def flushed_denormals() -> Iterator[None]:
    """Float results too small for normal precision become zero for the duration.
    Parameterizations the build does not use drive the sigmoid into saturation,
    where its gradients are denormal floats that a CPU computes many times slower
    (on the default model, 2 s against 30 s for the pixel and Fourier variants at
    64 steps). The build's own views keep the default (atlas never sets it)."""
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(False)


def run_compare(engine: Engine, plans: list[UnitPlan], store: ResultStore, batch_size: int,
                bar: Any, stop: StopAfterBatch) -> CompareReport:
    """Optimizes what the compare units not yet stored need and writes their records."""
    started = time.perf_counter()
    todo = [plan for plan in plans if not store.is_done(plan.layer, plan.unit, VIEW, plan.key)]
    runs = list(dict.fromkeys(run for plan in todo for run in plan.runs))
    first = _batches([run for run in runs if not run.predicted], batch_size)
    second = _batches([run for run in runs if run.predicted], batch_size)
    bar.total = (len(first) + len(second)) * engine.steps
    bar.refresh()
    done: dict[Run, Outcome] = {}
    classes: dict[Run, int] = {}
    with flushed_denormals():
        for number, batch in enumerate(first + second):
            if stop.requested:
                raise BuildInterrupted(number, len(first) + len(second))
            if number == len(first):
                classes = _classes(engine, [run for batch in second for run in batch], done)
            bar.set_postfix_str(f"compare ({len(batch)} images)")
            ready = [run for run in batch if not run.predicted or run in classes]
            done.update({run: Outcome(None, None) for run in batch if run not in ready})
            if ready:
                done.update(_optimize(engine, ready, classes, lambda _: bar.update(1)))
            else:
                bar.update(engine.steps)
    for run, class_index in classes.items():
        done[run].predicted = class_index
    for plan in todo:
        _save(store, plan, done, engine.versions)
    return CompareReport(len(plans), len(todo), len(runs), time.perf_counter() - started)


def _classes(engine: Engine, runs: list[Run], done: dict[Run, Outcome]) -> dict[Run, int]:
    """The predicted class of each run, read from its source run's image (none for
    a run whose source went non-finite)."""
    found = [run for run in runs if done[run.source].image is not None]
    if not found:
        return {}
    logits = found[0].spec["logits"]
    images = torch.stack([done[run.source].image for run in found])
    return dict(zip(found, _predicted(engine, logits, images)))


def _save(store: ResultStore, plan: UnitPlan, done: dict[Run, Outcome], versions: dict) -> None:
    """The unit's record: its distinct images, and every variant pointing at one."""
    images, activations, index = [], [], {}
    for run in plan.runs:
        outcome = done[run]
        if outcome.image is not None:
            index[run] = len(images)
            images.append(outcome.image)
            activations.append(outcome.activation)
    variants = []
    for variant in plan.variants:
        run = variant.run
        entry = {"axis": variant.axis, "choice": variant.choice, "label": variant.label,
                 "reference": variant.reference, "target": run.target if run else None,
                 "image": index.get(run) if run else None,
                 "activation": done[run].activation if run else None,
                 "note": variant.note, "skipped": variant.skipped}
        if run is not None and run not in index:
            entry["skipped"] = NOT_FINITE
        elif run is not None and run.predicted:
            entry["note"] = predicted_note(done[run].predicted, run.spec["weight"])
        variants.append(entry)
    record = {"key": plan.key, "settings": plan.settings, "activations": activations,
              "variants": variants, "versions": versions}
    store.save_view(plan.layer, plan.unit, VIEW, images, record)
