"""How much memory a computation needs, measured by running it.

`PeakTracker` counts the bytes of every tensor storage created while it is
active and freed again, and keeps the highest total: the computation's own
peak, on any device (a CPU allocator keeps no statistics, and a process's
resident size says little once the allocator caches). Storages that existed
before (the model's weights) are not counted. It sees the backward pass too,
since autograd runs its operations under the same dispatch modes.

`per_image_cost` runs a computation at two batch sizes and reads the cost of
one more image from the difference, so a batch can be sized to a budget
before it runs (see `atlas.pipeline.optimize.memory`).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves


class PeakTracker(TorchDispatchMode):
    """`with PeakTracker() as tracker: ...`, then `tracker.peak` (bytes)."""

    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        # torch wraps a mode's dispatch to keep TorchDynamo out of it, importing TorchDynamo
        # (seconds) on first use; nothing here is ever compiled, so there is nothing to keep out.
        return False

    def __init__(self) -> None:
        super().__init__()
        self.live = 0
        self.peak = 0
        self._seen: dict[int, weakref.ref] = {}  # id of a storage's weakref -> the ref

    def _freed(self, nbytes: int, ref: weakref.ref) -> None:
        self.live -= nbytes
        self._seen.pop(id(ref), None)

    def _track(self, tensor: torch.Tensor) -> None:
        try:
            storage = tensor.untyped_storage()
        except (RuntimeError, NotImplementedError):  # sparse and other storage-less kinds
            return
        if getattr(storage, "_atlas_tracked", False):
            return
        nbytes = storage.nbytes()
        # The lambda's default binds the size (mypy cannot infer such a lambda); the mark
        # is an attribute of our own on the storage's Python object.
        ref = weakref.ref(storage, lambda ref, n=nbytes: self._freed(n, ref))  # type: ignore[misc]
        storage._atlas_tracked = True  # type: ignore[attr-defined]  # the same object while it lives
        self._seen[id(ref)] = ref
        self.live += nbytes
        self.peak = max(self.peak, self.live)

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple = (),
                           kwargs: Any = None) -> Any:
        out = func(*args, **(kwargs or {}))
        for leaf in tree_leaves(out):
            if isinstance(leaf, torch.Tensor):
                self._track(leaf)
        return out


def peak_bytes(run: Callable[[], Any]) -> int:
    """The peak of the memory `run()` allocates while it runs."""
    with PeakTracker() as tracker:
        run()
    return tracker.peak


@dataclass(frozen=True)
class MemoryCost:
    """A computation's memory at batch size n: `fixed + n * per_image` bytes."""

    fixed: int
    per_image: int

    def at(self, images: int) -> int:
        return self.fixed + images * self.per_image

    def images_within(self, budget: int) -> int:
        """The most images whose peak stays within `budget` bytes (at least 1)."""
        if self.per_image <= 0:  # images cost nothing measurable: only the fixed part decides
            return 1 << 30 if self.fixed <= budget else 1
        return max(1, (budget - self.fixed) // self.per_image)


def per_image_cost(run: Callable[[int], Any], small: int = 1, large: int = 2) -> MemoryCost:
    """The memory of `run(n)` (a computation over n images) as a fixed part plus
    a part per image, from its peaks at `small` and `large` images."""
    low, high = peak_bytes(lambda: run(small)), peak_bytes(lambda: run(large))
    per_image = max(0, (high - low) // (large - small))
    return MemoryCost(max(0, low - small * per_image), per_image)
