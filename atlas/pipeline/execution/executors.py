"""Choosing where a build's compute runs: the local executor, or the Ray one
(`ray/`), whose package is imported only when it is asked for."""

from __future__ import annotations

from typing import Any

import torch

from atlas.pipeline.execution.local import LocalExecutor
from atlas.pipeline.execution.tasks import Executor


def open_executor(config: Any, device: torch.device) -> Executor:
    """The executor `config.executor` names; a Ray one connects to its cluster
    and starts its workers here, so a bad address fails before any work."""
    if config.executor == "ray":
        from atlas.pipeline.execution.ray.executor import RayExecutor

        return RayExecutor.connect(config.ray_address, config.device, config.ray_workers,
                                   config.ray_threads)
    return LocalExecutor(device)
