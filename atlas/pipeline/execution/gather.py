"""The results of a pass of dataset chunks, in the chunks' order, whichever worker
finished which first."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from atlas.errors import AtlasError
from atlas.pipeline.execution.tasks import Executor, Task


def gather(executor: Executor, tasks: Iterable[Task], bar: Any, doing: str,
           purpose: str) -> list[Any]:
    """Each task's result in task order; a task that failed (out of memory, its worker
    lost) or no task at all is one line, `doing` or `purpose` saying what for."""
    results: dict[int, Any] = {}
    for index, result in executor.map(tasks, bar):
        if isinstance(result, BaseException):
            raise AtlasError(f"{doing} failed ({result}); lower dataset_batch if the device "
                             "ran out of memory")
        results[index] = result
    if not results:
        raise AtlasError(f"no dataset image could be read for {purpose}")
    return [results[index] for index in sorted(results)]
