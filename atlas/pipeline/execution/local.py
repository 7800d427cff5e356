"""The local executor: a build's tasks run one after another in this process, on
one device."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import torch

from atlas.optvis import precision
from atlas.pipeline.control.interrupt import StopAfterBatch
from atlas.pipeline.execution.tasks import Task


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

    def map(self, tasks: Iterable[Task], bar: Any, stop: StopAfterBatch | None = None,
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

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def describe(self) -> str:
        return f"local ({self.device.type}, {torch.get_num_threads()} threads)"
