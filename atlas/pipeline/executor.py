"""Where a build's compute runs. The driver plans the work as tasks, each a
function of the engine; an executor runs them and hands back their results,
and the driver alone writes the store.

`LocalExecutor` runs the tasks one after another in this process. The Ray
executor (`atlas.cluster`) runs the same tasks on workers across a cluster;
both answer to the same `map`, so the build does not know which it has.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Optional

import torch

from atlas.pipeline.interrupt import StopAfterBatch
from atlas.optvis import precision


@dataclass(frozen=True)
class Task:
    """`run(engine, *args, on_progress)`; `work` is its size on the progress bar
    (steps of a batch, images of a dataset chunk)."""

    run: Callable[..., Any]
    args: tuple
    work: int


class WorkerLost(Exception):
    """A task whose worker died under it twice: given up, so the build can go on."""


# What `map` hands back instead of a result for a task that could not finish:
# the device ran out of memory (the caller may split the task), or WorkerLost.
RECOVERABLE = (torch.OutOfMemoryError, WorkerLost)


class LocalExecutor:
    """Runs tasks in this process on one device, in order."""

    name = "local"
    workers = 1

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.engine: Any = None

    @property
    def fast_bfloat16(self) -> bool:
        return precision.fast_bfloat16(self.device)

    def start(self, engine: Any) -> None:
        self.engine = engine

    def map(self, tasks: Iterable[Task], bar: Any, stop: Optional[StopAfterBatch] = None,
            queued: int = 0) -> Iterator[tuple[int, Any]]:
        """(index, result) for each task, in order; a task that ran out of device
        memory gives the error as its result (its progress taken back off `bar`).
        Stops starting tasks once `stop` is requested. (`queued`: how many tasks
        a worker of a cluster may have waiting behind its running one.)"""
        for index, task in enumerate(tasks):
            if stop is not None and stop.requested:
                return
            done = 0

            def progress(count: int = 1) -> None:
                nonlocal done
                done += count
                bar.update(count)

            try:
                result = task.run(self.engine, *task.args, progress)
            except torch.OutOfMemoryError as error:
                if self.device.type == "cuda":
                    torch.cuda.empty_cache()
                bar.update(-done)
                yield index, error
                continue
            bar.update(task.work - done)
            yield index, result

    def close(self) -> None:
        self.engine = None

    def __enter__(self) -> "LocalExecutor":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def describe(self) -> str:
        return f"local ({self.device.type}, {torch.get_num_threads()} threads)"


def open_executor(config: Any, device: torch.device) -> Any:
    """The executor `config.executor` names; a Ray one connects to its cluster
    and starts its workers here, so a bad address fails before any work."""
    if config.executor == "ray":
        from atlas.cluster.executor import RayExecutor

        return RayExecutor.connect(config.ray_address, config.device, config.ray_workers,
                                   config.ray_threads)
    return LocalExecutor(device)
