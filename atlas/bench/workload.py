"""What one benchmark run optimizes, and the shared measuring of its result."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median
from typing import TypeVar, cast

import torch

from atlas.models.registry import LoadedModel, load_model
from atlas.optvis import objectives
from atlas.optvis.render import measure


@dataclass
class Workload:
    model: str = "lucent:inceptionv1"
    weights: str | None = None
    layer: str = "mixed4a"
    channels: int = 16
    steps: int = 256
    image_size: int = 128
    device: str = "cpu"
    repeats: int = 1
    seeds_channels: int = 4  # the seeds' way runs one process call per channel: the first N
    # atlas's precision (`precision` setting): "fp32" runs it as on a machine without fast
    # bfloat16, whatever this one has
    precision: str = "auto"

    @property
    def units(self) -> list[int]:
        return list(range(self.channels))

    def load(self) -> LoadedModel:
        loaded = load_model(self.model, Path(self.weights) if self.weights else None)
        loaded.module.to(self.device).eval()
        loaded.preprocess.to(self.device)
        return loaded


@dataclass
class Result:
    name: str
    seconds_per_channel_step: float
    activations: list[float] | None  # per channel 0, 1, …; None for the floor
    runs: int
    process_seconds: float | None = None  # the whole process, when run as one
    trajectory: list[Checkpoint] = field(default_factory=list)  # atlas's, along the way

    @property
    def mean_activation(self) -> float | None:
        return None if self.activations is None else mean(self.activations)


def mean(values: list[float], units: list[int] | None = None) -> float:
    """Mean of per-unit `values` (in unit order 0, 1, …) over `units` (default all)."""
    chosen = values if units is None else [values[unit] for unit in units]
    return sum(chosen) / len(chosen)


@dataclass
class Checkpoint:
    step: int
    seconds: float  # since the run began
    activations: list[float]  # per channel, on the images as they were after this step


def channel_activations(loaded: LoadedModel, layer: str, units: list[int],
                        images: torch.Tensor) -> list[float]:
    """Each image's mean of its target channel, measured on the images at the
    optimized size (the input the network sees)."""
    images = images.to(next(loaded.module.parameters()).device)
    scores = measure(loaded.module, objectives.channel(layer, units), images, loaded.preprocess)
    return [float(score) for score in scores]


Images = TypeVar("Images")  # what a timed run returns: its images, or a RenderResult


def timed(run: Callable[[], Images], repeats: int) -> tuple[list[float], Images]:
    """Runs `run` `repeats` times; returns the wall times and the last images."""
    times: list[float] = []
    images: Images | None = None
    for _ in range(repeats):
        started = time.perf_counter()
        images = run()
        times.append(time.perf_counter() - started)
    return times, cast(Images, images)  # set by the runs (a bench repeats at least once)


def per_channel_step(times: list[float], work: Workload, channels_per_run: int) -> float:
    return median(times) / (channels_per_run * work.steps)
