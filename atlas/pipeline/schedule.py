"""Runs a build's batches on an executor and writes what they produce: smaller
batches on GPU out-of-memory, one retry at a lower learning rate for views that
go NaN, and the views of a batch that killed its worker twice recorded failed."""

from __future__ import annotations

from typing import Any

import torch

from atlas.errors import AtlasError
from atlas.pipeline.execute import BatchOutput, optimize_batch, save_failure, save_output
from atlas.pipeline.executor import Task, WorkerLost
from atlas.pipeline.interrupt import BuildInterrupted, StopAfterBatch
from atlas.pipeline.plan import Job, batches as pack_batches
from atlas.store import ResultStore

RETRY_LR_FACTOR = 0.1


def _images(batch: list[Job]) -> int:
    return sum(len(job.images) for job in batch)


def run_batches(executor: Any, batches: list[list[Job]], store: ResultStore, bar,
                stop: StopAfterBatch, steps: int, lr: float, image_size: int) -> int:
    """Runs every batch; returns how many views failed (NaN/Inf twice, or lost)."""
    failed, lost = _run(executor, batches, store, bar, stop, steps, lr, image_size)
    for job, reason in lost:
        save_failure(store, job, reason)
    if not failed:
        return len(lost)
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
    for job, reason in lost_again:
        save_failure(store, job, reason)
    return len(still) + len(lost) + len(lost_again)


def _run(executor: Any, batches: list[list[Job]], store: ResultStore, bar,
         stop: StopAfterBatch, steps: int, lr: float, image_size: int
         ) -> tuple[list[Job], list[tuple[Job, str]]]:
    """(jobs that went non-finite, (job, reason) of batches given up).

    After an out-of-memory error every batch not yet started is cut to the new
    limit too, and the one that ran out is run again in parts."""
    queue, failed, lost = list(batches), [], []
    limit = max((_images(batch) for batch in batches), default=1)
    while queue:
        started: list[list[Job]] = []  # what each task index runs
        smaller: list[list[Job]] = []

        def cut(batch: list[Job]) -> list[list[Job]]:
            if _images(batch) <= limit or len(batch) == 1:
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
                        f"out of GPU memory with a single view of {_images(batch)} images at "
                        f"{image_size}px; use a smaller --image-size or --device cpu") from None
                limit = min(limit, max(1, _images(batch) // 2))
                smaller += cut(batch)
                bar.write(f"atlas: out of GPU memory; retrying with at most {limit} images a "
                          "batch")
            elif isinstance(outcome, WorkerLost):
                lost += [(job, str(outcome)) for job in batch]
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
