"""What a driver hands an executor, and what every executor answers to.

The driver plans its work as tasks, each a function of the engine; an executor
runs them (in this process, or on the workers of a Ray cluster) and hands back
their results, and the driver alone writes the store. Both executors answer to
`Executor`, so the build does not know which it has.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import torch

from atlas.pipeline.control.interrupt import StopAfterBatch


@dataclass(frozen=True)
class Task:
    """`run(engine, *args, on_progress)`; `work` is its size on the progress bar
    (steps of a batch, images of a dataset chunk)."""

    run: Callable[..., Any]
    args: tuple
    work: int


class WorkerLost(Exception):
    """A task whose worker died under it twice: given up, so the build can go on."""


class Executor(Protocol):
    """Where a build's tasks run. Used as a context manager: leaving it closes it."""

    name: str  # "local" or "ray"
    device: torch.device  # the kind of device the tasks run on

    @property
    def workers(self) -> int:
        """How many tasks run at once."""

    @property
    def fast_bfloat16(self) -> bool:
        """Whether the device computes bfloat16 faster than float32."""

    def start(self, engine: Any) -> None:
        """Hands the engine (the model and the optimizer's settings) to the workers."""

    def map(self, tasks: Iterable[Task], bar: Any, stop: StopAfterBatch | None = None,
            queued: int = 0) -> Iterator[tuple[int, Any]]:
        """(index, result) for each task as it finishes; for a task that could not
        finish, the error as its result: torch.OutOfMemoryError (the caller may split
        the task) or WorkerLost. Starts no task once `stop` is
        requested. `queued`: how many tasks a worker may have waiting."""

    def describe(self) -> str:
        """The executor in a few words, for the build's report."""

    def close(self) -> None:
        """Releases the workers."""

    def __enter__(self) -> Executor:
        ...

    def __exit__(self, *exc: Any) -> None:
        ...
