"""Computes the technique comparison and stores one record per compare unit.

Runs of one learning rate are optimized together whatever their layer,
parameterization, transforms, objective and regularizers (`compare_batch`).
Class-conditional runs whose class is predicted go in a second pass, after the
channel-mean images they read their class from.

A unit whose record has its key is skipped; records are written when every
run is done, so a comparison interrupted halfway restarts for the units not
yet written.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from itertools import groupby
from typing import Any, cast

import torch

from atlas.errors import AtlasError
from atlas.optvis.hooks import capture, frozen
from atlas.pipeline.compare.axes import predicted_note
from atlas.pipeline.compare.batch import Outcome, optimize_runs, order
from atlas.pipeline.compare.plan import VIEW, UnitPlan
from atlas.pipeline.compare.runs import Run
from atlas.pipeline.control.interrupt import BuildInterrupted, StopAfterBatch
from atlas.pipeline.execution.tasks import Executor, Task
from atlas.pipeline.optimize.batch import Engine
from atlas.store import ResultStore

NOT_FINITE = "the optimization became NaN or infinite"


@dataclass
class CompareReport:
    units: int
    computed: int
    images: int
    seconds: float

    def note(self) -> str:
        return (f"compare: {self.computed} of {self.units} units computed, {self.images} "
                f"images optimized in {self.seconds:.1f} s")


def _batches(runs: list[Run], limit: int) -> list[list[Run]]:
    """Runs grouped by learning rate (one optimizer), each group in batch order
    and cut into batches of at most `limit` images."""
    batches = []
    for _, same_lr in groupby(sorted(runs, key=lambda run: run.lr), key=lambda run: run.lr):
        group = order(list(same_lr))
        batches += [group[i:i + limit] for i in range(0, len(group), limit)]
    return batches


def _predicted(engine: Engine, logits: str, images: torch.Tensor) -> list[int]:
    """The class the model predicts on each image: its largest logit."""
    with frozen(engine.model), capture(engine.model, [logits]) as run, torch.no_grad():
        values = run(engine.preprocess(images.to(engine.device)))[logits]
    return [int(i) for i in values.float().argmax(1)]


def unstored(plans: list[UnitPlan], store: ResultStore) -> list[UnitPlan]:
    """The compare units whose record is not stored with their key."""
    return [plan for plan in plans if not store.is_done(plan.layer, plan.unit, VIEW, plan.key)]


def compare_batches(todo: list[UnitPlan], batch_size: int
                    ) -> tuple[list[Run], list[list[Run]], list[list[Run]]]:
    """(every distinct run of `todo`, the first pass's batches, the second's: the
    class-conditional runs whose class is read from the first pass's images)."""
    runs = list(dict.fromkeys(run for plan in todo for run in plan.runs))
    first = _batches([run for run in runs if not run.predicted], batch_size)
    second = _batches([run for run in runs if run.predicted], batch_size)
    return runs, first, second


def compare_task(engine: Engine, runs: list[Run], classes: dict[Run, int],
                 on_progress: Callable[[int], None]) -> dict[Run, Outcome]:
    """An executor task: one batch of runs (`optimize_runs`)."""
    return optimize_runs(engine, runs, classes, lambda _: on_progress(1))


def _optimized(executor: Executor, batches: list[list[Run]], classes: dict[Run, int], steps: int,
               bar: Any, stop: StopAfterBatch) -> dict[Run, Outcome]:
    """Every batch's outcomes, the batches spread over the executor's workers."""
    done: dict[Run, Outcome] = {}
    tasks = (Task(compare_task, (batch, classes), steps) for batch in batches)
    finished = 0
    for _, outcome in executor.map(tasks, bar, stop):
        if isinstance(outcome, BaseException):
            raise AtlasError(f"the compare pass ran out of device memory ({outcome}); use a "
                             "smaller --batch-size") from None
        done.update(outcome)
        finished += 1
    if finished < len(batches):
        raise BuildInterrupted(finished, len(batches))
    return done


def run_compare(engine: Engine, executor: Executor, plans: list[UnitPlan], store: ResultStore,
                batch_size: int, bar: Any, stop: StopAfterBatch) -> CompareReport:
    """Optimizes what the compare units not yet stored need and writes their records.
    The driver's `engine` reads the predicted classes between the two passes."""
    started = time.perf_counter()
    todo = unstored(plans, store)
    runs, first, second = compare_batches(todo, batch_size)
    bar.total = (len(first) + len(second)) * engine.steps
    bar.refresh()
    bar.set_postfix_str(f"compare ({len(runs)} images)")
    done = _optimized(executor, first, {}, engine.steps, bar, stop)
    classes = _classes(engine, [run for batch in second for run in batch], done)
    # A run whose source image went non-finite has no class: it is not optimized.
    done.update({run: Outcome(None, None) for run in runs if run.predicted
                 and run not in classes})
    ready = [[run for run in batch if run in classes] for batch in second]
    bar.update(engine.steps * sum(1 for batch in ready if not batch))
    done.update(_optimized(executor, [batch for batch in ready if batch], classes, engine.steps,
                           bar, stop))
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
    # every found run's source has an image: checked above
    images = torch.stack([cast(torch.Tensor, done[run.source].image) for run in found])
    return dict(zip(found, _predicted(engine, logits, images)))


def _save(store: ResultStore, plan: UnitPlan, done: dict[Run, Outcome], versions: dict) -> None:
    """The unit's record: its distinct images, and every variant pointing at one."""
    images: list[torch.Tensor] = []
    activations: list[float | None] = []
    index: dict[Run, int] = {}
    run: Run | None
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
            # set on every predicted run that was optimized (run_compare)
            entry["note"] = predicted_note(cast(int, done[run].predicted), run.spec["weight"])
        variants.append(entry)
    record = {"key": plan.key, "settings": plan.settings, "activations": activations,
              "variants": variants, "versions": versions}
    store.save_view(plan.layer, plan.unit, VIEW, images, record)
