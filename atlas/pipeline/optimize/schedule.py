"""Runs a build's batches on an executor and writes what they produce: smaller
batches on GPU out-of-memory, one retry at a lower learning rate for views that
go NaN, and the views of a batch that killed its worker twice recorded failed."""

from __future__ import annotations

import torch

from atlas.errors import AtlasError
from atlas.pipeline.control.interrupt import BuildInterrupted, StopAfterBatch
from atlas.pipeline.execution.tasks import Executor, Task, WorkerLost
from atlas.pipeline.jobs import Job, image_count
from atlas.pipeline.jobs import batches as pack_batches
from atlas.pipeline.optimize.batch import BatchOutput, optimize_batch, save_failure, save_output
from atlas.store import ResultStore

RETRY_LR_FACTOR = 0.1


def run_batches(executor: Executor, batches: list[list[Job]], store: ResultStore, bar,
                stop: StopAfterBatch, steps: int, lr: float, image_size: int) -> int:
    """Runs every batch; returns how many views failed (NaN/Inf twice, or lost)."""
    failed, lost = _run(executor, batches, store, bar, stop, steps, lr, image_size)
    if not failed:
        return lost
    retry_lr = lr * RETRY_LR_FACTOR
    bar.write(f"atlas: {len(failed)} view(s) went NaN or infinite; retrying them once with "
              f"learning rate {retry_lr:g}")
    retry_batches = [[job] for job in failed]
    bar.total += len(retry_batches) * steps
    still, lost_again = _run(executor, retry_batches, store, bar, stop, steps, retry_lr,
                             image_size)
    for job in still:
        save_failure(store, job, f"the objective or image became NaN or infinite, also when "
                                 f"retried with learning rate {retry_lr:g}")
    return len(still) + lost + lost_again


def _run(executor: Executor, batches: list[list[Job]], store: ResultStore, bar,
         stop: StopAfterBatch, steps: int, lr: float, image_size: int
         ) -> tuple[list[Job], int]:
    """(jobs that went non-finite, how many views were given up with their batch:
    those are recorded failed here).

    After an out-of-memory error every batch not yet started is cut to the new
    limit too, and the one that ran out is run again in parts."""
    queue, failed, lost = list(batches), [], 0
    limit = max((image_count(batch) for batch in batches), default=1)
    while queue:
        started: list[list[Job]] = []  # what each task index runs
        smaller: list[list[Job]] = []

        def cut(batch: list[Job]) -> list[list[Job]]:
            if image_count(batch) <= limit or len(batch) == 1:
                return [batch]
            parts = pack_batches(batch, limit)
            bar.total += (len(parts) - 1) * steps
            return parts

        position = 0  # batches of `queue` cut into tasks so far

        def tasks():
            nonlocal position
            for batch in queue:
                position += 1
                for part in cut(batch):
                    started.append(part)
                    yield Task(optimize_batch, (part, lr), steps)

        handled = finished = 0
        for index, outcome in executor.map(tasks(), bar, stop):
            handled += 1
            batch = started[index]
            if isinstance(outcome, torch.OutOfMemoryError):
                if len(batch) == 1:
                    raise AtlasError(
                        f"out of GPU memory with a single view of {image_count(batch)} images at "
                        f"{image_size}px; use a smaller --image-size or --device cpu") from None
                limit = min(limit, max(1, image_count(batch) // 2))
                smaller += cut(batch)
                bar.write(f"atlas: out of GPU memory; retrying with at most {limit} images a "
                          "batch")
            elif isinstance(outcome, WorkerLost):
                for job in batch:
                    save_failure(store, job, str(outcome))
                lost += len(batch)
                finished += 1
                bar.update(steps)
            else:
                assert isinstance(outcome, BatchOutput)
                save_output(store, outcome)
                failed += [batch[i] for i in outcome.failed]
                finished += 1
        if stop.requested:
            remaining = len(started) - handled + len(smaller) + len(queue) - position
            if remaining:
                raise BuildInterrupted(finished, finished + remaining)
        queue = smaller
    return failed, lost
