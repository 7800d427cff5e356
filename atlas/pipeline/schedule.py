"""Runs a build's batches: progress, Ctrl-C after a batch, smaller batches on
GPU out-of-memory, and one retry at a lower learning rate for views that go NaN."""

from __future__ import annotations

import dataclasses

import torch

from atlas.errors import AtlasError
from atlas.pipeline.execute import Engine, run_batch, save_failure
from atlas.pipeline.interrupt import BuildInterrupted, StopAfterBatch
from atlas.pipeline.plan import Job, batches as pack_batches
from atlas.store import ResultStore

RETRY_LR_FACTOR = 0.1


def _images(batch: list[Job]) -> int:
    return sum(len(job.images) for job in batch)


def run_batches(engine: Engine, batches: list[list[Job]], store: ResultStore, bar,
                stop: StopAfterBatch) -> int:
    """Runs every batch; returns how many views failed (NaN/Inf twice)."""
    failed = _run(engine, batches, store, bar, stop)
    if not failed:
        return 0
    retry = dataclasses.replace(engine, lr=engine.lr * RETRY_LR_FACTOR)
    bar.write(f"atlas: {len(failed)} view(s) went NaN or infinite; retrying them once with "
              f"learning rate {retry.lr:g}")
    retry_batches = [[job] for job in failed]
    bar.total += len(retry_batches) * engine.steps
    still = _run(retry, retry_batches, store, bar, stop)
    for job in still:
        save_failure(store, job, f"the objective or image became NaN or infinite, also when "
                                 f"retried with learning rate {retry.lr:g}")
    return len(still)


def _run(engine: Engine, batches: list[list[Job]], store: ResultStore, bar,
         stop: StopAfterBatch) -> list[Job]:
    queue, failed, finished = list(batches), [], 0
    while queue:
        if stop.requested:
            raise BuildInterrupted(finished, finished + len(queue))
        batch = queue.pop(0)
        bar.set_postfix_str(f"{batch[0].layer or 'joint'} ({_images(batch)} images)")
        done = 0

        def step(_: int) -> None:
            nonlocal done
            done += 1
            bar.update(1)

        try:
            failed.extend(run_batch(engine, batch, store, on_step=step))
            finished += 1
        except torch.OutOfMemoryError:
            if len(batch) == 1:
                raise AtlasError(
                    f"out of GPU memory with a single view of {_images(batch)} images at "
                    f"{engine.image_size}px; use a smaller --image-size or --device cpu") from None
            if engine.device.type == "cuda":
                torch.cuda.empty_cache()
            limit = max(1, _images(batch) // 2)
            queue = [part for pending in [batch, *queue] for part in pack_batches(pending, limit)]
            bar.update(-done)
            bar.total = bar.n + len(queue) * engine.steps
            bar.write(f"atlas: out of GPU memory; retrying with at most {limit} images a batch")
    return failed
