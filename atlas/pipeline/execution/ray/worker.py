"""A Ray worker: one device slot (a GPU, or a few CPU threads) holding the
model once and running the driver's tasks one at a time.

A plain class: `RayExecutor` makes it a Ray actor, so importing atlas never
needs Ray. Its `run` calls go in a concurrency group of one, so tasks run in
order; `progress` and `describe` answer from another thread meanwhile.
"""

from __future__ import annotations

import os
import socket
from typing import Any

import torch


class Worker:
    def __init__(self, device: str, threads: int) -> None:
        torch.set_num_threads(threads)
        self.device = torch.device(device)
        self.threads = threads
        self.engine: Any = None
        self.engine_ref: Any = None
        self.current = [-1, 0]  # the running task's index and its progress so far

    def describe(self) -> dict:
        from atlas.optvis.precision import fast_bfloat16

        name = (torch.cuda.get_device_name(self.device) if self.device.type == "cuda"
                else f"cpu, {self.threads} thread{'s' if self.threads > 1 else ''}")
        return {"pid": os.getpid(), "host": socket.gethostname(), "device": self.device.type,
                "name": name, "fast_bfloat16": fast_bfloat16(self.device)}

    def load(self, engine: Any) -> None:
        """The build's engine (model, settings), moved onto this worker's device."""
        import dataclasses

        model = engine.model.to(self.device)
        if engine.channels_last:
            model = model.to(memory_format=torch.channels_last)
        magnitude = engine.magnitude.to(self.device) if engine.magnitude is not None else None
        self.engine = dataclasses.replace(
            engine, model=model, preprocess=engine.preprocess.to(self.device),
            transforms=engine.transforms.to(self.device), device=self.device,
            magnitude=magnitude)

    def run(self, index: int, task: Any, engine_box: list) -> Any:
        """The task's result; running out of device memory is a result too (the
        driver splits the batch), so that it does not count as the worker failing.
        `engine_box` holds the reference to the build's engine, fetched once."""
        if self.engine is None or self.engine_ref != engine_box[0]:
            import ray

            self.load(ray.get(engine_box[0]))
            self.engine_ref = engine_box[0]
        self.current = [index, 0]

        def progress(count: int = 1) -> None:
            self.current[1] += count

        try:
            return task.run(self.engine, *task.args, progress)
        except torch.OutOfMemoryError as error:
            if self.device.type == "cuda":
                torch.cuda.empty_cache()
            return error

    def progress(self) -> tuple[int, int]:
        return self.current[0], self.current[1]
