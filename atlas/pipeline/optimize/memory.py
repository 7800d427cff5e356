"""Batches sized to the memory a build may use, before they run.

A CPU build is killed by the kernel long before an out-of-memory error could
be caught, so waiting for one is no plan. Instead each layer's memory per
image is measured once, by a one-step dry run of 1 and then 2 images of its
first job (forward to the layer, backward to the image, Adam and encoding:
what a batch does), and the layer's batches hold as many images as fit in the
budget. The budget is `memory_limit` where set, else a share of the memory
free on the device when the build starts (`DEFAULT_SHARE`). The out-of-memory
halving in `schedule` stays as a second line of defence.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from atlas.optvis.memory import MemoryCost, per_image_cost
from atlas.pipeline.execution.tasks import Executor, Task
from atlas.pipeline.jobs import Job
from atlas.pipeline.optimize.batch import compute_batch
from atlas.sizes import format_size, parse_size

# The share of the free memory a build's batches may take when `memory_limit` is not set.
# On a CPU the rest is for what the build holds beside a batch (the dataset pass's
# matrices, the allocator's own slack, the operating system); a GPU's caching allocator
# needs less room.
DEFAULT_SHARE = {"cpu": 0.5, "cuda": 0.8}
JOINT = "joint"  # the name the joint batch's measurement goes by


def _proc_bytes(path: str, field: str) -> int | None:
    """A "Field:   N kB" line of a Linux /proc file, in bytes; None elsewhere."""
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _cgroup_room() -> int | None:
    """What the process's cgroup (a container's limit) still allows, where it has one."""
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        used = int(Path("/sys/fs/cgroup/memory.current").read_text().strip())
    except (OSError, ValueError):
        return None
    return None if limit == "max" else max(0, int(limit) - used)


def free_memory(device: torch.device) -> int | None:
    """Bytes free on `device` now: a GPU's free memory, else the machine's available
    memory (within its container's limit). None where it cannot be read."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free)
    known = [size for size in (_proc_bytes("/proc/meminfo", "MemAvailable"), _cgroup_room())
             if size is not None]
    return min(known) if known else None


@dataclass(frozen=True)
class Budget:
    bytes: int | None  # None: no limit could be found (the batch size alone decides)
    description: str


def memory_budget(limit: str | None, device: torch.device, sharing: int = 1) -> Budget:
    """The bytes one batch may take: `limit` (a size such as "8GB") where given, else
    DEFAULT_SHARE of the free memory of `device`, split between the `sharing`
    workers that run on it."""
    if limit is not None:
        return Budget(parse_size(limit, "memory_limit"), f"memory_limit {limit}")
    free = free_memory(device)
    if free is None:
        return Budget(None, "no limit: the free memory could not be read")
    share = DEFAULT_SHARE.get(device.type, DEFAULT_SHARE["cuda"])
    each = f", split between {sharing} workers" if sharing > 1 else ""
    return Budget(int(free * share / sharing),
                  f"{share:.0%} of the {format_size(free)} free on {device.type}{each}")


def probe_jobs(jobs: list[Job], images: int) -> list[Job]:
    """`images` one-image copies of the first job: a batch of that many images that
    costs what the layer's batches cost per image."""
    first = jobs[0]
    one = dataclasses.replace(first, images=first.images[:1])
    return [one] * images


def measure_batch_memory(engine: Any, jobs: list[Job],
                         on_progress: Callable[[int], None]) -> MemoryCost:
    """An executor task: the memory of one optimization step of `jobs`' kind of batch,
    as a fixed part and a part per image (see `per_image_cost`)."""
    once = dataclasses.replace(engine, steps=1, stop_tolerance=0.0)
    cost = per_image_cost(lambda images: compute_batch(once, probe_jobs(jobs, images)))
    on_progress(1)
    return cost


@dataclass(frozen=True)
class LayerMemory:
    """One layer's measured memory and the batch size it allows."""

    layer: str
    cost: MemoryCost
    images: int  # the most images a batch of this layer holds

    def line(self) -> str:
        return (f"{self.layer} {format_size(self.cost.per_image)} per image -> "
                f"{self.images:,} a batch, peak {format_size(self.cost.at(self.images))}")


def batch_limits(executor: Executor, layer_jobs: list[list[Job]], budget: Budget, batch_size: int,
                 bar: Any) -> dict[str, LayerMemory]:
    """Each layer's (and the joint batch's) batch size within `budget` and
    `batch_size`, measured on `executor` for the layers that have jobs."""
    measured = [jobs for jobs in layer_jobs if jobs]
    tasks = [Task(measure_batch_memory, (jobs,), 1) for jobs in measured]
    limits = {}
    for index, cost in executor.map(tasks, bar):
        if isinstance(cost, BaseException):  # out of memory with two images: one a batch
            cost = MemoryCost(0, budget.bytes or 1)
        name = measured[index][0].layer or JOINT
        images = (batch_size if budget.bytes is None
                  else min(batch_size, cost.images_within(budget.bytes)))
        limits[name] = LayerMemory(name, cost, images)
    return limits


def reset_peak() -> None:
    """Starts the resident high-water mark afresh (Linux; elsewhere nothing)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def peak_memory(device: torch.device) -> int | None:
    """The process's peak memory so far: the GPU's most allocated, else the
    resident set's high-water mark (Linux)."""
    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device))
    return _proc_bytes("/proc/self/status", "VmHWM")
