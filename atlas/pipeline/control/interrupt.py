"""Ctrl-C during a build: the first one finishes the current batch, saves it and
stops; a second one stops at once (finished views are saved either way)."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType, TracebackType
from typing import Any


class BuildInterrupted(Exception):
    """The build stopped early at the user's request; what was done is saved."""

    def __init__(self, done: int, total: int) -> None:
        super().__init__(f"stopped after {done} of {total} batches")
        self.done, self.total = done, total


class StopAfterBatch:
    def __init__(self) -> None:
        self.requested = False
        # what signal.signal returned: the handler to put back on exit
        self._previous: Callable[[int, FrameType | None], Any] | int | None = None

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True
        signal.signal(signal.SIGINT, signal.default_int_handler)  # a second Ctrl-C stops now
        print("\natlas: stopping after the current batch (Ctrl-C again to stop now)",
              file=sys.stderr, flush=True)

    def __enter__(self) -> StopAfterBatch:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, kind: type | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
