"""Convergence-aware stopping: an image stops once its objective has settled.

The objective is read through random transforms, so one step's score is
noisy. An image's objective has settled at a step when the mean of its last
`window` scores beats the mean of the `window` scores before them by less than
`tolerance` of that earlier mean's size; the image stops once its objective
has been settled at every step of a whole further window (one noisy window
alone stops nothing). It then keeps the pixels it has, its optimizer state
stops moving, and the model runs on the remaining images only. Images whose
objective changes over the steps (the diversity view's scheduled push) are not
`eligible`. An image therefore runs at least three windows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Stopping:
    tolerance: float  # relative gain over one window below which an image has settled
    window: int  # steps per window; an image runs at least three windows
    eligible: Sequence[bool] | None = None  # per image; None: every image may stop

    def __post_init__(self) -> None:
        if self.tolerance <= 0 or self.window < 1:
            raise ValueError(f"stopping needs a tolerance above 0 and a window of at least "
                             f"1 step, not {self.tolerance} and {self.window}")


def settled(history: torch.Tensor, window: int, tolerance: float) -> torch.Tensor:
    """(N,) whether each image's last `window` scores (rows of `history`, one
    per step) gained less than `tolerance` over the `window` before them."""
    if history.shape[0] < 2 * window:
        return torch.zeros(history.shape[1], dtype=torch.bool)
    recent = history[-window:].mean(0)
    before = history[-2 * window:-window].mean(0)
    return (recent - before) < tolerance * before.abs()


class Running:
    """Which images of a batch are still optimized, and when each stopped."""

    def __init__(self, batch: int, stopping: Stopping | None) -> None:
        self.stopping = stopping
        self.stopped_at = torch.zeros(batch, dtype=torch.long)  # 0: still running
        self.settled_for = torch.zeros(batch, dtype=torch.long)  # steps settled in a row
        self.eligible = (torch.ones(batch, dtype=torch.bool)
                         if stopping is None or stopping.eligible is None
                         else torch.as_tensor(list(stopping.eligible), dtype=torch.bool))
        self._rows: torch.Tensor | None = None  # None: every image runs
        self._on: dict[torch.device, torch.Tensor] = {}

    @property
    def active(self) -> torch.Tensor:
        return self.stopped_at == 0

    def rows(self, device: torch.device | None = None) -> torch.Tensor | None:
        """Indices of the running images (on `device`), or None while all run."""
        if self._rows is None or device is None or device.type == "cpu":
            return self._rows
        if device not in self._on:
            self._on[device] = self._rows.to(device)
        return self._on[device]

    def mask(self, scores: torch.Tensor) -> torch.Tensor:
        """`scores` with NaN for images that no longer run."""
        return scores if self._rows is None else scores.masked_fill(~self.active, float("nan"))

    def update(self, history: list[torch.Tensor], steps_run: int) -> bool:
        """Stops the images that settled after `steps_run` steps; whether any still run."""
        if self.stopping is None:
            return True
        window = self.stopping.window
        recent = torch.stack(history[-2 * window:])
        calm = settled(recent, window, self.stopping.tolerance)
        self.settled_for = torch.where(calm, self.settled_for + 1, 0)
        done = (self.settled_for >= window) & self.active & self.eligible
        if bool(done.any()):
            self.stopped_at[done] = steps_run
            self._rows = self.active.nonzero().flatten()
            self._on.clear()
        return bool(self.active.any())

    def steps_taken(self, steps_run: int) -> torch.Tensor:
        return torch.where(self.active, torch.full_like(self.stopped_at, steps_run),
                           self.stopped_at)
