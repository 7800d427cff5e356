"""One optimization of many compare runs, whatever their technique.

A comparison is many small runs that differ in one setting each. One batch
per setup would make the default model's 138 images 7 optimizations of 12 to
66 images, each step paying the fixed cost of transforms, hooks and Python
(on a GPU, about the whole cost of a small batch). Here the runs of one
learning rate share a batch (the default model: 2, then one for the predicted
classes): the image is the concatenation of one parameterization per setup,
each part goes through its own transforms with the random draws it would have
alone, and each stretch of runs of one layer, objective and regularization is
scored by one vectorized objective. Every image follows its own path (Adam is
element-wise), so an image is the one its run would give alone, up to float
rounding. That rounding follows the batch's size and memory layout: every batch
reaches the model in one layout whatever setups it holds, and its size follows
`batch_size`, which joins the key (plan.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import groupby
from typing import cast

import torch
from torch import nn

from atlas.optvis import objectives as obj
from atlas.optvis.objectives import Objective
from atlas.optvis.param import ImageParam
from atlas.optvis.render import measure, optimize
from atlas.optvis.transforms import Compose, StepDraws
from atlas.pipeline.compare.axes import TRANSFORMS
from atlas.pipeline.compare.runs import PREDICTED, Run
from atlas.pipeline.optimize.batch import Engine, transform_seed
from atlas.pipeline.optimize.pack import regularized
from atlas.views.optimized import unit_objective


@dataclass
class Outcome:
    """A finished run: its image and the target's channel mean on it; None where
    the run went non-finite."""

    image: torch.Tensor | None  # (3, H, W) in [0, 1]
    activation: float | None
    predicted: int | None = None  # the class of a predicted class-conditional run


class MixedImage(nn.Module):
    """Several parameterizations side by side: one batch of images."""

    def __init__(self, parts: list[nn.Module]) -> None:
        super().__init__()
        self.parts = nn.ModuleList(parts)

    def forward(self) -> torch.Tensor:
        return torch.cat([part() for part in self.parts])


class MixedTransforms(nn.Module):
    """Each stretch [start, stop) of the batch through its own transforms, with
    the draws of its own images (as if it ran alone)."""

    def __init__(self, parts: list[tuple[int, int, Compose]]) -> None:
        super().__init__()
        self.bounds = [(start, stop) for start, stop, _ in parts]
        self.parts = nn.ModuleList([transforms for _, _, transforms in parts])

    def forward(self, image: torch.Tensor, draws: StepDraws) -> torch.Tensor:
        # One memory layout whatever setups share the batch: crops come out channels-last,
        # untransformed images contiguous, and the convolutions round differently in each.
        return torch.cat([transforms(image[start:stop], StepDraws(draws.values[start:stop]))
                          for (start, stop), transforms in zip(self.bounds, self.parts)]
                         ).contiguous()


def _stretches(runs: list[Run], key: Callable[[Run], object]) -> list[tuple[int, int, list[Run]]]:
    """(start, stop, runs) of consecutive runs with the same `key`."""
    stretches: list[tuple[int, int, list[Run]]] = []
    start = 0
    for _, grouped in groupby(runs, key=key):
        part = list(grouped)
        stretches.append((start, start + len(part), part))
        start += len(part)
    return stretches


def _scored(runs: list[Run], classes: dict[Run, int]) -> Objective:
    spec = runs[0].spec
    if spec.get("class") == PREDICTED:
        spec = {**spec, "class": [classes[run] for run in runs]}
    return regularized(unit_objective(spec, runs[0].layer, [run.unit for run in runs]),
                       runs[0].tv_weight, runs[0].l2_weight)


def order(runs: list[Run]) -> list[Run]:
    """Runs in batch order: by setup, then by what one objective scores together."""
    return sorted(runs, key=lambda r: (r.setup, r.layer, r.objective, r.tv_weight,
                                       r.l2_weight, r.unit))


def optimize_runs(engine: Engine, runs: list[Run], classes: dict[Run, int],
                  on_step: Callable[[int], None]) -> dict[Run, Outcome]:
    """Optimizes `runs` (one learning rate, in `order`) in one batch."""
    size, device = engine.image_size, engine.device
    setups = _stretches(runs, lambda run: run.setup)
    image = MixedImage([ImageParam(size, [run.seed for run in part], part[0].param,
                                   part[0].decorrelate, engine.valid, magnitude=engine.magnitude)
                        for _, _, part in setups]).to(device)
    transforms = MixedTransforms([(start, stop, TRANSFORMS[part[0].transforms][1](size))
                                  for start, stop, part in setups]).to(device)
    stretches = _stretches(runs, lambda r: (r.layer, r.objective, r.tv_weight, r.l2_weight))
    # Objectives: there is at least one run, and 0 + an Objective is one
    objective = cast(Objective, sum((_scored(part, classes).on_images(start, stop)
                                     for start, stop, part in stretches), 0))
    target = cast(Objective, sum((obj.channel(part[0].layer, [run.unit for run in part])
                                  .on_images(start, stop) for start, stop, part in stretches), 0))
    seeds = [run.seed for run in runs]
    result = optimize(engine.model, objective, image, transforms, engine.steps, runs[0].lr,
                      [transform_seed(seed) for seed in seeds], engine.preprocess, 0, on_step,
                      engine.channels_last, engine.autocast)
    values = measure(engine.model, target, result.images.to(device), engine.preprocess)
    finite = (torch.isfinite(result.images).flatten(1).all(1)
              & torch.isfinite(result.history).all(0) & torch.isfinite(values))
    return {run: Outcome(result.images[i], round(float(values[i]), 6)) if finite[i]
            else Outcome(None, None) for i, run in enumerate(runs)}
